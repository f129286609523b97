"""The alert ladder: which rung a situation reaches and by which article (domain.md §5).

Rungs (``schemas.alert.AlertLevel``): data quality → warning → exceedance (超标排放, Air
Pollution Law Art. 99 / Water Pollution Law Art. 83 / Environmental Protection Law Art. 60)
→ restrict production (限制生产, MEP Order No. 30 (2014) Art. 5) → suspend production for
rectification (停产整治, Order No. 30 Art. 6). Facilities under Art. 7 (municipal sewage,
waste and hazardous-waste facilities, livelihood or safety operations) are never recommended
for suspension: their ladder stops at restriction and the basis records the cap.

Pure: no I/O; every threshold comes from ``schemas.registry.AlertPolicy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.alert import AlertLevel
from schemas.verdict import Rule


class Basis(StrEnum):
    """Why an alert is at its level: the provision it is read against."""

    DATA_QUALITY = "hj75_data_quality"
    """HJ 75/76-2017 and HJ 212-2017: monitoring data missing, flagged or implausible."""
    LOW_CAPTURE = "hj75_low_capture"
    """An hour invalid because too few minutes were reported (HJ 75-2017 valid hour)."""
    UNDECLARED_FLAG = "hj75_undeclared_flag"
    """F/M/C/D/B data outside a window declared beforehand (HJ 75-2017 / HJ 212-2017 flags;
    flagged data are invalid for compliance only when the flag is true)."""
    REVISED_DOWN = "hj75_revised_down"
    """A judged warning or exceedance softened by re-sent or late data (design.md: a revision
    that softens a verdict is itself a signal; HJ 75-2017 data validity)."""
    WARNING = "warning_fraction"
    """Valid value at or above the policy's warning fraction of its limit or quota."""
    EXCEEDANCE = "exceedance"
    """超标排放: Air Pollution Law Art. 99 / Water Pollution Law Art. 83 / EPL Art. 60."""
    ART5_SUSTAINED = "order30_art5_sustained"
    """Order No. 30 Art. 5: exceedance sustained for ``sustained_exceedance_hours``."""
    ART5_DAILY_LOAD = "order30_art5_daily_load"
    """Order No. 30 Art. 5: the key pollutant's daily total-load quota exceeded."""
    ART6_EVASION = "order30_art6_1_evasion"
    """Order No. 30 Art. 6(1): exceedance while evading supervision."""
    ART6_SEVERE = "order30_art6_2_heavy_metal"
    """Order No. 30 Art. 6(2): heavy metal or POP at ≥ ``severe_multiple`` × the standard."""
    ART6_ANNUAL_LOAD = "order30_art6_3_annual_load"
    """Order No. 30 Art. 6(3): the annual total-load quota exceeded."""
    ART6_AFTER_RESTRICTION = "order30_art6_4_after_restriction"
    """Order No. 30 Art. 6(4): still exceeding after a restriction order."""
    ART7_CAPPED = "order30_art7_no_suspension"
    """Order No. 30 Art. 7: a suspension case at a facility that is penalised instead."""
    ENERGY_QUOTA_WARNING = "energy_quota_warning"
    """Unit product energy consumption at or above the policy's share of the product's quota."""
    ENERGY_QUOTA = "energy_quota_exceedance"
    """Unit product energy consumption above the quota (单位产品能耗限额): subject to punitive
    or tiered electricity prices (the tables are the plan issue's; the notice says the quota
    and the excess)."""
    ENERGY_COMPLETENESS = "energy_completeness"
    """Key-energy-user rule: fewer than the required share of real-time readings in a day."""
    ENERGY_CONSISTENCY = "energy_consistency"
    """Key-energy-user rule: a month's figure more than 5 % off the sum of its days."""
    PLAN_OFF_TRACK = "plan_off_track"
    """A plan target's progress behind its path (barometer yellow): intensity off the path."""
    PLAN_RESTRICT_APPROVALS = "plan_restrict_approvals"
    """A region red on a plan target: restrict or delay approvals of energy-intensive projects
    (限批缓批, Ningxia plan); a recommendation to the region's regulator."""
    PLAN_SUBSIDY_LOSS = "plan_subsidy_loss"
    """An enterprise red on a target assigned to it: flagged for loss of subsidies."""


ENERGY_RULES = frozenset({Rule.ENERGY_QUOTA, Rule.ENERGY_COMPLETENESS, Rule.ENERGY_CONSISTENCY})
"""Energy verdict rules: judged per day; never a rung of Order No. 30 (an emissions order)."""


def warning_basis(rule: Rule) -> Basis:
    """The basis of a warning-level alert of ``rule``."""
    if rule is Rule.PLAN_PROGRESS:
        return Basis.PLAN_OFF_TRACK
    if rule is Rule.ENERGY_QUOTA:
        return Basis.ENERGY_QUOTA_WARNING
    if rule is Rule.ENERGY_COMPLETENESS:
        return Basis.ENERGY_COMPLETENESS
    if rule is Rule.ENERGY_CONSISTENCY:
        return Basis.ENERGY_CONSISTENCY
    return Basis.WARNING


@dataclass(frozen=True, slots=True)
class Situation:
    """Facts about one exceeding period that decide its rung.

    ``streak``: consecutive exceeding periods ending at this one (this one included);
    ``under_restriction``: a restriction order was in force when the period started;
    ``evasion``: an evasion signal (e.g. suspected tampering) is firing for the outlet;
    ``severe``: heavy metal or POP at ≥ ``severe_multiple`` × its limit.
    """

    rule: Rule
    streak: int
    severe: bool
    under_restriction: bool
    evasion: bool
    art7_facility: bool
    region_subject: bool = False
    """A plan verdict about a region (not an enterprise)."""


@dataclass(frozen=True, slots=True)
class Rung:
    level: AlertLevel
    basis: Basis
    capped_from: Basis | None = None
    """The suspension basis that Art. 7 turned into a restriction, if any."""


def exceedance_rung(situation: Situation, sustained_exceedance_hours: int) -> Rung:
    """The rung of an exceeding period (hourly concentration, daily or annual load)."""
    rung = _uncapped(situation, sustained_exceedance_hours)
    if situation.art7_facility and rung.level is AlertLevel.SUSPEND_FOR_RECTIFICATION:
        return Rung(AlertLevel.RESTRICT_PRODUCTION, Basis.ART7_CAPPED, capped_from=rung.basis)
    return rung


def _uncapped(situation: Situation, sustained_exceedance_hours: int) -> Rung:
    if situation.rule is Rule.PLAN_PROGRESS:
        if situation.region_subject:
            return Rung(AlertLevel.EXCEEDANCE, Basis.PLAN_RESTRICT_APPROVALS)
        return Rung(AlertLevel.EXCEEDANCE, Basis.PLAN_SUBSIDY_LOSS)
    if situation.rule in ENERGY_RULES:
        return Rung(AlertLevel.EXCEEDANCE, Basis.ENERGY_QUOTA)
    if situation.rule is Rule.ANNUAL_LOAD:
        return Rung(AlertLevel.SUSPEND_FOR_RECTIFICATION, Basis.ART6_ANNUAL_LOAD)
    if situation.severe:
        return Rung(AlertLevel.SUSPEND_FOR_RECTIFICATION, Basis.ART6_SEVERE)
    if situation.evasion:
        return Rung(AlertLevel.SUSPEND_FOR_RECTIFICATION, Basis.ART6_EVASION)
    if situation.under_restriction:
        return Rung(AlertLevel.SUSPEND_FOR_RECTIFICATION, Basis.ART6_AFTER_RESTRICTION)
    if situation.rule is Rule.DAILY_LOAD:
        return Rung(AlertLevel.RESTRICT_PRODUCTION, Basis.ART5_DAILY_LOAD)
    if situation.streak >= sustained_exceedance_hours:
        return Rung(AlertLevel.RESTRICT_PRODUCTION, Basis.ART5_SUSTAINED)
    return Rung(AlertLevel.EXCEEDANCE, Basis.EXCEEDANCE)


def regulator_is_told(level: AlertLevel, escalated: bool) -> bool:
    """design.md: the regulator hears of exceedance and above, and of persistent data quality."""
    if level >= AlertLevel.EXCEEDANCE:
        return True
    return level is AlertLevel.DATA_QUALITY and escalated
