"""``greenwatch alerts run``: the alert service (kafka-python consumer + PostgreSQL).

Loop (``runtime.runner.BatchRunner``: consume → process → write → publish-and-await →
commit): poll a batch of verdicts (``<prefix>.verdicts``) and data-quality signals
(``<prefix>.quality``); decode them (a record that cannot be decoded or applied becomes a
dead letter with its bytes, the reason and its position, stored in ``dead_letters`` once per
position and published on the dead-letter topic; processing goes on); apply them with the
engine in **one transaction** that also writes the events and the outbox; publish the events
on ``<prefix>.alert-events`` and the dead letters and wait for the broker's acknowledgement of
every one; only then commit the transaction and the Kafka offsets. A publish that fails
(broker stopped) rolls the transaction back and commits nothing: the session restarts and the
batch is applied again from the committed offsets, so no event or dead letter is lost
(at-least-once input and output, exactly-once effects). Every ``tick_s`` the due alerts are
ticked the same way (pending → firing, hysteresis, repeats, persistent data quality). The
outbox dispatcher runs in a thread beside the loop unless disabled. Database or broker
failures end the session; the loop starts a new one after a pause.

Hot reload: given a ``RegistryFollowThread`` (the registry topic's follower), the loop takes
the newest published registry at the top of each iteration, i.e. between two batches (and
their tick), never during one; alert state lives in the database and is untouched by a swap.
Every input applied afterwards is judged under the new policy, enterprises and Art. 7 flags,
and every event written afterwards carries its version (``alerts.engine``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from alerts.flags import flagged_hour_key, undeclared_key, windows_needed_since
from alerts.notifier import Dispatcher, NotifierOptions
from alerts.registry_follow import RegistryFollowThread, describe_change
from alerts.revisions import revision_key
from alerts.rules import quality_key, verdict_key
from alerts.store import AlertStore
from runtime.dead_letters import KeyedDeadLetter, SourcePosition
from runtime.kafka_access import KafkaAccess
from runtime.runner import BatchRunner, Outgoing, PublishFailed
from runtime.topics import catalogue_topics, ensure_topics
from schemas.alert import QualitySignal
from schemas.envelope import DeadLetter
from schemas.registry import Registry
from schemas.topics import Topic, consumer_group, topic_name
from schemas.verdict import Verdict

log = logging.getLogger(__name__)
SOURCE = "alerts.service"
Clock = Callable[[], datetime]
Input = Verdict | QualitySignal
Rejected = tuple[Any, str, str]
"""A consumer record refused, with the reason code and a message."""
Applied = tuple[Batch, list[KeyedDeadLetter]]


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    group_id: str | None = None
    """Kafka consumer group; None = the prefix's (``<prefix>-alerts``, schemas.topics)."""
    tick_s: float = 5.0
    poll_ms: int = 500
    max_records: int = 500
    notify: bool = True
    restart_pause_s: float = 3.0
    publish_timeout_s: float = 30.0
    """How long a batch waits for the broker to acknowledge its events and dead letters."""
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
            if (capture := capture_key(item)) is not None:
                ids.add(capture.alert_id)  # an hour with too few minutes (alerts.capture)
            if (hour_key := flagged_hour_key(item)) is not None:
                ids.add(hour_key.alert_id)  # an hour invalid by undeclared flags (alerts.flags)
            outlets.add(item.outlet_id)
            enterprises.add(item.enterprise_id)
            continue
        ids.add(quality_key(item).alert_id)
        ids.add(undeclared_key(item).alert_id)
        found = registry.device(item.device_id)
        if found is not None:
            enterprises.add(found.enterprise.id)
            outlets.add(found.outlet.id)
        elif item.enterprise_id is not None:
            enterprises.add(item.enterprise_id)
    return ids, outlets, enterprises


class AlertService:
    """The consumer loop; ``run`` blocks until ``stop`` is set."""

    def __init__(
        self,
        kafka: KafkaAccess,
        prefix: str,
        dsn: str,
        registry: Registry,
        options: ServiceOptions | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        updates: RegistryFollowThread | None = None,
    ) -> None:
        """``registry`` is used from the start; ``updates``, when given, is started by ``run``
        and each registry it offers replaces the current one between two batches."""
        self._kafka = kafka
        self._dsn = dsn
        self._registry = registry
        self._updates = updates
        self._options = options or ServiceOptions()
        self._group_id = self._options.group_id or consumer_group(prefix, "alerts")
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
        topics_ready = False
        while not stop.is_set():
            try:
                if not topics_ready:  # once: a restart after a broker outage finds them
                    ensure_topics(self._kafka, self._topics, client_id="greenwatch-alerts-admin")
                    topics_ready = True
                self._session(stop)
            except (KafkaError, PublishFailed, psycopg.OperationalError) as error:
                log.warning("alerts: session ended (%s); restarting", error)
                stop.wait(self._options.restart_pause_s)
        if dispatcher_thread is not None:
            dispatcher_thread.join(timeout=10)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)

    def _session(self, stop: threading.Event) -> None:
        consumer = KafkaConsumer(
            **self._kafka.client_config(),
            group_id=self._group_id,
            client_id="greenwatch-alerts",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._options.max_records,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        producer = KafkaProducer(
            **self._kafka.client_config(),
            acks="all",
            client_id="greenwatch-alerts",
            max_block_ms=int(self._options.publish_timeout_s * 1000),
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
        runner = BatchRunner(
            consumer,
            producer,
            _SessionSteps(self, conn),
            poll_ms=self._options.poll_ms,
            publish_timeout_s=self._options.publish_timeout_s,
        )
        next_tick = 0.0
        next_report = time.monotonic() + 30
        log.info("alerts: consuming %s, %s", self._verdicts, self._quality)
        while not stop.is_set():
            self.take_registry_update()
            runner.run_once()
            if time.monotonic() >= next_tick:
                self.tick(conn, runner.publish)
                next_tick = time.monotonic() + self._options.tick_s
            if time.monotonic() >= next_report:
                log.info("alerts: %s", self.counters)
                next_report = time.monotonic() + 30

    @contextlib.contextmanager
    def write(
        self, records: Sequence[Any], conn: psycopg.Connection[Any]
    ) -> Iterator[list[Outgoing]]:
        """Apply one polled batch in one transaction and yield its events and dead letters to
        publish; the transaction commits when the caller leaves without an error (after the
        broker acknowledged them: ``runtime.runner``), else rolls back.

        If the database refuses the batch's data (``DataError``/``IntegrityError``, e.g. a
        non-finite number in a verdict's evidence), the records are applied one by one (each in
        a savepoint) and the one the database refuses becomes a dead letter (``unstorable``).
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
        with conn.transaction():
            try:
                applied = [self._apply(conn, decoded, rejected, now)]
            except (psycopg.DataError, psycopg.IntegrityError):
                applied = self._apply_one_by_one(conn, decoded, now)
                if rejected:
                    applied.append(self._apply(conn, [], rejected, now))
            outgoing = [out for batch, _ in applied for out in self._events(batch)]
            outgoing += [self._dead_letter_record(letter) for _, dead in applied for letter in dead]
            yield outgoing
        verdict_count = sum(isinstance(item, Verdict) for _, item in decoded)
        self.counters.verdicts += verdict_count
        self.counters.signals += len(decoded) - verdict_count
        for batch, dead in applied:
            self.counters.add(batch, len(dead))

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
        """One transaction (a savepoint inside ``write``'s): the engine over ``decoded``, the
        dead letters (keyed by their records' positions), the writes."""
        rejected = list(rejected)
        with conn.transaction():
            store = AlertStore(conn)
            ids, outlets, enterprises = scope((item for _, item in decoded), self._registry)
            since = min(
                (windows_needed_since(i) for _, i in decoded if isinstance(i, QualitySignal)),
                default=None,
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
            letters = [
                dead_letter(record, reason, message, now) for record, reason, message in rejected
            ]
            store.dead_letters(letters)
            store.save(batch)
        return batch, letters

    def tick(
        self, conn: psycopg.Connection[Any], publish: Callable[[Sequence[Outgoing]], None] | None
    ) -> Batch:
        """Tick the alerts that are due (one transaction, committed after ``publish`` returned
        for its events)."""
        now = self._clock()
        with conn.transaction():
            store = AlertStore(conn)
            due = store.due_alert_ids(now)
            outlets, enterprises = store.outlets_of(due)
            batch = store.open_batch(self._registry, now, due, outlets, enterprises)
            batch.tick(due)
            store.save(batch)
            if publish is not None:
                publish(self._events(batch))
        return batch

    def _events(self, batch: Batch) -> list[Outgoing]:
        """Events of ``batch`` for the alert-events topic, keyed by alert."""
        return [
            Outgoing(
                self._alert_events,
                event.alert_id.encode(),
                event.to_schema().model_dump_json().encode(),
            )
            for event in batch.events
        ]

    def _dead_letter_record(self, keyed: KeyedDeadLetter) -> Outgoing:
        letter = keyed.letter
        key = letter.device_id.encode() if letter.device_id else None
        return Outgoing(self._deadletter, key, letter.model_dump_json().encode())


class _SessionSteps:
    """``AlertService.write`` on one session's connection (``runtime.runner.Steps``)."""

    def __init__(self, service: AlertService, conn: psycopg.Connection[Any]) -> None:
        self._service = service
        self._conn = conn

    def write(self, records: Sequence[Any]) -> contextlib.AbstractContextManager[list[Outgoing]]:
        return self._service.write(records, self._conn)


def dead_letter(record: Any, reason: str, message: str, now: datetime) -> KeyedDeadLetter:
    """The dead letter of a consumer record the service refused, keyed by its position."""
    position = SourcePosition(record.topic, record.partition, record.offset)
    letter = DeadLetter(
        source=SOURCE,
        reason=reason,
        message=f"{record.topic}[{record.partition}]@{record.offset}: {message}",
        device_id=_key(record),
        received_at=now,
        payload=record.value or b"",
        position=position.wire(),
    )
    return KeyedDeadLetter(letter, position)


def revision_of(record: Any) -> int:
    """The ``revision`` header of a verdict record (streams/agents.py), 1 when absent."""
    for name, value in record.headers or ():
        if name == "revision":
            try:
                return int(value)
            except (TypeError, ValueError):
                return 1
    return 1


def _key(record: Any) -> str | None:
    key = record.key
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else None
