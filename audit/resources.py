"""What the read API serves: one ``Resource`` per endpoint over an existing table. Pure data.

Each names the table, the columns it shows, its keyset (the order of pages, unique), the time
column ``from``/``to`` filter on (and whether a range is required, and how long it may be),
how a row reaches its enterprise (``owner``: the scope check), the filters it accepts, and
the roles that may read it. Adding a table is adding one entry here; the query builder
(``audit.queries``) and the routes (``audit.api``) follow. The revision history of issue 13
(migration 007: the versions a later write superseded, with when, why and the input that
replaced them) is served this way, one ``…/revisions`` list beside each time series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from audit.principal import Role

ALL_ROLES = frozenset(Role)


class Kind(StrEnum):
    """How a column's value is read from a query string or a cursor."""

    TEXT = "text"
    TIME = "time"
    INT = "int"
    BOOL = "bool"


class Owner(StrEnum):
    """The column that ties a row to an enterprise (directly or through its parent)."""

    ENTERPRISE = "enterprise_id"
    OUTLET = "outlet_id"
    ALERT = "alert_id"
    NOTICE = "outbox_id"
    DEVICE = "device_id"


@dataclass(frozen=True, slots=True)
class Resource:
    path: str
    table: str
    summary: str
    columns: tuple[str, ...]
    key: tuple[tuple[str, Kind], ...]
    owner: Owner
    filters: dict[str, tuple[str, Kind]] = field(default_factory=dict)
    """Query parameter → (column, kind); ``enterprise`` and ``region`` are always there."""
    time: str | None = None
    time_required: bool = False
    max_range: timedelta = timedelta(days=92)
    fixed: tuple[tuple[str, str], ...] = ()
    """(column, value) every row of this resource has (e.g. period = hour)."""
    roles: frozenset[Role] = ALL_ROLES


_T, _TIME, _INT, _BOOL = Kind.TEXT, Kind.TIME, Kind.INT, Kind.BOOL

_AGGREGATE_COLUMNS = (
    "outlet_id", "factor", "period", "period_start", "device_id", "valid", "valid_count",
    "invalid_count", "flag_counts", "mean", "min", "max", "o2_measured", "o2_reference",
    "o2_corrected", "device_o2_corrected", "o2_disagrees", "flow_std_m3h", "emission_rate_kgh",
    "load_kg", "registry_version", "computed_at",
)  # fmt: skip

_VALUE_FILTERS = {"outlet": ("outlet_id", _T), "factor": ("factor", _T), "valid": ("valid", _BOOL)}

_MEASUREMENT_COLUMNS = (
    "device_id", "outlet_id", "factor", "factor_as_sent", "period", "period_start", "rtd", "avg",
    "min", "max", "cou", "zs_rtd", "zs_avg", "flag", "received_at", "qn",
)  # fmt: skip
_MEASUREMENT_FILTERS = {
    "outlet": ("outlet_id", _T), "device": ("device_id", _T), "factor": ("factor", _T),
    "period": ("period", _T), "flag": ("flag", _T),
}  # fmt: skip
_VERDICT_COLUMNS = (
    "outlet_id", "factor", "rule", "period_start", "enterprise_id", "period", "value",
    "limit_value", "ratio", "status", "standard", "evidence", "registry_version", "revision",
    "issued_at",
)  # fmt: skip
_VERDICT_FILTERS = {
    "outlet": ("outlet_id", _T), "factor": ("factor", _T), "rule": ("rule", _T),
    "status": ("status", _T), "period": ("period", _T),
}  # fmt: skip

# A superseded version (migration 007): its id, when and why it was replaced.
_REVISION_KEY = (("period_start", _TIME), ("revision_id", _INT))
_REVISION_FILTERS = {"reason": ("reason", _T)}
_MEASUREMENT_REVISION_COLUMNS = (
    "revision_id", *_MEASUREMENT_COLUMNS, "superseded_at", "superseded_by_received_at", "reason",
    "source_topic", "source_partition", "source_offset",
)  # fmt: skip
_AGGREGATE_REVISION_COLUMNS = (
    "revision_id", *_AGGREGATE_COLUMNS, "superseded_at", "reason", "source",
)  # fmt: skip
_VERDICT_REVISION_COLUMNS = (
    "revision_id", *_VERDICT_COLUMNS, "superseded_at", "superseded_by", "reason", "source",
)  # fmt: skip

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "enterprises", "enterprises", "Enterprises in scope (registry, current version).",
        ("enterprise_id", "name", "region_code", "industry_code", "art7_facility",
         "registry_version"),
        (("enterprise_id", _T),), Owner.ENTERPRISE,
    ),
    Resource(
        "outlets", "outlets", "Outlets (registry, current version).",
        ("outlet_id", "enterprise_id", "name", "medium", "standard_id", "reference_o2",
         "registry_version"),
        (("outlet_id", _T),), Owner.ENTERPRISE, {"outlet": ("outlet_id", _T)},
    ),
    Resource(
        "devices", "devices", "Monitoring devices (HJ 212 MN) and their outlets.",
        ("device_id", "outlet_id", "interval_s", "registry_version"),
        (("device_id", _T),), Owner.OUTLET,
        {"outlet": ("outlet_id", _T), "device": ("device_id", _T)},
    ),
    Resource(
        "limits", "outlet_limits", "Effective limits and load quotas per outlet and factor.",
        ("outlet_id", "factor", "limit_value", "limit_source", "daily_quota_kg",
         "annual_quota_kg", "registry_version"),
        (("outlet_id", _T), ("factor", _T)), Owner.OUTLET,
        {"outlet": ("outlet_id", _T), "factor": ("factor", _T)},
    ),
    Resource(
        "measurements", "measurements_scoped",
        "Measurements as reported (real-time, minute, hour, day) with their HJ 212 flags.",
        _MEASUREMENT_COLUMNS,
        (("period_start", _TIME), ("device_id", _T), ("factor", _T), ("period", _T)),
        Owner.OUTLET, _MEASUREMENT_FILTERS,
        time="period_start", time_required=True, max_range=timedelta(days=31),
    ),
    Resource(
        "measurements/revisions", "measurement_revisions",
        "Superseded measurements (a re-sent value replaced them): the earlier values and flag, "
        "when and why they were superseded, the raw-topic position of the replacing message.",
        _MEASUREMENT_REVISION_COLUMNS, _REVISION_KEY, Owner.OUTLET,
        {**_MEASUREMENT_FILTERS, **_REVISION_FILTERS},
        time="period_start", time_required=True, max_range=timedelta(days=31),
    ),
    Resource(
        "values/hourly", "aggregates",
        "Hourly values (HJ 75-2017 validity counts, O2 correction, flow, rate, load).",
        _AGGREGATE_COLUMNS, (("period_start", _TIME), ("outlet_id", _T), ("factor", _T)),
        Owner.OUTLET, _VALUE_FILTERS, time="period_start", time_required=True,
        fixed=(("period", "hour"),),
    ),
    Resource(
        "values/daily", "aggregates", "Daily values (valid hours, loads).",
        _AGGREGATE_COLUMNS, (("period_start", _TIME), ("outlet_id", _T), ("factor", _T)),
        Owner.OUTLET, _VALUE_FILTERS, time="period_start", time_required=True,
        max_range=timedelta(days=366), fixed=(("period", "day"),),
    ),
    Resource(
        "values/hourly/revisions", "aggregate_revisions",
        "Superseded hourly values (late or re-sent data, a new registry version), with when, "
        "why and the raw-topic positions of the batch that re-derived them.",
        _AGGREGATE_REVISION_COLUMNS, _REVISION_KEY, Owner.OUTLET,
        {**_VALUE_FILTERS, **_REVISION_FILTERS}, time="period_start", time_required=True,
        fixed=(("period", "hour"),),
    ),
    Resource(
        "values/daily/revisions", "aggregate_revisions",
        "Superseded daily values, with when and why.",
        _AGGREGATE_REVISION_COLUMNS, _REVISION_KEY, Owner.OUTLET,
        {**_VALUE_FILTERS, **_REVISION_FILTERS}, time="period_start", time_required=True,
        max_range=timedelta(days=366), fixed=(("period", "day"),),
    ),
    Resource(
        "verdicts", "verdicts",
        "Verdicts with their evidence and the registry version they were judged under.",
        _VERDICT_COLUMNS,
        (("period_start", _TIME), ("outlet_id", _T), ("factor", _T), ("rule", _T)),
        Owner.ENTERPRISE, _VERDICT_FILTERS,
        time="period_start", time_required=True, max_range=timedelta(days=366),
    ),
    Resource(
        "verdicts/revisions", "verdict_revisions",
        "Superseded verdict revisions with their evidence: when, why (resent, "
        "late_or_recomputed, registry_changed) and which revision replaced them.",
        _VERDICT_REVISION_COLUMNS, _REVISION_KEY, Owner.ENTERPRISE,
        {**_VERDICT_FILTERS, **_REVISION_FILTERS},
        time="period_start", time_required=True, max_range=timedelta(days=366),
    ),
    Resource(
        "alerts", "alerts", "Alerts (one per subject, factor and rule) and their state.",
        ("alert_id", "subject", "factor", "rule", "enterprise_id", "outlet_id", "device_id",
         "state", "level", "episode", "basis", "opened_at", "fired_at", "resolved_at",
         "updated_at", "acknowledged_by", "acknowledged_at", "evidence", "registry_version"),
        (("alert_id", _T),), Owner.ENTERPRISE,
        {"outlet": ("outlet_id", _T), "factor": ("factor", _T), "rule": ("rule", _T),
         "status": ("state", _T), "level": ("level", _INT)},
        time="updated_at",
    ),
    Resource(
        "alert-events", "alert_events",
        "The append-only event log of alerts (who, when, on which evidence).",
        ("event_id", "alert_id", "episode", "at", "kind", "actor", "level", "state", "rule",
         "evidence", "registry_version", "recorded_at"),
        (("event_id", _INT),), Owner.ALERT,
        {"alert": ("alert_id", _T), "rule": ("rule", _T), "kind": ("kind", _T)},
        time="at",
    ),
    Resource(
        "regulator-actions", "regulator_orders",
        "Regulator orders (restrict, Art. 5; suspend, Art. 6 of Order No. 30) and their lifts.",
        ("order_id", "enterprise_id", "outlet_id", "action", "effective_from", "issued_at",
         "issued_by", "reason", "lifted_at", "lifted_by"),
        (("order_id", _INT),), Owner.ENTERPRISE,
        {"outlet": ("outlet_id", _T), "action": ("action", _T)}, time="issued_at",
    ),
    Resource(
        "notices", "notification_outbox", "Notices sent (or due) to subscribers.",
        ("outbox_id", "alert_id", "episode", "enterprise_id", "kind", "level", "title", "body",
         "status", "attempts", "enqueued_at", "sent_at", "last_error"),
        (("outbox_id", _INT),), Owner.ENTERPRISE,
        {"alert": ("alert_id", _T), "status": ("status", _T), "kind": ("kind", _T)},
        time="enqueued_at",
    ),
    Resource(
        "deliveries", "notification_deliveries",
        "Delivery attempts of notices (channels masked).",
        ("delivery_id", "outbox_id", "attempt", "at", "ok", "channel", "duration_ms", "error"),
        (("delivery_id", _INT),), Owner.NOTICE,
        {"notice": ("outbox_id", _INT), "ok": ("ok", _BOOL)}, time="at",
    ),
    Resource(
        "dead-letters", "dead_letters",
        "Input that could not be processed, with its reason (regulators only).",
        ("id", "source", "reason", "message", "peer", "device_id", "received_at", "stored_at",
         "source_topic", "source_partition", "source_offset"),
        (("id", _INT),), Owner.DEVICE,
        {"reason": ("reason", _T), "source": ("source", _T), "device": ("device_id", _T)},
        time="received_at", roles=frozenset({Role.REGULATOR}),
    ),
    Resource(
        "energy/consumption", "energy_consumption",
        "Energy consumption per meter and hour, day, month: quantity, tce (both bases), CO2.",
        ("meter_id", "period", "period_start", "enterprise_id", "carrier", "product",
         "feedstock", "quantity", "kgce_calorific", "kgce_equivalent", "co2_kg", "readings",
         "expected", "completeness", "marks", "evidence", "registry_version", "computed_at"),
        (("period_start", _TIME), ("meter_id", _T), ("period", _T)), Owner.ENTERPRISE,
        {"meter": ("meter_id", _T), "period": ("period", _T), "carrier": ("carrier", _T)},
        time="period_start", time_required=True, max_range=timedelta(days=366),
    ),
    Resource(
        "energy/intensities", "energy_intensities",
        "Rolling energy intensities (24 h, 30 d, month, year to date) per product.",
        ("enterprise_id", "subject", "indicator", "window_name", "period_start", "numerator",
         "denominator", "value", "evidence", "registry_version", "computed_at"),
        (("period_start", _TIME), ("enterprise_id", _T), ("subject", _T), ("indicator", _T),
         ("window_name", _T)),
        Owner.ENTERPRISE,
        {"subject": ("subject", _T), "indicator": ("indicator", _T),
         "window": ("window_name", _T)},
        time="period_start", time_required=True, max_range=timedelta(days=366),
    ),
    Resource(
        "after-lock", "after_lock_changes",
        "Writes to hourly/daily values and verdicts of a locked period (late data), with the "
        "row before and after.",
        ("change_id", "period", "table_name", "outlet_id", "factor", "period_start", "op",
         "previous", "current", "changed_at"),
        (("change_id", _INT),), Owner.OUTLET,
        {"period": ("period", _T), "outlet": ("outlet_id", _T), "factor": ("factor", _T),
         "table": ("table_name", _T)},
        time="changed_at",
    ),
)  # fmt: skip

BY_PATH = {resource.path: resource for resource in RESOURCES}
