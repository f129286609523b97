"""``greenwatch hj212 decode|encode`` end to end (typer's runner, real capture data)."""

from __future__ import annotations

import json

import pytest
from hj212_reference import HJ212_DATA
from typer.testing import CliRunner

from greenwatch.cli import app

KEYS = [
    "ok",
    "error",
    "crc_ok",
    "length_ok",
    "qn",
    "st",
    "cn",
    "mn",
    "flag",
    "version",
    "needs_ack",
    "pnum",
    "pno",
    "data_time",
    "values",
]
pytestmark = pytest.mark.e2e
runner = CliRunner()


def test_decode_capture_file_one_object_per_line_no_password(capture: list[bytes]) -> None:
    path = sorted((HJ212_DATA / "capture-2016").glob("*.h212"))[0]
    expected_lines = [line for line in path.read_bytes().split(b"\n") if line.rstrip(b"\r").strip()]
    result = runner.invoke(app, ["hj212", "decode", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(out) == len(expected_lines)
    objects = [json.loads(line) for line in out]
    assert all(list(o) == KEYS for o in objects)
    assert "PW" not in result.stdout and "123456" not in result.stdout
    first = objects[0]
    assert first["ok"] and first["mn"] == "LD130133000015"
    assert first["data_time"] == "2016-08-24T00:38:17+08:00"
    assert first["values"]["011"] == {"Rtd": 231.0, "Flag": "N"}
    bad = [o for o in objects if not o["ok"]]
    assert bad and all(
        o["error"].split(":")[0] in {"no_header", "bad_length_field", "length_mismatch", "bad_crc"}
        for o in bad
    )


def test_decode_stdin_garbage_and_order() -> None:
    good = (HJ212_DATA / "vectors.tsv").read_text().splitlines()[1].split("\t")[3]
    stdin = b"\x00\xff\xfe garbage\r\n\n" + good.encode() + b"\r\n##0004ST=1FFFF\n"
    result = runner.invoke(app, ["hj212", "decode", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["ok"] for o in objects] == [False, True, False]
    assert objects[0]["error"].startswith("no_header:") and objects[0]["crc_ok"] is None
    assert objects[2]["error"].startswith("bad_crc:") and objects[2]["length_ok"] is True


def test_encode_then_decode_through_the_cli() -> None:
    built = runner.invoke(
        app,
        [
            "hj212",
            "encode",
            "--st",
            "31",
            "--cn",
            "2011",
            "--mn",
            "GW1",
            "--pw",
            "pw1",
            "--flag",
            "5",
            "--datatime",
            "20240501120000",
            "--value",
            "a21026-Rtd=12.3",
            "--value",
            "a21026-Flag=N",
        ],
    )
    assert built.exit_code == 0, built.output
    assert built.stdout_bytes.endswith(b"&&9241\r\n")
    decoded = runner.invoke(app, ["hj212", "decode", "--crc", "hj212"], input=built.stdout_bytes)
    (obj,) = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert obj["ok"] and obj["needs_ack"] and obj["version"] == 1
    assert obj["values"] == {"a21026": {"Rtd": 12.3, "Flag": "N"}}
    assert obj["data_time"] == "2024-05-01T12:00:00+08:00"


def test_encode_modbus_from_json() -> None:
    fields = {"st": "32", "cn": "2011", "mn": "W1", "values": {"w01018": {"Rtd": 20.5}}}
    built = runner.invoke(
        app, ["hj212", "encode", "--json", "-", "--crc", "modbus"], input=json.dumps(fields)
    )
    assert built.exit_code == 0, built.output
    strict = runner.invoke(app, ["hj212", "decode"], input=built.stdout_bytes)
    assert json.loads(strict.stdout)["error"].startswith("bad_crc")
    lenient = runner.invoke(app, ["hj212", "decode", "--crc", "modbus"], input=built.stdout_bytes)
    assert json.loads(lenient.stdout)["ok"] is True


def test_encode_refuses_bad_fields() -> None:
    result = runner.invoke(app, ["hj212", "encode", "--st", "31", "--cn", "2011", "--mn", "a;b"])
    assert result.exit_code == 2
