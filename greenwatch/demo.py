"""``greenwatch demo``: the whole platform on the local stack, with a simulated province.

Composition only: it starts the stack, migrates, has the simulator write the registry of the
province it invents, loads it (database, then the registry topic the gateway, the worker and
the alert service follow), starts local notification receivers (SMTP + webhook), then runs the
gateway, a stream worker and the alert service as separate processes (as in production: they
share nothing but Kafka and PostgreSQL) and finally the simulator, which speaks HJ 212 over TCP to
the gateway faster than real time. Every few seconds it prints a summary read from the
gateway's metrics and the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TextIO

import typer

from deploy import kafka_provision, stack
from deploy.migrate import migrate
from deploy.timescaledb import Policies
from greenwatch import demo_namespace
from greenwatch.demo_plan import plan_summary, post_statistics
from greenwatch.demo_sinks import LocalSinks, free_port
from greenwatch.demo_summary import DemoSummary, read_summary
from ingest.hj212 import CHINA_TZ
from ingest.simulator.energy import EPISODES as ENERGY_EPISODES
from ingest.simulator.energy import load_energy_plan, with_energy
from ingest.simulator.plan import load_sim_plan, statistic_posts, with_plan
from runtime.db_connect import connect_or_exit
from runtime.kafka_access import local_broker
from runtime.registry_store import store_registry
from runtime.registry_topic import publish_as_publisher
from runtime.settings import DbLogin, Settings, database_dsn, kafka_servers
from schemas.registry import Registry, dump_registry, load_registry

DEMO_EPISODES = ";".join(
    (
        "exceedance@SIMTP001G1+6h/5h:a21026x3",  # sustained SO2 exceedance → restrict (Art. 5)
        "exceedance@SIMPC001W1+10h/2h:w20120x14",  # lead ≥ 3× limit → suspend (Art. 6(2))
        "exceedance@SIMWW001W1+14h/4h:w01018x2",  # sewage plant: Art. 7, never suspended
        # E-CM-001 evades (issue 13): SO2 laundered as a 2 h calibration nobody declared
        # (undeclared_flag: regulator told) while NOx exceeds (Art. 6(1): exceeding while
        # evading), and an SO2 exceedance rewritten by re-sent lower minutes (revised_down).
        "calibration@SIMCM001K1+3h/4h:a21026",
        "exceedance@SIMCM001K1+4h/2h:a21002x2",
        "rewrite@SIMCM001K1+12h/3h:a21026x6",
        "maintenance@SIMAL001P1+20h/90m",
        "flatline@SIMCC001F1+12h/1h",
        "outage@SIMFA001F1+16h/2h",
        "comm_loss@SIMCC001F1+20h/90m",  # link down, data re-sent on reconnect (补发): revisions
        "corrupt@SIMTP001G2+2h/30m:0.3",
        "bad_password@SIMAL001P2+4h/1h",
        "reconnect_storm@SIMCM001K1+8h/10m",
    )
)
"""The demo's scripted episodes (``greenwatch simulate --episodes``, docs/simulator.md),
chosen to walk every rung of the ladder for the seed-7 province."""
DEMO_ENERGY_SECRET = "demo-energy-key-secret"
"""The energy API's key secret in the demo (GREENWATCH_ENERGY_KEY_SECRET); demo keys are
derivable (``ingest.simulator.energy.sim_key``): never use either outside the demo."""


@dataclass
class Component:
    """One platform process the demo runs: a ``greenwatch`` sub-command with a log file."""

    name: str
    args: list[str]
    log: Path
    unset: tuple[str, ...] = ()
    """Environment variables this component must not see."""
    process: subprocess.Popen[bytes] | None = None
    _log_handle: TextIO | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "greenwatch", *self.args],
            env={name: value for name, value in env.items() if name not in self.unset},
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (SIGINT for faust, which drains on it), then SIGKILL after ``timeout_s``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.name == "worker" else signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


def _echo(message: str) -> None:
    """Print a line now (also when stdout is a file or a pipe: the demo is watched live)."""
    typer.echo(message)
    sys.stdout.flush()


def _prepare_database(settings: Settings, registry: Registry) -> None:
    """Migrate, then load the registry as ``greenwatch db load-registry`` does: store it, then
    publish it to the registry topic the gateway follows."""
    with demo_namespace.owner_connection(settings, "migrate") as conn:
        report = migrate(conn, policies=Policies.from_settings(settings))
    with connect_or_exit(settings, DbLogin.REGISTRY, "demo load-registry") as conn:
        store_registry(conn, registry)  # as `db load-registry` does: the loader's role
    _echo(f"database: {report.flavor}, migrations applied {len(report.applied)}")
    record = publish_as_publisher(settings, registry)
    _echo(f"registry {registry.version} published to {record.topic} (offset {record.offset})")


def _run_simulator_registry(registry_file: Path, options: list[str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "greenwatch",
            "simulate",
            *options,
            "--registry-out",
            str(registry_file),
            "--write-registry-only",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise typer.BadParameter(f"simulator could not write the registry:\n{result.stderr}")


def _subscribe_all(registry: Registry, sinks: LocalSinks, env: dict[str, str]) -> None:
    """Each enterprise gets e-mail and a webhook robot; the regulator a webhook for all it is
    told (``ladder.regulator_is_told``: exceedance and above, persistent data quality, and
    downward revisions, which are data-quality alerts escalated at once)."""
    for enterprise in registry.enterprises:
        subscriptions = (
            ["--channel", sinks.mail_url(f"{enterprise.id.lower()}@enterprise.demo")],
            ["--channel", sinks.webhook_url(f"robot/{enterprise.id}")],
            [
                "--channel",
                sinks.webhook_url(f"regulator/{enterprise.region_code}"),
                "--audience",
                "regulator",
                "--level",
                "data_quality",
            ],
        )
        for options in subscriptions:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "greenwatch",
                    "alerts",
                    "subscribe",
                    enterprise.id,
                    *options,
                    "--by",
                    "demo",
                ],
                env=env,
                check=False,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise typer.BadParameter(f"alerts subscribe failed:\n{result.stderr}")


@dataclass
class _Platform:
    """The running demo: its processes, receivers and the latest reading."""

    settings: Settings
    components: list[Component]
    sinks: LocalSinks
    metrics_url: str
    last: DemoSummary | None = None

    def read(self) -> DemoSummary:
        reader = database_dsn(self.settings, DbLogin.READER)  # the summary only reads
        summary = read_summary(reader, self.metrics_url, self.sinks)
        if not summary.gateway and self.last is not None:  # gateway gone: keep its last count
            summary.gateway, summary.rejects = self.last.gateway, self.last.rejects
        return summary

    def watch(self, deadline: float | None) -> None:
        """Print a summary every 10 s until ``deadline`` (None: until Ctrl-C) or a crash."""
        next_report = time.monotonic() + 5
        finished: set[str] = set()
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            for component in self.components:
                code = component.exited()
                if code is None:
                    continue
                if not component.name.endswith("simulator"):
                    _echo(f"{component.name} exited with {code}; see {component.log}")
                    return
                if component.name not in finished:
                    finished.add(component.name)
                    _echo(f"{component.name} finished (exit {code}); the platform keeps running")
            if time.monotonic() >= next_report:
                summary = self.read()
                if self.last is None or summary.state() != self.last.state():
                    _echo(summary.render(self.last))  # quiet while nothing changes
                self.last = summary
                next_report = time.monotonic() + 10

    def stop(self) -> DemoSummary:
        """Stop the processes (simulator first, worker drains), then read the final state."""
        final_gateway = self.read()
        for component in reversed(self.components):
            component.stop()
        final = self.read()
        final.gateway, final.rejects = final_gateway.gateway, final_gateway.rejects
        self.sinks.stop()
        return final


def simulated_span(now: datetime, hours: int | None) -> tuple[datetime, int]:
    """Start and length (h) of the simulated period: it ends at the last full hour before
    ``now``, so that no frame is from the future (the stream engine never lets future data
    close a window), and by default starts yesterday 00:00 China time."""
    end = now.astimezone(CHINA_TZ).replace(minute=0, second=0, microsecond=0)
    if hours is None:
        start = end.replace(hour=0) - timedelta(days=1)
        return start, int((end - start) / timedelta(hours=1))
    return end - timedelta(hours=hours), hours


def _start_platform(
    settings: Settings,
    workdir: Path,
    sim_options: list[str],
    hours: int,
    episodes: str,
    start: datetime,
) -> _Platform:
    registry_file = workdir / "registry.yaml"
    _run_simulator_registry(registry_file, sim_options)
    registry = with_energy(
        load_registry(registry_file), start, DEMO_ENERGY_SECRET, load_energy_plan()
    )
    registry = with_plan(registry, load_sim_plan(), DEMO_ENERGY_SECRET)
    energy_file = workdir / "registry-energy.yaml"
    energy_file.write_text(dump_registry(registry), "utf-8")
    _echo(f"energy: {ENERGY_EPISODES}")
    _prepare_database(settings, registry)
    env = _environment(settings, registry_file)
    env["GREENWATCH_ENERGY_KEY_SECRET"] = DEMO_ENERGY_SECRET
    sinks = LocalSinks(printer=_echo)
    sinks.start()
    _subscribe_all(registry, sinks, env)
    gateway_port, metrics_port = free_port(), free_port()
    run_options = [*sim_options, "--hours", str(hours), "--episodes", episodes]
    components = _components(workdir, gateway_port, metrics_port, run_options)
    energy_port = free_port()
    components[-1:-1] = _energy_components(workdir, energy_file, run_options, energy_port)
    platform = _Platform(settings, components, sinks, f"http://127.0.0.1:{metrics_port}/metrics")
    for component in components:
        component.start(env)
        _echo(f"started {component.name} (log: {component.log})")
        if not component.name.endswith("simulator"):
            time.sleep(2)  # let it join Kafka before data flows; nothing depends on it
    posts = statistic_posts(registry, load_sim_plan(), start.date())
    post_statistics(f"http://127.0.0.1:{energy_port}", posts, _echo)
    return platform


def demo_command(
    ctx: typer.Context,
    seconds: Annotated[
        int | None,
        typer.Option(envvar="DEMO_SECONDS", help="Stop after N seconds (default: until Ctrl-C)."),
    ] = None,
    enterprises: Annotated[int, typer.Option(help="Enterprises the simulator invents.")] = 7,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1800.0,
    hours: Annotated[
        int | None,
        typer.Option(
            help="Simulated hours, ending at the last full hour"
            " (default: from yesterday 00:00 China time, so a whole day closes)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed (deterministic province).")] = 7,
    episodes: Annotated[
        str,
        typer.Option(help="Simulator episodes: the demo's script, auto, none or a spec."),
    ] = DEMO_EPISODES,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh/--in-place",
            help="--fresh (default): this run writes to a schema and topic prefix of its own"
            " (demo_<time>, <prefix>.demo<time>), so a second run never replays into the"
            " first one's data; --in-place: the configured database and topic prefix.",
        ),
    ] = True,
    keep: Annotated[
        int,
        typer.Option(
            min=1,
            help="With --fresh: demo runs kept (schema and topics); older"
            " ones are dropped at start.",
        ),
    ] = 3,
) -> None:
    """Run the platform on the local stack with a simulated province, printing a live summary.

    Starts the stack, migrates, loads the simulator's registry, subscribes every enterprise
    (e-mail + webhook robot) and its regulator (webhook) to local receivers, then runs the
    gateway, a worker, the alert service and the simulator as separate processes. Logs are in
    STATE_DIR/demo/logs. Stops after --seconds (or DEMO_SECONDS) or on Ctrl-C, then prints a
    final summary. Each run writes to its own schema and topic prefix unless --in-place.
    """
    configured: Settings = ctx.obj
    workdir = configured.state_dir / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    _echo("starting the local stack (Kafka, PostgreSQL)…")
    stack.up(configured, notify=_echo)
    settings, namespace = configured, None
    if fresh:
        demo_namespace.prune(configured, keep - 1, _echo)
        namespace = demo_namespace.create(configured, datetime.now(CHINA_TZ))
        settings = namespace.settings
        _echo(f"this run: schema {namespace.schema}, topics {namespace.prefix}.*")
    if local_broker(settings) and settings.kafka_username is None:
        kafka_provision.provision(settings, settings.topic_prefix, users=False)
        _echo(f"kafka: ACLs on {settings.topic_prefix}.* (each service logs in as its principal)")
    start, span = simulated_span(datetime.now(CHINA_TZ), hours)
    _echo(f"simulating {span} h from {start.isoformat()} at {speed:g}× real time")
    sim_options = ["--enterprises", str(enterprises), "--seed", str(seed), "--speed", str(speed)]
    sim_options += ["--start", start.isoformat()]
    platform = _start_platform(settings, workdir, sim_options, span, episodes, start)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        platform.watch(deadline)
    except KeyboardInterrupt:
        _echo("interrupted: stopping")
    final = platform.stop()
    _echo("\nfinal summary")
    _echo(final.render(None))
    _echo(final.render_alerts())
    _echo("\nplan progress (issue 10)")
    plan_summary(settings, workdir, datetime.now(CHINA_TZ), _echo)
    if namespace is not None:
        _echo(f"\nlook further: {namespace.environment()} greenwatch alerts list")


def _environment(settings: Settings, registry_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GREENWATCH_KAFKA_BOOTSTRAP"] = kafka_servers(settings)
    env.pop("GREENWATCH_DATABASE_URL", None)  # each component logs in as its own role
    if settings.database_url is not None:  # unless the operator gave one DSN for all
        env["GREENWATCH_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.database_schema is not None:
        env["GREENWATCH_DATABASE_SCHEMA"] = settings.database_schema
    env["GREENWATCH_TOPIC_PREFIX"] = settings.topic_prefix
    env["GREENWATCH_REGISTRY_FILE"] = str(registry_file.resolve())
    env["GREENWATCH_STATE_DIR"] = str(settings.state_dir.resolve())
    return env


def _components(
    workdir: Path, gateway_port: int, metrics_port: int, sim_options: list[str]
) -> list[Component]:
    logs = workdir / "logs"
    return [
        Component(
            "gateway",
            [
                *("gateway", "hj212", "--host", "127.0.0.1"),
                *("--port", str(gateway_port), "--metrics-port", str(metrics_port)),
            ],
            logs / "gateway.log",
            unset=("GREENWATCH_REGISTRY_FILE",),  # it follows the registry topic instead
        ),
        Component(
            "worker",
            ["worker"],
            logs / "worker.log",
            unset=("GREENWATCH_REGISTRY_FILE",),  # it follows the registry topic too
        ),
        Component(
            "alerts",
            ["alerts", "run"],
            logs / "alerts.log",
            unset=("GREENWATCH_REGISTRY_FILE",),  # it follows the registry topic too
        ),
        Component(
            "simulator",
            [
                "simulate",
                *sim_options,
                "--gateway",
                f"127.0.0.1:{gateway_port}",
                "--registry-out",
                str(workdir / "registry.yaml"),
            ],
            logs / "simulator.log",
        ),
    ]


def _energy_components(
    workdir: Path, registry_file: Path, run_options: list[str], port: int
) -> list[Component]:
    """The energy API (on ``port``), the energy worker and the simulated energy management
    systems (the last starts with the HJ 212 simulator, on the same simulated clock)."""
    logs = workdir / "logs"
    options = dict(zip(run_options[::2], run_options[1::2], strict=False))
    return [
        Component(
            "energy-api",
            ["gateway", "energy", "--registry", str(registry_file), "--port", str(port)],
            logs / "energy-api.log",
        ),
        Component(
            "energy-worker",
            ["energy-worker", "--registry", str(registry_file)],
            logs / "energy-worker.log",
        ),
        Component(
            "energy-simulator",
            [
                *("simulate-energy", "--api", f"http://127.0.0.1:{port}"),
                *("--registry", str(registry_file), "--start", options["--start"]),
                *("--hours", options["--hours"], "--speed", options["--speed"]),
            ],
            logs / "energy-simulator.log",
        ),
    ]
