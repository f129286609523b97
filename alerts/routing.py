"""Who receives a notice: subscriptions, levels, quiet hours. Pure.

- An enterprise subscription receives notices about **its own enterprise only**, never
  another's: the match is on the notice's ``enterprise_id``, nothing else.
- A regulator subscription (``enterprise_id`` an id or ``*`` for all) receives what the
  regulator is told (``ladder.regulator_is_told``: exceedance and above, persistent data
  quality).
- ``min_level`` filters out lower rungs.
- Quiet hours (China time, UTC+8, no daylight saving) defer notices **below exceedance** to the
  end of the quiet period; exceedance and above are never held back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum

from alerts.errors import InvalidSubscription
from alerts.ladder import regulator_is_told
from schemas.alert import AlertLevel

CHINA_TIME = timezone(timedelta(hours=8), "CST")
ALL_ENTERPRISES = "*"
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class Audience(StrEnum):
    ENTERPRISE = "enterprise"
    REGULATOR = "regulator"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily quiet period in China time; ``start > end`` wraps past midnight."""

    start: time
    end: time

    @staticmethod
    def parse(text: str) -> QuietHours:
        """``"22:00-07:00"`` → QuietHours; raises InvalidSubscription."""
        match = _QUIET.match(text.strip())
        if match is None:
            raise InvalidSubscription("quiet", f"{text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            quiet = QuietHours(time(h1, m1), time(h2, m2))
        except ValueError as exc:
            raise InvalidSubscription("quiet", str(exc)) from exc
        if quiet.start == quiet.end:
            raise InvalidSubscription("quiet", "start and end are equal")
        return quiet

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def ends_after(self, now: datetime) -> datetime | None:
        """End of the quiet period ``now`` falls in (aware), or None when not quiet."""
        local = now.astimezone(CHINA_TIME)
        clock = local.time()
        if self.start < self.end:
            quiet = self.start <= clock < self.end
        else:
            quiet = clock >= self.start or clock < self.end
        if not quiet:
            return None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where one subscriber wants notices: an Apprise URL, the lowest level, quiet hours."""

    subscription_id: int
    enterprise_id: str
    audience: Audience
    channel: str
    min_level: AlertLevel
    quiet: QuietHours | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.audience is Audience.ENTERPRISE and self.enterprise_id == ALL_ENTERPRISES:
            raise InvalidSubscription("enterprise_id", "an enterprise subscribes for itself only")


@dataclass(frozen=True, slots=True)
class Recipient:
    subscription: Subscription
    not_before: datetime


def route(
    enterprise_id: str,
    level: AlertLevel,
    escalated: bool,
    subscriptions: list[Subscription] | tuple[Subscription, ...],
    now: datetime,
) -> list[Recipient]:
    """The subscriptions a notice about ``enterprise_id`` at ``level`` goes to, and when."""
    recipients = []
    for sub in subscriptions:
        if not sub.enabled or level < sub.min_level:
            continue
        if sub.audience is Audience.ENTERPRISE:
            if sub.enterprise_id != enterprise_id:
                continue
        elif sub.enterprise_id not in (ALL_ENTERPRISES, enterprise_id) or not regulator_is_told(
            level, escalated
        ):
            continue
        not_before = now
        if sub.quiet is not None and level < AlertLevel.EXCEEDANCE:
            not_before = sub.quiet.ends_after(now) or now
        recipients.append(Recipient(sub, not_before))
    return recipients
