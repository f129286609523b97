"""Dead letters in PostgreSQL: one writer, one natural key.

Every service that keeps a rejected input in ``dead_letters`` writes it through
``insert_dead_letters``, keyed by the Kafka position of the input it replaces
(``source_topic, source_partition, source_offset``, unique since migration 003) with
``ON CONFLICT DO NOTHING``: a letter written again, by a replay, a restart after a failed
publish, or the stream worker storing what it reads back from the dead-letter topic, is stored
once. The key of a letter is ``DeadLetter.position`` when the rejected input was a Kafka record
(the worker's raw records, the alert service's verdicts and signals); a gateway's frame never
was one, so its letter is keyed by its own position on the dead-letter topic (``keyed``).

Runs inside the caller's transaction on the caller's cursor; psycopg's errors as they come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from schemas.envelope import DeadLetter, KafkaPosition


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a Kafka message came from (topic, partition, offset)."""

    topic: str
    partition: int
    offset: int

    def wire(self) -> KafkaPosition:
        """The position as ``DeadLetter.position`` carries it."""
        return KafkaPosition(topic=self.topic, partition=self.partition, offset=self.offset)


@dataclass(frozen=True, slots=True)
class KeyedDeadLetter:
    """A dead letter with its natural key in ``dead_letters``."""

    letter: DeadLetter
    position: SourcePosition


def keyed(letter: DeadLetter, read_at: SourcePosition) -> KeyedDeadLetter:
    """``letter`` keyed by the position of the input it replaces when it carries one, else by
    ``read_at`` (where the letter itself was read: the dead-letter topic)."""
    own = letter.position
    if own is None:
        return KeyedDeadLetter(letter, read_at)
    return KeyedDeadLetter(letter, SourcePosition(own.topic, own.partition, own.offset))


_COLUMNS = (
    "source", "reason", "message", "peer", "device_id", "received_at", "payload",
    "source_topic", "source_partition", "source_offset",
)  # fmt: skip
_INSERT = sql.SQL(
    "INSERT INTO dead_letters ({}) VALUES ({}) ON CONFLICT"
    " (source_topic, source_partition, source_offset) DO NOTHING"
).format(
    sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
    sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
)


def _text(value: str | None) -> str | None:
    """Text PostgreSQL accepts (no NUL characters)."""
    return None if value is None else value.replace("\x00", "\\x00")


def insert_dead_letters(cur: psycopg.Cursor[Any], letters: Sequence[KeyedDeadLetter]) -> int:
    """Insert dead letters once per natural key; returns the rows new to the table."""
    if not letters:
        return 0
    cur.executemany(
        _INSERT,
        [
            (k.letter.source, k.letter.reason, _text(k.letter.message), _text(k.letter.peer),
             _text(k.letter.device_id), k.letter.received_at, k.letter.payload, k.position.topic,
             k.position.partition, k.position.offset)
            for k in letters
        ],
    )  # fmt: skip
    return max(cur.rowcount, 0)
