"""The dashboard JSON: committed copies up to date, valid for Grafana, wired to one datasource."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from alerts.ladder import Basis
from grafana import alerts_dashboard
from grafana.dashboards import COMMITTED_DIR, DASHBOARDS, FOLDER_UID, dashboard_filename
from grafana.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GRID_WIDTH,
    Dashboard,
    Stat,
    TimeSeries,
)
from grafana.render import LayoutError, dashboard_json_text, grid_positions, render_dashboard
from greenwatch.cli import app
from greenwatch.settings import Settings

PROVISIONING = COMMITTED_DIR.parent / "provisioning"
_VARIABLE_USE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_committed_json_is_what_the_builder_generates(dashboard: Dashboard) -> None:
    path = COMMITTED_DIR / dashboard_filename(dashboard)

    assert path.read_text("utf-8") == dashboard_json_text(dashboard), (
        "run: greenwatch grafana export grafana/dashboards"
    )


def test_no_stray_json_in_the_committed_directory() -> None:
    assert sorted(p.name for p in COMMITTED_DIR.glob("*.json")) == sorted(
        dashboard_filename(d) for d in DASHBOARDS
    )


def test_export_command_writes_the_committed_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["grafana", "export", str(tmp_path)], obj=Settings())

    assert result.exit_code == 0, result.output
    for dashboard in DASHBOARDS:
        name = dashboard_filename(dashboard)
        assert (tmp_path / name).read_bytes() == (COMMITTED_DIR / name).read_bytes()


def test_dashboard_uids_and_titles_are_unique_and_bilingual() -> None:
    assert len({d.uid for d in DASHBOARDS}) == len(DASHBOARDS)
    for dashboard in DASHBOARDS:
        assert re.search(r"[\u4e00-\u9fff].*\([A-Za-z]", dashboard.title), dashboard.title
        for panel in dashboard.panels:
            assert re.search(r"[\u4e00-\u9fff].*\([A-Za-z0-9]", panel.title), panel.title
            assert panel.description


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_query_uses_the_provisioned_postgres_datasource(dashboard: Dashboard) -> None:
    rendered = render_dashboard(dashboard)
    expected = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}

    for panel in rendered["panels"]:
        assert panel["datasource"] == expected
        assert [t["datasource"] for t in panel["targets"]] == [expected]
        assert panel["targets"][0]["rawQuery"] is True
    for variable in rendered["templating"]["list"]:
        assert variable["datasource"] == expected


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_panels_tile_the_grid_without_overlap(dashboard: Dashboard) -> None:
    rendered = render_dashboard(dashboard)
    taken: set[tuple[int, int]] = set()

    assert [p["id"] for p in rendered["panels"]] == list(range(1, len(rendered["panels"]) + 1))
    for panel in rendered["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= GRID_WIDTH
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_layout_rises_panels_into_gaps_like_grafana() -> None:
    tall = TimeSeries(title="t", description="d", sql="", width=12, height=10)
    short = Stat(title="s", description="d", sql="", width=12, height=4)

    positions = grid_positions([short, tall, short])

    assert positions[2] == {"h": 4, "w": 12, "x": 0, "y": 4}


def test_a_panel_wider_than_the_grid_is_refused() -> None:
    with pytest.raises(LayoutError) as caught:
        grid_positions([Stat(title="wide", description="d", sql="", width=25)])

    assert caught.value.title == "wide"


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_queries_use_only_defined_variables(dashboard: Dashboard) -> None:
    defined = {v.name for v in dashboard.variables}
    texts = [p.sql for p in dashboard.panels] + [v.sql for v in dashboard.variables]

    used = {a or b for text in texts for a, b in _VARIABLE_USE.findall(text)}

    assert {name for name in used if not name.startswith("__")} <= defined


def test_time_series_panels_ask_for_time_series_format() -> None:
    for dashboard in DASHBOARDS:
        for panel in render_dashboard(dashboard)["panels"]:
            fmt = panel["targets"][0]["format"]
            assert fmt == ("time_series" if panel["type"] == "timeseries" else "table")


def test_datasource_provisioning_matches_the_dashboards() -> None:
    document = yaml.safe_load((PROVISIONING / "datasources/greenwatch.yaml").read_text("utf-8"))

    (source,) = document["datasources"]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, DATASOURCE_TYPE)
    assert source["jsonData"]["timescaledb"] is True  # $__timeGroup as time_bucket()
    assert source["secureJsonData"]["password"] == "${GREENWATCH_GRAFANA_PG_PASSWORD}"


def test_dashboard_provisioning_targets_the_publishers_folder() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards/greenwatch.yaml").read_text("utf-8"))

    (provider,) = document["providers"]
    assert provider["folderUid"] == FOLDER_UID
    assert provider["type"] == "file"


def test_docs_list_every_environment_variable_of_the_provisioning_files() -> None:
    docs = (COMMITTED_DIR.parents[1] / "docs/grafana.md").read_text("utf-8")
    names = {
        name
        for path in PROVISIONING.rglob("*.yaml")
        for name in re.findall(r"\$\{(\w+)\}", path.read_text("utf-8"))
    }

    assert names and {n for n in names if n not in docs} == set()


def test_rendered_json_round_trips() -> None:
    for dashboard in DASHBOARDS:
        text = dashboard_json_text(dashboard)
        assert json.loads(text) == render_dashboard(dashboard)


def test_every_alert_basis_code_has_a_display_text() -> None:
    assert set(alerts_dashboard.BASIS_TEXT) == set(Basis)
