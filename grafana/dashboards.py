"""The Greenwatch dashboards and their export as files.

``DASHBOARDS`` is the whole set, in menu order. ``export_dashboards(directory)`` writes one
``<uid>.json`` per dashboard, exactly the text committed under ``grafana/dashboards/`` (which
Grafana's file provisioning reads, see ``grafana/provisioning/dashboards/greenwatch.yaml``).
"""

from __future__ import annotations

from pathlib import Path

from grafana.alerts_dashboard import ALERTS
from grafana.data_quality import DATA_QUALITY
from grafana.energy_dashboard import ENERGY
from grafana.model import Dashboard
from grafana.outlet_detail import OUTLET_DETAIL
from grafana.overview import OVERVIEW
from grafana.plan_dashboard import PLAN
from grafana.render import dashboard_json_text

DASHBOARDS: tuple[Dashboard, ...] = (OVERVIEW, OUTLET_DETAIL, DATA_QUALITY, ALERTS, ENERGY, PLAN)
COMMITTED_DIR = Path(__file__).resolve().parent / "dashboards"
"""Where the generated JSON is committed (and provisioned from)."""
FOLDER_UID = "greenwatch"
FOLDER_TITLE = "绿色监管 (Greenwatch)"


def dashboard_filename(dashboard: Dashboard) -> str:
    return f"{dashboard.uid}.json"


def export_dashboards(directory: Path) -> list[Path]:
    """Write every dashboard's JSON into ``directory`` (created if missing); return the paths.

    Existing files of the same names are replaced; other files are left alone. Raises
    OSError when the directory cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dashboard in DASHBOARDS:
        path = directory / dashboard_filename(dashboard)
        path.write_text(dashboard_json_text(dashboard), "utf-8")
        written.append(path)
    return written
