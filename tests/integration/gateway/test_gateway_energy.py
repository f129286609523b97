"""Electricity over HJ 212: a device sends ``i3…`` factors beside its pollutants over real TCP;
the gateway acks once the real Kafka took the raw frame and its energy record, the energy
worker (on the shared runner) derives the readings into PostgreSQL like posted ones, and an
unknown energy code is a dead letter with its reason (password redacted)."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer
from services import PgSchema, Services, kafka_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "gateway"))
from gateway_fixtures import DEVICE, ELECTRICITY_METER, NOW, PASSWORD, energy_registry, frame

from deploy.migrate import migrate
from ingest.gateway.config import GatewayConfig
from ingest.gateway.publisher import ProducerOptions
from ingest.gateway.runner import GatewayThread
from ingest.hj212 import decode
from runtime.runner import BatchRunner
from schemas.energy import EnergyBatch
from schemas.envelope import DeadLetter, Protocol, RawEnvelope
from streams.domain.energy.engine import EnergyEngine
from streams.energy_worker import EnergySteps, EnergyStream
from streams.sink import create_pool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _read(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        topic, **kafka_config(bootstrap), auto_offset_reset="earliest", enable_auto_commit=False
    )
    records: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 30
    try:
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend((r.key, r.value) for r in batch)
    finally:
        consumer.close()
    return records


def test_electricity_factors_become_meter_readings_and_unknown_codes_dead_letters(
    services: Services,
    kafka_topic_factory: Callable[..., str],
    pg_schema: PgSchema,
    db_conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    prefix = "gwenergy"
    raw, energy, letters = (kafka_topic_factory(name) for name in ("raw", "energy", "dl"))
    config = GatewayConfig(
        raw_topic=raw,
        deadletter_topic=letters,
        energy_topic=energy,
        host="127.0.0.1",
        port=0,
        clock_skew_limit_s=0,
    )
    start = NOW.replace(minute=0)
    frames = [
        frame(
            cn="2011",
            device_clock=start + timedelta(minutes=m),
            data_time=start + timedelta(minutes=m),
            values={"a21026": {"Rtd": 12.5, "Flag": "N"}, "i33201": {"Rtd": raw_value}},
        )
        for m, raw_value in ((0, 1000.0), (30, 1050.0), (60, 1100.0))
    ]
    frames.append(
        frame(  # a backwards step and a code no meter is read from
            cn="2011",
            device_clock=start + timedelta(minutes=90),
            data_time=start + timedelta(minutes=90),
            values={"i33201": {"Rtd": 1.0}, "i33999": {"Rtd": 2.0}},
        )
    )
    with GatewayThread(config, energy_registry(), ProducerOptions(services.kafka)) as thread:
        with socket.create_connection(("127.0.0.1", thread.port), timeout=10) as sock:
            sock.sendall(b"".join(frames))
            acks = b""
            while acks.count(b"\r\n") < len(frames):
                acks += sock.recv(65536)
        assert all(decode(a + b"\r\n").cn == "9014" for a in acks.split(b"\r\n") if a)

    energy_records = _read(services.kafka_bootstrap, energy, 4)
    assert len(energy_records) == 4 and {k for k, _ in energy_records} == {b"E-T-01"}
    first = RawEnvelope.model_validate_json(energy_records[0][1])
    assert first.protocol is Protocol.ENERGY_JSON
    batch = EnergyBatch.model_validate_json(first.payload)
    assert [(r.meter_id, r.value) for r in batch.readings] == [(ELECTRICITY_METER, 1000.0)]
    assert len(_read(services.kafka_bootstrap, raw, 4)) == 4  # pollutants untouched
    [(_, letter_bytes)] = _read(services.kafka_bootstrap, letters, 1)
    letter = DeadLetter.model_validate_json(letter_bytes)
    assert letter.reason == "unknown_energy_code" and letter.device_id == DEVICE
    assert "i33999" in letter.message and PASSWORD.encode() not in letter.payload

    # the energy worker derives them exactly as posted readings
    migrate(db_conn)
    pool = create_pool(pg_schema.dsn, name="gateway-energy-test")
    consumer = KafkaConsumer(
        energy,
        **kafka_config(services.kafka_bootstrap),
        group_id=f"energy-{energy}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = KafkaProducer(**kafka_config(services.kafka_bootstrap), acks="all")
    try:
        stream = EnergyStream(EnergyEngine(energy_registry()), pool)
        runner = BatchRunner(
            consumer, producer, EnergySteps(stream, prefix), poll_ms=2_000, publish_timeout_s=10
        )
        deadline = time.monotonic() + 30
        taken = 0
        while taken < 4 and time.monotonic() < deadline:
            taken += runner.run_once()
    finally:
        consumer.close()
        producer.close(timeout=5)
        pool.close()
    hours = db_conn.execute(
        "SELECT sum(quantity) FROM energy_consumption WHERE meter_id = %s AND period = 'hour'",
        (ELECTRICITY_METER,),
    ).fetchone()
    assert hours is not None and hours[0] == pytest.approx(1000.0)  # 100 raw × multiplier 10
    backwards = db_conn.execute(
        "SELECT marks FROM energy_readings WHERE meter_id = %s AND value = 1.0",
        (ELECTRICITY_METER,),
    ).fetchone()
    assert backwards is not None and "backwards" in backwards[0]  # kept, marked, not zeroed
