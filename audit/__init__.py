"""The auditors' read API and tools (docs/audit.md): scoped read endpoints over the database,
API tokens, verdicts reproduced through the domain code, streamed exports.

Errors (one root, ``AuditError`` in ``audit.errors``)::

    AuditError
    ├── Unauthenticated  no token, or an unknown, expired or revoked one (401)
    ├── Refused          the principal may not see this (403)
    ├── BadQuery         a filter, range, page size or cursor a user got wrong (400)
    └── NotFound         no such row within the principal's scope (404)
"""
