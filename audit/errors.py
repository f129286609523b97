"""The audit package's errors: each carries the HTTP status and a message meant for a user."""

from __future__ import annotations


class AuditError(Exception):
    """Root of the audit package's errors; ``status`` is the HTTP status it maps to."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadQuery(AuditError):
    """A filter, time range, page size or cursor the caller got wrong."""

    status = 400
    title = "Bad request"


class Unauthenticated(AuditError):
    """No token, or a token that is unknown, expired or revoked."""

    status = 401
    title = "Unauthenticated"


class Refused(AuditError):
    """The principal's role or scope does not cover what it asked for."""

    status = 403
    title = "Forbidden"


class NotFound(AuditError):
    """Nothing with that id within the principal's scope."""

    status = 404
    title = "Not found"
