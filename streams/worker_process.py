"""The worker in a process of its own modules: ``greenwatch worker`` re-executes itself here.

The ``greenwatch`` command imports every command's modules before it parses its arguments
(the API's FastAPI and uvicorn, pyarrow and numpy for the archive, apprise, grafana-client):
~73 MiB of a worker's ~190 MiB resident at start that a worker never uses, and that stay
resident for its whole life (docs/perf.md, "Fourth slice"). ``exec_worker(options)``
replaces the process image (same PID, environment, standard streams and signals) with
``python -m streams.worker_process OPTIONS-JSON``, which imports only what the worker needs,
reads the settings from the environment as the command did, and runs the worker: exit code
2 and the same message when it cannot start.

Only a worker started as a command is re-executed (``should_exec``): called in-process (a
test's ``CliRunner``, settings passed in as an object), it runs where it is.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.settings import Settings, load_settings
from streams.app import WorkerTuning

if TYPE_CHECKING:  # imported by main() only: the re-executed image needs it, the command not yet
    from streams.worker import WorkerOptions


def should_exec(settings: Settings) -> bool:
    """True when this process is the ``greenwatch`` command itself and its settings are the
    environment's (what the new image will read again)."""
    return Path(sys.argv[0]).name == "greenwatch" and settings == load_settings()


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


def main(argv: list[str]) -> int:
    """Run the worker with the options ``exec_worker`` encoded; the exit code."""
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
