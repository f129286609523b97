"""HJ 75-2017 substituted hours in the annual load (issue 13 item 5: "shown separately in
daily and annual loads and their verdicts").

A day's substitution (``load_substitution.DaySubstitution``: the hours without a load filled
by the maximum of the previous N valid hourly rates, N by the quarterly capture rate) is
summed per method code into a ``SubstitutedLoad``; the annual ledger (``annual.YearLedger``)
keeps one per day beside the day's measured load, and the annual verdict judges measured +
substituted kg with both shown apart (``year_evidence``): substituted hours are never counted
as measured. After a restart the ledger reads them back from the stored daily load verdicts'
evidence (``from_evidence``; ``Store.daily_years``), so the worker equals replay.

Only factors with a daily quota are substituted (the engine keeps rate histories for them);
an annual quota without a daily one sums measured loads only. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import fsum
from typing import Any

from streams.domain.load_substitution import DaySubstitution
from streams.domain.substitution import NO_METHOD


@dataclass(frozen=True, slots=True)
class SubstitutedLoad:
    """One day's substituted kg by method code: (method, hours, kg), sorted by method;
    ``unsubstituted`` hours are missing hours no tier filled (method ``none``)."""

    by_method: tuple[tuple[str, int, float], ...]
    unsubstituted: int = 0

    @property
    def kg(self) -> float:
        return fsum(kg for _, _, kg in self.by_method)

    @staticmethod
    def of(substitution: DaySubstitution | None) -> SubstitutedLoad | None:
        """The day's substitution summed per method (None: nothing was missing)."""
        if substitution is None or not substitution.hours:
            return None
        hours: dict[str, list[float]] = {}
        unsubstituted = 0
        for _, rate, method, _, _ in substitution.hours:
            if rate is None or method == NO_METHOD:
                unsubstituted += 1
            else:
                hours.setdefault(method, []).append(rate)  # one hour: rate kg/h × 1 h
        return SubstitutedLoad(
            tuple((m, len(r), fsum(r)) for m, r in sorted(hours.items())), unsubstituted
        )

    @staticmethod
    def from_evidence(evidence: Mapping[str, Any]) -> SubstitutedLoad | None:
        """The substitution a stored daily load verdict's evidence shows (``DaySubstitution
        .evidence``), None when it shows none or cannot be read."""
        rows = evidence.get("substituted_hours")
        unsubstituted = evidence.get("unsubstituted_hours", 0)
        if not isinstance(rows, list) or not isinstance(unsubstituted, int):
            return None
        hours: dict[str, list[float]] = {}
        for row in rows:
            if not isinstance(row, Mapping):
                return None
            rate, method = row.get("rate_kgh"), row.get("method")
            if not isinstance(rate, int | float) or not isinstance(method, str):
                return None
            hours.setdefault(method, []).append(float(rate))
        if not hours and not unsubstituted:
            return None
        return SubstitutedLoad(
            tuple((m, len(r), fsum(r)) for m, r in sorted(hours.items())), unsubstituted
        )


def year_evidence(measured_kg: float, days: Iterable[SubstitutedLoad]) -> dict[str, Any]:
    """What an annual verdict shows of the year's substituted hours through its day."""
    hours: dict[str, int] = {}
    kgs: dict[str, list[float]] = {}
    unsubstituted = 0
    counted = 0
    for day in days:
        counted += 1
        unsubstituted += day.unsubstituted
        for method, n, kg in day.by_method:
            hours[method] = hours.get(method, 0) + n
            kgs.setdefault(method, []).append(kg)
    substituted = fsum(fsum(k) for k in kgs.values())
    return {
        "ytd_measured_load_kg": measured_kg,
        "ytd_substituted_load_kg": substituted,
        "substituted_hours": sum(hours.values()),
        "substituted_by_method": {
            m: {"hours": hours[m], "load_kg": fsum(kgs[m])} for m in sorted(hours)
        },
        "unsubstituted_hours": unsubstituted,
        "days_with_substitution": counted,
    }
