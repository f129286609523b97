"""faust's Monitor sensor without its per-message bookkeeping.

faust adds its ``Monitor`` to every App's sensors; for each raw record it counts the message
in and out, stamps ``time_in``/``time_out`` on it, counts the event per stream and per task
(``str(stream)`` lookups), builds a timing dict per event and appends its run time to a
deque: ~2.4–3.0 µs of the event-loop thread per raw record in the one-worker drain
(docs/perf.md "Fifth slice (loop)"). Those figures are only shown by faust's web server,
which the worker does not run; the worker's own figures are its Prometheus metrics
(``streams.metrics``).

One thing of the Monitor is read by faust itself: ``stream_inbound_time`` (when a stream last
took an event from a partition), which the aiokafka consumer's ``verify_event_path`` uses to
log "stream idle" errors. ``LeanMonitor`` keeps that, and everything faust records per batch,
commit or rebalance (end offsets, committed offsets, assignment and rebalance timings).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor


class LeanMonitor(Monitor):
    """faust's Monitor that records only, per event, when its partition's stream took one."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        """Nothing per message (faust counts it and stamps ``time_in``)."""

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        """Keep when ``tp``'s stream took an event (read by faust's ``verify_event_path``)."""
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        """Nothing per event (faust times it)."""

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        """Nothing per message (faust stamps ``time_out``)."""
