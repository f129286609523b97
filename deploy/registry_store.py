"""Store a registry version in PostgreSQL (``greenwatch db load-registry``).

The whole document is kept in ``registry_versions``; the current enterprises, outlets, devices
and effective limits are upserted so dashboards and the audit API can join on them.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from schemas.registry import Registry, keyed_digest


def store_registry(conn: psycopg.Connection[Any], registry: Registry) -> None:
    """Upsert ``registry`` (one transaction). Idempotent for the same version."""
    document = registry.model_dump(mode="json", exclude={"standards"})
    document["standards_version"] = registry.standards.version
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO registry_versions (version, document) VALUES (%s, %s)"
            " ON CONFLICT (version) DO UPDATE SET document = EXCLUDED.document",
            (registry.version, Jsonb(document)),
        )
        _store_enterprises(cur, registry)
        _store_outlets_and_devices(cur, registry)
        cur.executemany(_LIMITS, _limit_rows(registry))


def _store_enterprises(cur: psycopg.Cursor[Any], registry: Registry) -> None:
    cur.executemany(
        """INSERT INTO enterprises (enterprise_id, name, region_code, industry_code,
               art7_facility, registry_version) VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (enterprise_id) DO UPDATE SET name = EXCLUDED.name,
               region_code = EXCLUDED.region_code, industry_code = EXCLUDED.industry_code,
               art7_facility = EXCLUDED.art7_facility,
               registry_version = EXCLUDED.registry_version""",
        [
            (e.id, e.name, e.region_code, e.industry_code, e.art7_facility, registry.version)
            for e in registry.enterprises
        ],
    )


def _store_outlets_and_devices(cur: psycopg.Cursor[Any], registry: Registry) -> None:
    version = registry.version
    outlets = [(e, o) for e in registry.enterprises for o in e.outlets]
    cur.executemany(
        """INSERT INTO outlets (outlet_id, enterprise_id, name, medium, standard_id,
               reference_o2, registry_version) VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (outlet_id) DO UPDATE SET enterprise_id = EXCLUDED.enterprise_id,
               name = EXCLUDED.name, medium = EXCLUDED.medium,
               standard_id = EXCLUDED.standard_id, reference_o2 = EXCLUDED.reference_o2,
               registry_version = EXCLUDED.registry_version""",
        [
            (o.id, e.id, o.name, o.medium.value, o.standard, registry.reference_o2(o), version)
            for e, o in outlets
        ],
    )
    cur.executemany(
        """INSERT INTO devices (device_id, outlet_id, interval_s, registry_version)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (device_id) DO UPDATE SET outlet_id = EXCLUDED.outlet_id,
               interval_s = EXCLUDED.interval_s,
               registry_version = EXCLUDED.registry_version""",
        [(d.mn, o.id, d.interval_s, version) for _, o in outlets for d in o.devices],
    )


_LIMITS = """INSERT INTO outlet_limits (outlet_id, factor, limit_value, limit_source,
        daily_quota_kg, annual_quota_kg, registry_version)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (outlet_id, factor) DO UPDATE SET
        limit_value = EXCLUDED.limit_value, limit_source = EXCLUDED.limit_source,
        daily_quota_kg = EXCLUDED.daily_quota_kg, annual_quota_kg = EXCLUDED.annual_quota_kg,
        registry_version = EXCLUDED.registry_version"""


def _limit_rows(registry: Registry) -> list[tuple[object, ...]]:
    """Effective limit (standard or permit) and quotas of every outlet and factor."""
    rows: list[tuple[object, ...]] = []
    for enterprise in registry.enterprises:
        for outlet in enterprise.outlets:
            standard = registry.standards.by_id(outlet.standard)
            for factor in sorted(set(standard.limits) | set(outlet.limits)):
                effective = registry.limit(outlet, factor)
                if effective is None:
                    continue
                quota = outlet.load_quotas.get(factor)
                daily = quota.daily_kg if quota else None
                annual = quota.annual_kg if quota else None
                rows.append((outlet.id, factor, *effective, daily, annual, registry.version))
    return rows


def rekey_stored_registries(conn: psycopg.Connection[Any], device_key: bytes) -> list[str]:
    """Replace every legacy device digest (``password_sha256``) in the stored registry
    versions by its keyed digest (``password_hmac``), in one transaction; returns the versions
    changed. The migration from unkeyed digests: no password is needed, and documents stay
    otherwise as they were loaded (they are the auditors' record)."""
    changed: list[str] = []
    with conn.transaction(), conn.cursor() as cur:
        rows = cur.execute(
            "SELECT version, document FROM registry_versions ORDER BY loaded_at FOR UPDATE"
        ).fetchall()
        for version, document in rows:
            if _rekey_document(document, device_key):
                cur.execute(
                    "UPDATE registry_versions SET document = %s WHERE version = %s",
                    (Jsonb(document), version),
                )
                changed.append(str(version))
    return changed


def _rekey_document(document: dict[str, Any], device_key: bytes) -> bool:
    found = False
    for enterprise in document.get("enterprises") or []:
        for outlet in enterprise.get("outlets") or []:
            for device in outlet.get("devices") or []:
                legacy = device.get("password_sha256")
                if legacy:
                    device["password_hmac"] = keyed_digest(device_key, legacy)
                    device["password_sha256"] = None
                    found = True
    return found
