"""A small province in a migrated private schema, for running every panel's SQL.

The registry is the documented demo province (schemas/examples/demo-province.yaml: thermal
power E-TP-01, cement E-CM-01, phosphorus chemicals E-CH-01, municipal sewage E-WW-01, one
outlet and one device each, reporting every 60 s). Rows are written as the stream sink writes
them. The dashboard time range is the 24 h before ``END`` (2026-03-10 10:00, UTC+8); hour
``i`` starts at ``START + i h`` (``i`` = 0 … 23). What is in it (limits from the registry):

- E-TP-01-G1, SO2 a21026 (limit 35, daily quota 900 kg): hours 0–19 valid, 20 (M) and 21 (B)
  invalid, 22–23 missing; O2-corrected 20, but 40 at hours 5 and 6 (exceedance) and 30 at 7
  (warning); hour 9 has only the device's corrected value (22). Rate 40 kg/h, load 40 kg in
  every hour it has data, and in the 10 hours before the range (same China day 2026-03-09):
  that day's load 960 kg (daily verdict: exceedance), the running day 320 kg.
- E-TP-01-G1, NOx a21002 (limit 50): 24 valid hours at 30, 60 at hours 5 and 8 (exceedance);
  PM a34013: hours 0 and 1 invalid with only 30 minutes received; nothing else.
- E-CM-01-K1, SO2 (limit 200): 24 valid hours at 100, 250 at hours 10 and 11; NOx (limit
  400, quota 2500 kg): hours 0–11 valid at 150 with 100 kg/h, 12–23 invalid (30 minutes);
  daily verdict of 2026-03-09: invalid.
- E-CH-01-W1 (water, no O2 correction), Cd w20115 (limit 0.05, heavy metal): 24 valid hours at
  0.01, 0.2 at hour 3 (severe, ≥ 3×); COD w01018 (limit 100, quota 200 kg): 24 valid hours at
  50 mg/L with 5 kg/h.
- E-WW-01-W1: nothing at all.
- One exceedance 48 h before ``END`` (outside the range).
- Minute data: TP device, 40 minutes flagged M (SO2 and NOx) in hour 20 and 30 minutes flagged
  B (SO2) in hour 21, the last received at the end of hour 21; CM device, 5 minutes flagged C
  in hour 2 and a normal minute 3 min before ``END``.
- Alerts (``grafana_alert_seed.ALERTS``, seeded by the fixture): four open on four rungs of
  the ladder, one resolved, one pending.
- Dead letters: bad_crc at hour 1 + 5/10/20 min and twice at hour 5 + 1 min, one
  auth_unknown_mn at hour 1 + 30 min, and one bad_crc outside the range.
- Energy (migration 005), written as the energy worker writes them: E-TP-01's own-use meter
  DEMO-TP01-AUX on China day 2026-03-10, 300 000 kWh with 40 of 96 readings (incomplete,
  interpolated); a unit-consumption row of its product ``power`` (303 gce/kWh over 30 days,
  the 供电煤耗 form; not judged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from deploy.migrate import migrate
from grafana.macros import QueryContext, VariableValue
from runtime.registry_store import store_registry
from schemas.registry import load_registry

CST = timezone(timedelta(hours=8))
END = datetime(2026, 3, 10, 10, 0, tzinfo=CST)
START = END - timedelta(hours=24)
REGISTRY_FILE = Path(__file__).resolve().parents[3] / "schemas/examples/demo-province.yaml"
TP, CM, CH, WW = "E-TP-01-G1", "E-CM-01-K1", "E-CH-01-W1", "E-WW-01-W1"
ENTERPRISE_OF = {TP: "E-TP-01", CM: "E-CM-01", CH: "E-CH-01", WW: "E-WW-01"}
DEVICE_OF = {TP: "DEMO-TP01-G1", CM: "DEMO-CM01-K1", CH: "DEMO-CH01-W1", WW: "DEMO-WW01-W1"}
LIMIT_OF = {
    (TP, "a21026"): 35.0,
    (TP, "a21002"): 50.0,
    (TP, "a34013"): 10.0,
    (CM, "a21026"): 200.0,
    (CM, "a21002"): 400.0,
    (CH, "w20115"): 0.05,
    (CH, "w01018"): 100.0,
}
STANDARD_OF = {TP: "ULE-coal-power", CM: "GB4915-2013-kiln", CH: "demo-water-heavy-metals"}
O2_REFERENCE = {TP: 6.0, CM: 10.0, CH: None}
VERSION = "demo-province-2026.1"


def hour(i: int) -> datetime:
    """Start of hour ``i`` of the range (negative: before it)."""
    return START + timedelta(hours=i)


@dataclass(frozen=True, slots=True)
class Province:
    """The seeded schema: an autocommit connection and the default query context."""

    conn: psycopg.Connection[tuple[Any, ...]]
    context: QueryContext


@dataclass(frozen=True, slots=True)
class Hour:
    """One hourly aggregate and its verdict (status None: no verdict row)."""

    outlet: str
    factor: str
    i: int
    value: float | None
    status: str | None
    valid: bool = True
    flags: dict[str, int] | None = None
    rate: float | None = None
    device_value: float | None = None


def province_hours() -> list[Hour]:
    rows: list[Hour] = []
    for i in range(-10, 22):
        if i < 0:
            rows.append(Hour(TP, "a21026", i, 20.0, None, rate=40.0))
        elif i in (20, 21):
            flags = {"N": 20, "M": 40} if i == 20 else {"N": 10, "B": 30, "M": 20}
            rows.append(Hour(TP, "a21026", i, None, "invalid", False, flags, rate=40.0))
        else:
            value, status = {5: (40.0, "exceedance"), 6: (40.0, "exceedance")}.get(
                i, (30.0, "warning") if i == 7 else (20.0, "compliant")
            )
            if i == 9:
                rows.append(Hour(TP, "a21026", i, None, status, rate=40.0, device_value=22.0))
            else:
                rows.append(Hour(TP, "a21026", i, value, status, rate=40.0))
    for i in range(24):
        exceeded = i in (5, 8)
        rows.append(
            Hour(
                TP,
                "a21002",
                i,
                60.0 if exceeded else 30.0,
                "exceedance" if exceeded else "compliant",
            )
        )
        exceeded = i in (10, 11)
        rows.append(
            Hour(
                CM,
                "a21026",
                i,
                250.0 if exceeded else 100.0,
                "exceedance" if exceeded else "compliant",
            )
        )
        if i < 12:
            rows.append(Hour(CM, "a21002", i, 150.0, "compliant", rate=100.0))
        else:
            rows.append(Hour(CM, "a21002", i, None, "invalid", False, {"N": 30}))
        rows.append(
            Hour(CH, "w20115", i, 0.2 if i == 3 else 0.01, "severe" if i == 3 else "compliant")
        )
        rows.append(Hour(CH, "w01018", i, 50.0, "compliant", rate=5.0))
    rows.extend(Hour(TP, "a34013", i, None, "invalid", False, {"N": 30}) for i in (0, 1))
    rows.append(Hour(TP, "a21026", -48, 50.0, "exceedance", rate=40.0))
    return rows


def _insert_hour(cur: psycopg.Cursor[Any], h: Hour) -> None:
    reference = O2_REFERENCE[h.outlet]
    minutes = h.flags or {"N": 60}
    valid_minutes = minutes.get("N", 0)
    judged = h.value if h.value is not None else h.device_value
    if reference is None:  # water: the measured mean is judged
        mean, corrected = h.value, None
    else:  # gas: measured (dry) mean below the value corrected to the reference O2
        mean, corrected = (None if judged is None else judged * 0.75), h.value
    cur.execute(
        """INSERT INTO aggregates (outlet_id, factor, period, period_start, device_id, valid,
               valid_count, invalid_count, flag_counts, mean, o2_reference, o2_corrected,
               device_o2_corrected, emission_rate_kgh, load_kg, registry_version)
           VALUES (%s, %s, 'hour', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            h.outlet,
            h.factor,
            hour(h.i),
            DEVICE_OF[h.outlet],
            h.valid,
            valid_minutes,
            sum(minutes.values()) - valid_minutes,
            Jsonb(minutes),
            mean,
            reference,
            corrected,
            h.device_value,
            h.rate,
            h.rate,
            VERSION,
        ),
    )
    if h.status is not None:
        limit = LIMIT_OF[(h.outlet, h.factor)]
        _insert_verdict(
            cur,
            h.outlet,
            h.factor,
            "hourly_concentration",
            "hour",
            hour(h.i),
            judged,
            limit,
            h.status,
            STANDARD_OF[h.outlet],
        )


def _insert_verdict(
    cur: psycopg.Cursor[Any],
    outlet: str,
    factor: str,
    rule: str,
    period: str,
    start: datetime,
    value: float | None,
    limit: float,
    status: str,
    standard: str,
) -> None:
    cur.execute(
        """INSERT INTO verdicts (outlet_id, factor, rule, period_start, enterprise_id, period,
               value, limit_value, ratio, status, standard, evidence, registry_version)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            outlet,
            factor,
            rule,
            start,
            ENTERPRISE_OF[outlet],
            period,
            value,
            limit,
            None if value is None else value / limit,
            status,
            standard,
            Jsonb({"seeded": True}),
            VERSION,
        ),
    )


def _insert_minutes(cur: psycopg.Cursor[Any]) -> None:
    rows = []
    for minute in range(60):
        start = hour(20) + timedelta(minutes=minute)
        flag = "M" if minute < 40 else "N"
        rows += [(DEVICE_OF[TP], f, start, flag) for f in ("a21026", "a21002")]
        start = hour(21) + timedelta(minutes=minute)
        rows.append((DEVICE_OF[TP], "a21026", start, "B" if minute < 30 else "N"))
    rows += [(DEVICE_OF[CM], "a21026", hour(2) + timedelta(minutes=m), "C") for m in range(5)]
    rows.append((DEVICE_OF[CM], "a21026", END - timedelta(minutes=3), "N"))
    cur.executemany(
        """INSERT INTO measurements (device_id, factor, period, period_start, outlet_id,
               factor_as_sent, avg, flag, received_at)
           SELECT %(device)s, %(factor)s, 'minute', %(start)s, d.outlet_id, %(factor)s, 1.0,
                  %(flag)s, %(start)s + interval '90 seconds'
             FROM devices d WHERE d.device_id = %(device)s""",
        [{"device": d, "factor": f, "start": s, "flag": fl} for d, f, s, fl in rows],
    )


DEAD_LETTERS = [
    ("bad_crc", hour(1) + timedelta(minutes=5)),
    ("bad_crc", hour(1) + timedelta(minutes=10)),
    ("bad_crc", hour(1) + timedelta(minutes=20)),
    ("auth_unknown_mn", hour(1) + timedelta(minutes=30)),
    ("bad_crc", hour(5) + timedelta(minutes=1)),
    ("bad_crc", hour(5) + timedelta(minutes=1, seconds=30)),
    ("bad_crc", hour(-30)),
]


def _insert_dead_letters(cur: psycopg.Cursor[Any]) -> None:
    cur.executemany(
        """INSERT INTO dead_letters (source, reason, message, peer, device_id, received_at,
               payload) VALUES ('gateway.hj212', %s, %s, '10.0.0.7:40112', %s, %s, %s)""",
        [
            (
                reason,
                f"{reason} #{n}",
                "DEMO-XX" if reason == "auth_unknown_mn" else None,
                at,
                b"##0000",
            )
            for n, (reason, at) in enumerate(DEAD_LETTERS)
        ],
    )


def seed_province(conn: psycopg.Connection[Any]) -> None:

    migrate(conn)
    store_registry(conn, load_registry(REGISTRY_FILE))
    with conn.transaction(), conn.cursor() as cur:
        for h in province_hours():
            _insert_hour(cur, h)
        day = datetime(2026, 3, 9, tzinfo=CST)
        _insert_verdict(
            cur, TP, "a21026", "daily_load", "day", day, 960.0, 900.0, "exceedance", f"permit:{TP}"
        )
        _insert_verdict(
            cur, CM, "a21002", "daily_load", "day", day, 1200.0, 2500.0, "invalid", f"permit:{CM}"
        )
        _insert_minutes(cur)
        _insert_dead_letters(cur)
        _insert_energy(cur)
        _insert_plan(cur)


def _insert_energy(cur: psycopg.Cursor[Any]) -> None:
    day = datetime(2026, 3, 10, tzinfo=CST)
    cur.execute(
        """INSERT INTO energy_consumption (meter_id, period, period_start, enterprise_id,
               carrier, product, feedstock, quantity, kgce_calorific, kgce_equivalent, co2_kg,
               readings, expected, completeness, marks, evidence, registry_version)
           VALUES ('DEMO-TP01-AUX', 'day', %s, 'E-TP-01', 'electricity', NULL, false,
                   300000, 36870, 121200, 121260, 40, 96, 0.4167, '{interpolated}', '{}', %s)""",
        (day, VERSION),
    )
    cur.execute(
        """INSERT INTO energy_intensities (enterprise_id, subject, indicator, window_name,
               period_start, numerator, denominator, value, evidence, registry_version)
           VALUES ('E-TP-01', 'power', 'gce/kWh', '30d', %s, 9.09e9, 3.0e7, 303, '{}', %s)""",
        (day, VERSION),
    )


def _insert_plan(cur: psycopg.Cursor[Any]) -> None:
    """What ``greenwatch plan progress`` stores (issue 10): a red region on its energy target,
    a yellow solid-waste rate, the 限批缓批 consequence and a quota verdict's surcharge."""
    as_of = "2026-03-10"
    rows = [
        ("region", "520100", "gz-energy-per-va-2018", "energy_per_value_added", "red", -0.05,
         0.12, {"intensity": 2.0, "baseline": 1.9, "unit": "tce/10^4 yuan"}),
        ("enterprise", "E-CH-01", "gz-solid-waste-utilisation-2018",
         "solid_waste_utilisation_rate", "yellow", 0.5, 0.6, {}),
    ]  # fmt: skip
    for kind, subject, target, indicator, colour, actual, required, evidence in rows:
        cur.execute(
            """INSERT INTO plan_progress (subject_kind, subject_id, target_id, as_of, vintage,
                   subject_name, region_code, indicator, colour, actual, required, reason,
                   evidence, registry_version, plan_version)
               VALUES (%s, %s, %s, %s, 'NDRC-2021-629', %s, '520100', %s, %s, %s, %s, 'seed',
                   %s, %s, 'plan-targets-2026.1')""",
            (kind, subject, target, as_of, subject, indicator, colour, actual, required,
             Jsonb(evidence), VERSION),
        )  # fmt: skip
    cur.execute(
        """INSERT INTO plan_consequences (kind, subject_kind, subject_id, basis, year,
               subject_name, region_code, addressee, reason, first_seen, last_seen)
           VALUES ('restrict_approvals', 'region', '520100', 'gz-energy-per-va-2018', 2026,
               '贵阳市', '520100', '贵阳市发展和改革委员会', 'seed', %s, %s)""",
        (as_of, as_of),
    )
    surcharge = {"punitive": {"rate_yuan_per_kwh": "0.1", "amount_yuan": "100.00"}}
    cur.execute(
        """INSERT INTO verdicts (outlet_id, factor, rule, period_start, enterprise_id, period,
               value, limit_value, ratio, status, evidence, registry_version)
           VALUES ('E-TP-01/power', 'kWh/t@30d', 'energy_quota', %s, 'E-TP-01', 'day', 310,
               300, 1.033, 'exceedance', %s, %s)""",
        (datetime(2026, 3, 10, tzinfo=CST), Jsonb({"surcharge": surcharge}), VERSION),
    )


def outlet_variables(outlet: str, factors: list[str]) -> dict[str, VariableValue]:
    """Outlet-detail variables: one enterprise, one outlet, several factors."""
    return {
        "enterprise": VariableValue.one(ENTERPRISE_OF[outlet]),
        "outlet": VariableValue.one(outlet),
        "factor": VariableValue.many(factors),
    }
