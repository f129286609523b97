"""The HJ 212 gateway over real TCP into the real Kafka: what devices and consumers of the raw
and dead-letter topics observe."""

from __future__ import annotations

import itertools
import json
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from services import kafka_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "gateway"))
from gateway_fixtures import DEVICE, PASSWORD, frame, registry

from ingest.gateway.config import GatewayConfig
from ingest.gateway.publisher import ProducerOptions
from ingest.gateway.runner import GatewayThread, RunOptions
from ingest.hj212 import Packet, decode, encode, redact_password
from runtime.raw_record import RAW_RECORD_VERSION, RawFrame, decode_raw
from schemas.envelope import DeadLetter

pytestmark = pytest.mark.timeout(120)


@dataclass
class Running:
    """A gateway under test and the topics it writes."""

    thread: GatewayThread
    raw_topic: str
    deadletter_topic: str
    bootstrap: str

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.thread.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def raw(self, count: int) -> list[tuple[bytes, RawFrame]]:
        """The raw records as the worker decodes them (``runtime.raw_record``, version 2)."""
        records = self._read(self.raw_topic, count)
        frames = [(k, decode_raw(v, h)) for k, v, h in records]
        assert all(frame.schema_version == RAW_RECORD_VERSION for _, frame in frames)
        return frames

    def dead_letters(self, count: int) -> list[DeadLetter]:
        return [
            DeadLetter.model_validate_json(v)
            for _, v, _ in self._read(self.deadletter_topic, count)
        ]

    def _read(
        self, topic: str, count: int, quiet_s: float = 1.0
    ) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
        """``count`` records, then a short wait proving there are no more."""
        consumer = KafkaConsumer(
            topic,
            **kafka_config(self.bootstrap),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
        deadline = time.monotonic() + 30
        quiet_until: float | None = None
        try:
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    records.extend((r.key, r.value, r.headers) for r in batch)
                if len(records) >= count:
                    quiet_until = quiet_until or time.monotonic() + quiet_s
                    if time.monotonic() >= quiet_until:
                        break
        finally:
            consumer.close()
        return records


GatewayFactory = Callable[..., Running]


@pytest.fixture
def start_gateway(
    services: Any, kafka_topic_factory: Callable[..., str]
) -> Iterator[GatewayFactory]:
    started: list[GatewayThread] = []

    def start(**overrides: Any) -> Running:
        options = overrides.pop("run_options", None)
        config = GatewayConfig(
            raw_topic=kafka_topic_factory("raw", partitions=2),
            deadletter_topic=kafka_topic_factory("dl"),
            host="127.0.0.1",
            port=0,
            clock_skew_limit_s=0,
            **overrides,
        )
        thread = GatewayThread(config, registry(), ProducerOptions(services.kafka), options)
        started.append(thread.__enter__())
        return Running(thread, config.raw_topic, config.deadletter_topic, services.kafka_bootstrap)

    yield start
    for thread in started:
        thread.stop()


def _replies(sock: socket.socket, count: int) -> list[Packet]:
    """Read ``count`` reply frames (CR LF terminated) from the gateway."""
    data = b""
    deadline = time.monotonic() + 20
    while data.count(b"\r\n") < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return [decode(line + b"\r\n") for line in data.split(b"\r\n") if line]


def _closed_by_peer(sock: socket.socket, timeout_s: float = 10) -> bool:
    sock.settimeout(timeout_s)
    try:
        while chunk := sock.recv(65536):
            del chunk
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_glued_and_split_frames_are_published_exactly_and_acked(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    frames = [
        frame(values={"a21026": {"Avg": float(n)}}, qn=f"2026030110300000{n}") for n in range(4)
    ]
    with running.connect() as sock:
        sock.sendall(frames[0] + frames[1] + frames[2][:17])  # two glued, one cut mid-header
        time.sleep(0.2)
        sock.sendall(frames[2][17:-1])
        time.sleep(0.2)
        sock.sendall(frames[2][-1:] + frames[3])
        acks = _replies(sock, 4)

    assert sorted(a.qn or "" for a in acks) == sorted(decode(f).qn or "" for f in frames)
    assert {(a.cn, a.st) for a in acks} == {("9014", "91")}
    published = running.raw(4)
    assert sorted(e.payload for _, e in published) == sorted(frames)
    key, envelope = published[0]
    assert key == DEVICE.encode()
    assert envelope.device_id == DEVICE and envelope.protocol == "hj212"
    assert envelope.peer.startswith("127.0.0.1:")
    assert abs(time.time() - envelope.received_at.timestamp()) < 60


def test_garbage_between_frames_goes_to_dead_letters_and_frames_still_pass(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    first, second = frame(qn="20260301103000001"), frame(qn="20260301103000002")
    with running.connect() as sock:
        sock.sendall(first + b"\x00\x01AT+CSQ\r\n" + second)
        assert len(_replies(sock, 2)) == 2

    [letter] = running.dead_letters(1)
    assert (letter.reason, letter.payload, letter.source) == (
        "garbage",
        b"\x00\x01AT+CSQ\r\n",
        "gateway.hj212",
    )
    assert len(running.raw(2)) == 2


def test_bad_crc_frame_is_dead_lettered_with_its_bytes_and_not_acked(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    good = frame(qn="20260301103000001")
    damaged = good.replace(b"Avg=12.5", b"Avg=99.5")
    with running.connect() as sock:
        sock.sendall(damaged + good)
        [ack] = _replies(sock, 1)
    assert ack.qn == "20260301103000001"
    [letter] = running.dead_letters(1)
    assert (letter.reason, letter.device_id, letter.payload) == (
        "bad_crc", DEVICE, redact_password(damaged),
    )  # fmt: skip
    assert [e.payload for _, e in running.raw(1)] == [good]


def test_unknown_mn_and_wrong_password_are_refused_answered_and_dead_lettered(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway(max_auth_failures=3)
    with running.connect() as sock:
        sock.sendall(frame(mn="INTRUDER-01") + frame(pw="wrong-pw-42"))
        answers = _replies(sock, 2)
        assert sorted((a.cn, a.cp_params["QnRtn"]) for a in answers) == [
            ("9011", "3"),
            ("9011", "4"),
        ]
        sock.sendall(frame(pw="wrong-pw-43"))  # third failure in a row: the gateway hangs up
        assert _closed_by_peer(sock)

    letters = running.dead_letters(3)
    assert sorted(d.reason for d in letters) == [
        "auth_bad_password",
        "auth_bad_password",
        "auth_unknown_mn",
    ]
    assert all("wrong-pw" not in d.message and PASSWORD not in d.message for d in letters)
    # the refused frames are kept with their password redacted (no near misses on record)
    sent = {b"INTRUDER-01": frame(mn="INTRUDER-01"), b"wrong-pw-42": frame(pw="wrong-pw-42")}
    for letter in letters:
        assert b"wrong-pw" not in letter.payload and PASSWORD.encode() not in letter.payload
        assert b";PW=***;" in letter.payload
    unknown = next(d for d in letters if d.reason == "auth_unknown_mn")
    assert unknown.payload == sent[b"INTRUDER-01"].replace(f"PW={PASSWORD}".encode(), b"PW=***")
    assert running.raw(0) == []
    assert running.thread.stats.closed["auth_failures"] == 1


def test_frames_without_a_bit_are_published_without_reply(start_gateway: GatewayFactory) -> None:
    running = start_gateway()
    with running.connect() as sock:
        sock.sendall(frame(flag=4, qn="20260301103000001") + frame(flag=5, qn="20260301103000002"))
        [ack] = _replies(sock, 1)
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(65536)
    assert ack.qn == "20260301103000002"
    assert len(running.raw(2)) == 2


def test_each_part_of_a_split_packet_is_acked_and_published(start_gateway: GatewayFactory) -> None:
    running = start_gateway()
    parts = [
        frame(flag=7, pnum=2, pno=n, values={f"a2100{n}": {"Avg": 1.0}}, qn="20260301103000009")
        for n in (1, 2)
    ]
    with running.connect() as sock:
        for part in parts:
            sock.sendall(part)
            [ack] = _replies(sock, 1)  # a stop-and-wait device waits for each part's ack
            assert ack.qn == "20260301103000009"
    assert sorted(e.payload for _, e in running.raw(2)) == sorted(parts)
    assert running.thread.stats.split["complete"] == 1


def test_a_stalled_or_oversized_client_does_not_hold_up_others(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway(max_frame_bytes=1024)
    big = frame(values={f"a9{n:04d}": {"Avg": 1.0} for n in range(100)}, qn="20260301103000001")
    with running.connect() as stalled, running.connect() as hostile, running.connect() as device:
        stalled.sendall(frame()[:40])  # then says nothing
        hostile.sendall(big)
        device.sendall(frame(qn="20260301103000002"))
        [ack] = _replies(device, 1)
        assert ack.qn == "20260301103000002"
    letters = {d.reason: d.payload for d in running.dead_letters(2)}
    assert letters == {
        "frame_too_large": redact_password(big[:1024]),
        "truncated": redact_password(frame()[:40]),
    }


def test_idle_connections_are_closed(start_gateway: GatewayFactory) -> None:
    running = start_gateway(idle_timeout_s=0.5)
    with running.connect() as sock:
        sock.sendall(frame()[:20])
        assert _closed_by_peer(sock)
    assert running.thread.stats.closed["idle"] == 1
    assert [d.reason for d in running.dead_letters(1)] == ["truncated"]


def test_connections_beyond_the_limit_are_refused(start_gateway: GatewayFactory) -> None:
    running = start_gateway(max_connections=1)
    with running.connect() as first:
        first.sendall(frame(qn="20260301103000001"))
        assert len(_replies(first, 1)) == 1
        with running.connect() as second:
            assert _closed_by_peer(second)
    assert running.thread.stats.connections["refused_limit"] == 1


def test_metrics_endpoint_reports_frames_by_result_and_devices_online(
    start_gateway: GatewayFactory,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = start_gateway(run_options=RunOptions(metrics_port=port))
    with running.connect() as sock:
        sock.sendall(frame(qn="20260301103000001") + b"noise" + frame(qn="20260301103000002"))
        assert len(_replies(sock, 2)) == 2
        text = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        )
    assert 'greenwatch_gateway_frames_total{protocol="hj212",result="accepted"} 2.0' in text
    assert 'greenwatch_gateway_frames_total{protocol="hj212",result="garbage"} 1.0' in text
    assert 'greenwatch_gateway_devices_online{protocol="hj212"} 1.0' in text
    json.dumps(text)  # exposition is plain text


def test_a_tiny_in_flight_budget_pauses_reading_without_losing_or_reordering(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway(max_inflight_per_connection=1)
    frames = [frame(qn=f"20260301103{n:06d}") for n in range(60)]
    with running.connect() as sock:
        sock.sendall(b"".join(frames))
        acks = _replies(sock, len(frames))
    assert [a.qn for a in acks] == [decode(f).qn for f in frames]
    assert sorted(e.payload for _, e in running.raw(len(frames))) == sorted(frames)


def _wait_until_received(running: Running, size: int, timeout_s: float = 20) -> None:
    """Until the gateway has read ``size`` bytes from its connections."""
    deadline = time.monotonic() + timeout_s
    while running.thread.stats.bytes_received < size:
        assert time.monotonic() < deadline, "the gateway never read what was sent"
        time.sleep(0.001)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a device whose modem drops the line."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_2005_frame_is_acked_in_2005_with_its_qn_inside_cp(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    notice = encode(
        st="91", cn="1013", mn=DEVICE, pw=PASSWORD, flag=1, cp_params={"QN": "20160824001252000"}
    ).encode()
    with running.connect() as sock:
        sock.sendall(notice)
        [ack] = _replies(sock, 1)
    assert (ack.cn, ack.flag, ack.qn, ack.cp_params) == (
        "9014",
        0,
        None,
        {"QN": "20160824001252000"},
    )
    assert [e.payload for _, e in running.raw(1)] == [notice]


def test_frames_buffered_by_a_paused_connection_reset_by_the_peer_are_all_published(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway(max_inflight_per_connection=1)
    frames = [frame(qn=f"20260301103{n:06d}") for n in range(40)]
    data = b"".join(frames)
    sock = running.connect()
    sock.sendall(data)
    _wait_until_received(running, len(data))  # all read; 39 wait behind a 1-record budget
    _reset(sock)  # the next ack written finds the connection reset

    assert sorted(e.payload for _, e in running.raw(len(frames))) == sorted(frames)
    assert running.dead_letters(0) == []


def test_the_fifth_authentication_failure_stops_the_connection_at_once(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    bad = [frame(pw=f"guess-{n:03d}", qn=f"20260301103{n:06d}") for n in range(100)]
    data = b"".join(bad)
    with running.connect() as sock:
        sock.sendall(data)
        assert _closed_by_peer(sock)
    stats = running.thread.stats
    received = stats.bytes_received
    complete = sum(1 for end in itertools.accumulate(map(len, bad)) if end <= received)

    letters = running.dead_letters(5)
    assert [d.reason for d in letters] == ["auth_bad_password"] * 5
    assert stats.closed["auth_failures"] == 1
    assert stats.discarded_frames["auth_failures"] == complete - 5
    assert stats.discarded_bytes["auth_failures"] == received - sum(map(len, bad[:5]))


def test_a_non_numeric_st_is_published_as_received_and_counted_as_a_finding(
    start_gateway: GatewayFactory,
) -> None:
    running = start_gateway()
    nul_st = encode(
        st="\x00\x00",
        cn="2031",
        mn=DEVICE,
        pw=PASSWORD,
        qn="20260301103000001",
        flag=5,
        cp_params={"DataTime": "20260301000000"},
        values={"a21026": {"Avg": 1.5}},
    ).encode()
    with running.connect() as sock:
        sock.sendall(nul_st)
        [ack] = _replies(sock, 1)
    assert ack.qn == "20260301103000001"
    assert [e.payload for _, e in running.raw(1)] == [nul_st]
    assert running.thread.stats.findings == {"non_numeric_st": 1}


def _slowloris(port: int, sockets: int, stop: threading.Event) -> None:
    """Keep ``sockets`` connections from 127.0.0.1 open, each trickling a frame one byte every
    0.2 s and never its last byte; reconnect whatever the gateway closes."""
    partial = frame()[:-1]
    held: dict[socket.socket, int] = {}  # socket -> bytes of ``partial`` sent
    while not stop.is_set():
        while len(held) < sockets and not stop.is_set():
            try:
                held[socket.create_connection(("127.0.0.1", port), timeout=1)] = 0
            except OSError:
                break
        for sock, sent in list(held.items()):
            try:
                sock.send(partial[sent : sent + 1])
                held[sock] = min(sent + 1, len(partial) - 1)
            except OSError:
                del held[sock]
                sock.close()
        stop.wait(0.2)
    for sock in held:
        sock.close()


def _flood(port: int, stop: threading.Event) -> None:
    """From 127.0.0.3: garbage as fast as the gateway takes it, reconnecting when closed."""
    junk = b"\x00\x01AT+CSQ" * 8192
    while not stop.is_set():
        try:
            with socket.create_connection(
                ("127.0.0.1", port), timeout=1, source_address=("127.0.0.3", 0)
            ) as sock:
                while not stop.is_set():
                    sock.sendall(junk)
        except OSError:
            stop.wait(0.05)


def test_slowloris_and_a_flood_leave_a_device_its_acks(start_gateway: GatewayFactory) -> None:
    running = start_gateway(
        max_connections=40,
        max_connections_per_peer=8,
        first_frame_timeout_s=1.0,
        max_garbage_bytes=4096,
        deadletters_per_peer=5,
    )
    port, stop = running.thread.port, threading.Event()
    attackers = [
        threading.Thread(target=_slowloris, args=(port, 40, stop), daemon=True),
        threading.Thread(target=_flood, args=(port, stop), daemon=True),
    ]
    for attacker in attackers:
        attacker.start()
    try:
        time.sleep(2.0)  # the attack is in full swing: trickling sockets outlive 1 s deadlines
        with socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)
        ) as device:
            for n in range(20):
                qn = f"20260301103{n:06d}"
                device.sendall(frame(qn=qn))
                [ack] = _replies(device, 1)  # a stop-and-wait device: each ack before the next
                assert (ack.cn, ack.qn) == ("9014", qn)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join(10)
    running.thread.stop()  # ends the dead-letter window: its summary is published
    stats = running.thread.stats
    assert stats.frames["accepted"] == 20
    assert stats.connections["refused_peer_limit"] > 0
    assert stats.closed["no_frame"] > 0 and stats.closed["garbage"] > 0
    assert stats.discarded_bytes["no_frame"] > 0
    assert stats.deadletters_suppressed["garbage"] > 0

    flood = [d for d in running.dead_letters(6) if d.peer.startswith("127.0.0.3")]
    in_full = [d for d in flood if d.peer != "127.0.0.3"]  # "host:port" of a connection
    [summary] = [d for d in flood if d.peer == "127.0.0.3"]
    assert len(in_full) == 5 and {d.reason for d in flood} == {"garbage"}
    suppressed = stats.deadletters_suppressed["garbage"]
    assert summary.message.startswith(f"{suppressed} more garbage dead letters from 127.0.0.3")
    assert 0 < len(summary.payload) <= 512
