"""``greenwatch replay --jobs N`` end to end on the 2016 capture (real traffic: rtd, minute and
hour frames, re-sent history, a device clock in 2000, bad CRCs, unknown MNs): the same bytes on
stdout and the same counts on stderr whatever N, from a file or from stdin."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_streams_replay_cli import CAPTURE
from typer.testing import CliRunner

from greenwatch.cli import app
from schemas.registry import hash_password, load_registry
from streams.replay import Replay, replay_lines

pytestmark = pytest.mark.e2e

runner = CliRunner()
OUTLETS = [
    ("CAP-G-488", "gas", "GB13271-2014-coal-new", "LD130182000488"),
    ("CAP-G-211", "gas", "GB13271-2014-coal-new", "LD130131000211"),
    ("CAP-W-315", "water", "demo-water-municipal", "ZG130182201315"),
    ("CAP-W-295", "water", "demo-water-municipal", "LD130182000295"),
]


def _registry(path: Path) -> Path:
    """Each capture device in an enterprise of its own: four partitions to spread."""
    enterprises = [
        {
            "id": f"E{index}",
            "name": f"enterprise {index}",
            "region_code": "520100",
            "industry_code": "4411",
            "outlets": [
                {
                    "id": outlet,
                    "name": outlet,
                    "medium": medium,
                    "standard": standard,
                    "devices": [{"mn": mn, "password_sha256": hash_password(mn, "123456")}],
                }
            ],
        }
        for index, (outlet, medium, standard, mn) in enumerate(OUTLETS)
    ]
    document = {"version": "e2e-jobs", "region": {"code": "520000", "name": "e2e"},
                "enterprises": enterprises}  # fmt: skip
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


def _replay(registry: Path, *args: str, stdin: bytes | None = None) -> tuple[str, str]:
    result = runner.invoke(app, ["replay", "--registry", str(registry), *args], input=stdin)
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


def test_the_capture_prints_the_same_bytes_whatever_the_number_of_processes(
    tmp_path: Path,
) -> None:
    registry = _registry(tmp_path / "registry.yaml")
    capture = tmp_path / "capture.h212"
    capture.write_bytes(b"".join(p.read_bytes() for p in sorted(CAPTURE.glob("*.h212"))))
    one = _replay(registry, "--input", str(capture), "--quality", "--jobs", "1")
    assert one[0].count("\n") > 100 and "26777 lines, 26761 decoded, 16 undecodable" in one[1]
    assert _replay(registry, "--input", str(capture), "--quality", "--jobs", "3") == one
    assert _replay(registry, "--quality", "--jobs", "2", stdin=capture.read_bytes()) == one


def test_jobs_is_documented_and_an_unreadable_input_exits_2_as_before(tmp_path: Path) -> None:
    help_text = runner.invoke(app, ["replay", "--help"]).stdout
    assert "--jobs" in help_text and "enterprises" in help_text
    registry = _registry(tmp_path / "registry.yaml")
    for jobs in ("1", "2"):
        args = ["replay", "--registry", str(registry), "--input", str(tmp_path / "nope"),
                "--jobs", jobs]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.stderr.startswith("replay: cannot read input: [Errno 2]"), result.stderr


def test_history_re_sent_for_a_closed_day_replays_as_one_line_at_a_time(tmp_path: Path) -> None:
    """The capture's LD130182000295 re-sends hours of a day already closed: each late line
    re-closes the day (a low_capture signal each, as one line at a time gives); on main a
    2 000-line batch holding several of them re-closed it once (416 lines instead of 420),
    so the output depended on where the batches fell, and would have on ``--jobs``."""
    registry = load_registry(_registry(tmp_path / "registry.yaml"))
    capture = tmp_path / "capture.h212"
    capture.write_bytes(b"".join(p.read_bytes() for p in sorted(CAPTURE.glob("*.h212"))))
    by_line = Replay(registry, include_quality=True)
    with capture.open("rb") as lines:
        for line in lines:
            by_line.feed_line(line)
    with capture.open("rb") as lines:
        batched, _ = replay_lines(lines, registry, include_quality=True)
    assert batched == by_line.finish()
    assert len(batched) == 420
