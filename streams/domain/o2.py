"""O2 correction to the reference oxygen content (折算浓度, zhesuan nongdu; HJ 75-2017).

``C_ref = C × (21 − O2_ref) / (21 − O2_meas)`` with concentrations in mg/m³ (dry) and O2 in
% by volume (dry). 21 is the O2 content of air. When the measured O2 is at or above 21 %
(the stack carries air: a stopped boiler, an O2 analyser fault) the formula is meaningless:
no corrected value is produced and the caller counts the minute in its evidence
(``o2_guard_minutes``).
"""

from __future__ import annotations

from typing import Final

AIR_O2_PCT: Final = 21.0
"""O2 content of dry air, % by volume, the constant of the correction formula."""


def o2_correct(concentration: float, o2_measured: float, o2_reference: float) -> float | None:
    """Concentration at ``o2_reference`` %, or None when ``o2_measured`` ≥ 21 %.

    Monotonic: increasing in ``concentration`` (for a fixed O2) and in ``o2_measured`` (for a
    positive concentration, while O2_ref < 21); equal to ``concentration`` when
    ``o2_measured == o2_reference``.
    """
    if o2_measured >= AIR_O2_PCT:
        return None
    return concentration * (AIR_O2_PCT - o2_reference) / (AIR_O2_PCT - o2_measured)


def disagrees(ours: float, device: float, tolerance_pct: float) -> bool:
    """True when the device's own corrected value differs from ours by more than
    ``tolerance_pct`` % of ours (any difference when ours is 0)."""
    if ours == 0.0:
        return device != 0.0
    return abs(device - ours) > abs(ours) * tolerance_pct / 100.0
