"""Device secrets (issue 11): keyed password digests, the migration from unkeyed ones, and
no PW in the bytes kept as evidence."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.registry_store import _rekey_document
from greenwatch.settings import Settings, device_key
from ingest.hj212 import encode, redact_password
from schemas.registry import (
    RegistryError,
    encode_snapshot,
    hash_password,
    keyed_digest,
    load_registry,
    parse_registry,
    snapshot_of,
)

EXAMPLE = Path(__file__).parents[1].parent / "schemas" / "examples" / "demo-province.yaml"
KEY = b"k" * 32


def test_a_keyed_digest_needs_the_key_and_the_password() -> None:
    registry = load_registry(EXAMPLE).with_keyed_passwords(KEY)
    found = registry.device("DEMO-TP01-G1")
    assert found is not None
    device = found[2]
    assert device.password_sha256 is None and device.password_hmac is not None
    assert device.password_matches("123456", KEY)
    assert not device.password_matches("654321", KEY)
    assert not device.password_matches("123456", b"another key")
    assert not device.password_matches("123456", None)


def test_a_published_snapshot_holds_no_unkeyed_digest() -> None:
    legacy = load_registry(EXAMPLE)
    assert legacy.has_legacy_digests
    digests = [d.password_sha256 for e in legacy.enterprises for o in e.outlets for d in o.devices]
    keyed = legacy.with_keyed_passwords(KEY)
    assert not keyed.has_legacy_digests
    value = encode_snapshot(snapshot_of(keyed, __import__("datetime").datetime(2026, 1, 1)))
    assert all(digest is not None and digest.encode() not in value for digest in digests)
    # a 6-digit PW can be searched against the unkeyed digest, not against the keyed one
    mn = "DEMO-TP01-G1"
    found = next(f"{n:06d}" for n in range(1_000_000) if hash_password(mn, f"{n:06d}") in digests)
    assert found == "123456"
    stored = {d.password_hmac for e in keyed.enterprises for o in e.outlets for d in o.devices}
    assert hashlib.sha256(f"{mn}:{found}".encode()).hexdigest() not in stored


def test_exactly_one_digest_per_device() -> None:
    import yaml

    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    device = document["enterprises"][0]["outlets"][0]["devices"][0]
    device["password_hmac"] = keyed_digest(KEY, device["password_sha256"])
    with pytest.raises(RegistryError, match="exactly one of password_hmac, password_sha256"):
        parse_registry(document)
    del device["password_hmac"], device["password_sha256"]
    with pytest.raises(RegistryError, match="exactly one"):
        parse_registry(document)


def test_stored_documents_migrate_without_the_passwords() -> None:
    legacy = hash_password("M1", "771204")
    document = {
        "enterprises": [{"outlets": [{"devices": [{"mn": "M1", "password_sha256": legacy}]}]}]
    }
    assert _rekey_document(document, KEY)
    device = document["enterprises"][0]["outlets"][0]["devices"][0]
    assert device == {
        "mn": "M1",
        "password_sha256": None,
        "password_hmac": keyed_digest(KEY, legacy),
    }
    assert not _rekey_document(document, KEY)  # idempotent


def test_the_local_device_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    first = device_key(settings)
    assert len(first) == 64 and first == device_key(settings)
    path = tmp_path / "secrets" / "device.key"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert device_key(Settings(state_dir=tmp_path, device_key="explicit")) == b"explicit"


def test_redaction_keeps_every_byte_but_the_password() -> None:
    frame = encode(
        st="22", cn="2051", mn="M1", pw="771204", values={"a21026": {"Avg": 12.5}}
    ).encode()
    redacted = redact_password(frame)
    assert b"771204" not in redacted
    assert redacted == frame.replace(b"PW=771204", b"PW=***")
    assert (
        redact_password(b"##0000garbage without a password") == b"##0000garbage without a password"
    )


@given(st.text(alphabet="0123456789abcdefXYZ-_.", min_size=1, max_size=20))
def test_no_password_survives_redaction(password: str) -> None:
    frame = encode(
        st="22", cn="2051", mn="M1", pw=password, values={"a21026": {"Avg": 1.0}}
    ).encode()
    assert f"PW={password};".encode() not in redact_password(frame)
