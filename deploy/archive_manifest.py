"""The raw archive's files and manifest: format, digests and verification (pure but for files).

An archive directory holds, per raw topic, China day (UTC+8, the record's Kafka timestamp) and
partition, gzip JSON-lines files (``<topic>/<YYYY-MM-DD>/p<partition>-<first offset>.jsonl.gz``),
one line per record with everything Kafka kept of it: ``topic``, ``partition``, ``offset``,
``timestamp_ms``, ``timestamp_type``, ``key`` and ``value`` (base64) and ``headers`` (name,
base64 value). Files are written once (deterministically: gzip without a time stamp, keys
sorted) and never appended to. ``manifest.json`` lists every file with its SHA-256, size,
record count and offsets, and per topic and partition the next offset to archive (so a run
resumes where the last one stopped) and any gap (records deleted by retention before they
were archived). Verification recomputes every digest: a file changed, missing, or not listed
is named. The frames hold the devices' passwords (PW) as the worker reads them: files are
written 0600 in directories 0700, for the archive's custodian only. Keep the manifest's own
digest (printed by ``archive raw`` and ``archive verify``) somewhere the archive's custodian
cannot write, so the manifest cannot be rewritten with it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

FORMAT: Final = "greenwatch-raw-archive/1"
MANIFEST: Final = "manifest.json"
CHINA: Final = timezone(timedelta(hours=8))
SUFFIX: Final = ".jsonl.gz"


class ArchiveError(Exception):
    """An archive directory or manifest that cannot be read; ``path`` names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka record of a raw topic, as archived."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def china_day(self) -> date:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).astimezone(CHINA).date()

    def as_line(self) -> str:
        document = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "timestamp_type": self.timestamp_type,
            "key": _b64(self.key),
            "value": _b64(self.value),
            "headers": [[name, _b64(value)] for name, value in self.headers],
        }
        return json.dumps(document, sort_keys=True, ensure_ascii=False)

    @staticmethod
    def from_line(line: str) -> RawRecord:
        d = json.loads(line)
        return RawRecord(
            d["topic"],
            int(d["partition"]),
            int(d["offset"]),
            int(d["timestamp_ms"]),
            int(d["timestamp_type"]),
            _unb64(d["key"]),
            _unb64(d["value"]),
            tuple((str(n), _unb64(v) or b"") for n, v in d["headers"]),
        )


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """One file of the archive as the manifest lists it (``path`` relative to the archive)."""

    path: str
    sha256: str
    size_bytes: int
    records: int
    topic: str
    partition: int
    day: str
    first_offset: int
    last_offset: int


@dataclass(slots=True)
class Manifest:
    """What an archive holds and where the next run starts."""

    next_offsets: dict[str, dict[str, int]] = field(default_factory=dict)
    """topic → partition (as text, JSON keys) → the next offset to archive."""
    files: list[ArchivedFile] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    """Offsets deleted by retention before they were archived (topic, partition, from, to)."""

    def next_offset(self, topic: str, partition: int) -> int | None:
        return self.next_offsets.get(topic, {}).get(str(partition))

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "next_offsets": self.next_offsets,
            "files": [asdict(f) for f in self.files],
            "gaps": self.gaps,
        }


def load_manifest(directory: Path) -> Manifest:
    """The manifest of ``directory`` (an empty one when there is none yet); raises
    ``ArchiveError`` for one that cannot be read."""
    path = directory / MANIFEST
    if not path.exists():
        return Manifest()
    try:
        document = json.loads(path.read_text("utf-8"))
        if document.get("format") != FORMAT:
            raise ArchiveError(path, f"not a {FORMAT} manifest")
        return Manifest(
            {
                t: {p: int(o) for p, o in parts.items()}
                for t, parts in document["next_offsets"].items()
            },
            [ArchivedFile(**f) for f in document["files"]],
            list(document.get("gaps", [])),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ArchiveError(path, f"unreadable manifest ({error})") from None


def save_manifest(directory: Path, manifest: Manifest) -> str:
    """Write the manifest atomically (a crash leaves the old one); returns its SHA-256."""
    data = (json.dumps(manifest.as_json(), indent=1, sort_keys=True) + "\n").encode()
    _replace(directory / MANIFEST, data)
    return hashlib.sha256(data).hexdigest()


def write_file(directory: Path, records: Sequence[RawRecord]) -> ArchivedFile:
    """Write ``records`` (one topic, partition and China day, in offset order) as one file."""
    first = records[0]
    relative = (
        f"{first.topic}/{first.china_day.isoformat()}/"
        f"p{first.partition}-{first.offset:012d}{SUFFIX}"
    )
    text = "".join(r.as_line() + "\n" for r in records).encode()
    data = gzip.compress(text, mtime=0)
    target = directory / relative
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _replace(target, data)
    return ArchivedFile(
        relative,
        hashlib.sha256(data).hexdigest(),
        len(data),
        len(records),
        first.topic,
        first.partition,
        first.china_day.isoformat(),
        first.offset,
        records[-1].offset,
    )


def read_file(path: Path) -> list[RawRecord]:
    """The records of one archive file."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [RawRecord.from_line(line) for line in lines if line.strip()]


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    reason: str


def verify(directory: Path) -> tuple[Manifest, list[Problem]]:
    """Check every listed file's size and SHA-256, and that no archive file is unlisted.
    Raises ``ArchiveError`` when the manifest itself cannot be read."""
    if not (directory / MANIFEST).exists():
        raise ArchiveError(directory / MANIFEST, "no manifest: not an archive directory")
    manifest = load_manifest(directory)
    problems: list[Problem] = []
    listed = set()
    for entry in manifest.files:
        listed.add(entry.path)
        path = directory / entry.path
        try:
            data = path.read_bytes()
        except OSError:
            problems.append(Problem(entry.path, "missing"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            problems.append(Problem(entry.path, f"sha256 {digest} != manifest {entry.sha256}"))
        elif len(data) != entry.size_bytes:
            problems.append(
                Problem(entry.path, f"{len(data)} bytes != manifest {entry.size_bytes}")
            )
    for path in _archive_files(directory):
        relative = path.relative_to(directory).as_posix()
        if relative not in listed:
            problems.append(Problem(relative, "not in the manifest"))
    return manifest, problems


def manifest_digest(directory: Path) -> str:
    return hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()


def _archive_files(directory: Path) -> Iterable[Path]:
    return sorted(p for p in directory.rglob(f"*{SUFFIX}") if p.is_file())


def _replace(target: Path, data: bytes) -> None:
    draft = target.with_name(f".{target.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # frames hold the PW
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(draft, target)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
