"""The trail's rules without a database: links, altered entries, and each table's allowed
changes between two entries of the same row."""

from __future__ import annotations

from typing import Any

from audit.trail import ChainWalker, Entry, entry_hash


def _chain(chain: str, items: list[tuple[str, str, dict[str, Any], str]]) -> list[Entry]:
    entries: list[Entry] = []
    prev = ""
    for seq, (ref, op, marker, content) in enumerate(items, start=1):
        digest = entry_hash(chain, seq, ref, op, content, prev)
        entries.append(Entry(chain, seq, ref, op, marker, content, prev, digest))
        prev = digest
    return entries


def _walk(entries: list[Entry]) -> list[str]:
    walker = ChainWalker(entries[0].chain)
    return [str(b) for e in entries if (b := walker.feed(e)) is not None]


def test_a_legitimate_life_is_clean() -> None:
    verdict = _chain("verdicts:O1", [
        ("a|r|t", "INSERT", {"revision": 1, "judged": "x"}, "c1"),
        ("a|r|t", "UPDATE", {"revision": 1, "judged": "x"}, "c2"),  # evidence only
        ("a|r|t", "UPDATE", {"revision": 2, "judged": "y"}, "c3"),  # re-issued
    ])  # fmt: skip
    order = _chain("regulator_orders:E", [
        ("1", "INSERT", {"fixed": "f", "lifted": False}, "c1"),
        ("1", "UPDATE", {"fixed": "f", "lifted": True}, "c2"),
    ])  # fmt: skip
    assert _walk(verdict) == [] and _walk(order) == []


def test_forbidden_changes_are_named() -> None:
    verdict = _chain("verdicts:O1", [
        ("a|r|t", "INSERT", {"revision": 1, "judged": "x"}, "c1"),
        ("a|r|t", "UPDATE", {"revision": 1, "judged": "softer"}, "c2"),
    ])  # fmt: skip
    assert _walk(verdict) == [
        "verdicts:O1 #2 (a|r|t): a verdict's value or status changed without a new revision"
    ]
    event = _chain("alert_events:A", [("7", "INSERT", {}, "c"), ("7", "UPDATE", {}, "d")])
    assert "append-only" in _walk(event)[0]
    registry = _chain("registry_versions", [
        ("v1", "INSERT", {"document": "a"}, "c"), ("v1", "UPDATE", {"document": "b"}, "d"),
    ])  # fmt: skip
    assert "rewritten" in _walk(registry)[0]
    unlift = _chain("regulator_orders:E", [
        ("1", "INSERT", {"fixed": "f", "lifted": True}, "c"),
        ("1", "UPDATE", {"fixed": "f", "lifted": False}, "d"),
    ])  # fmt: skip
    assert "un-lifted" in _walk(unlift)[0]
    assert "deleted" in _walk(_chain("verdicts:O", [("k", "DELETE", {}, "")]))[0]


def test_broken_links_are_named() -> None:
    entries = _chain("verdicts:O1", [("k", "INSERT", {"revision": 1, "judged": "x"}, f"c{i}")
                                     for i in range(4)])  # fmt: skip
    altered = [*entries[:2], Entry(**{**_fields(entries[2]), "content_hash": "zz"}), entries[3]]
    assert _walk(altered)[0].endswith("the entry itself was altered")
    assert "entry #3 is missing" in _walk([*entries[:2], entries[3]])[0]


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__slots__}
