"""The stream worker checks at start only the topics it reads or writes (its ACLs in
``runtime.kafka_acls.RIGHTS``): asking for others (``raw.energy``, ``alert-events``) is
refused by the broker at every start."""

from __future__ import annotations

from typing import Any

import pytest

import streams.worker
from runtime.kafka_access import KafkaAccess, Principal
from runtime.kafka_acls import RIGHTS
from schemas.topics import Topic, topic_name


def _asked(monkeypatch: pytest.MonkeyPatch, **options: Any) -> set[str]:
    asked: set[str] = set()

    def record(kafka: KafkaAccess, topics: Any, **_: Any) -> list[str]:
        asked.update(t.name for t in topics)
        return []

    monkeypatch.setattr(streams.worker, "create_missing_topics", record)
    streams.worker.ensure_topics(KafkaAccess("127.0.0.1:1"), "gw", **options)
    return asked


def test_the_worker_asks_only_for_the_topics_it_reads_or_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rights = RIGHTS[Principal.WORKER]
    assert _asked(monkeypatch) == {topic_name("gw", t) for t in rights.reads | rights.writes}
    assert topic_name("gw", Topic.RAW_ENERGY) not in _asked(monkeypatch)
    assert topic_name("gw", Topic.ALERT_EVENTS) not in _asked(monkeypatch)


def test_the_whole_catalogue_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _asked(monkeypatch, only=Topic) == {topic_name("gw", t) for t in Topic}
