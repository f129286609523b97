"""How many dead letters one peer may cause: a bound per peer address and reason, so that a
flood is kept as counts and a sample of its bytes, not byte for byte.

Per (peer address, reason) and per window of ``window_s`` seconds, the first ``per_window``
dead letters go out in full; the others are suppressed: counted, and the first of them kept as
a sample of at most ``sample_bytes`` bytes. When the window ends (``expired``) each pair that
suppressed something yields one ``Suppressed`` summary, which the gateway publishes as one
dead letter (same reason, the counts in its message, the sample as its payload). Pure: no
I/O, time passed in; not thread-safe (one per event loop). Memory: one small entry per
(peer, reason) seen within the window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Dead letters of one peer and reason left out during one window."""

    peer_host: str
    reason: str
    count: int
    payload_bytes: int
    sample: bytes
    window_s: float


class _Window:
    __slots__ = ("count", "payload_bytes", "sample", "sent", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.sent = 0
        self.count = 0
        self.payload_bytes = 0
        self.sample = b""


class DeadLetterBudget:
    """``per_window`` full dead letters per (peer, reason) per ``window_s``; 0 = no bound."""

    __slots__ = ("_per_window", "_sample_bytes", "_window_s", "_windows")

    def __init__(self, per_window: int, window_s: float = 60.0, sample_bytes: int = 512) -> None:
        self._per_window = per_window
        self._window_s = window_s
        self._sample_bytes = sample_bytes
        self._windows: dict[tuple[str, str], _Window] = {}

    def admit(self, peer_host: str, reason: str, payload: bytes, now: float) -> bool:
        """True: publish this dead letter in full; False: it is counted (and sampled) in the
        summary of its window instead."""
        if not self._per_window:
            return True
        key = (peer_host, reason)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(now)
        if window.sent < self._per_window:
            window.sent += 1
            return True
        if not window.count:
            window.sample = payload[: self._sample_bytes]
        window.count += 1
        window.payload_bytes += len(payload)
        return False

    def expired(self, now: float) -> list[Suppressed]:
        """End the windows older than ``window_s`` (all of them with ``now=math.inf``) and
        return a summary for each that suppressed dead letters."""
        ended: list[Suppressed] = []
        for key, window in list(self._windows.items()):
            if now - window.started < self._window_s:
                continue
            del self._windows[key]
            if window.count:
                ended.append(
                    Suppressed(
                        key[0],
                        key[1],
                        window.count,
                        window.payload_bytes,
                        window.sample,
                        self._window_s,
                    )
                )
        return ended
