"""``greenwatch hj212 …``: decode frames to JSON lines, build frames.

``decode`` reads bytes, splits on LF and drops a trailing CR, so any input (binary modem
garbage included) gives one JSON object per non-blank line, in input order. It never prints
the password.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.hj212.crc import CrcVariant
from ingest.hj212.decode import inspect
from ingest.hj212.encode import encode
from ingest.hj212.errors import EncodeError
from ingest.hj212.packet import Inspection

hj212_app = typer.Typer(
    help="HJ 212 frames: decode to JSON lines (length and Appendix-A CRC checked), encode.",
    no_args_is_help=True,
)


class CrcChoice(StrEnum):
    """CRC variant on the command line (see ``ingest.hj212.crc``)."""

    hj212 = "hj212"
    modbus = "modbus"
    modbus_le = "modbus-le"


_VARIANT: dict[CrcChoice, CrcVariant] = {
    CrcChoice.hj212: "hj212",
    CrcChoice.modbus: "modbus",
    CrcChoice.modbus_le: "modbus-le",
}


def inspection_json(result: Inspection) -> dict[str, Any]:
    """The JSON object ``decode`` prints for one line (never the password)."""
    packet = result.packet
    data_time = packet.data_time if packet is not None else None
    return {
        "ok": result.ok,
        "error": None if result.error is None else str(result.error),
        "crc_ok": result.crc_ok,
        "length_ok": result.length_ok,
        "qn": packet.qn if packet else None,
        "st": packet.st if packet else None,
        "cn": packet.cn if packet else None,
        "mn": packet.mn if packet else None,
        "flag": packet.flag if packet else None,
        "version": packet.version if packet else None,
        "needs_ack": packet.needs_ack if packet else None,
        "pnum": packet.pnum if packet else None,
        "pno": packet.pno if packet else None,
        "data_time": None
        if data_time is None
        else data_time.isoformat(timespec="milliseconds" if data_time.microsecond else "seconds"),
        "values": packet.values if packet else {},
    }


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    for line in stream:
        line = line.rstrip(b"\n").rstrip(b"\r")
        if line.strip():
            yield line


@hj212_app.command("decode")
def decode_command(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="File of frames, one per line; - for stdin.")] = "-",
    crc: Annotated[CrcChoice, typer.Option(help="CRC variant the devices use.")] = CrcChoice.hj212,
) -> None:
    """Print one JSON object per non-blank input line: ok, error, crc_ok, length_ok, qn, st,
    cn, mn, flag, version, needs_ack, pnum, pno, data_time (ISO 8601, +08:00), values."""
    out = sys.stdout
    variant = _VARIANT[crc]
    with sys.stdin.buffer if file == "-" else Path(file).open("rb") as stream:
        for line in _lines(stream):
            out.write(json.dumps(inspection_json(inspect(line, variant))))
            out.write("\n")


class FrameFields(BaseModel):
    """Fields of a frame to build, as read from ``--json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    st: str
    cn: str
    mn: str
    pw: str | None = None
    qn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    cp_params: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, float | int | str]] = Field(default_factory=dict)


def _pairs(texts: list[str], what: str) -> Iterator[tuple[str, str]]:
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} {text!r} is not KEY=VALUE")
        yield key, value


@hj212_app.command("encode")
def encode_command(
    ctx: typer.Context,
    st: Annotated[str | None, typer.Option(help="System code, e.g. 31 (air source).")] = None,
    cn: Annotated[str | None, typer.Option(help="Command code, e.g. 2011 (real-time).")] = None,
    mn: Annotated[str | None, typer.Option(help="Device id.")] = None,
    pw: Annotated[str | None, typer.Option(help="Access password.")] = None,
    qn: Annotated[str | None, typer.Option(help="Request id YYYYMMDDhhmmsszzz.")] = None,
    flag: Annotated[int | None, typer.Option(help="Flag (4: 2017, no ack; 5: ack).")] = None,
    datatime: Annotated[str | None, typer.Option(help="DataTime YYYYMMDDhhmmss.")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="CP parameter, e.g. RtdInterval=30.")
    ] = None,
    value: Annotated[
        list[str] | None, typer.Option(help="Factor value, e.g. a21026-Rtd=12.3.")
    ] = None,
    json_file: Annotated[
        str | None, typer.Option("--json", help="JSON object of the fields; - for stdin.")
    ] = None,
    crc: Annotated[CrcChoice, typer.Option(help="CRC variant to write.")] = CrcChoice.hj212,
) -> None:
    """Print one frame (ending in CR LF) built from options or from a JSON object
    (st, cn, mn, pw, qn, flag, pnum, pno, cp_params, values); options override JSON."""
    base: dict[str, Any] = {}
    if json_file is not None:
        text = sys.stdin.read() if json_file == "-" else Path(json_file).read_text("utf-8")
        base = json.loads(text)
    overrides = {"st": st, "cn": cn, "mn": mn, "pw": pw, "qn": qn, "flag": flag}
    base.update({key: given for key, given in overrides.items() if given is not None})
    cp_params = dict(base.get("cp_params", {}))
    if datatime is not None:
        cp_params.pop("DataTime", None)
        cp_params = {"DataTime": datatime, **cp_params}
    cp_params.update(_pairs(param or [], "--param"))
    values: dict[str, dict[str, Any]] = {
        factor: dict(suffixes) for factor, suffixes in base.get("values", {}).items()
    }
    for key, given in _pairs(value or [], "--value"):
        factor, dash, suffix = key.rpartition("-")
        if not dash or not factor or not suffix:
            raise typer.BadParameter(f"--value key {key!r} is not FACTOR-SUFFIX")
        values.setdefault(factor, {})[suffix] = given
    base["cp_params"], base["values"] = cp_params, values
    try:
        fields = FrameFields.model_validate(base)
        frame = encode(**fields.model_dump(), crc=_VARIANT[crc])
    except (ValidationError, EncodeError) as error:
        typer.echo(f"cannot build frame: {error}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.flush()
    sys.stdout.buffer.write(frame.encode("utf-8"))
    sys.stdout.buffer.flush()
