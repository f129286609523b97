"""A frame's measurements (issue 15, fourth slice): named tuples built in C, one frame's shared
fields read once, the edge contract (JSON Schema, validation) derived from the same class."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams_support import CHINA, GAS, make_registry

from ingest.hj212 import Packet, decode, encode
from schemas.cli import export_json_schemas
from schemas.measurement import MEASUREMENT_ADAPTER, Measurement, PeriodKind
from streams.domain.normalize import normalize_packet

REGISTRY = make_registry()
AT = datetime(2024, 5, 1, 12, 0, 30, tzinfo=CHINA)


def _frame() -> list[Measurement]:
    values: dict[str, dict[str, float | str]] = {
        "a21026": {"Avg": 21.5, "Min": 20.0, "Max": 23.0, "Flag": "m"},
        "a19001": {"Rtd": 7.5, "ZsRtd": 8.0},
        "01": {"Cou": 3.25, "ZsAvg": 1.5, "Flag": " d "},
    }
    frame = encode(st="31", cn="2051", mn=GAS, pw="123456", flag=5, data_time=AT, values=values)
    return normalize_packet(decode(frame.encode()), AT + timedelta(seconds=5), REGISTRY)


def test_a_frames_values_are_the_fields_by_name_and_share_the_frames_fields() -> None:
    so2, o2, smoke = _frame()
    expected = {
        "device_id": GAS,
        "period": PeriodKind.MINUTE,
        "period_start": AT.replace(second=0),
        "received_at": AT + timedelta(seconds=5),
        "schema_version": 1,
        "outlet_id": REGISTRY.device(GAS).outlet.id,  # type: ignore[union-attr]
    }
    assert so2._asdict() == {
        **expected,
        **{"factor": "a21026", "factor_as_sent": "a21026", "rtd": None, "avg": 21.5},
        **{"min": 20.0, "max": 23.0, "cou": None, "zs_rtd": None, "zs_avg": None},
        **{"flag": "M", "qn": so2.qn},
    }
    assert (o2.rtd, o2.zs_rtd, o2.avg, o2.flag) == (7.5, 8.0, None, "N")
    assert (smoke.factor, smoke.factor_as_sent) == ("a34013", "01")
    assert (smoke.cou, smoke.zs_avg, smoke.flag) == (3.25, 1.5, "D")
    # built positionally in C, yet equal to the same fields given by name
    assert all(m == Measurement(**m._asdict()) for m in (so2, o2, smoke))
    assert so2.period_start is o2.period_start is smoke.period_start


def test_measurements_are_immutable_tuples_that_copy_and_pickle_as_themselves() -> None:
    m = _frame()[0]
    assert isinstance(m, tuple) and not hasattr(m, "__dict__")
    with pytest.raises(AttributeError):
        m.flag = "N"  # type: ignore[misc]
    assert m.model_copy(update={"avg": 1.0}) == m._replace(avg=1.0) != m
    again = pickle.loads(pickle.dumps(m))
    assert type(again) is Measurement and again == m


def test_the_exported_schema_is_an_object_of_the_classs_fields(tmp_path: Path) -> None:
    export_json_schemas(tmp_path)
    schema = json.loads((tmp_path / "measurement.schema.json").read_text("utf-8"))
    assert schema["type"] == "object" and schema["title"] == "Measurement"
    assert list(schema["properties"]) == list(Measurement._fields)
    assert set(schema["required"]) == set(Measurement._fields) - set(Measurement._field_defaults)
    assert schema["properties"]["factor"]["description"].startswith("HJ 212-2017 factor code")


def test_the_edge_reads_and_writes_the_object_form() -> None:
    m = _frame()[0]
    document = json.loads(MEASUREMENT_ADAPTER.dump_json(m))
    assert document["factor"] == "a21026" and document["period"] == "minute"
    parsed = MEASUREMENT_ADAPTER.validate_json(json.dumps(document))
    assert type(parsed) is Measurement and parsed == m
    assert MEASUREMENT_ADAPTER.validate_python(m) == m


_SUFFIXES = ("Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "ZsAvg", "Flag", "RS", "EFlag")
_FIELD_VALUES = st.one_of(
    st.floats(allow_nan=False), st.sampled_from(["N", "m", " d ", "", "x", "1.5"])
)


@given(
    st.lists(
        st.dictionaries(st.sampled_from(_SUFFIXES), _FIELD_VALUES, max_size=6),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_each_factors_numbers_and_flag_are_its_fields_by_suffix(
    fields_of: list[dict[str, float | str]],
) -> None:
    """The rule of the module docstring, field by field, for any mix of suffixes and values:
    a numeric suffix gives its value when it is a number, None otherwise; Flag gives the
    upper-cased flag (N when absent or blank); a factor with no number is left out."""
    values = {f"a{21000 + i:05d}": fields for i, fields in enumerate(fields_of)}
    packet = Packet("31", "2051", GAS, data_time=AT, values=values)  # type: ignore[arg-type]
    by_factor = {m.factor: m for m in normalize_packet(packet, AT, REGISTRY)}
    names = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg")
    for factor, fields in values.items():
        numbers = {
            name: value if isinstance(value := fields.get(suffix), float) else None
            for name, suffix in zip(names, _SUFFIXES, strict=False)
        }
        if all(number is None for number in numbers.values()):
            assert factor not in by_factor
            continue
        flag = fields.get("Flag", "N")
        expected_flag = flag.strip().upper() if isinstance(flag, str) and flag.strip() else "N"
        m = by_factor[factor]
        assert {name: getattr(m, name) for name in names} == numbers
        assert m.flag == expected_flag
