"""A registry that cannot be physically right is refused with the place at fault (issue 11:
negative limits and quotas, reference O2 of 21 or 25, zero valid minutes per hour, a negative
warning fraction, a malformed digest, unknown factors were all stored), and a registry file
that is not safe to read is refused before it costs anything (a YAML alias bomb, non-UTF-8)."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from greenwatch.cli import app
from greenwatch.settings import Settings
from schemas.registry import RegistryError, load_registry, parse_registry

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"


def _document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def _outlet(document: dict[str, Any]) -> dict[str, Any]:
    outlet: dict[str, Any] = document["enterprises"][0]["outlets"][0]
    return outlet


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: _outlet(d).update(limits={"a21026": -35.0}), "limits.a21026"),
        (lambda d: _outlet(d).update(limits={"a21026": 0.0}), "limits.a21026"),
        (lambda d: _outlet(d).update(load_quotas={"a21026": {"daily_kg": -1}}), "daily_kg"),
        (lambda d: _outlet(d).update(reference_o2=21), "reference_o2"),
        (lambda d: _outlet(d).update(reference_o2=25), "reference_o2"),
        (lambda d: _outlet(d).update(reference_o2=-1), "reference_o2"),
        (lambda d: d.setdefault("policy", {}).update(valid_minutes_per_hour=0), "valid_minutes"),
        (lambda d: d.setdefault("policy", {}).update(valid_minutes_per_hour=61), "valid_minutes"),
        (lambda d: d.setdefault("policy", {}).update(warning_fraction=-5), "warning_fraction"),
        (lambda d: d.setdefault("policy", {}).update(warning_fraction=1.2), "warning_fraction"),
        (lambda d: d.setdefault("policy", {}).update(severe_multiple=0.5), "severe_multiple"),
        (lambda d: d.setdefault("policy", {}).update(valid_hours_per_day=25), "valid_hours"),
        (
            lambda d: _outlet(d)["devices"][0].update(password_sha256="not-a-digest"),
            "password_sha256",
        ),
        (lambda d: _outlet(d).update(limits={"SO2": 35.0}), "limits.SO2"),
        (lambda d: _outlet(d).update(limits={"w01018": 35.0}), "gas factors start with 'a'"),
    ],
)
def test_impossible_values_are_refused_with_their_place(edit: Any, where: str) -> None:
    document = _document()
    edit(document)
    with pytest.raises(RegistryError) as refused:
        parse_registry(document, "registry.yaml")
    assert where in refused.value.reason
    assert "\n" not in refused.value.reason  # one line a person can read


def test_the_shipped_registry_and_standards_pass() -> None:
    assert load_registry(EXAMPLE).version


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n", "utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(RegistryError, match=r"line 2: YAML aliases"):
        load_registry(bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50_000  # 9**10 strings would be gigabytes


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes(
        b"version: v1\nregion: {code: '520000', name: '" + "贵州".encode("gbk") + b"'}\n"
    )
    with pytest.raises(RegistryError, match=r"line 2: not UTF-8"):
        load_registry(bad)


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    with pytest.raises(RegistryError, match="larger than 16 MiB"):
        load_registry(big)


def test_load_registry_and_replay_exit_2_with_the_reason_not_a_traceback(tmp_path: Path) -> None:
    document = _document()
    document.setdefault("policy", {})["warning_fraction"] = -5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    runner = CliRunner()
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    for args in (["db", "load-registry", str(bad)], ["replay", "--registry", str(bad)]):
        result = runner.invoke(app, args, obj=settings, input="")
        assert result.exit_code == 2, result.output
        assert "warning_fraction" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_dsn_that_is_not_one_exits_2_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREENWATCH_DATABASE_URL", "s3cret garbage")
    result = CliRunner().invoke(app, ["db", "migrate"])
    assert result.exit_code == 2
    assert "GREENWATCH_DATABASE_URL" in result.output
    assert "not a PostgreSQL connection string" in result.output
    assert "s3cret" not in result.output
