"""Settings of the whole platform, read once by the entry point and passed down.

Every field can be set by an environment variable with the prefix ``GREENWATCH_``
(e.g. ``GREENWATCH_KAFKA_BOOTSTRAP=broker:9092``) or a ``.env`` file in the working directory.
Unset service addresses mean "the local stack started by ``greenwatch stack up``".
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr, field_validator
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
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] | None = (
        Field(
            default=None,
            description="Kafka security protocol; None = SASL_PLAINTEXT with the local stack's "
            "per-service credentials (STATE_DIR/secrets/kafka-*.password) on the local broker, "
            "SASL_PLAINTEXT (SASL_SSL with a CA file) when a username is set, else PLAINTEXT.",
        )
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism used with kafka_username."
    )
    kafka_username: str | None = Field(
        default=None,
        description="Kafka SASL principal of every client of this process; None = each "
        "service's own local-stack principal (gateway, worker, alerts, registry, ...).",
    )
    kafka_password: SecretStr | None = Field(default=None, description="Its SASL password.")
    kafka_ca_file: Path | None = Field(
        default=None, description="CA bundle (PEM) that signed the brokers' TLS certificates."
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL DSN; None = the local stack's cluster."
    )
    database_schema: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="Schema every connection uses first (search_path <schema>, public; e.g. a "
        "demo run's demo_<time>); None = the server's default.",
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
    device_key: SecretStr | None = Field(
        default=None,
        description="Key of the device password digests (HMAC-SHA256); None = the local "
        "stack's, generated into STATE_DIR/secrets/device.key on first use.",
    )
    registry_key: SecretStr | None = Field(
        default=None,
        description="Key of the registry records' MAC (HMAC-SHA256): `db load-registry` signs, "
        "gateway, workers and alert service verify; None = the local stack's, generated into "
        "STATE_DIR/secrets/registry.key on first use.",
    )
    compress_after_days: int = Field(
        default=30, ge=1, description="TimescaleDB: compress measurements older than this."
    )
    raw_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="TimescaleDB: drop raw measurements older than this; None keeps them "
        "(the default: auditors need the history).",
    )

    raw_topic_retention_days: int = Field(
        default=7,
        ge=-1,
        description="Kafka: how long the raw topics (raw.hj212, raw.energy: the immutable "
        "record as received) keep their records, in days; -1 keeps them forever. Applied by "
        "`stack up` / `stack provision` and `archive retention --apply`; older records "
        "survive only in `greenwatch archive raw` files (docs/operations-archive.md).",
    )

    @field_validator("raw_topic_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 days would delete the raw record at once: use -1 (forever) or >= 1")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a DSN libpq cannot parse, without repeating it (it may hold a password)."""
        if value is not None:
            try:
                conninfo_to_dict(value.get_secret_value())
            except psycopg.ProgrammingError:
                raise ValueError(
                    "not a PostgreSQL connection string: expected a URL"
                    " postgresql://user:password@host:port/dbname or key=value pairs"
                ) from None
        return value


def load_settings() -> Settings:
    """Read settings from the environment (and ``.env``). Called once, by the CLI root."""
    return Settings()


def kafka_servers(settings: Settings) -> str:
    """Bootstrap servers to use: the explicit setting, else the local stack's broker."""
    return settings.kafka_bootstrap or f"127.0.0.1:{settings.kafka_port}"


def device_key(settings: Settings) -> bytes:
    """The platform's device key: the setting, else the local stack's key file
    ``<state_dir>/secrets/device.key`` (see ``local_secret``)."""
    if settings.device_key is not None:
        return settings.device_key.get_secret_value().encode()
    return local_secret(settings, "device.key")


def registry_key(settings: Settings) -> bytes:
    """The key of the registry records' MAC: the setting, else the local stack's key file
    ``<state_dir>/secrets/registry.key`` (see ``local_secret``)."""
    if settings.registry_key is not None:
        return settings.registry_key.get_secret_value().encode()
    return local_secret(settings, "registry.key")


def read_local_secret(settings: Settings, name: str) -> str | None:
    """The local stack's secret ``<state_dir>/secrets/<name>`` if ``stack up`` made it, else
    None (never creates it: a secret the service at the other end does not know is useless)."""
    path = settings.state_dir / "secrets" / name
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        return None


def local_secret(settings: Settings, name: str) -> bytes:
    """The local stack's secret ``<state_dir>/secrets/<name>``, created on first use: 32
    random bytes as hex, mode 0600, directory 0700. Raises OSError when the file cannot be
    read or made."""
    path = settings.state_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:  # whole file or none: a concurrent first use keeps the first secret made
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text("ascii").strip().encode()


class DbLogin(StrEnum):
    """The local stack's PostgreSQL login roles: the owner (migrations only) and the service
    roles of ``deploy/grants.yaml`` (its ``login`` values; tests/unit/test_db_logins.py keeps
    the two in step). Each entry point connects as its own role when no
    GREENWATCH_DATABASE_URL is given."""

    OWNER = "greenwatch"
    WORKER = "gw_worker"
    ENERGY_WORKER = "gw_energy_worker"
    ALERTS = "gw_alerts"
    REGISTRY = "gw_registry"
    READER = "gw_reader"
    PLAN = "gw_plan"
    API = "gw_api"


def database_dsn(settings: Settings, login: str = DbLogin.OWNER) -> str:
    """PostgreSQL DSN to use: the explicit setting, else the local stack's cluster as
    ``login`` (the owner ``greenwatch`` by default; a service role of deploy/grants.yaml,
    e.g. ``gw_reader``), with its password generated by ``stack up`` into
    ``<state_dir>/secrets/postgres-<login>.password`` (made on first use: see
    ``local_secret``); with ``database_schema``, its ``search_path`` first (libpq
    ``options``, replacing any of the DSN's own)."""
    if settings.database_url is not None:
        dsn = settings.database_url.get_secret_value()
    else:
        password = local_secret(settings, f"postgres-{login}.password").decode("ascii")
        dsn = f"postgresql://{login}:{password}@127.0.0.1:{settings.postgres_port}/greenwatch"
    if settings.database_schema is None:
        return dsn
    return make_conninfo(dsn, options=f"-c search_path={settings.database_schema},public")
