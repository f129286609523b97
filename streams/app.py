"""The faust-streaming App of the stream workers, built from ``Settings``.

Every ``greenwatch worker`` process builds the same App: the faust app id is the Kafka
consumer group (``<topic_prefix>-streams``), so several workers split the raw topic's
partitions between them (one device's frames stay in one partition: the key is the MN).
The app has no tables (``store=memory://``, window state lives in the engine and is rebuilt
from PostgreSQL), no web server and no leader topic. Offsets are committed by faust's commit
timer only for messages the agent acked, and the agent acks after the database commit (see
``streams.agents`` and docs/streams.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import faust
from faust.types.transports import TransportT

from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.settings import Settings, kafka_servers
from schemas.topics import CATALOGUE, Topic, consumer_group, topic_name
from streams.fetch import LeanTransport
from streams.lean_monitor import LeanMonitor


@dataclass(frozen=True, slots=True)
class WorkerTuning:
    """Batching, buffering and timers of one worker.

    - ``batch_size``: raw messages per batch (one database transaction);
    - ``batch_within_s``: process a partial batch once its first message waited this long
      (``streams.take``: while the worker is busy its buffer keeps filling, so a busy worker
      batches by size whatever this is; a quiet one hands a lone frame over after it);
    - ``buffer_maxsize``: messages faust buffers per partition before it pauses fetching,
      for the streams faust still drives (the dead-letter agent's); the raw topic's records
      go straight to the agent's take (``streams.chunk``), which holds at most
      ``batch_size`` of them before faust's fetch loop waits: that bounds the memory of a
      worker whose database is down;
    - ``lane_depth``: batches prepared and not yet committed at most (``CommitLane``): 1
      prepares the next batch only while one commits; 2 lets the prepare thread go on while
      a long commit holds the batch before; each one more holds one more batch in memory
      (2 measured neither faster nor slower in the drain: docs/perf.md, "Seventh slice
      (deep)");
    - ``tick_interval_s``: period of ``Engine.tick`` (silence detection), wall clock;
    - ``commit_interval_s``: period of faust's offset commit of acked messages;
    - ``session_timeout_s``: how long the group waits for a silent (crashed) worker before
      its partitions move to the others (heartbeats every third of it, at most 3 s).
    """

    batch_size: int = 2000
    batch_within_s: float = 0.02
    buffer_maxsize: int = 4096
    lane_depth: int = 1
    tick_interval_s: float = 30.0
    commit_interval_s: float = 1.0
    session_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class StreamTopics:
    """The faust topics the worker reads and writes."""

    raw: faust.TopicT
    dead_letters: faust.TopicT
    hourly: faust.TopicT
    verdicts: faust.TopicT
    quality: faust.TopicT


def group_id(settings: Settings) -> str:
    """Consumer group (= faust app id) shared by every worker of a deployment."""
    return consumer_group(settings.topic_prefix, "streams")


def broker_urls(settings: Settings) -> list[str]:
    """``kafka://host:port`` for each bootstrap server of the settings."""
    return [f"kafka://{server.strip()}" for server in kafka_servers(settings).split(",")]


def broker_credentials(kafka: KafkaAccess) -> faust.types.auth.CredentialsT | None:
    """faust's form of the worker principal's login (``runtime.kafka_access``); None for a
    PLAINTEXT cluster."""
    context = ssl.create_default_context(cafile=kafka.ca_file) if kafka.ca_file else None
    if kafka.sasl:
        password = kafka.password.get_secret_value() if kafka.password is not None else None
        return faust.SASLCredentials(
            username=kafka.username,
            password=password,
            mechanism=kafka.mechanism,
            ssl_context=context,
        )
    return None if context is None else faust.SSLCredentials(context)


class WorkerApp(faust.App):
    """faust's App whose consumer fetch loop is ``streams.fetch.LeanConsumer`` (no four
    asyncio tasks per record), whose conductor is ``streams.chunk.ChunkConductor`` (the raw
    topic's records go straight to the agent's take, no faust event or stream queue per
    record) and whose Monitor sensor is ``streams.lean_monitor.LeanMonitor`` (no per-message
    bookkeeping); everything else is faust's."""

    def _new_transport(self) -> TransportT:
        return LeanTransport(self.conf.broker_consumer, self)


def create_app(settings: Settings, tuning: WorkerTuning) -> faust.App:
    """A configured faust App (not started); agents are added by ``streams.agents``.

    Creates the faust data directory (``<state_dir>/streams``) if needed.
    """
    datadir = Path(settings.state_dir) / "streams"
    datadir.mkdir(parents=True, exist_ok=True)
    return WorkerApp(
        group_id(settings),
        broker=broker_urls(settings),
        broker_credentials=broker_credentials(kafka_access(settings, Principal.WORKER)),
        store="memory://",
        monitor=LeanMonitor(),
        autodiscover=False,
        datadir=str(datadir),
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=tuning.commit_interval_s,
        broker_session_timeout=tuning.session_timeout_s,
        broker_heartbeat_interval=min(3.0, tuning.session_timeout_s / 3),
        stream_buffer_maxsize=tuning.buffer_maxsize,
        stream_wait_empty=True,
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
    )


def _partitions(topic: Topic) -> int:
    return next(spec.partitions for spec in CATALOGUE if spec.topic is topic)


def stream_topics(app: faust.App, prefix: str) -> StreamTopics:
    """The worker's topics, named by ``schemas.topics.topic_name`` (raw bytes in and out)."""

    def topic(which: Topic) -> faust.TopicT:
        return app.topic(
            topic_name(prefix, which),
            partitions=_partitions(which),
            key_serializer="raw",
            value_serializer="raw",
        )

    return StreamTopics(
        raw=topic(Topic.RAW_HJ212),
        dead_letters=topic(Topic.DEADLETTER),
        hourly=topic(Topic.HOURLY),
        verdicts=topic(Topic.VERDICTS),
        quality=topic(Topic.QUALITY),
    )
