"""The registry record MAC (issue 11, item 2): only the key's holder makes a MAC a follower
accepts, and it binds the record's key and value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.registry_mac import MAC_HEADER, mac_refusal, registry_mac

KEY = b"k" * 64


@given(st.binary(max_size=64), st.binary(max_size=512))
def test_a_record_signed_with_the_key_is_accepted(record_key: bytes, value: bytes) -> None:
    headers = [("other", b"x"), (MAC_HEADER, registry_mac(KEY, record_key, value))]
    assert mac_refusal(KEY, record_key, value, headers) is None


def test_unsigned_forged_and_tampered_records_are_refused() -> None:
    value = b'{"format": 1, "version": "v1"}'
    good = registry_mac(KEY, b"520000", value)
    assert mac_refusal(KEY, b"520000", value, None) == "unsigned"
    assert mac_refusal(KEY, b"520000", value, [("other", good)]) == "unsigned"
    assert mac_refusal(KEY, b"520000", value, [(MAC_HEADER, None)]) == "unsigned"
    forged = registry_mac(b"guessed" * 8, b"520000", value)
    assert mac_refusal(KEY, b"520000", value, [(MAC_HEADER, forged)]) == "bad MAC"
    tampered = value.replace(b"v1", b"v2")
    assert mac_refusal(KEY, b"520000", tampered, [(MAC_HEADER, good)]) == "bad MAC"
    assert mac_refusal(KEY, b"110000", value, [(MAC_HEADER, good)]) == "bad MAC"  # other region
    twice = [(MAC_HEADER, good), (MAC_HEADER, forged)]
    assert mac_refusal(KEY, b"520000", value, twice) == "bad MAC"
