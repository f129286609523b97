"""``normalize_packet`` against its contract, field by field, for any shape a factor's fields
take (docs/perf.md, "Eighth slice (cols)": the usual factor, one number and its flag, is read
without the loop over its fields): the numbers by suffix, text left out, the flag upper-cased
with ``N`` by default, 2005 codes mapped, a factor without a number skipped, the later of two
codes mapping to one factor winning."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from streams_support import CHINA, GAS, make_registry

from ingest.hj212 import Packet, factor_code_2005_to_2017
from ingest.hj212.packet import FactorValue
from schemas.measurement import Measurement, PeriodKind
from streams.domain.normalize import normalize_packet

REGISTRY = make_registry()
AT = datetime(2024, 5, 1, 12, 0, tzinfo=CHINA)
RECEIVED = AT + timedelta(seconds=5)
NUMBERS = {"Rtd": "rtd", "Avg": "avg", "Min": "min", "Max": "max", "Cou": "cou",
           "ZsRtd": "zs_rtd", "ZsAvg": "zs_avg"}  # fmt: skip
SUFFIXES = [*NUMBERS, "Flag", "RS", "Info"]
CODES = ["a21026", "a21002", "a19001", "01", "02", "B02", "a34013", "w01018"]

values = st.one_of(
    st.floats(allow_nan=False), st.sampled_from(["N", "d", " m ", "", "T", "x", "1.5e3"])
)
usual = st.sampled_from(["Avg", "Rtd"]).flatmap(
    lambda number: st.fixed_dictionaries({number: values, "Flag": values})
)
fields = st.dictionaries(st.sampled_from(SUFFIXES), values, max_size=5) | usual


def expected(packet: Packet, period: PeriodKind, start: datetime) -> list[Measurement]:
    """The module docstring's contract, written out plainly."""
    code_map = factor_code_2005_to_2017()
    outlet = REGISTRY.device(GAS).outlet.id  # type: ignore[union-attr]
    found: dict[str, Measurement] = {}
    for sent, sent_fields in packet.values.items():
        numbers = {
            NUMBERS[s]: v for s, v in sent_fields.items() if s in NUMBERS and isinstance(v, float)
        }
        if not numbers:
            continue
        flag: FactorValue = sent_fields.get("Flag", "N")
        text = flag.strip().upper() if isinstance(flag, str) else ""
        factor = code_map.get(sent, sent)
        found[factor] = Measurement(
            device_id=GAS, factor=factor, factor_as_sent=sent, period=period,
            period_start=start, received_at=RECEIVED, outlet_id=outlet,
            flag=text or "N", qn=packet.qn, **numbers,
        )  # fmt: skip
    return list(found.values())


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(CODES), fields | st.fixed_dictionaries({}), max_size=6),
    st.sampled_from([("2051", PeriodKind.MINUTE), ("2011", PeriodKind.RTD)]),
)
def test_measurements_are_the_contract_for_every_shape_of_fields(
    sent: dict[str, dict[str, FactorValue]], command: tuple[str, PeriodKind]
) -> None:
    packet = Packet("31", command[0], GAS, qn="20240501120000123", data_time=AT, values=sent)
    assert normalize_packet(packet, RECEIVED, REGISTRY) == expected(packet, command[1], AT)


def test_the_usual_factor_keeps_its_number_in_its_column_and_its_flag() -> None:
    sent: dict[str, dict[str, FactorValue]] = {
        "a21026": {"Avg": 1.5, "Flag": "d"},
        "a21002": {"Flag": "T", "Rtd": 2.5},
        "a19001": {"Avg": "bad", "Flag": "N"},
        "01": {"Min": 3.0, "Flag": "M"},
    }
    packet = Packet("31", "2051", GAS, data_time=AT, values=sent)
    so2, nox, smoke = normalize_packet(packet, RECEIVED, REGISTRY)
    assert (so2.avg, so2.rtd, so2.flag) == (1.5, None, "D")
    assert (nox.avg, nox.rtd, nox.flag) == (None, 2.5, "T")
    assert (smoke.factor, smoke.min, smoke.avg, smoke.flag) == ("a34013", 3.0, None, "M")
