"""``Engine.prepare``'s annual ledgers in one read (issue 15, fourth slice): ``Store.daily_years``
gives an outlet-year's stored daily loads and its days' substitutions together, the same from
every store, and ``PgStore`` sends it as one statement (libpq's own protocol trace)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from psycopg_pool import ConnectionPool
from test_store_contract import AGGREGATES, VERDICTS, written
from test_stream_sink import one_connection_pool, traced_statements

from ingest.hj212 import CHINA_TZ
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.store import Store, StoredYear
from streams.sink import PgSink, SinkBatch
from streams.store import PgStore

__all__ = ["one_connection_pool", "written"]  # fixtures, used by name

KEYS = [("O1", "a21026", 2026), ("O1", "a21026", 2025), ("O9", "x", 2026)]
EXPECTED = {
    ("O1", "a21026", 2026): StoredYear(
        {datetime(2026, 3, 1).date(): 9.5, datetime(2026, 3, 2).date(): 7.25},
        {
            datetime(2026, 3, 2).date(): SubstitutedLoad(
                (("hj75_max180", 2, 1.0), ("hj75_max720", 1, 0.25)), unsubstituted=1
            )
        },
    ),
    ("O1", "a21026", 2025): StoredYear({datetime(2025, 12, 31).date(): 1.0}, {}),
    ("O9", "x", 2026): StoredYear(),
}


def test_daily_years_give_each_years_loads_and_substitutions_together(written: Store) -> None:
    assert dict(written.daily_years(KEYS)) == EXPECTED


def test_daily_years_is_one_statement(one_connection_pool: ConnectionPool, tmp_path: Path) -> None:
    PgSink(one_connection_pool).flush(SinkBatch(aggregates=AGGREGATES, verdicts=VERDICTS))
    store = PgStore(one_connection_pool)
    found: dict[object, StoredYear] = {}
    sent = traced_statements(
        one_connection_pool, tmp_path / "years.trace", lambda: found.update(store.daily_years(KEYS))
    )
    assert found == EXPECTED
    queries = [s for s in sent if s.strip().upper() not in ("BEGIN", "COMMIT")]
    assert len(queries) == 1, sent  # main: two (daily loads, then daily substitutions)


def test_hydration_reads_send_their_key_arrays_in_binary(
    one_connection_pool: ConnectionPool, tmp_path: Path
) -> None:
    """Every key array of a hydration read goes to the server in binary: psycopg dumps a text
    array literal in Python (quoting each element by regular expression), ~12 times the CPU
    of the binary dump for a batch of new devices (docs/perf.md, fifth slice (engine))."""
    store = PgStore(one_connection_pool)
    hour = datetime(2026, 3, 1, 10, tzinfo=CHINA_TZ)
    trace = tmp_path / "keys.trace"

    def reads() -> None:
        store.device_hours([("DEVKEY1", hour), ("DEVKEY2", hour)])
        store.closed_hours([("DEVKEY1", hour)], {"DEVKEY1": "OUTKEY1"}, timedelta(minutes=5))
        store.daily_years([("OUTKEY1", "a21026", 2026)])
        store.rate_histories([("DEVKEY1", "OUTKEY1", "a21026", hour)])
        store.recent({"DEVKEY1": hour}, timedelta(hours=1), timedelta(minutes=5))

    traced_statements(one_connection_pool, trace, reads)
    binds = [line for line in trace.read_text(errors="replace").splitlines() if "\tBind\t" in line]
    assert len(binds) == 7 and all("DEVKEY" in b or "OUTKEY" in b for b in binds), binds
    text_arrays = [b for b in binds if re.search(r"\{[^}]*(DEVKEY|OUTKEY|2026-)", b)]
    assert not text_arrays, text_arrays  # main: '{DEVKEY1,DEVKEY2}' and '{"2026-03-01 …"}'
