"""``greenwatch stack ...``: start, stop and probe the local Kafka + PostgreSQL stack."""

from __future__ import annotations

import json

import typer

from deploy import stack
from deploy.stack_errors import StackError
from runtime.settings import DbLogin, Settings, database_dsn

stack_app = typer.Typer(
    help="The local stack: one Kafka broker (KRaft) and one PostgreSQL cluster under the "
    "state directory (GREENWATCH_STATE_DIR, default .greenwatch). Services set explicitly "
    "(GREENWATCH_KAFKA_BOOTSTRAP, GREENWATCH_DATABASE_URL) are external and never started.",
    no_args_is_help=True,
)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):  # called without the root callback (tests)
        settings = Settings()
        ctx.obj = settings
    return settings


def _say(message: str) -> None:
    typer.echo(message, err=True)


@stack_app.command()
def up(
    ctx: typer.Context,
    timeout: float = typer.Option(90.0, help="Seconds to wait for Kafka to answer."),
) -> None:
    """Start Kafka and PostgreSQL if they are not running; wait until both answer.

    Reuses running services. Prints the bootstrap servers and the DSN. Exit code 1 with the
    log file to read when a service fails to start.
    """
    settings = _settings(ctx)
    try:
        result = stack.up(settings, notify=_say, timeout_s=timeout)
    except StackError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(1) from exc
    _print_addresses(settings, result.status)
    if not result.status.all_up:
        _say("error: not every service answers; see `greenwatch stack status`")
        raise typer.Exit(1)


@stack_app.command()
def provision(
    ctx: typer.Context,
    prefix: str = typer.Option(
        None, help="Topic prefix to provision (default: GREENWATCH_TOPIC_PREFIX)."
    ),
) -> None:
    """Create the topics of a prefix on the local broker and grant each service principal its
    ACLs there (runtime.kafka_acls; `stack up` does it for the configured prefix). Run it before
    starting services with another GREENWATCH_TOPIC_PREFIX. Returns once the broker shows every
    ACL (services may write at once). Exit 1 when the broker refuses or the ACLs do not show
    within 30 s."""
    from kafka.errors import KafkaError

    from deploy.kafka_provision import provision as provision_prefix

    settings = _settings(ctx)
    chosen = settings.topic_prefix if prefix is None else prefix
    if settings.kafka_bootstrap is not None:
        _say("error: only the local broker is provisioned here (GREENWATCH_KAFKA_BOOTSTRAP set)")
        raise typer.Exit(2)
    try:
        created = provision_prefix(settings, chosen, users=False)
    except KafkaError as exc:
        _say(f"error: {exc}; is the stack up?")
        raise typer.Exit(1) from exc
    _say(f"kafka: topics and ACLs for {chosen}.* in place ({len(created)} topics created)")


@stack_app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local Kafka and PostgreSQL (SIGTERM / pg_ctl stop -m fast). Idempotent."""
    settings = _settings(ctx)
    try:
        stopped = stack.down(settings, notify=_say)
    except StackError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(1) from exc
    _say("stopped: " + (", ".join(sorted(stopped)) if stopped else "nothing was running"))


@stack_app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Probe Kafka (metadata request) and PostgreSQL (SELECT 1).

    Exit code 0 when both answer, 1 otherwise. --json prints
    {"kafka": {"bootstrap", "up"}, "postgres": {"dsn", "up", "timescaledb",
    "timescaledb_version"}} (timescaledb: installed and preloaded; version null when not).
    """
    result = stack.status(_settings(ctx))
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    else:
        _print_status(result)
    if not result.all_up:
        raise typer.Exit(1)


def _print_addresses(settings: Settings, result: stack.StackStatus) -> None:
    """The bootstrap servers; for the local PostgreSQL no password-bearing owner DSN (a shell
    that exported it would make every service the owner): where the per-role passwords are,
    and the read-only role's DSN (Grafana, psql)."""
    typer.echo(f"GREENWATCH_KAFKA_BOOTSTRAP={result.kafka.bootstrap}")
    if not result.postgres.local:
        typer.echo(f"GREENWATCH_DATABASE_URL={result.as_json()['postgres']['dsn']}")
        return
    secrets = (settings.state_dir / "secrets").resolve()
    typer.echo(
        f"# PostgreSQL 127.0.0.1:{settings.postgres_port}: leave GREENWATCH_DATABASE_URL unset,"
        f" each command logs in as its own role (passwords: {secrets}/postgres-<role>.password)"
    )
    typer.echo(f"# read-only (Grafana, psql): {database_dsn(settings, DbLogin.READER)}")


def _print_status(result: stack.StackStatus) -> None:
    def word(up: bool) -> str:
        return "up" if up else "DOWN"

    def where(local: bool, pid: int | None) -> str:
        if not local:
            return "external"
        return f"local, pid {pid}" if pid is not None else "local, not running"

    where_k = where(result.kafka.local, result.kafka.pid)
    where_p = where(result.postgres.local, result.postgres.pid)
    typer.echo(f"kafka     {word(result.kafka.up):4}  {result.kafka.bootstrap}  ({where_k})")
    typer.echo(
        f"postgres  {word(result.postgres.up):4}  {result.as_json()['postgres']['dsn']}  "
        f"({where_p}; timescaledb {result.postgres.timescaledb or 'no'})"
    )
