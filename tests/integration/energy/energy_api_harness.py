"""The energy API started as users start it (`greenwatch gateway energy`), on 127.0.0.1,
and a reader of the topics it writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from energy_support import AL_KEY, KEY_SECRET, energy_document
from kafka import KafkaAdminClient, KafkaConsumer
from services import Services, free_port, kafka_config, wait_for_http

MAX_BODY = 200_000


@dataclass(frozen=True)
class Api:
    url: str
    prefix: str
    bootstrap: str

    def post(self, path: str, body: object, key: str | None = AL_KEY) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=30)

    def records(self, topic: str, count: int) -> list[bytes]:
        consumer = KafkaConsumer(
            f"{self.prefix}.{topic}",
            **kafka_config(self.bootstrap),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        values: list[bytes] = []
        deadline, quiet = time.monotonic() + 30, None
        try:
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    values.extend(r.value for r in batch)
                if len(values) >= count:
                    quiet = quiet or time.monotonic() + 1.0
                    if time.monotonic() >= quiet:
                        break
        finally:
            consumer.close()
        return values


@contextmanager
def running_api(
    services: Services, directory: Path, prefix: str | None = None, from_topic: bool = False
) -> Iterator[Api]:
    """The API on a fresh port (and a fresh topic prefix unless given), with the energy test
    registry from a file, or (``from_topic``) following the prefix's registry topic."""
    registry = directory / "registry.yaml"
    registry.write_text(yaml.safe_dump(energy_document(), allow_unicode=True), "utf-8")
    prefix, port = prefix or f"test{uuid.uuid4().hex[:10]}", free_port()
    env = dict(
        os.environ,
        GREENWATCH_KAFKA_BOOTSTRAP=services.kafka_bootstrap,
        GREENWATCH_TOPIC_PREFIX=prefix,
        GREENWATCH_ENERGY_KEY_SECRET=KEY_SECRET,
    )
    command = [
        str(Path(sys.executable).parent / "greenwatch"),
        "gateway",
        "energy",
        *(() if from_topic else ("--registry", str(registry))),
        "--port",
        str(port),
        "--max-body-bytes",
        str(MAX_BODY),
    ]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/openapi.json", process)
        yield Api(url, prefix, services.kafka_bootstrap)
    finally:
        process.terminate()
        process.wait(timeout=30)
        admin = KafkaAdminClient(**services.kafka.client_config())
        mine = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        if mine:
            admin.delete_topics(mine)
        admin.close()
