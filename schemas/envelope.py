"""Wire models of raw input: what gateways put on the ``raw.*`` topics and the dead letters.

The raw topics are the immutable, replayable record: the payload is kept byte for byte
(URL-safe base64 (RFC 4648 §5) in JSON) together with who sent it and when it arrived.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Protocol(StrEnum):
    """Protocols Greenwatch ingests."""

    HJ212 = "hj212"
    """HJ 212-2017 (and HJ/T 212-2005) frames over TCP."""
    ENERGY_JSON = "energy-json"
    """JSON readings posted by energy management systems."""


class RawEnvelope(BaseModel):
    """One received unit of input (one HJ 212 frame, one JSON document), as received."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: int = SCHEMA_VERSION
    protocol: Protocol
    device_id: str = Field(description="Device id: the HJ 212 MN, or the meter id.")
    peer: str = Field(description="Remote address 'host:port' the bytes came from.")
    received_at: AwareDatetime = Field(description="When the gateway received the bytes.")
    payload: bytes = Field(
        description="The bytes as received (one frame); URL-safe base64 (RFC 4648 §5) in JSON."
    )


class KafkaPosition(BaseModel):
    """Where a record was read from Kafka: the natural key of the dead letter it became."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class DeadLetter(BaseModel):
    """Input that could not be processed, with the original bytes and the reason."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: int = SCHEMA_VERSION
    source: str = Field(description="Component that rejected it, e.g. 'gateway.hj212'.")
    reason: str = Field(description="Stable reason code, e.g. 'bad_crc'.")
    message: str = Field(description="Human-readable explanation.")
    peer: str | None = None
    device_id: str | None = None
    received_at: datetime
    payload: bytes = Field(description="The original bytes; URL-safe base64 (RFC 4648 §5) in JSON.")
    position: KafkaPosition | None = Field(
        default=None,
        description="Where the rejected input was read from Kafka (a worker's raw record, an"
        " alert service's verdict): its key in dead_letters, so a letter written again after"
        " a replay or a restart is stored once. None for input that never was a Kafka record"
        " (a gateway's frame): stored under its own position on the dead-letter topic.",
    )
