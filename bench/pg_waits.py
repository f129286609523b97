"""What the workers' PostgreSQL backends wait for during a drain: samples ``pg_stat_activity``
every ``interval`` seconds and counts, per wait event, the client backends of the other
sessions (the benchmark's workers log in as the schema's owner, so they are told apart by
nothing else) caught in it ("CPU" when active and waiting for nothing). Lock waits between
two workers' batches show as ``Lock/...`` or ``LWLock/...``; a client that is slow to send
the next statement shows as ``idle in transaction``.

Usage: ``python -m bench.pg_waits SECONDS`` beside a drain (``python -m bench drains``) on the
local stack; prints the counts when the time is up. Connects as the owner role.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import psycopg

from runtime.settings import DbLogin, Settings, database_dsn

_QUERY = """
SELECT state, coalesce(wait_event_type || '/' || wait_event, 'CPU')
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()
"""


def sample(seconds: float, interval: float = 0.02) -> tuple[int, Counter[str]]:
    """(samples taken, count per ``state: wait event`` over them)."""
    counts: Counter[str] = Counter()
    taken = 0
    with psycopg.connect(database_dsn(Settings(), DbLogin.OWNER), autocommit=True) as conn:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for state, event in conn.execute(_QUERY).fetchall():
                counts[f"{state}: {event}" if state == "active" else str(state)] += 1
            taken += 1
            time.sleep(interval)
    return taken, counts


def main(argv: list[str]) -> None:
    taken, counts = sample(float(argv[0]) if argv else 60.0)
    print(f"{taken} samples of the client backends:")
    for name, count in counts.most_common(20):
        print(f"  {count / taken:7.3f} backends on average  {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
