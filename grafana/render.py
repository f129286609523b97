"""Render ``grafana.model`` objects as Grafana's dashboard JSON model (pure, deterministic).

Panels are laid out in the order given, left to right on the 24-unit grid, wrapping to a new
row when the next panel does not fit; panel ids are 1, 2, … in that order. The same input
always gives the same JSON, so the committed ``grafana/dashboards/*.json`` can be compared
with a fresh rendering (``tests/unit/grafana``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana.errors import GrafanaError
from grafana.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GRID_WIDTH,
    Column,
    Dashboard,
    Panel,
    QueryVariable,
    Step,
    ValueText,
)

SCHEMA_VERSION = 39
DATASOURCE_REF: dict[str, str] = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}


class LayoutError(GrafanaError, ValueError):
    """A panel cannot be placed (width outside 1..24 or height < 1); carries the panel title."""

    def __init__(self, title: str, width: int, height: int) -> None:
        super().__init__(f"panel {title!r}: width {width} / height {height} do not fit the grid")
        self.title = title
        self.width = width
        self.height = height


def grid_positions(panels: Sequence[Panel]) -> list[dict[str, int]]:
    """``gridPos`` of each panel; raises LayoutError.

    Panels fill rows left to right (a panel that does not fit starts a new row at x = 0) and
    then rise as far as the panels above allow: the positions Grafana's own vertical
    compaction would give, so the stored layout is the displayed one.
    """
    positions: list[dict[str, int]] = []
    column_bottom = [0] * GRID_WIDTH
    x = 0
    for panel in panels:
        if not 1 <= panel.width <= GRID_WIDTH or panel.height < 1:
            raise LayoutError(panel.title, panel.width, panel.height)
        if x + panel.width > GRID_WIDTH:
            x = 0
        y = max(column_bottom[x : x + panel.width])
        positions.append({"h": panel.height, "w": panel.width, "x": x, "y": y})
        column_bottom[x : x + panel.width] = [y + panel.height] * panel.width
        x += panel.width
    return positions


def render_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard JSON (``id`` null: Grafana keys provisioning and the API on ``uid``)."""
    panels = [
        render_panel(panel, panel_id, position)
        for panel_id, (panel, position) in enumerate(
            zip(dashboard.panels, grid_positions(dashboard.panels), strict=True), start=1
        )
    ]
    return {
        "id": None,
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": dashboard.timezone,
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": dashboard.time_from, "to": "now"},
        "refresh": dashboard.refresh,
        "links": [
            {
                "type": "dashboards",
                "tags": [dashboard.links_tag],
                "asDropdown": False,
                "includeVars": False,
                "keepTime": True,
                "title": "Greenwatch",
            }
        ],
        "annotations": {"list": []},
        "templating": {"list": [render_variable(v) for v in dashboard.variables]},
        "panels": panels,
    }


def render_panel(panel: Panel, panel_id: int, position: dict[str, int]) -> dict[str, Any]:
    """One panel's JSON with its single raw-SQL target (refId ``A``)."""
    defaults: dict[str, Any] = {"custom": panel.custom_defaults()}
    _set_display(defaults, panel.unit, panel.decimals, panel.minimum, panel.maximum)
    if panel.thresholds:
        defaults["thresholds"] = _thresholds(panel.thresholds)
        defaults["color"] = {"mode": "thresholds"}
    if panel.mappings:
        defaults["mappings"] = _mappings(panel.mappings)
    rendered: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE_REF),
        "gridPos": position,
        "targets": [
            {
                "refId": "A",
                "datasource": dict(DATASOURCE_REF),
                "editorMode": "code",
                "rawQuery": True,
                "format": panel.query_format.value,
                "rawSql": panel.sql,
            }
        ],
        "fieldConfig": {
            "defaults": defaults,
            "overrides": [_column_override(c) for c in panel.columns] + panel.extra_overrides(),
        },
        "options": panel.options(),
    }
    if panel.time_from is not None:
        rendered["timeFrom"] = panel.time_from
    if panel.interval is not None:
        rendered["interval"] = panel.interval
    return rendered


def render_variable(variable: QueryVariable) -> dict[str, Any]:
    """A query variable (options in the query's order; refreshed on load or time change)."""
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.label,
        "datasource": dict(DATASOURCE_REF),
        "query": variable.sql,
        "definition": variable.sql,
        "refresh": 2 if variable.refresh_on_time_change else 1,
        "multi": variable.multi,
        "includeAll": variable.include_all,
        "sort": 0,
        "current": {},
        "options": [],
        "hide": 0,
    }


def dashboard_json_text(dashboard: Dashboard) -> str:
    """The exact text written to ``grafana/dashboards/<uid>.json`` (UTF-8, indent 2)."""
    return json.dumps(render_dashboard(dashboard), ensure_ascii=False, indent=2) + "\n"


def _set_display(
    target: dict[str, Any],
    unit: str | None,
    decimals: int | None,
    minimum: float | None,
    maximum: float | None,
) -> None:
    for key, value in (("unit", unit), ("decimals", decimals), ("min", minimum), ("max", maximum)):
        if value is not None:
            target[key] = value


def _thresholds(steps: tuple[Step, ...]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": s.color, "value": s.value} for s in steps]}


def _mappings(mappings: tuple[ValueText, ...]) -> list[dict[str, Any]]:
    options = {
        m.value: {"text": m.text, "color": m.color, "index": index}
        for index, m in enumerate(mappings)
    }
    return [{"type": "value", "options": options}]


def _column_override(column: Column) -> dict[str, Any]:
    display: dict[str, Any] = {}
    _set_display(display, column.unit, column.decimals, column.minimum, column.maximum)
    properties: list[dict[str, Any]] = [{"id": key, "value": v} for key, v in display.items()]
    mappings = _mappings(column.mappings) if column.mappings else []
    if column.null_text is not None:
        result = {"text": column.null_text, "index": len(column.mappings)}
        mappings.append({"type": "special", "options": {"match": "null", "result": result}})
    if mappings:
        properties.append({"id": "mappings", "value": mappings})
    if column.thresholds:
        properties.append({"id": "thresholds", "value": _thresholds(column.thresholds)})
        properties.append({"id": "color", "value": {"mode": "thresholds"}})
    if column.cell is not None:
        cell: dict[str, Any] = {"type": column.cell.value}
        if column.cell.value == "gauge":
            cell["mode"] = "basic"
        properties.append({"id": "custom.cellOptions", "value": cell})
    if column.link is not None:
        link = {"title": column.link.title, "url": column.link.url}
        properties.append({"id": "links", "value": [link]})
    if column.hidden:
        properties.append({"id": "custom.hidden", "value": True})
    return {"matcher": {"id": "byName", "options": column.name}, "properties": properties}
