"""``greenwatch alerts run``: the alert service (kafka-python consumer + PostgreSQL).

Loop: poll a batch of verdicts (``<prefix>.verdicts``) and data-quality signals
(``<prefix>.quality``); decode them (a record that cannot be decoded or applied goes to the
dead-letter topic with its bytes and the reason, and to ``dead_letters``; processing goes on);
apply them with the engine in **one transaction** that also writes the events and the outbox;
after the commit publish the events on ``<prefix>.alert-events`` and the dead letters, flush,
and only then commit the Kafka offsets (at-least-once input, exactly-once effects: verdicts and
signals are idempotent in the rules). Every ``tick_s`` the due alerts are ticked (pending →
firing, hysteresis, repeats, persistent data quality). The outbox dispatcher runs in a thread
beside the loop unless disabled. Database or broker failures end the session; the loop starts
a new one after a pause and resumes from the committed offsets.

Hot reload: given a ``RegistryFollowThread`` (the registry topic's follower), the loop takes
the newest published registry at the top of each iteration, i.e. between two batches (and
their tick), never during one; alert state lives in the database and is untouched by a swap.
Every input applied afterwards is judged under the new policy, enterprises and Art. 7 flags,
and every event written afterwards carries its version (``alerts.engine``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from alerts.capture import capture_key
from alerts.engine import Batch
from alerts.errors import PoisonMessage, RejectedInput
from alerts.flags import undeclared_key
from alerts.notifier import Dispatcher, NotifierOptions
from alerts.registry_follow import RegistryFollowThread, describe_change
from alerts.revisions import revision_key
from alerts.rules import quality_key, verdict_key
from alerts.store import AlertStore
from deploy.topics import catalogue_topics, ensure_topics
from schemas.alert import QualitySignal
from schemas.envelope import DeadLetter
from schemas.registry import Registry
from schemas.topics import Topic, topic_name
from schemas.verdict import Verdict

log = logging.getLogger(__name__)
SOURCE = "alerts.service"
Clock = Callable[[], datetime]
Input = Verdict | QualitySignal
Rejected = tuple[Any, str, str]
"""A consumer record refused, with the reason code and a message."""
Applied = tuple[Batch, list[Rejected]]


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    group_id: str = "greenwatch-alerts"
    tick_s: float = 5.0
    poll_ms: int = 500
    max_records: int = 500
    notify: bool = True
    restart_pause_s: float = 3.0
    notifier: NotifierOptions = field(default_factory=NotifierOptions)


@dataclass(slots=True)
class Counters:
    verdicts: int = 0
    signals: int = 0
    dead_letters: int = 0
    events: int = 0
    notices: int = 0

    def add(self, batch: Batch, dead: int) -> None:
        self.dead_letters += dead
        self.events += len(batch.events)
        self.notices += len(batch.outbox)


def decode(topic: str, verdicts_topic: str, partition: int, offset: int, value: bytes) -> Input:
    """A verdict or quality signal from its JSON; raises PoisonMessage."""
    try:
        if topic == verdicts_topic:
            return Verdict.model_validate_json(value)
        return QualitySignal.model_validate_json(value)
    except (ValidationError, ValueError) as error:
        reason = "invalid_verdict" if topic == verdicts_topic else "invalid_quality_signal"
        raise PoisonMessage(topic, partition, offset, reason, str(error)[:500]) from error


def scope(inputs: Iterable[Input], registry: Registry) -> tuple[set[str], set[str], set[str]]:
    """Alert ids, outlets and enterprises a batch of inputs touches."""
    ids: set[str] = set()
    outlets: set[str] = set()
    enterprises: set[str] = set()
    for item in inputs:
        if isinstance(item, Verdict):
            ids.add(verdict_key(item).alert_id)
            ids.add(revision_key(item).alert_id)
            ids.add(capture_key(item).alert_id)
            outlets.add(item.outlet_id)
            enterprises.add(item.enterprise_id)
            continue
        ids.add(quality_key(item).alert_id)
        ids.add(undeclared_key(item).alert_id)
        found = registry.device(item.device_id)
        if found is not None:
            enterprises.add(found[0].id)
            outlets.add(found[1].id)
        elif item.enterprise_id is not None:
            enterprises.add(item.enterprise_id)
    return ids, outlets, enterprises


class AlertService:
    """The consumer loop; ``run`` blocks until ``stop`` is set."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        dsn: str,
        registry: Registry,
        options: ServiceOptions | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        updates: RegistryFollowThread | None = None,
    ) -> None:
        """``registry`` is used from the start; ``updates``, when given, is started by ``run``
        and each registry it offers replaces the current one between two batches."""
        self._bootstrap = bootstrap
        self._dsn = dsn
        self._registry = registry
        self._updates = updates
        self._options = options or ServiceOptions()
        self._clock = clock
        self._verdicts = topic_name(prefix, Topic.VERDICTS)
        self._quality = topic_name(prefix, Topic.QUALITY)
        self._deadletter = topic_name(prefix, Topic.DEADLETTER)
        self._alert_events = topic_name(prefix, Topic.ALERT_EVENTS)
        self._topics = catalogue_topics(
            prefix, {Topic.VERDICTS, Topic.QUALITY, Topic.DEADLETTER, Topic.ALERT_EVENTS}
        )
        self.counters = Counters()

    @property
    def registry(self) -> Registry:
        """The registry inputs are applied under now."""
        return self._registry

    def take_registry_update(self) -> bool:
        """Swap in the newest registry the follower offered, if any (non-blocking). Call only
        between batches. Returns whether the registry changed."""
        offer = self._updates.inbox.take() if self._updates is not None else None
        if offer is None:
            return False
        previous, self._registry = self._registry, offer.registry
        log.info(
            "alerts: registry %s → %s (%s)%s; applies from the next batch",
            previous.version,
            offer.registry.version,
            describe_change(previous, offer.registry),
            f"; {offer.superseded} version(s) superseded unused" if offer.superseded else "",
        )
        return True

    def run(self, stop: threading.Event) -> None:
        """Consume, apply, notify until ``stop``; restarts the session after failures."""
        if self._updates is not None:
            self._updates.start()
        try:
            self._run(stop)
        finally:
            if self._updates is not None:
                self._updates.stop()

    def _run(self, stop: threading.Event) -> None:
        dispatcher_thread = None
        if self._options.notify:
            dispatcher = Dispatcher(
                self._connect, options=self._options.notifier, clock=self._clock
            )
            dispatcher_thread = threading.Thread(
                target=dispatcher.run, args=(stop,), name="alerts-notifier", daemon=True
            )
            dispatcher_thread.start()
        while not stop.is_set():
            try:
                ensure_topics(self._bootstrap, self._topics, client_id="greenwatch-alerts-admin")
                self._session(stop)
            except (KafkaError, psycopg.OperationalError) as error:
                log.warning("alerts: session ended (%s); restarting", error)
                stop.wait(self._options.restart_pause_s)
        if dispatcher_thread is not None:
            dispatcher_thread.join(timeout=10)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)

    def _session(self, stop: threading.Event) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._options.group_id,
            client_id="greenwatch-alerts",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._options.max_records,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        producer = KafkaProducer(
            bootstrap_servers=self._bootstrap, acks="all", client_id="greenwatch-alerts"
        )
        try:
            consumer.subscribe([self._verdicts, self._quality])
            with self._connect() as conn:
                self._loop(stop, consumer, producer, conn)
        finally:
            consumer.close()
            producer.close(timeout=5)

    def _loop(
        self,
        stop: threading.Event,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        conn: psycopg.Connection[Any],
    ) -> None:
        next_tick = 0.0
        next_report = time.monotonic() + 30
        log.info("alerts: consuming %s, %s", self._verdicts, self._quality)
        while not stop.is_set():
            self.take_registry_update()
            polled = consumer.poll(timeout_ms=self._options.poll_ms)
            records = [r for batch in polled.values() for r in batch]
            if records:
                self.handle(records, conn, producer)
                consumer.commit()
            if time.monotonic() >= next_tick:
                self.tick(conn, producer)
                next_tick = time.monotonic() + self._options.tick_s
            if time.monotonic() >= next_report:
                log.info("alerts: %s", self.counters)
                next_report = time.monotonic() + 30

    def handle(
        self, records: list[Any], conn: psycopg.Connection[Any], producer: KafkaProducer
    ) -> list[Batch]:
        """Apply one polled batch: one DB transaction, then events and dead letters to Kafka.

        If the database refuses the batch's data (``DataError``/``IntegrityError``, e.g. a
        non-finite number in a verdict's evidence), the records are applied one by one and the
        one the database refuses becomes a dead letter (reason ``unstorable``).
        """
        now = self._clock()
        decoded: list[tuple[Any, Input]] = []
        rejected: list[Rejected] = []
        for record in records:
            try:
                item = decode(
                    record.topic, self._verdicts, record.partition, record.offset, record.value
                )
                decoded.append((record, item))
            except PoisonMessage as poison:
                rejected.append((record, poison.reason, poison.message))
        try:
            applied = [self._apply(conn, decoded, rejected, now)]
        except (psycopg.DataError, psycopg.IntegrityError):
            applied = self._apply_one_by_one(conn, decoded, now)
            if rejected:
                applied.append(self._apply(conn, [], rejected, now))
        for batch, _ in applied:
            self._publish(producer, batch)
        self._publish_dead_letters(producer, [r for _, dead in applied for r in dead], now)
        verdict_count = sum(isinstance(item, Verdict) for _, item in decoded)
        self.counters.verdicts += verdict_count
        self.counters.signals += len(decoded) - verdict_count
        for batch, dead in applied:
            self.counters.add(batch, len(dead))
        return [batch for batch, _ in applied]

    def _apply_one_by_one(
        self, conn: psycopg.Connection[Any], decoded: list[tuple[Any, Input]], now: datetime
    ) -> list[Applied]:
        applied = []
        for one in decoded:
            try:
                applied.append(self._apply(conn, [one], [], now))
            except (psycopg.DataError, psycopg.IntegrityError) as error:
                refused = (one[0], "unstorable", str(error).strip()[:500])
                applied.append(self._apply(conn, [], [refused], now))
        return applied

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        decoded: list[tuple[Any, Input]],
        rejected: list[Rejected],
        now: datetime,
    ) -> Applied:
        """One transaction: the engine over ``decoded``, the dead letters, the writes."""
        rejected = list(rejected)
        with conn.transaction():
            store = AlertStore(conn)
            ids, outlets, enterprises = scope((item for _, item in decoded), self._registry)
            since = min(
                (i.observed_at for _, i in decoded if isinstance(i, QualitySignal)), default=None
            )
            batch = store.open_batch(self._registry, now, ids, outlets, enterprises, since)
            for record, item in decoded:
                try:
                    if isinstance(item, Verdict):
                        batch.verdict(item, revision_of(record))
                    else:
                        batch.signal(item)
                except RejectedInput as refused:
                    rejected.append((record, refused.reason, refused.message))
            for record, reason, message in rejected:
                store.dead_letter(
                    SOURCE, reason, _text(message), _key(record), record.value or b"", now
                )
            store.save(batch)
        return batch, rejected

    def tick(self, conn: psycopg.Connection[Any], producer: KafkaProducer | None) -> Batch:
        """Tick the alerts that are due (one transaction)."""
        now = self._clock()
        with conn.transaction():
            store = AlertStore(conn)
            due = store.due_alert_ids(now)
            outlets, enterprises = store.outlets_of(due)
            batch = store.open_batch(self._registry, now, due, outlets, enterprises)
            batch.tick(due)
            store.save(batch)
        if producer is not None:
            self._publish(producer, batch)
        return batch

    def _publish(self, producer: KafkaProducer, batch: Batch) -> None:
        """Events of ``batch`` on the alert-events topic (flushed)."""
        for event in batch.events:
            producer.send(
                self._alert_events,
                key=event.alert_id.encode(),
                value=event.to_schema().model_dump_json().encode(),
            )
        if batch.events:
            producer.flush(timeout=30)

    def _publish_dead_letters(
        self, producer: KafkaProducer, rejected: list[Rejected], now: datetime
    ) -> None:
        """Rejected records on the dead-letter topic with their bytes and reason (flushed)."""
        for record, reason, message in rejected:
            letter = DeadLetter(
                source=SOURCE,
                reason=reason,
                message=f"{record.topic}[{record.partition}]@{record.offset}: {message}",
                device_id=_key(record),
                received_at=now,
                payload=record.value or b"",
            )
            producer.send(self._deadletter, value=letter.model_dump_json().encode())
        if rejected:
            producer.flush(timeout=30)


def revision_of(record: Any) -> int:
    """The ``revision`` header of a verdict record (streams/agents.py), 1 when absent."""
    for name, value in record.headers or ():
        if name == "revision":
            try:
                return int(value)
            except (TypeError, ValueError):
                return 1
    return 1


def _text(value: str) -> str:
    """Text PostgreSQL accepts (no NUL characters)."""
    return value.replace("\x00", "\\x00")


def _key(record: Any) -> str | None:
    key = record.key
    return _text(key.decode("utf-8", "replace")) if isinstance(key, bytes) else None
