"""The local stack's PostgreSQL: Debian's server binaries on their own port and data directory.

Layout under ``<state_dir>/postgres`` (owned by the ``postgres`` user when we run as root,
because the server refuses to run as root)::

    data/               the cluster (initdb once); data/greenwatch.conf holds our tuning
    run/                unix socket directory
    postgres.log        server log (pg_ctl -l)

Roles: bootstrap superuser ``postgres`` (trust over the unix socket only); owner role
``greenwatch`` (scram over TCP on 127.0.0.1), owner of database ``greenwatch``, with CREATEDB
and CREATEROLE (the audit API's NOLOGIN roles, migration 009); the service roles of
``deploy/grants.yaml`` (``gw_worker``, ``gw_reader``, …). Their passwords come from the caller
(``deploy.db_roles.local_db_passwords``: generated into the state dir) and are set at every start.

TimescaleDB: when the server's ``share/extension`` has it (``make install`` builds or installs
it), every start preloads it (``shared_preload_libraries``, telemetry off) unless the layout
says ``timescaledb=False``. A cluster made by an earlier plain ``stack up`` is upgraded in place
at its next start, with a message; its schemas keep the flavor they were migrated under. A
cluster already running without the preload is left running and the message says how to
restart it. Never required: without the extension the cluster is plain PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from deploy import processes, timescaledb
from deploy.db_roles import ensure_roles
from deploy.processes import Notify
from deploy.stack_errors import MissingDependency, PortInUse, ServiceStartFailed, ServiceStopFailed

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
SERVICE_USER = "postgres"  # used when we run as root
SUPERUSER = "postgres"
PROBE = "greenwatch stack probe"
"""``application_name`` of the stack's health and TimescaleDB probes (``stack up|status``)."""
APP_ROLE = "greenwatch"
APP_DATABASE = "greenwatch"

#: Tuning for a small (2-core, a few GB) development machine. Durability stays on.
TUNING = {
    "shared_buffers": "256MB",
    "effective_cache_size": "1GB",
    "work_mem": "8MB",
    "maintenance_work_mem": "128MB",
    "max_connections": "100",
    "max_worker_processes": "8",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "wal_buffers": "16MB",
    "max_wal_size": "1GB",
    "checkpoint_completion_target": "0.9",
    "random_page_cost": "1.1",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "log_min_duration_statement": "1000",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


@dataclass(frozen=True, slots=True)
class PostgresLayout:
    """Paths and port of the local cluster, derived from the settings."""

    home: Path
    port: int
    timescaledb: bool = True  # preload TimescaleDB when the server has it

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def pid_file(self) -> Path:
        return self.data / "postmaster.pid"


def owner_dsn(pg: PostgresLayout, password: str) -> str:
    """The owner role's DSN on ``pg`` (TCP, 127.0.0.1), with ``password``."""
    return f"postgresql://{APP_ROLE}:{password}@127.0.0.1:{pg.port}/{APP_DATABASE}"


def layout(state_dir: Path, port: int, timescaledb: bool = True) -> PostgresLayout:
    """The cluster's layout under ``state_dir`` (made absolute)."""
    return PostgresLayout(state_dir.resolve() / "postgres", port, timescaledb)


def timescaledb_installed(bindir: Path) -> str | None:
    """Version of the TimescaleDB extension installed for the server in ``bindir``, or None.

    Reads ``<sharedir>/extension/timescaledb.control`` (sharedir from ``pg_config``, else
    Debian's ``/usr/share/postgresql/<major>``) and checks its library is in ``<pkglibdir>``.
    """
    share, lib = _server_dirs(bindir)
    control = share / "extension" / "timescaledb.control"
    if not control.exists():
        return None
    match = re.search(r"^default_version\s*=\s*'([^']+)'", control.read_text(), re.MULTILINE)
    if match is None or not (lib / f"timescaledb-{match.group(1)}.so").exists():
        return None
    return match.group(1)


def _server_dirs(bindir: Path) -> tuple[Path, Path]:
    """(sharedir, pkglibdir) of the server in ``bindir``."""
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        found = subprocess.run(
            [str(pg_config), "--sharedir", "--pkglibdir"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.split()
        if len(found) == 2:
            return Path(found[0]), Path(found[1])
    major = bindir.parent.name
    return Path(f"/usr/share/postgresql/{major}"), bindir.parent / "lib"


def bin_dir() -> Path:
    """Directory of the newest installed server binaries (Debian: /usr/lib/postgresql/N/bin).

    Raises ``MissingDependency`` when no server is installed.
    """
    override = os.environ.get("GREENWATCH_PG_BINDIR")
    if override:
        return Path(override)
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    if candidates:
        return max(candidates, key=lambda p: _version_key(p.parent.name))
    found = shutil.which("pg_ctl")
    if found is not None and (Path(found).parent / "postgres").exists():
        return Path(found).parent
    raise MissingDependency(
        "the PostgreSQL server", "run `make install` (apt-get install postgresql)"
    )


def running_pid(pg: PostgresLayout) -> int | None:
    """Pid of our postmaster if it runs (read from ``postmaster.pid``), else None."""
    pid = processes.read_pid(pg.pid_file)
    if pid is not None and processes.is_running(pid, "postgres", str(pg.data)):
        return pid
    return None


def clean_stale_pid(pg: PostgresLayout, notify: Notify) -> None:
    """Delete a ``postmaster.pid`` left by a crash or reboot, telling ``notify``."""
    if pg.pid_file.exists() and running_pid(pg) is None:
        pid = processes.read_pid(pg.pid_file)
        notify(f"postgres: removing stale pid file {pg.pid_file} (process {pid} is not running)")
        pg.pid_file.unlink(missing_ok=True)


def start(pg: PostgresLayout, notify: Notify, passwords: Mapping[str, str]) -> int:
    """Init (once), start and bootstrap the cluster unless it runs; return the postmaster pid.
    ``passwords``: login role → password, ``APP_ROLE`` (the owner) among them; set every time.

    Blocks until the server accepts connections and the roles and database exist.
    Raises ``MissingDependency``, ``PortInUse``, ``ServiceStartFailed``.
    """
    clean_stale_pid(pg, notify)
    pid = running_pid(pg)
    bindir = bin_dir()
    ts_version = timescaledb_installed(bindir) if pg.timescaledb else None
    if pid is not None:
        notify(f"postgres: already running (pid {pid}) on 127.0.0.1:{pg.port}")
        _bootstrap_roles(pg, passwords)  # idempotent; a cluster from before gets today's roles
        if ts_version is not None and not _preloads_timescaledb(pg):
            notify(
                f"postgres: started before TimescaleDB {ts_version} was installed, so it runs "
                "plain PostgreSQL; `greenwatch stack down && greenwatch stack up` restarts it "
                "with TimescaleDB"
            )
        return pid
    if processes.port_in_use(pg.port):
        raise PortInUse("postgres", pg.port, "GREENWATCH_POSTGRES_PORT")
    _prepare_dirs(pg)
    fresh = not (pg.data / "PG_VERSION").exists()
    _initdb(pg, bindir, notify)
    if ts_version is not None and not fresh and not _preloads_timescaledb(pg):
        notify(
            f"postgres: upgrading the existing plain cluster in place to TimescaleDB "
            f"{ts_version} (preloaded from now on; schemas migrated before stay plain, new "
            "ones get TimescaleDB)"
        )
    _write_tuning(pg, ts_version)
    options = f"-p {pg.port} -k {pg.socket_dir} -c listen_addresses=127.0.0.1"
    result = _run_as_service_user(
        [
            str(bindir / "pg_ctl"),
            *("-D", str(pg.data), "-o", options, "-l", str(pg.log_file)),
            *("-w", "-t", str(START_TIMEOUT_S), "start"),
        ],
        cwd=pg.home,
        timeout_s=START_TIMEOUT_S + 10,
    )
    if result.returncode != 0:
        raise ServiceStartFailed(
            "postgres",
            f"pg_ctl start failed: {result.stdout.strip()} {result.stderr.strip()}",
            pg.log_file,
            processes.tail(pg.log_file),
        )
    _bootstrap_roles(pg, passwords)
    pid = running_pid(pg)
    if pid is None:
        raise ServiceStartFailed("postgres", "the server exited after starting", pg.log_file)
    notify(f"postgres: started (pid {pid}), log {pg.log_file}")
    return pid


def stop(pg: PostgresLayout, notify: Notify) -> bool:
    """Stop our cluster (``pg_ctl stop -m fast``). Returns True if it was running.

    Blocks up to ``STOP_TIMEOUT_S``; raises ``ServiceStopFailed`` if it survives.
    """
    clean_stale_pid(pg, notify)
    pid = running_pid(pg)
    if pid is None:
        return False
    notify(f"postgres: stopping (pid {pid})")
    result = _run_as_service_user(
        [
            str(bin_dir() / "pg_ctl"),
            *("-D", str(pg.data), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "stop"),
        ],
        cwd=pg.home,
        timeout_s=STOP_TIMEOUT_S + 10,
    )
    if result.returncode != 0 and running_pid(pg) is not None:
        raise ServiceStopFailed("postgres", pid, pg.log_file)
    return True


def is_healthy(dsn: str, timeout_s: float = 3.0) -> bool:
    """True if ``SELECT 1`` succeeds on ``dsn``. Blocks up to about ``timeout_s``; never raises."""
    try:
        with psycopg.connect(
            dsn, connect_timeout=max(1, int(timeout_s)), application_name=PROBE
        ) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def timescaledb_version(dsn: str) -> str | None:
    """Version of TimescaleDB the server can run (installed and preloaded), else None.

    Never raises (None when the server does not answer).
    """
    try:
        with psycopg.connect(dsn, connect_timeout=3, application_name=PROBE) as conn:
            found = timescaledb.probe(conn)
    except psycopg.Error:
        return None
    return found.available if found.usable else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _service_user() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise MissingDependency(
            f"the '{SERVICE_USER}' system user",
            "run `make install` (the Debian postgresql package creates it)",
        ) from exc


def _run_as_service_user(
    command: list[str], cwd: Path, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    user = _service_user()
    if user is not None:
        command = ["runuser", "-u", user.pw_name, "--", *command]
    return subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
    )


def _prepare_dirs(pg: PostgresLayout) -> None:
    """Create home and socket dirs owned by the service user and check it can reach them."""
    pg.socket_dir.mkdir(parents=True, exist_ok=True)
    user = _service_user()
    if user is None:
        return
    for path in (pg.home, pg.socket_dir, *pg.home.glob("*.log")):
        os.chown(path, user.pw_uid, user.pw_gid)
    pg.home.chmod(0o755)
    probe = _run_as_service_user(["test", "-w", str(pg.home)], cwd=Path("/"), timeout_s=10)
    if probe.returncode != 0:
        raise ServiceStartFailed(
            "postgres",
            f"the '{user.pw_name}' user cannot write {pg.home}; make every parent directory "
            "traversable (chmod o+x) or choose another GREENWATCH_STATE_DIR",
            pg.log_file,
        )


def _initdb(pg: PostgresLayout, bindir: Path, notify: Notify) -> None:
    """Create the cluster once (``PG_VERSION`` marks it done)."""
    if (pg.data / "PG_VERSION").exists():
        return
    if pg.data.exists():  # a half-made cluster from an interrupted initdb: it is ours to redo
        shutil.rmtree(pg.data)
    notify(f"postgres: initdb {pg.data}")
    result = _run_as_service_user(
        [
            str(bindir / "initdb"),
            *("-D", str(pg.data), "-U", SUPERUSER, "-E", "UTF8", "--no-locale"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
        ],
        cwd=pg.home,
        timeout_s=120,
    )
    if result.returncode != 0:
        with pg.log_file.open("a") as log:
            log.write(result.stdout + result.stderr)
        raise ServiceStartFailed(
            "postgres", "initdb failed", pg.log_file, processes.tail(pg.log_file)
        )
    with (pg.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# Greenwatch local stack tuning, rewritten on every start:\n")
        conf.write("include_if_exists = 'greenwatch.conf'\n")


def _preloads_timescaledb(pg: PostgresLayout) -> bool:
    """True if our tuning file (what the cluster was last started with) preloads TimescaleDB."""
    conf = pg.data / "greenwatch.conf"
    return conf.exists() and "shared_preload_libraries = 'timescaledb'" in conf.read_text()


def _write_tuning(pg: PostgresLayout, ts_version: str | None) -> None:
    """Rewrite ``greenwatch.conf``: TUNING, and the TimescaleDB preload when ``ts_version``
    (the installed version) is given; telemetry off (no network, nobody asked for it)."""
    target = pg.data / "greenwatch.conf"
    lines = ["# Written by `greenwatch stack up`; edit deploy/postgres_service.py (TUNING)."]
    lines += [f"{key} = {value}" for key, value in TUNING.items()]
    if ts_version is not None:
        lines += [
            f"# TimescaleDB {ts_version}, installed for this server (make install)",
            "shared_preload_libraries = 'timescaledb'",
            "timescaledb.telemetry_level = off",
        ]
    target.write_text("\n".join(lines) + "\n")
    user = _service_user()
    if user is not None:
        os.chown(target, user.pw_uid, user.pw_gid)


def _bootstrap_roles(pg: PostgresLayout, passwords: Mapping[str, str]) -> None:
    """Create the owner role (CREATEDB), the service roles and the database if missing, and
    set every role's password (idempotent)."""
    admin = psycopg.connect(
        host=str(pg.socket_dir), port=pg.port, user=SUPERUSER, dbname="postgres", autocommit=True
    )
    with contextlib.closing(admin) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(APP_ROLE)))
        # CREATEROLE: migration 009 makes the audit API's NOLOGIN roles (row-level security).
        conn.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(APP_ROLE)))
        ensure_roles(conn, {APP_ROLE: passwords[APP_ROLE]}, create=False)
        ensure_roles(conn, {k: v for k, v in passwords.items() if k != APP_ROLE})
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE])
        if exists.fetchone() is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                )
            )
