"""The energy API as a user meets it: `greenwatch gateway energy` running on 127.0.0.1, posted
to with httpx, the records read back from the real Kafka."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from energy_api_harness import Api, running_api
from energy_support import AL_KEY, CM_KEY, energy_document, energy_registry
from services import Services

from schemas.energy import EnergyBatch
from schemas.envelope import DeadLetter, Protocol, RawEnvelope

pytestmark = pytest.mark.integration


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

    (envelope,) = [RawEnvelope.model_validate_json(v) for v in api.records("raw.energy", 1)]
    assert envelope.protocol is Protocol.ENERGY_JSON and envelope.device_id == "E-AL-01"
    records = set(EnergyBatch.model_validate_json(envelope.payload).records())
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
    huge = {"readings": [{"meter_id": "AL-POT-1", "value": 1.0}] * 8000}
    too_large = api.post("/v1/readings", huge)
    assert too_large.status_code == 413 and too_large.json()["error"] == "body_too_large"
    this_month = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = (this_month - timedelta(days=1)).replace(day=1).isoformat()
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
    # A month's figures are final only once it is over (issue 10: plan progress sums them);
    # a negative output is refused as invalid, never stored.
    early = {
        "statistics": [
            {"indicator": "value_added", "period_start": this_month.isoformat(), "value": 5e3,
             "unit": "10^4 yuan"},
            {"indicator": "output", "product": "clinker", "period_start": month, "value": -1,
             "unit": "t"},
        ]
    }  # fmt: skip
    refused = api.post("/v1/statistics", early, key=CM_KEY).json()["results"]
    assert [r["result"] for r in refused] == ["period_not_over", "invalid"]
    assert "is not over yet" in refused[0]["reason"]


def test_openapi_and_metrics_are_served(api: Api) -> None:
    document = httpx.get(api.url + "/openapi.json").json()
    assert {"/v1/readings", "/v1/statistics"} <= set(document["paths"])
    assert "ReadingIn" in document["components"]["schemas"]
    api.post("/v1/readings", {"readings": []}, key="wrong")
    metrics = httpx.get(api.url + "/metrics").text
    assert 'greenwatch_energy_api_requests_total{endpoint="readings",status="401"}' in metrics


def test_following_the_registry_topic_a_removed_meter_is_refused(
    services: Services, tmp_path: Path
) -> None:
    from runtime.registry_topic import publish_registry, registry_topic
    from runtime.settings import registry_key
    from schemas.registry import parse_registry

    prefix = f"test{uuid.uuid4().hex[:10]}"
    topic = registry_topic(prefix)
    key = registry_key(services.settings)
    publish_registry(services.kafka, topic, energy_registry(), datetime.now(UTC), key=key)
    with running_api(services, tmp_path, prefix=prefix, from_topic=True) as api:
        item = {
            "meter_id": "AL-AUX-1",
            "value": 2.0,
            "unit": "m3",
            "period_start": _now().isoformat(),
        }
        assert api.post("/v1/readings", {"readings": [item]}).json()["accepted"] == 1
        document = energy_document()
        document["version"] = "energy-test-2"
        meters = document["enterprises"][-1]["energy"]["meters"]
        document["enterprises"][-1]["energy"]["meters"] = [
            m for m in meters if m["id"] != "AL-AUX-1"
        ]
        publish_registry(
            services.kafka, topic, parse_registry(document), datetime.now(UTC), key=key
        )
        deadline = time.monotonic() + 30
        while True:
            result = api.post("/v1/readings", {"readings": [item]}).json()["results"][0]
            if result["result"] == "unknown_meter" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (result["status"], result["result"]) == (404, "unknown_meter")
