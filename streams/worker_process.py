"""The worker in a process of its own modules: ``greenwatch worker`` re-executes itself here.

The ``greenwatch`` command imports every command's modules before it parses its arguments
(the API's FastAPI and uvicorn, pyarrow and numpy for the archive, apprise, grafana-client):
~73 MiB of a worker's ~190 MiB resident at start that a worker never uses, and that stay
resident for its whole life (docs/perf.md, "Fourth slice"). ``exec_worker(options)``
replaces the process image (same PID, environment, standard streams and signals) with
``python -m streams.worker_process OPTIONS-JSON``, which imports only what the worker needs,
reads the settings from the environment as the command did, and runs the worker: exit code
2 and the same message when it cannot start.

Only a worker started as a command is re-executed (``should_exec``): by the ``greenwatch``
entry point reading its own command line (``runtime.command_line``: the console script,
``python -m greenwatch worker`` as the demo, CI and the tests start it), whatever argv[0]
says. Called in-process (a test's ``CliRunner``, settings passed in as an object), it runs
where it is.

Told to stop while it starts (SIGTERM or SIGINT before faust's worker installs its own
handlers: reading the registry in its forked child, ~11 s at 10 000 devices, or connecting),
the worker stops there (``stop_while_starting``): it kills its child processes (the registry
reader would otherwise outlive it, holding its standard streams open), runs its ``finally``
blocks, and exits 0, as a running worker told to stop does, having consumed and committed
nothing. Once faust runs, its handlers stop the worker as before.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from runtime.command_line import runs_command_line
from runtime.settings import Settings, load_settings
from streams.app import WorkerTuning

if TYPE_CHECKING:  # imported by main() only: the re-executed image needs it, the command not yet
    from streams.worker import WorkerOptions


def should_exec(settings: Settings) -> bool:
    """True when this process is the ``greenwatch`` command run from its own command line
    (``runtime.command_line``) and its settings are the environment's (what the new image
    will read again)."""
    return runs_command_line() and settings == load_settings()


def exec_worker(options: WorkerOptions) -> None:
    """Replace this process with the lean worker (``WorkerOptions`` ``options``); does not
    return (raises ``OSError`` when the interpreter cannot be executed)."""
    encoded = json.dumps(
        {
            "tuning": dataclasses.asdict(options.tuning),
            "metrics_port": options.metrics_port,
            "loglevel": options.loglevel,
            "registry_file": str(options.registry_file) if options.registry_file else None,
            "registry_wait_s": options.registry_wait_s,
        }
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "streams.worker_process", encoded])


class StoppedWhileStarting(SystemExit):
    """SIGTERM or SIGINT came before the worker ran: exit code 0 (``stop_while_starting``)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    """The start's signal handler: end the child processes, then unwind the start."""
    for child in multiprocessing.active_children():
        child.kill()  # SIGKILL: a registry reader holds nothing that must be flushed
    raise StoppedWhileStarting(0)


def stop_while_starting() -> None:
    """Make SIGTERM and SIGINT stop the worker until faust's loop installs its own handlers
    (``loop.add_signal_handler`` replaces these). Call first thing in the main thread."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def main(argv: list[str]) -> int:
    """Run the worker with the options ``exec_worker`` encoded; the exit code."""
    stop_while_starting()
    from streams.worker import WorkerError, WorkerOptions, run_worker

    given = json.loads(argv[0])
    options = WorkerOptions(
        WorkerTuning(**given["tuning"]),
        given["metrics_port"],
        given["loglevel"],
        Path(given["registry_file"]) if given["registry_file"] else None,
        given["registry_wait_s"],
    )
    try:
        run_worker(load_settings(), options)
    except WorkerError as error:
        print(f"worker: {error.reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
