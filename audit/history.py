"""``GET /v1/verdicts/{id}/history``: every revision of one verdict, oldest first, the current
one last (issue 14 item 1, "verdicts … and their history").

Reads the ``verdict_versions`` view (migration 007: the superseded revisions of
``verdict_revisions`` and the current row of ``verdicts``; ``streams.revisions`` reads the
same view), narrowed to the principal's enterprises here and again by row-level security:
the view runs with the caller's rights (security_invoker, migration 016), so the policies of
both tables apply through it (migrations 009, 012). Runs on the caller's scoped connection;
blocks; raises NotFound (not in scope or no such verdict), BadQuery (not a verdict id) and
psycopg's errors.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from audit.errors import NotFound
from audit.principal import Principal
from audit.queries import enterprise_set, owned_by
from audit.resources import Owner
from audit.verdict_id import parse_verdict_id

_HISTORY = """
SELECT * FROM verdict_versions
 WHERE outlet_id = %s AND factor = %s AND rule = %s AND period_start = %s AND {scope}
 ORDER BY revision, current
"""


def verdict_history(
    conn: psycopg.Connection[Any], principal: Principal, text: str
) -> list[dict[str, Any]]:
    """The versions of verdict ``text`` (a verdict id) within ``principal``'s scope, oldest
    first: superseded ones with ``superseded_at``, ``superseded_by`` (the revision that
    replaced it), ``reason`` and ``source``; the current one last with ``current`` true."""
    key = parse_verdict_id(text)
    enterprises, scope_params = enterprise_set(principal)
    scope = owned_by(Owner.ENTERPRISE, enterprises)
    statement = sql.SQL(_HISTORY).format(scope=scope)
    params = (*key, *scope_params)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement, params).fetchall()
    if not any(row["current"] for row in rows):
        raise NotFound(f"no verdict {text} (within this token's scope)")
    return rows
