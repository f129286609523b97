"""The energy API (``greenwatch gateway energy``): FastAPI app for energy management systems.

Endpoints (who may call them: an enterprise with its own API key, ``Authorization: Bearer``):

- ``POST /v1/readings`` (body ``ReadingsRequest``) and ``POST /v1/statistics`` (body
  ``StatisticsRequest``): each item is admitted or refused on its own (``admission``); the
  accepted ones are published together as one record of ``<prefix>.raw.energy`` (a
  ``RawEnvelope``, protocol ``energy-json``, payload an ``EnergyBatch``, Kafka key the
  enterprise id so one worker owns all of an enterprise's meters), each refused one to
  ``<prefix>.deadletter`` with the item's bytes and reason. The reply, 202 with one result
  per item, is sent only after Kafka acknowledged every record (503 and nothing claimed when
  it did not: resend). Resending is safe: downstream every item is keyed by (meter, statistic
  type, instant/period).
- Whole-request errors: 401 (no or unknown key), 413 (body over ``max_body_bytes``), 400 (not
  JSON, not an object with the array, more than ``max_items``; the body goes to the dead-letter
  topic), 415 (not ``application/json``).
- ``GET /metrics`` (Prometheus, operators), ``GET /openapi.json`` and ``/docs``: public; they
  carry no data of any enterprise.

Nothing of a key is logged. Blocking work never runs on the loop: publishing completes via the
shared ``KafkaPublisher`` callbacks.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from typing import Protocol as Interface

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from pydantic import SecretStr

from ingest.energy.admission import ItemKind, Refusal, admit
from ingest.energy.keys import bearer_key, key_digest
from schemas.energy import EnergyBatch, ReadingsRequest, StatisticsRequest
from schemas.envelope import DeadLetter, Protocol, RawEnvelope
from schemas.registry import Registry

SOURCE = "gateway.energy"
Clock = Callable[[], datetime]


class RecordSink(Interface):
    """Where records go: ``publish`` returns once Kafka acknowledged all, raises otherwise."""

    async def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None: ...


@dataclass(frozen=True, slots=True)
class ApiOptions:
    raw_topic: str
    deadletter_topic: str
    max_body_bytes: int = 1_048_576
    max_items: int = 5_000


class ApiMetrics:
    """``greenwatch_energy_api_requests_total{endpoint,status}`` and
    ``greenwatch_energy_api_items_total{endpoint,result}`` (result = accepted or a refusal
    code) in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "greenwatch_energy_api_requests",
            "Requests by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.items = Counter(
            "greenwatch_energy_api_items",
            "Posted items by endpoint and result.",
            ["endpoint", "result"],
            registry=self.registry,
        )


def create_app(
    registry: Registry,
    secret: SecretStr,
    sink: RecordSink,
    options: ApiOptions,
    clock: Clock = lambda: datetime.now(UTC),
    metrics: ApiMetrics | None = None,
) -> FastAPI:
    """The app; ``registry`` is read through ``app.state.registry`` (swap it to reload)."""
    app = FastAPI(title="Greenwatch energy API", version="1")
    app.state.registry = registry
    counters = metrics or ApiMetrics()

    async def handle(request: Request, kind: ItemKind) -> Response:
        response = await _handle(
            request, kind, app.state.registry, secret, sink, options, clock, counters
        )
        counters.requests.labels(kind, str(response.status_code)).inc()
        return response

    @app.post("/v1/readings", status_code=202, openapi_extra=_body(ReadingsRequest))
    async def post_readings(request: Request) -> Response:
        """A batch of meter readings (register values or period quantities)."""
        return await handle(request, "readings")

    @app.post("/v1/statistics", status_code=202, openapi_extra=_body(StatisticsRequest))
    async def post_statistics(request: Request) -> Response:
        """An enterprise's figures for a day or month (output, value added, water, waste)."""
        return await handle(request, "statistics")

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(counters.registry), media_type="text/plain; version=0.0.4")

    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


async def _handle(
    request: Request,
    kind: ItemKind,
    registry: Registry,
    secret: SecretStr,
    sink: RecordSink,
    options: ApiOptions,
    clock: Clock,
    metrics: ApiMetrics,
) -> Response:
    key = bearer_key(request.headers.get("authorization"))
    enterprise = registry.enterprise_by_key_digest(key_digest(secret, key)) if key else None
    if enterprise is None:
        return _error(
            401, "unauthorized", "an enterprise API key is required (Authorization: Bearer)"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > options.max_body_bytes:
        return _error(413, "body_too_large", f"the body limit is {options.max_body_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > options.max_body_bytes:
            return _error(
                413, "body_too_large", f"the body limit is {options.max_body_bytes} bytes"
            )
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media != "application/json":
        return _error(415, "unsupported_media_type", "send application/json")
    now = clock()
    peer = f"{request.client.host}:{request.client.port}" if request.client else "unknown"
    items, problem = _items(bytes(body), kind, options.max_items)
    if problem is not None:
        letter = _dead_letter(problem[0], problem[1], peer, enterprise.id, now, bytes(body))
        try:
            await sink.publish([(options.deadletter_topic, enterprise.id.encode(), letter)])
        except Exception:
            return _error(503, "kafka_unavailable", "not stored: resend later")
        metrics.items.labels(kind, problem[0]).inc()
        return _error(400, problem[0], problem[1])
    admission = admit(kind, items, enterprise, registry, now)
    records = []
    if admission.accepted:
        batch = EnergyBatch(
            enterprise_id=enterprise.id,
            readings=[r.reading for _, r in admission.accepted if r.reading is not None],
            statistics=[r.statistic for _, r in admission.accepted if r.statistic is not None],
        )
        envelope = RawEnvelope(
            protocol=Protocol.ENERGY_JSON,
            device_id=enterprise.id,
            peer=peer,
            received_at=now,
            payload=batch.model_dump_json().encode(),
        )
        records.append(
            (options.raw_topic, enterprise.id.encode(), envelope.model_dump_json().encode())
        )
    for refusal in admission.refused:
        item_bytes = json.dumps(refusal.item, ensure_ascii=False, allow_nan=True).encode()
        letter = _dead_letter(
            refusal.code, f"{refusal.path}: {refusal.reason}", peer, enterprise.id, now, item_bytes
        )
        records.append((options.deadletter_topic, enterprise.id.encode(), letter))
    try:
        await sink.publish(records)
    except Exception:
        return _error(503, "kafka_unavailable", "not stored: resend the whole request later")
    results: list[dict[str, Any]] = [
        {"index": index, "status": 202, "result": "accepted"} for index, _ in admission.accepted
    ]
    results += [_refusal(r) for r in admission.refused]
    results.sort(key=lambda r: int(r["index"]))
    metrics.items.labels(kind, "accepted").inc(len(admission.accepted))
    for refusal in admission.refused:
        metrics.items.labels(kind, refusal.code).inc()
    return JSONResponse(
        {
            "enterprise_id": enterprise.id,
            "accepted": len(admission.accepted),
            "refused": len(admission.refused),
            "results": results,
        },
        status_code=202,
    )


def _items(body: bytes, kind: ItemKind, max_items: int) -> tuple[list[Any], tuple[str, str] | None]:
    try:
        document = json.loads(body, parse_constant=lambda name: math.nan)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [], ("bad_json", f"not JSON: {error}")
    if not isinstance(document, dict) or not isinstance(document.get(kind), list):
        return [], ("bad_body", f"expected an object with an array '{kind}'")
    extra = sorted(set(document) - {kind})
    if extra:
        return [], ("bad_body", f"unknown fields {extra}")
    items: list[Any] = document[kind]
    if len(items) > max_items:
        return [], ("too_many_items", f"at most {max_items} items per request")
    return items, None


def _refusal(refusal: Refusal) -> dict[str, Any]:
    return {
        "index": refusal.index,
        "status": refusal.status,
        "result": refusal.code,
        "path": refusal.path,
        "reason": refusal.reason,
    }


def _dead_letter(
    reason: str, message: str, peer: str, enterprise_id: str, now: datetime, payload: bytes
) -> bytes:
    letter = DeadLetter(
        source=SOURCE,
        reason=reason,
        message=message,
        peer=peer,
        device_id=enterprise_id,
        received_at=now,
        payload=payload,
    )
    return letter.model_dump_json().encode()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _body(model: type[ReadingsRequest] | type[StatisticsRequest]) -> dict[str, Any]:
    """The request body of an endpoint that reads its body itself, as OpenAPI."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # added to the document's components by _openapi
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document plus the request models' definitions under components/schemas."""
    from fastapi.openapi.utils import get_openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (ReadingsRequest, StatisticsRequest):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    return build


class KafkaRecordSink:
    """``RecordSink`` over the gateway's ``KafkaPublisher`` (acks=all, idempotent)."""

    def __init__(self, publisher: Any) -> None:
        self._publisher = publisher

    async def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for topic, key, value in records:
            future: asyncio.Future[None] = loop.create_future()
            self._publisher.send(topic, key, value, _completer(future))
            futures.append(future)
        await asyncio.gather(*futures)


def _completer(future: asyncio.Future[None]) -> Callable[[BaseException | None], None]:
    def done(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    return done
