"""The tamper-evident trail's rules, pure: entry hashes, links, and what each chained table
may do between two entries of the same row (migration 009 appends the entries).

An entry is (chain, seq, ref, op, marker, content_hash, prev_hash, entry_hash) with
``entry_hash = sha256("chain|seq|ref|op|content_hash|prev_hash")`` and ``prev_hash`` the
previous entry's hash ('' for the first). ``ChainWalker`` is fed one chain's entries in ``seq``
order and returns the first ``Break`` it finds; ``rule_break`` is what a table forbids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    chain: str
    seq: int
    ref: str
    op: str
    marker: dict[str, Any]
    content_hash: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link: where, and why (a sentence for a person)."""

    chain: str
    seq: int
    ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} ({self.ref}): {self.reason}"


def entry_hash(chain: str, seq: int, ref: str, op: str, content_hash: str, prev: str) -> str:
    text = "|".join((chain, str(seq), ref, op, content_hash, prev))
    return hashlib.sha256(text.encode()).hexdigest()


def table_of(chain: str) -> str:
    return chain.split(":", 1)[0]


def rule_break(table: str, before: Entry | None, after: Entry) -> str | None:
    """Why ``after`` (following ``before`` for the same row) is not allowed, or None."""
    if after.op == "DELETE":
        return "the row was deleted"
    if before is None or after.op != "UPDATE":
        return None
    if table == "alert_events":
        return "an alert event was changed (they are append-only)"
    if table == "registry_versions" and after.marker != before.marker:
        return "the document of a stored registry version was rewritten"
    if table == "regulator_orders":
        if after.marker.get("fixed") != before.marker.get("fixed"):
            return "an order was rewritten (only lifting it is allowed)"
        if before.marker.get("lifted") and not after.marker.get("lifted"):
            return "a lifted order was un-lifted"
    if table == "verdicts":
        judged = after.marker.get("judged") != before.marker.get("judged")
        newer = int(after.marker.get("revision", 0)) > int(before.marker.get("revision", 0))
        if judged and not newer:
            return "a verdict's value or status changed without a new revision"
    return None


@dataclass(slots=True)
class ChainWalker:
    """Walks one chain; ``latest`` maps each ref to its last entry (for the row check)."""

    chain: str
    previous: Entry | None = None
    latest: dict[str, Entry] = field(default_factory=dict)

    def feed(self, entry: Entry) -> Break | None:
        """Check ``entry`` against the one before it; it becomes the chain's last entry (and
        its ref's latest) whether or not it breaks the chain, so later checks go on."""
        reason = self._link_break(entry) or rule_break(
            table_of(self.chain), self.latest.get(entry.ref), entry
        )
        self.previous = entry
        self.latest[entry.ref] = entry
        return Break(self.chain, entry.seq, entry.ref, reason) if reason is not None else None

    def _link_break(self, entry: Entry) -> str | None:
        expected_seq = self.previous.seq + 1 if self.previous else 1
        expected_prev = self.previous.entry_hash if self.previous else ""
        if entry.seq != expected_seq:
            return f"entry #{expected_seq} is missing"
        if entry.prev_hash != expected_prev:
            return "does not link to the entry before it"
        recomputed = entry_hash(
            entry.chain, entry.seq, entry.ref, entry.op, entry.content_hash, entry.prev_hash
        )
        if recomputed != entry.entry_hash:
            return "the entry itself was altered"
        return None
