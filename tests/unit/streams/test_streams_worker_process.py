"""``greenwatch worker`` runs in a process image of the worker's own modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runtime.settings import load_settings
from streams.worker_process import should_exec

ROOT = Path(__file__).resolve().parents[3]
NOT_THE_WORKERS = ("fastapi", "uvicorn", "pyarrow", "numpy", "apprise", "grafana_client")


def test_the_worker_image_imports_no_other_commands_modules() -> None:
    script = (
        "import sys, streams.worker_process, streams.worker; "
        f"print([m for m in {NOT_THE_WORKERS!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_worker_image_refuses_a_bad_registry_with_exit_2_and_its_reason(
    tmp_path: Path,
) -> None:
    options = {
        "tuning": {},
        "metrics_port": 0,
        "loglevel": "warning",
        "registry_file": str(tmp_path / "missing.yaml"),
        "registry_wait_s": 0.0,
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.worker_process", json.dumps(options)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("worker: ") and "missing.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_called_in_process_is_not_re_executed() -> None:
    assert not should_exec(load_settings())
