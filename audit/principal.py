"""Who is asking: a principal with a role and a scope (design.md "Trust"). Pure.

- ``regulator``: the enterprises whose GB/T 2260 region code starts with one of its prefixes
  (``52`` a province, ``5201`` a prefecture); the only role that sees dead letters.
- ``auditor``: read-only like everyone here, scoped by region like a regulator; sees evidence
  and history, not dead letters.
- ``enterprise``: its own enterprise only.

The database enforces the same scope under the matching role (migration 009): ``db_role`` and
``settings`` are what the API sets for each request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from audit.errors import BadQuery, Refused

_REGION = re.compile(r"^[0-9]{2,6}$")


class Role(StrEnum):
    REGULATOR = "regulator"
    ENTERPRISE = "enterprise"
    AUDITOR = "auditor"


DB_ROLES = {
    Role.REGULATOR: "greenwatch_api_regulator",
    Role.ENTERPRISE: "greenwatch_api_enterprise",
    Role.AUDITOR: "greenwatch_api_auditor",
}


def region_prefixes(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """GB/T 2260 prefixes from ``"52,5301"`` or a sequence; raises BadQuery on anything else."""
    items = text.split(",") if isinstance(text, str) else list(text)
    found = tuple(item.strip() for item in items if item.strip())
    for prefix in found:
        if not _REGION.match(prefix):
            raise BadQuery(f"region {prefix!r} is not a GB/T 2260 code prefix (2 to 6 digits)")
    return found


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    enterprise_id: str | None = None
    regions: tuple[str, ...] = ()
    token_id: str = ""

    def __post_init__(self) -> None:
        if (self.role is Role.ENTERPRISE) != (self.enterprise_id is not None):
            raise BadQuery("an enterprise principal needs an enterprise id, and only it")
        if self.role is not Role.ENTERPRISE and not self.regions:
            raise BadQuery(f"a {self.role} principal needs at least one region prefix")

    @property
    def db_role(self) -> str:
        return DB_ROLES[self.role]

    @property
    def settings(self) -> dict[str, str]:
        """The ``greenwatch.*`` settings the row-level security policies read."""
        if self.role is Role.ENTERPRISE:
            return {"greenwatch.enterprise": self.enterprise_id or "", "greenwatch.regions": ""}
        return {"greenwatch.enterprise": "", "greenwatch.regions": ",".join(self.regions)}

    def covers_region(self, region_code: str) -> bool:
        return any(region_code.startswith(prefix) for prefix in self.regions)

    def check_enterprise(self, enterprise_id: str) -> None:
        """Refuse an explicit filter on another enterprise (the enterprise role)."""
        if self.role is Role.ENTERPRISE and enterprise_id != self.enterprise_id:
            raise Refused(f"an enterprise token sees only enterprise {self.enterprise_id}")

    def check_region(self, prefix: str) -> None:
        """Refuse a region filter outside the principal's regions."""
        if self.role is Role.ENTERPRISE:
            raise Refused("an enterprise token cannot filter by region")
        if not any(prefix.startswith(own) for own in self.regions):
            raise Refused(f"region {prefix} is outside this token's regions {self.regions}")

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise Refused(f"this is for {allowed} tokens only, not {self.role}")
