"""``greenwatch audit verify`` and ``greenwatch audit anchor``: walk the trail (``audit.trail``)
against the database as it is now, and keep its heads somewhere else.

Verify reports the first broken link in (chain, seq) order, and how many it found: a chain
that does not link, an altered entry, a change a table's rules forbid, a row whose content
no longer hashes to its latest entry (changed with the triggers off), a row missing from the
trail or gone from its table, and an anchored head the chain no longer holds. Blocks; runs as
the owner (the API roles cannot read ``audit_trail``); raises psycopg's errors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from audit.errors import BadQuery
from audit.times import china
from audit.trail import Break, ChainWalker, Entry

TABLES = ("registry_versions", "regulator_orders", "alert_events", "verdicts")


@dataclass(frozen=True, slots=True)
class Verification:
    entries: int
    rows: int
    breaks: list[Break]

    @property
    def first(self) -> Break | None:
        return min(self.breaks, key=lambda b: (b.chain, b.seq)) if self.breaks else None


def _entries(conn: psycopg.Connection[Any]) -> Iterator[Entry]:
    with conn.cursor(name="gw_trail_walk") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT chain, seq, ref, op, marker, content_hash, prev_hash, entry_hash"
            " FROM audit_trail ORDER BY chain, seq"
        )
        for row in cur:
            yield Entry(*row)


def verify(conn: psycopg.Connection[Any], anchors: Path | None = None) -> Verification:
    """Walk every chain and every chained row; with ``anchors``, check its last line's heads."""
    anchored = anchored_heads(anchors) if anchors is not None else {}
    with conn.transaction():
        conn.execute("SET LOCAL timezone = 'UTC'")  # rows hash as the trigger rendered them
        walkers, entries, breaks = _walk(conn, anchored)
        rows, row_breaks = _check_rows(conn, walkers)
    return Verification(entries, rows, breaks + row_breaks)


def _walk(
    conn: psycopg.Connection[Any], anchored: dict[str, tuple[int, str]]
) -> tuple[dict[str, ChainWalker], int, list[Break]]:
    breaks: list[Break] = []
    walkers: dict[str, ChainWalker] = {}
    unseen = set(anchored)
    entries = 0
    for entry in _entries(conn):
        entries += 1
        walker = walkers.setdefault(entry.chain, ChainWalker(entry.chain))
        found = walker.feed(entry)
        if found is not None:
            breaks.append(found)
        head = anchored.get(entry.chain)
        if head is not None and head[0] == entry.seq:
            unseen.discard(entry.chain)
            if head[1] != entry.entry_hash:
                breaks.append(
                    Break(entry.chain, entry.seq, entry.ref, "differs from the anchored head")
                )
    for chain in sorted(unseen):
        breaks.append(Break(chain, anchored[chain][0], "", "the anchored head is gone"))
    return walkers, entries, breaks


def _check_rows(
    conn: psycopg.Connection[Any], walkers: dict[str, ChainWalker]
) -> tuple[int, list[Break]]:
    """Every chained row against its latest entry; every latest entry against its row."""
    breaks: list[Break] = []
    rows = 0
    current: set[tuple[str, str]] = set()
    for table in TABLES:
        query = sql.SQL("SELECT (gw_trail_row({}, to_jsonb(t))).* FROM {} t").format(
            sql.Literal(table), sql.Identifier(table)
        )
        for chain, ref, content_hash in conn.execute(query):
            rows += 1
            current.add((chain, ref))
            walker = walkers.get(chain)
            latest = walker.latest.get(ref) if walker is not None else None
            if walker is None or latest is None or latest.op == "DELETE":
                after = walker.previous.seq + 1 if walker and walker.previous else 1
                breaks.append(Break(chain, after, ref, "the row is not in the trail"))
            elif latest.content_hash != content_hash:
                breaks.append(
                    Break(chain, latest.seq, ref, "the row was changed outside the trail")
                )
    for chain, walker in walkers.items():
        for ref, latest in walker.latest.items():
            if latest.op != "DELETE" and (chain, ref) not in current:
                breaks.append(
                    Break(chain, latest.seq, ref, "the row was deleted outside the trail")
                )
    return rows, breaks


def heads(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, str]]:
    """Each chain's last (seq, entry_hash)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (chain) chain, seq, entry_hash FROM audit_trail"
        " ORDER BY chain, seq DESC"
    ).fetchall()
    return {chain: (int(seq), str(entry)) for chain, seq, entry in rows}


def anchor_record(found: dict[str, tuple[int, str]], now: datetime | None = None) -> dict[str, Any]:
    """One anchor line: when, the heads, and their root (sha256 over the sorted heads)."""
    text = "\n".join(f"{c}|{s}|{h}" for c, (s, h) in sorted(found.items()))
    return {
        "at": china(now or datetime.now(UTC)),
        "root": hashlib.sha256(text.encode()).hexdigest(),
        "heads": {c: [s, h] for c, (s, h) in sorted(found.items())},
    }


def anchored_heads(path: Path) -> dict[str, tuple[int, str]]:
    """The heads of the last line of an anchor file ({} when it is empty or missing); raises
    BadQuery when that line is not an anchor record."""
    if not path.exists():
        return {}
    lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    if not lines:
        return {}
    try:
        record = json.loads(lines[-1])
        return {chain: (int(seq), str(entry)) for chain, (seq, entry) in record["heads"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadQuery(f"{path}: line {len(lines)} is not an anchor record") from None
