"""Issue 13 item 4: analyser values identical across two devices of one enterprise raise the
cross-device ``tampering`` signal with evidence; honest data stays quiet (cleared)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams_support import SO2, T0, gas_minutes, measurement, pick, registry_document

from schemas.measurement import Measurement
from schemas.registry import parse_registry
from streams.domain.identical import identical_signals
from streams.replay import Replay


def two_stacks(**policy: Any) -> Any:
    """``make_registry``'s enterprise with a second gas outlet G2 (device GAS2)."""
    document = registry_document(**policy)
    gas = document["enterprises"][0]["outlets"][0]
    second = {
        **gas,
        "id": "G2",
        "name": "stack 2",
        "devices": [{**gas["devices"][0], "mn": "GAS2"}],
    }
    document["enterprises"][0]["outlets"].append(second)
    return parse_registry(document)


REGISTRY = two_stacks()


def stack_hours(device: str, values: list[float]) -> list[Measurement]:
    """Two hours of minute SO2 values of ``device`` cycling through ``values``."""
    out: list[Measurement] = []
    for index in range(120):
        start = T0 + timedelta(minutes=index)
        out.append(measurement(SO2, start, values[index % len(values)], device=device))
    return out


def day_end() -> list[Measurement]:
    return gas_minutes(T0 + timedelta(days=1), 20.0, minutes=15, o2=None, flow_m3s=None)


def replay(data: list[Measurement]) -> list[dict[str, Any]]:
    run = Replay(REGISTRY, include_quality=True)
    run.process(data)
    return [
        r
        for r in run.finish()
        if r["kind"] == "quality" and r["signal"] == "tampering" and r["detail"].get("period")
    ]


def test_one_analysers_values_copied_to_another_stack_fire_for_both_devices() -> None:
    values = [18.0, 19.5, 21.0, 20.25, 17.75]
    signals = replay([*stack_hours("GAS1", values), *stack_hours("GAS2", values), *day_end()])
    fired = {(s["device_id"], s["factor"]): s for s in signals if s["active"]}
    assert set(fired) == {("GAS1", SO2), ("GAS2", SO2)}
    finding = fired[("GAS1", SO2)]["detail"]["findings"]["identical_devices"]
    assert finding == [{"other_device": "GAS2", "identical_minutes": 120, "first": T0.isoformat()}]
    assert fired[("GAS2", SO2)]["detail"]["rules"] == ["identical_devices"]
    assert fired[("GAS1", SO2)]["observed_at"] == (T0 + timedelta(days=1)).isoformat()


def test_two_honest_analysers_stay_quiet() -> None:
    first = stack_hours("GAS1", [18.0, 19.5, 21.0, 20.25, 17.75])
    second = stack_hours("GAS2", [18.1, 19.4, 21.2, 20.0, 17.9])  # same plant, own readings
    signals = replay([*first, *second, *day_end()])
    assert signals and not any(s["active"] for s in signals)  # compared, cleared


def test_equal_but_constant_values_are_not_identical_analysers() -> None:
    """Two stopped analysers both at 0.0 (or both flat) are not copies: the flatline rule's."""
    signals = replay([*stack_hours("GAS1", [0.0]), *stack_hours("GAS2", [0.0]), *day_end()])
    assert not any(s["active"] for s in signals)


def test_the_rule_is_registry_tunable_and_off_with_null() -> None:
    values = {T0 + timedelta(minutes=i): 10.0 + i % 7 for i in range(40)}
    series = {("GAS1", SO2): values, ("GAS2", SO2): dict(values)}
    strict = two_stacks(evasion={"identical_minutes": 60})
    assert not any(s.active for s in identical_signals(strict, T0, series, strict.policy.evasion))
    off = two_stacks(evasion={"identical_minutes": None})
    assert not any(s.active for s in identical_signals(off, T0, series, off.policy.evasion))
    default = identical_signals(REGISTRY, T0, series, REGISTRY.policy.evasion)
    assert [s.active for s in default] == [True, True]


def test_a_single_device_per_factor_gets_no_signal() -> None:
    signals = replay([*gas_minutes(T0, 20.0), *day_end()])
    assert pick(signals, "quality") == []
