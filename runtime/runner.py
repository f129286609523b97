"""One discipline for every service that turns Kafka records into database rows and records:
consume → process → write → publish-and-await → commit.

The steps, in order, each finished before the next starts:

1. **consume**: poll a batch of records (the consumer never auto-commits);
2. **process and write**: ``Steps.write(records)`` is a context manager that processes the
   batch and writes its effects inside an open database transaction, yielding the records to
   publish (``Outgoing``);
3. **publish-and-await**: ``publish_and_await`` sends them and waits until the broker
   acknowledged every one (acks=all); a record the broker does not take within
   ``publish_timeout_s`` raises ``PublishFailed``;
4. **commit**: leaving ``write`` commits the transaction, then the consumer commits the batch's
   offsets. A failed publish leaves ``write`` with the error: the transaction rolls back and
   no offset is committed, so the batch is read again from the last committed offset and
   re-derives every effect and every output (nothing is lost; outputs are at least once and
   consumers deduplicate on their natural keys).

The stream worker runs the same steps with faust's producer (``streams.agents``: its sink
commits before the publication because its outputs are re-derived from the rows on a replay,
and it acks the input only after the broker acknowledged every output). The alert service
runs them with ``BatchRunner`` (``alerts.service``): its outputs are the events of state
transitions that happen once, so it publishes them before its transaction commits.

Errors: ``PublishFailed`` (a ``runtime.errors.RuntimePlumbingError``) carries the topic and
the broker's error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from runtime.errors import RuntimePlumbingError


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to publish: topic, key, value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class PublishFailed(RuntimePlumbingError):
    """The broker did not acknowledge a record within the timeout (or refused it)."""

    def __init__(self, topic: str, error: BaseException) -> None:
        super().__init__(f"publishing to {topic} failed: {error!r}")
        self.topic = topic
        self.error = error


def publish_and_await(
    producer: KafkaProducer, outgoing: Sequence[Outgoing], timeout_s: float
) -> None:
    """Send ``outgoing`` in order and block until the broker acknowledged every record.

    Raises ``PublishFailed`` for the first record not acknowledged within ``timeout_s``
    (counted from the last send), e.g. with the broker stopped, or that the producer could not
    even queue (no topic metadata within its ``max_block_ms``).
    """
    futures = []
    try:
        for out in outgoing:
            headers = list(out.headers)
            future = producer.send(out.topic, key=out.key, value=out.value, headers=headers)
            futures.append((out.topic, future))
    except KafkaError as error:  # no metadata within the producer's max_block_ms
        raise PublishFailed(out.topic, error) from error
    for topic, future in futures:
        try:
            future.get(timeout=timeout_s)
        except KafkaError as error:
            raise PublishFailed(topic, error) from error


class Steps(Protocol):
    """A service's processing of one batch."""

    def write(
        self, records: Sequence[Any]
    ) -> contextlib.AbstractContextManager[Sequence[Outgoing]]:
        """Process ``records`` and write their effects in an open transaction; yield what to
        publish. Leaving without an error commits the transaction; with one rolls it back."""
        ...


class BatchRunner:
    """Runs the steps for a kafka-python consumer and producer (see the module docstring)."""

    def __init__(
        self,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        steps: Steps,
        *,
        poll_ms: int,
        publish_timeout_s: float,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._steps = steps
        self._poll_ms = poll_ms
        self._publish_timeout_s = publish_timeout_s

    def run_once(self) -> int:
        """Consume one batch and take it through every step; returns the records consumed.

        Blocks up to the poll time, the transaction and the publish timeout. Raises what a
        step raises (``PublishFailed``, the database's and the broker's errors); then
        nothing of the batch is committed.
        """
        polled = self._consumer.poll(timeout_ms=self._poll_ms)
        records = [record for batch in polled.values() for record in batch]
        if not records:
            return 0
        with self._steps.write(records) as outgoing:
            self.publish(outgoing)
        self._consumer.commit()
        return len(records)

    def publish(self, outgoing: Sequence[Outgoing]) -> None:
        """Publish-and-await with this runner's producer and timeout."""
        publish_and_await(self._producer, outgoing, self._publish_timeout_s)
