"""Settings of the whole platform, read once by the entry point and passed down.

Every field can be set by an environment variable with the prefix ``GREENWATCH_``
(e.g. ``GREENWATCH_KAFKA_BOOTSTRAP=broker:9092``) or a ``.env`` file in the working directory.
Unset service addresses mean "the local stack started by ``greenwatch stack up``".
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Frozen platform settings (pydantic-settings, prefix ``GREENWATCH_``)."""

    model_config = SettingsConfigDict(
        env_prefix="GREENWATCH_", env_file=".env", extra="ignore", frozen=True
    )

    state_dir: Path = Field(
        default=Path(".greenwatch"),
        description="Directory holding the local stack's data, logs and pid files.",
    )
    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers; None = the local stack's broker."
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL DSN; None = the local stack's cluster."
    )
    kafka_port: int = Field(default=19092, description="Local stack: Kafka client port.")
    kafka_controller_port: int = Field(
        default=19093, description="Local stack: KRaft controller port."
    )
    postgres_port: int = Field(default=15432, description="Local stack: PostgreSQL port.")
    topic_prefix: str = Field(
        default="gw", description="Prefix of every Kafka topic name (see schemas.topics)."
    )
    registry_file: Path | None = Field(
        default=None, description="Registry YAML used by gateway, workers and alerts."
    )
    energy_key_secret: SecretStr | None = Field(
        default=None,
        description="Server-side secret of the energy API's keyed key digests (HMAC-SHA256); "
        "required by `greenwatch gateway energy` and `gateway energy-key`.",
    )


def load_settings() -> Settings:
    """Read settings from the environment (and ``.env``). Called once, by the CLI root."""
    return Settings()


def kafka_servers(settings: Settings) -> str:
    """Bootstrap servers to use: the explicit setting, else the local stack's broker."""
    return settings.kafka_bootstrap or f"127.0.0.1:{settings.kafka_port}"


def database_dsn(settings: Settings) -> str:
    """PostgreSQL DSN to use: the explicit setting, else the local stack's cluster."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return f"postgresql://greenwatch:greenwatch@127.0.0.1:{settings.postgres_port}/greenwatch"
