"""``GET /v1/verdicts/{id}/history``: every revision of one verdict, oldest first, the current
one last (issue 14 item 1, "verdicts … and their history").

The superseded revisions come from ``verdict_revisions`` (migration 007, written by the sink
when a verdict's value or status changed), the current one from ``verdicts``; both narrowed to
the principal's enterprises here and again by row-level security (migrations 009, 012).
Runs on the caller's scoped connection; blocks; raises NotFound (not in scope or no such
verdict), BadQuery (not a verdict id) and psycopg's errors.
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

_COMMON = (
    "outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value, ratio,"
    " status, standard, evidence, registry_version, revision, issued_at"
)
_HISTORY = """
SELECT {common}, false AS current, superseded_at, superseded_by, reason, source
  FROM verdict_revisions
 WHERE outlet_id = %s AND factor = %s AND rule = %s AND period_start = %s AND {scope}
UNION ALL
SELECT {common}, true, NULL, NULL, NULL, NULL
  FROM verdicts
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
    statement = sql.SQL(_HISTORY).format(common=sql.SQL(_COMMON), scope=scope)
    params = (*key, *scope_params, *key, *scope_params)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement, params).fetchall()
    if not any(row["current"] for row in rows):
        raise NotFound(f"no verdict {text} (within this token's scope)")
    return rows
