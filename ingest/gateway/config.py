"""Settings of one HJ 212 gateway process (the CLI options of ``greenwatch gateway hj212``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Where the gateway listens, where it writes, and its per-connection limits.

    - ``max_frame_bytes``: largest frame accepted, CR LF included. HJ 212 allows 10 012 bytes
      (a 9 999-byte segment); real frames exceed 1 024; the default 8 KiB covers them.
    - ``first_frame_timeout_s``: a connection that has sent no complete frame this long
      after connecting is closed (``no_frame``); bytes that do not complete a frame are not
      progress (slowloris).
    - ``idle_timeout_s``: a connection without a complete frame this long is closed
      (``idle``; a device reports at least every few minutes; bytes alone do not count;
      the gateway never times out a connection it has paused itself).
    - ``max_connections``: connections beyond this are refused at once.
    - ``max_connections_per_peer``: open connections from one IP address beyond this are
      refused at once (0: no cap); a data logger needs one, a site behind NAT a few, a
      simulated fleet on one host (demo, benchmark: 200) more.
    - ``deadletters_per_peer``: dead letters per peer address and reason per
      ``deadletter_window_s`` published in full; beyond, they are counted and one summary
      with a sample of their bytes ends the window (0: no bound).
    - ``max_inflight_per_connection``: records of one connection sent to Kafka and not yet
      acknowledged; when full the gateway stops reading that connection (TCP backpressure
      on that device only) and never drops a frame.
    - ``max_inflight_total``: the same over all connections (kafka-python has no buffer
      bound of its own).
    - ``max_auth_failures``: consecutive authentication failures after which a connection
      is closed; 0 never closes.
    - ``max_garbage_bytes``: garbage bytes without any frame after which a connection is
      closed; 0 never closes.
    - ``clock_skew_limit_s``: tolerated device clock error; ``None`` = the registry's
      ``policy.clock_skew_seconds``; 0 disables the check.
    - ``split_timeout_s``: a split packet still missing parts this long counts incomplete.
    - ``reuse_port``: bind with SO_REUSEPORT so several gateway processes share the port.
    - ``energy_topic``: the raw energy topic, where the energy readings of frames' ``i3…``
      factors go (``ingest.gateway.energy_factors``; the 9014 ack waits for it too);
      ``None``: energy factors stay in the raw frame only.
    - ``device_key``: the platform's device key, to check PW against keyed digests
      (``Device.password_hmac``); ``None`` accepts legacy digests only.
    """

    raw_topic: str
    deadletter_topic: str
    energy_topic: str | None = None
    host: str = "0.0.0.0"
    port: int = 9212
    max_frame_bytes: int = 8192
    first_frame_timeout_s: float = 60.0
    idle_timeout_s: float = 600.0
    max_connections: int = 10_000
    max_connections_per_peer: int = 256
    deadletters_per_peer: int = 100
    deadletter_window_s: float = 60.0
    max_inflight_per_connection: int = 256
    max_inflight_total: int = 50_000
    max_auth_failures: int = 5
    max_garbage_bytes: int = 64 * 1024
    clock_skew_limit_s: float | None = None
    split_timeout_s: float = 600.0
    reuse_port: bool = False
    deadletter_source: str = "gateway.hj212"
    device_key: bytes | None = field(default=None, repr=False)
