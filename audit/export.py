"""Exports (``GET /v1/exports/<resource>`` and ``greenwatch audit export``): a resource's
query written whole as CSV or Parquet, streamed from a server-side cursor in batches (memory
stays constant whatever the range), with a manifest: the query, row count, byte count,
sha256 of the file, the registry versions its rows were computed under, and when.

The file is written to a binary stream the caller owns (a file, a spool); the manifest is
known once the last byte is written. Blocks; raises psycopg's errors and ``BadQuery`` for an
unknown format.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from audit.principal import Principal
from audit.queries import Query
from audit.times import china

BATCH_ROWS = 10_000


class Format(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.PARQUET: "application/vnd.apache.parquet",
}

_ARROW = {
    "timestamptz": pa.timestamp("us", tz="+08:00"),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float8": pa.float64(),
    "float4": pa.float32(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "jsonb": pa.string(),
    "bytea": pa.binary(),
    "_text": pa.list_(pa.string()),
}


class CountingSink:
    """A binary stream wrapper that hashes and counts what passes through it."""

    closed = False

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._out.flush()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)


@dataclass(slots=True)
class Manifest:
    resource: str
    filters: dict[str, str]
    format: Format
    principal: str
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    registry_versions: list[str] = field(default_factory=list)
    generated_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "query": {"resource": self.resource, "filters": self.filters},
            "format": self.format.value,
            "principal": self.principal,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "registry_versions": self.registry_versions,
            "generated_at": self.generated_at,
        }


def describe(principal: Principal) -> str:
    scope = principal.enterprise_id or ",".join(principal.regions)
    return f"{principal.role}:{scope} (token {principal.token_id or '-'})"


def export(
    conn: psycopg.Connection[Any],
    query: Query,
    fmt: Format,
    out: IO[bytes],
    principal: Principal,
    now: datetime | None = None,
) -> Manifest:
    """Write every row of ``query`` to ``out`` as ``fmt``; the manifest of what was written.
    Call inside a transaction (the server-side cursor lives in it)."""
    sink = CountingSink(out)
    manifest = Manifest(
        query.resource.path, dict(query.description), fmt, describe(principal),
        generated_at=china(now or datetime.now(UTC)),
    )  # fmt: skip
    versions: set[str] = set()
    with conn.cursor(name="gw_export") as cur:
        cur.itersize = BATCH_ROWS
        cur.execute(query.statement(), query.params)
        names = [column.name for column in cur.description or ()]
        types = [_type_name(conn, column.type_code) for column in cur.description or ()]
        version_at = names.index("registry_version") if "registry_version" in names else None
        writer = (
            _CsvWriter(sink, names) if fmt is Format.CSV else _ParquetWriter(sink, names, types)
        )
        for batch in _batches(cur):
            if version_at is not None:
                versions.update(str(row[version_at]) for row in batch)
            writer.write(batch)
            manifest.rows += len(batch)
        writer.close()
    manifest.bytes = sink.size
    manifest.sha256 = sink.sha256.hexdigest()
    manifest.registry_versions = sorted(versions)
    return manifest


def _type_name(conn: psycopg.Connection[Any], oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return info.name if info is not None else "text"


def _batches(cur: psycopg.Cursor[Any]) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        rows = cur.fetchmany(BATCH_ROWS)
        if not rows:
            return
        yield rows


class _CsvWriter:
    """RFC 4180 CSV, UTF-8, a header row; times ISO 8601 in China time, JSON as JSON text."""

    def __init__(self, sink: CountingSink, names: Sequence[str]) -> None:
        self._sink = sink
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self._csv.writerow(names)
        self._flush()

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._csv.writerows([_cell(value) for value in row] for row in rows)
        self._flush()

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        self._sink.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return china(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


class _ParquetWriter:
    """Parquet (zstd), one row group per batch; JSON columns as JSON text."""

    def __init__(self, sink: CountingSink, names: Sequence[str], types: Sequence[str]) -> None:
        self._names = list(names)
        self._json = [t == "jsonb" for t in types]
        self._schema = pa.schema(
            [pa.field(n, _ARROW.get(t, pa.string())) for n, t in zip(names, types, strict=True)]
        )
        self._writer = pq.ParquetWriter(sink, self._schema, compression="zstd")

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        columns = [
            [json.dumps(r[i], ensure_ascii=False, sort_keys=True) if self._json[i] and r[i]
             is not None else r[i] for r in rows]
            for i in range(len(self._names))
        ]  # fmt: skip
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
