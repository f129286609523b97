"""``greenwatch archive raw``: copy the raw topics' records to day files, resumably.

Reads as the ``archiver`` principal (``runtime.kafka_acls``: it may read the raw topics and
nothing else, by assignment: no consumer group) every partition of the chosen raw topics from
the manifest's next offset (the earliest one still held on a first run) up to the end offsets
seen when the run starts, and writes them as files of ``deploy.archive_manifest`` (one per
topic, partition and China day, at most ``max_records`` records each). The manifest is
rewritten after each file, so a run that stops (crash, Kafka gone) resumes from its last
archived offset; a file written but not yet listed is rewritten under the same name.

When retention deleted records the manifest expected (its next offset is below the earliest
offset still held) the run archives what is left and records the gap in the manifest (and
returns it): the record lost is said, never hidden. Blocks; raises ``KafkaError``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from deploy.archive_manifest import Manifest, RawRecord, load_manifest, save_manifest, write_file
from runtime.kafka_access import KafkaAccess


@dataclass(slots=True)
class ArchiveRun:
    """What one run did."""

    files: int = 0
    records: int = 0
    manifest_sha256: str = ""
    gaps: list[dict[str, Any]] = field(default_factory=list)


def archive_raw(
    kafka: KafkaAccess,
    topics: Sequence[str],
    directory: Path,
    *,
    max_records: int = 100_000,
    timeout_s: float = 60.0,
) -> ArchiveRun:
    """Archive ``topics`` (full names) into ``directory``; see the module doc."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    manifest = load_manifest(directory)
    run = ArchiveRun()
    consumer = KafkaConsumer(
        **kafka.client_config(),
        client_id="greenwatch-archiver",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        for topic in topics:
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            if not partitions:
                raise KafkaError(f"topic {topic} does not exist or may not be read")
            for partition in partitions:
                _archive_partition(
                    consumer,
                    TopicPartition(topic, partition),
                    directory,
                    manifest,
                    run,
                    max_records,
                    timeout_s,
                )
        run.manifest_sha256 = save_manifest(directory, manifest)
        return run
    finally:
        consumer.close()


def _archive_partition(
    consumer: KafkaConsumer,
    tp: TopicPartition,
    directory: Path,
    manifest: Manifest,
    run: ArchiveRun,
    max_records: int,
    timeout_s: float,
) -> None:
    consumer.assign([tp])
    earliest = consumer.beginning_offsets([tp])[tp]
    end = consumer.end_offsets([tp])[tp]
    start = manifest.next_offset(tp.topic, tp.partition)
    if start is None:
        start = earliest
    elif start < earliest:
        gap = {"topic": tp.topic, "partition": tp.partition, "from": start, "to": earliest - 1}
        manifest.gaps.append(gap)
        run.gaps.append(gap)
        start = earliest
    _set_next(manifest, tp, start)
    if start >= end:
        save_manifest(directory, manifest)
        return
    consumer.seek(tp, start)
    pending: list[RawRecord] = []
    deadline = time.monotonic() + timeout_s
    while consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise KafkaError(f"{tp.topic}[{tp.partition}]: no records for {timeout_s} s")
        batch = consumer.poll(timeout_ms=1000).get(tp, [])
        if batch:
            deadline = time.monotonic() + timeout_s
        for message in batch:
            if message.offset >= end:
                break
            record = _record(message)
            if pending and (
                record.china_day != pending[0].china_day or len(pending) >= max_records
            ):
                _flush(directory, manifest, run, tp, pending)
                pending = []
            pending.append(record)
    if pending:
        _flush(directory, manifest, run, tp, pending)


def _flush(
    directory: Path,
    manifest: Manifest,
    run: ArchiveRun,
    tp: TopicPartition,
    records: list[RawRecord],
) -> None:
    entry = write_file(directory, records)
    manifest.files = [f for f in manifest.files if f.path != entry.path] + [entry]
    _set_next(manifest, tp, records[-1].offset + 1)
    save_manifest(directory, manifest)
    run.files += 1
    run.records += len(records)


def _set_next(manifest: Manifest, tp: TopicPartition, offset: int) -> None:
    manifest.next_offsets.setdefault(tp.topic, {})[str(tp.partition)] = offset


def _record(message: Any) -> RawRecord:
    headers = tuple((str(name), bytes(value or b"")) for name, value in message.headers or ())
    return RawRecord(
        message.topic,
        message.partition,
        message.offset,
        int(message.timestamp),
        int(message.timestamp_type),
        message.key,
        message.value,
        headers,
    )
