"""The energy API as a user meets it: `greenwatch gateway energy` running on 127.0.0.1, posted
to with httpx, the records read back from the real Kafka."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from energy_support import AL_KEY, CM_KEY, KEY_SECRET, energy_document
from kafka import KafkaAdminClient, KafkaConsumer
from services import Services

from schemas.energy import EnergyRecord
from schemas.envelope import DeadLetter, Protocol, RawEnvelope

pytestmark = pytest.mark.integration
MAX_BODY = 20_000


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
            bootstrap_servers=self.bootstrap,
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    registry = tmp_path_factory.mktemp("energy") / "registry.yaml"
    registry.write_text(yaml.safe_dump(energy_document(), allow_unicode=True), "utf-8")
    prefix, port = f"test{uuid.uuid4().hex[:10]}", _free_port()
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
        "--registry",
        str(registry),
        "--port",
        str(port),
        "--max-body-bytes",
        str(MAX_BODY),
    ]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"API did not start: {process.stderr.read()}") from None
                time.sleep(0.2)
        yield Api(url, prefix, services.kafka_bootstrap)
    finally:
        process.terminate()
        process.wait(timeout=30)
        admin = KafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
        mine = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        if mine:
            admin.delete_topics(mine)
        admin.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_good_items_are_taken_bad_ones_refused_with_path_and_reason(api: Api) -> None:
    now = _now()
    good = {"meter_id": "AL-POT-1", "value": 1234.5, "unit": "kWh", "instant": now.isoformat()}
    body = {
        "readings": [
            good,
            {"meter_id": "AL-NOPE", "value": 1.0, "unit": "kWh", "instant": now.isoformat()},
            {"meter_id": "CM-COAL-1", "value": 1.0, "unit": "kg", "period_start": now.isoformat()},
            {"meter_id": "AL-POT-1", "value": 1.0, "unit": "MWh", "instant": now.isoformat()},
            {"meter_id": "AL-POT-1", "unit": "kWh", "instant": now.isoformat()},
            {
                "meter_id": "AL-POT-1",
                "value": 1.0,
                "unit": "kWh",
                "instant": (now + timedelta(hours=2)).isoformat(),
            },
            {"meter_id": "AL-AUX-1", "value": 3.5, "unit": "m3", "period_start": now.isoformat()},
        ]
    }
    response = api.post("/v1/readings", body)
    assert response.status_code == 202, response.text
    reply = response.json()
    assert (reply["accepted"], reply["refused"]) == (2, 5)
    results = {r["index"]: r for r in reply["results"]}
    assert results[0]["result"] == "accepted" and results[6]["result"] == "accepted"
    assert (results[1]["status"], results[1]["result"]) == (404, "unknown_meter")
    assert (results[2]["status"], results[2]["path"]) == (403, "$.readings[2].meter_id")
    assert (results[3]["status"], results[3]["result"]) == (422, "wrong_unit")
    assert results[3]["reason"] == "meter AL-POT-1 reads in kWh, not MWh"
    assert (results[4]["path"], results[4]["result"]) == ("$.readings[4].value", "invalid")
    assert results[5]["result"] == "clock_skew"

    raw = [RawEnvelope.model_validate_json(v) for v in api.records("raw.energy", 2)]
    assert len(raw) == 2 and {e.protocol for e in raw} == {Protocol.ENERGY_JSON}
    records = {EnergyRecord.model_validate_json(e.payload) for e in raw}
    assert {(r.enterprise_id, r.reading.meter_id) for r in records if r.reading} == {
        ("E-AL-01", "AL-POT-1"),
        ("E-AL-01", "AL-AUX-1"),
    }
    letters = [DeadLetter.model_validate_json(v) for v in api.records("deadletter", 5)]
    assert sorted(d.reason for d in letters) == sorted(
        ["unknown_meter", "forbidden_meter", "wrong_unit", "invalid", "clock_skew"]
    )
    forbidden = next(d for d in letters if d.reason == "forbidden_meter")
    assert b'"CM-COAL-1"' in forbidden.payload and forbidden.source == "gateway.energy"


def test_non_finite_numbers_and_non_json_are_clear_errors(api: Api) -> None:
    now = _now().isoformat()
    item = '{"meter_id": "AL-POT-1", "value": VALUE, "unit": "kWh", "instant": "' + now + '"}'
    text = '{"readings": [' + item.replace("VALUE", "NaN") + ", "
    text += item.replace("VALUE", "1e999") + "]}"
    headers = {"Authorization": f"Bearer {AL_KEY}", "Content-Type": "application/json"}
    response = httpx.post(api.url + "/v1/readings", content=text, headers=headers)
    assert response.status_code == 202
    assert [(r["result"], r["path"]) for r in response.json()["results"]] == [
        ("non_finite", "$.readings[0].value"),
        ("non_finite", "$.readings[1].value"),
    ]
    broken = httpx.post(api.url + "/v1/readings", content=b"{readings: [", headers=headers)
    assert broken.status_code == 400 and broken.json()["error"] == "bad_json"


def test_keys_body_limit_and_statistics(api: Api) -> None:
    body = {"readings": []}
    assert api.post("/v1/readings", body, key=None).status_code == 401
    assert api.post("/v1/readings", body, key="not-a-key").status_code == 401
    huge = {"readings": [{"meter_id": "AL-POT-1", "value": 1.0}] * 1000}
    too_large = api.post("/v1/readings", huge)
    assert too_large.status_code == 413 and too_large.json()["error"] == "body_too_large"
    month = _now().replace(day=1, hour=0, minute=0, second=0).isoformat()
    stats = {
        "statistics": [
            {
                "indicator": "output",
                "product": "clinker",
                "period_start": month,
                "value": 9e4,
                "unit": "t",
            },
            {
                "indicator": "output",
                "product": "al-liquid",
                "period_start": month,
                "value": 1.0,
                "unit": "t",
            },
            {"indicator": "value_added", "period_start": month, "value": 5e3, "unit": "yuan"},
        ]
    }
    reply = api.post("/v1/statistics", stats, key=CM_KEY).json()
    assert [r["result"] for r in reply["results"]] == ["accepted", "unknown_product", "wrong_unit"]


def test_openapi_and_metrics_are_served(api: Api) -> None:
    document = httpx.get(api.url + "/openapi.json").json()
    assert {"/v1/readings", "/v1/statistics"} <= set(document["paths"])
    assert "ReadingIn" in document["components"]["schemas"]
    api.post("/v1/readings", {"readings": []}, key="wrong")
    metrics = httpx.get(api.url + "/metrics").text
    assert 'greenwatch_energy_api_requests_total{endpoint="readings",status="401"}' in metrics
