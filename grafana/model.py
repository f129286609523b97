"""Typed builders of Grafana dashboards (JSON model, schemaVersion 39, Grafana 10/11).

A dashboard is data: ``Dashboard`` holds ``Panel`` objects (one subclass per panel type:
``TimeSeries``, ``Table``, ``Stat``, ``BarChart``) and ``QueryVariable`` objects, each carrying
its SQL. ``grafana.render`` turns them into the JSON Grafana stores; nothing here performs I/O.

Every query goes to the one PostgreSQL datasource provisioned by
``grafana/provisioning/datasources/greenwatch.yaml`` (uid ``greenwatch-pg``, type
``grafana-postgresql-datasource``). SQL conventions: ``docs/grafana.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

DATASOURCE_UID = "greenwatch-pg"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
GRID_WIDTH = 24
"""Grafana lays panels out on a grid 24 units wide; heights are in rows of 30 px."""


class Format(StrEnum):
    """How Grafana reads a SQL result: as a table, or as time series (``time`` column first;
    a ``metric`` column names the series, the other numeric columns are its values)."""

    TABLE = "table"
    TIME_SERIES = "time_series"


class CellDisplay(StrEnum):
    """How a table column's cells are drawn."""

    AUTO = "auto"
    COLOR_TEXT = "color-text"
    COLOR_BACKGROUND = "color-background"
    GAUGE = "gauge"


@dataclass(frozen=True, slots=True)
class ValueText:
    """A value mapping: cells equal to ``value`` show ``text`` in ``color``."""

    value: str
    text: str
    color: str


@dataclass(frozen=True, slots=True)
class Step:
    """A threshold step: from ``value`` upwards (``None`` = from minus infinity) use ``color``."""

    value: float | None
    color: str


@dataclass(frozen=True, slots=True)
class DataLink:
    """A link drawn on a column's cells; ``url`` may use ``${__data.fields["name"]}``."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Column:
    """Display settings of one result column (a field override matched by name)."""

    name: str
    unit: str | None = None
    decimals: int | None = None
    mappings: tuple[ValueText, ...] = ()
    cell: CellDisplay | None = None
    minimum: float | None = None
    maximum: float | None = None
    thresholds: tuple[Step, ...] = ()
    link: DataLink | None = None
    hidden: bool = False
    null_text: str | None = None
    """Text shown for NULL cells (e.g. "none in range")."""


@dataclass(frozen=True, slots=True)
class SeriesStyle:
    """Style of the time series whose name matches ``regex`` (e.g. the limit line)."""

    regex: str
    color: str
    dashed: bool = False
    fill_opacity: int | None = None


@dataclass(frozen=True, kw_only=True)
class Panel:
    """One panel and its single SQL query (refId ``A``).

    ``width``/``height`` are grid units; ``time_from`` (e.g. ``"24h"``) pins the panel to a
    relative time range whatever the dashboard's range is.
    """

    kind: ClassVar[str]
    query_format: ClassVar[Format]

    title: str
    description: str
    sql: str
    width: int = 12
    height: int = 8
    unit: str | None = None
    decimals: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    thresholds: tuple[Step, ...] = ()
    mappings: tuple[ValueText, ...] = ()
    columns: tuple[Column, ...] = ()
    time_from: str | None = None
    interval: str | None = None
    """Minimum ``$__interval`` of the panel (e.g. ``"1m"``, the devices' minute data)."""

    def options(self) -> dict[str, Any]:
        """The panel type's ``options`` object."""
        return {}

    def custom_defaults(self) -> dict[str, Any]:
        """The panel type's ``fieldConfig.defaults.custom`` object."""
        return {}

    def extra_overrides(self) -> list[dict[str, Any]]:
        """Field overrides beyond the per-column ones."""
        return []


@dataclass(frozen=True, kw_only=True)
class TimeSeries(Panel):
    """Lines over time; ``series`` styles matching series (e.g. a dashed red limit)."""

    kind: ClassVar[str] = "timeseries"
    query_format: ClassVar[Format] = Format.TIME_SERIES

    series: tuple[SeriesStyle, ...] = ()
    stacked: bool = False
    bars: bool = False

    def options(self) -> dict[str, Any]:
        return {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["max", "mean"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }

    def custom_defaults(self) -> dict[str, Any]:
        return {
            "drawStyle": "bars" if self.bars else "line",
            "lineWidth": 1,
            "fillOpacity": 60 if self.bars else 10,
            "showPoints": "auto",
            "spanNulls": False,
            "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
        }

    def extra_overrides(self) -> list[dict[str, Any]]:
        return [_series_override(style) for style in self.series]


@dataclass(frozen=True, kw_only=True)
class Table(Panel):
    """A table; ``sort_by`` names the column sorted initially (descending if ``sort_desc``)."""

    kind: ClassVar[str] = "table"
    query_format: ClassVar[Format] = Format.TABLE

    sort_by: str | None = None
    sort_desc: bool = True

    def options(self) -> dict[str, Any]:
        sort = [{"displayName": self.sort_by, "desc": self.sort_desc}] if self.sort_by else []
        return {"showHeader": True, "cellHeight": "sm", "sortBy": sort}

    def custom_defaults(self) -> dict[str, Any]:
        return {"align": "auto", "filterable": True, "cellOptions": {"type": "auto"}}


@dataclass(frozen=True, kw_only=True)
class Stat(Panel):
    """One big number (the first numeric column of a one-row result)."""

    kind: ClassVar[str] = "stat"
    query_format: ClassVar[Format] = Format.TABLE

    def options(self) -> dict[str, Any]:
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "center",
            "textMode": "value",
            "orientation": "auto",
        }


@dataclass(frozen=True, kw_only=True)
class BarChart(Panel):
    """Bars per category: ``x_field`` is the category column, the numeric columns the bars."""

    kind: ClassVar[str] = "barchart"
    query_format: ClassVar[Format] = Format.TABLE

    x_field: str
    horizontal: bool = True

    def options(self) -> dict[str, Any]:
        return {
            "xField": self.x_field,
            "orientation": "horizontal" if self.horizontal else "vertical",
            "showValue": "always",
            "stacking": "none",
            "barWidth": 0.8,
            "groupWidth": 0.7,
            "xTickLabelRotation": 0,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "single", "sort": "none"},
        }

    def custom_defaults(self) -> dict[str, Any]:
        return {"fillOpacity": 80, "lineWidth": 1, "gradientMode": "none"}


@dataclass(frozen=True, slots=True)
class QueryVariable:
    """A dashboard variable filled by SQL (``__value``/``__text`` columns, or one column).

    ``refresh_on_time_change``: re-run the query when the time range changes (else on load).
    """

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False
    refresh_on_time_change: bool = False


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A whole dashboard; ``uid`` is stable (URLs, the publisher's upsert key)."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[QueryVariable, ...] = ()
    tags: tuple[str, ...] = ("greenwatch",)
    time_from: str = "now-24h"
    refresh: str = "1m"
    timezone: str = "Asia/Shanghai"
    links_tag: str = "greenwatch"


def _series_override(style: SeriesStyle) -> dict[str, Any]:
    properties: list[dict[str, Any]] = [
        {"id": "color", "value": {"mode": "fixed", "fixedColor": style.color}},
    ]
    if style.dashed:
        properties.append({"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}})
    if style.fill_opacity is not None:
        properties.append({"id": "custom.fillOpacity", "value": style.fill_opacity})
    return {"matcher": {"id": "byRegexp", "options": style.regex}, "properties": properties}
