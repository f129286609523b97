"""The registry's YAML is folded from libyaml's events (schemas.yaml_events): the same values
as ``yaml.safe_load``, aliases refused with their line, without PyYAML's per-node constructor
(which made a 10 000-device registry cost ~12 s of the worker's start, docs/perf.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import yaml_events
from schemas.yamlfile import YamlFileError, parse_yaml

ROOT = Path(__file__).parents[2]
SHIPPED = sorted(
    path
    for folder in ("schemas", "ingest", "alerts", "streams", "deploy", "grafana")
    for path in (ROOT / folder).rglob("*.yaml")
)

TRICKY = """\
plain: text
quoted: '0.8'
double: "yes"
numbers: [0.8, 1_000, 0x1f, 0o17, -.inf, .nan, 1e3, +12, 190:20:30]
booleans: [yes, No, on, OFF, true, False]
nulls: [~, null, Null]
empty_value:
dates: [2024-01-01, 2001-12-14t21:59:43.10-05:00]
block: |
  two
  lines
folded: >
  one
  line
? [complex, key]
: no
"pinyin 折算浓度": 排放
1: int key
anchored: &a {only: an anchor}
binary: !!binary aGVsbG8=
str_tag: !!str 12
empty_map: {}
empty_seq: []
"""


def test_the_fold_gives_what_safe_load_gives() -> None:
    document = TRICKY.replace("? [complex, key]\n: no\n", "")
    assert yaml_events.fold(document) == yaml.safe_load(document)


def test_every_shipped_yaml_file_folds_as_safe_load_reads_it() -> None:
    assert SHIPPED, "no YAML file found under the packages"
    for path in SHIPPED:
        text = path.read_text("utf-8")
        assert yaml_events.fold(text) == yaml.safe_load(text), path


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
_documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_documents, st.sampled_from([None, False, True]))
def test_any_dumped_document_folds_back(document: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(document, allow_unicode=True, default_flow_style=flow)
    assert yaml_events.fold(text) == yaml.safe_load(text)


def test_a_registry_is_read_without_pyyaml_per_node_constructor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the pure-Python constructor ran on every node")

    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_object", refuse)
    text = (ROOT / "schemas" / "examples" / "demo-province.yaml").read_text("utf-8")
    assert parse_yaml(text)["version"]


def test_an_alias_is_refused_with_its_line_and_an_anchor_alone_is_not() -> None:
    with pytest.raises(YamlFileError, match=r"line 3: YAML aliases"):
        parse_yaml("a: &x [1, 2]\nb: 2\nc: *x\n")
    assert parse_yaml("a: &x [1, 2]\n") == {"a": [1, 2]}


def test_an_alias_behind_a_feature_left_to_pyyaml_is_refused_too() -> None:
    # the merge key is not folded: PyYAML reads it, after the events were checked
    with pytest.raises(YamlFileError, match=r"line 2: YAML aliases"):
        parse_yaml("base: &b {x: 1}\nitem: {<<: *b}\n")
    assert parse_yaml("s: !!set {a, b}\nitem: {<<: {x: 1}}\n") == {
        "s": {"a", "b"},
        "item": {"x": 1},
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: 1\n---\nb: 2\n", r"line 2: .*another document"),
        ("a: [1\nb: 2\n", r"line \d+: "),
        ("? [1]\n: x\n", r"line 1: found unhashable key"),
        ("a: !custom 1\n", r"line 1: could not determine a constructor"),
    ],
)
def test_what_safe_load_refuses_is_refused_with_a_line(text: str, reason: str) -> None:
    with pytest.raises(YamlFileError, match=reason):
        parse_yaml(text)


def test_an_empty_document_is_none() -> None:
    assert parse_yaml("") is None
    assert parse_yaml("# only a comment\n") is None
