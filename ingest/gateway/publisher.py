"""Kafka adapter of the gateway: kafka-python's producer driven from an asyncio event loop.

kafka-python is thread-based: ``send`` appends the record to a batch (fast, non-blocking once
the topic's metadata is known) and a sender thread delivers batches; the record's future
completes on that thread. ``KafkaPublisher`` calls ``send`` on the loop thread and hands each
completion back to the loop in batches (one ``call_soon_threadsafe`` per burst, not per record),
so no coroutine ever waits on a kafka-python future.

Delivery: ``acks="all"``, idempotent producer (no duplicates from the producer's own retries),
unlimited retries within ``delivery_timeout_ms``. kafka-python 3 has no buffer-memory bound:
callers bound what is in flight themselves (the gateway's per-connection and global budgets).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from runtime.kafka_access import KafkaAccess
from runtime.raw_record import Headers
from runtime.topics import KafkaTopic, ensure_topics

Completion = Callable[[BaseException | None], None]
"""Called on the event loop when a record is acknowledged (``None``) or failed (the error)."""


@dataclass(frozen=True, slots=True)
class ProducerOptions:
    """kafka-python producer settings the gateway exposes (linger in ms, batch in bytes)."""

    kafka: KafkaAccess
    client_id: str = "greenwatch-gateway"
    linger_ms: int = 5
    batch_size: int = 256 * 1024
    delivery_timeout_ms: int = 120_000


class KafkaPublisher:
    """Sends records from the loop thread; completions come back on the loop.

    Build with ``await KafkaPublisher.start(...)``; ``send`` never blocks and never raises
    (a synchronous failure is delivered to ``done`` like an asynchronous one).
    """

    def __init__(self, producer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._producer = producer
        self._loop = loop
        self._lock = threading.Lock()
        self._completed: deque[tuple[Completion, BaseException | None]] = deque()
        self._wakeup_pending = False

    @classmethod
    async def start(cls, options: ProducerOptions, topics: Sequence[KafkaTopic]) -> KafkaPublisher:
        """Connect, create missing ``topics`` and fetch their metadata so that ``send`` does
        not wait for it. Raises ``KafkaError`` when the cluster cannot be reached."""
        loop = asyncio.get_running_loop()
        producer = await loop.run_in_executor(None, _connect, options, tuple(topics))
        return cls(producer, loop)

    def send(
        self, topic: str, key: bytes, value: bytes, done: Completion, headers: Headers = ()
    ) -> None:
        """Queue one record (with ``headers``); ``done`` runs on the loop once Kafka
        acknowledges or fails it."""
        try:
            future = self._producer.send(topic, key=key, value=value, headers=list(headers))
        except Exception as error:  # KafkaError, or a client bug: reported, never raised
            self._loop.call_soon(done, error)
            return
        future.add_callback(lambda _metadata: self._complete(done, None))
        future.add_errback(lambda error: self._complete(done, error))

    async def close(self, timeout_s: float = 30.0) -> None:
        """Flush what is queued (up to ``timeout_s``), deliver the completions, close."""
        with contextlib.suppress(KafkaError):
            await self._loop.run_in_executor(None, self._producer.flush, timeout_s)
        await self._loop.run_in_executor(None, lambda: self._producer.close(timeout=timeout_s))
        self._drain()

    def _complete(self, done: Completion, error: BaseException | None) -> None:
        """Runs on kafka-python's sender thread (or on the loop for an already-done future)."""
        with self._lock:
            self._completed.append((done, error))
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            completed, self._completed = self._completed, deque()
            self._wakeup_pending = False
        for done, error in completed:
            done(error)


def _connect(options: ProducerOptions, topics: tuple[KafkaTopic, ...]) -> Any:
    """Blocking: create missing topics, build the producer, warm its metadata."""
    ensure_topics(options.kafka, topics, client_id="greenwatch-gateway-admin")
    producer = KafkaProducer(
        **options.kafka.client_config(),
        client_id=options.client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=options.linger_ms,
        batch_size=options.batch_size,
        delivery_timeout_ms=options.delivery_timeout_ms,
        metrics_enabled=False,
    )
    for topic in topics:
        producer.partitions_for(topic.name)
    return producer
