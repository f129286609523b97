"""The benchmarks' producers check every send: a record the broker refuses (an ACL not yet in
force, a topic missing) fails the benchmark at once with the broker's reason, instead of
leaving the drain waiting for rows that never come."""

from __future__ import annotations

from typing import Any


class ProduceRefused(RuntimeError):
    """Records were not written; carries how many and the first error."""

    def __init__(self, topic: str, failed: int, sent: int, first: BaseException) -> None:
        super().__init__(f"{failed} of {sent} records to {topic} refused: {first!r}")
        self.failed = failed
        self.first = first


class CheckedSends:
    """Counts the sends on one topic and records the failed ones (via their futures'
    errbacks, so the send loop never waits). ``check()`` after ``producer.flush()``."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.sent = 0
        self.errors: list[BaseException] = []

    def track(self, future: Any) -> None:
        """``future``: what ``KafkaProducer.send`` returned."""
        self.sent += 1
        future.add_errback(self.errors.append)

    def check(self) -> None:
        """Raise ``ProduceRefused`` when any tracked record failed."""
        if self.errors:
            raise ProduceRefused(self.topic, len(self.errors), self.sent, self.errors[0])
