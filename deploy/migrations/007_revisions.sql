-- Revision history (issue 13 item 1; docs/database.md "Revision history"): the judged cannot
-- rewrite the record. ``measurements``, ``aggregates`` and ``verdicts`` stay the latest view
-- (what dashboards show); every version a later write replaces is kept here, written by the
-- stream sink in the same transaction as the write that replaces it (streams/upserts.py,
-- streams/revisions.py). Append-only: UPDATE, DELETE and TRUNCATE are refused by trigger, as
-- on alert_events.
--
-- Who writes: the stream worker (its sink). Who reads: auditors, regulators' dashboards, the
-- alert service; nobody updates or deletes (not even the owner, short of dropping the trigger).
--
-- Each row is a *superseded* version: the prior values as they were stored, ``superseded_at``
-- (when the sink replaced them, wall clock), ``reason`` (why) and the position of the input
-- that replaced them (measurements: the raw-topic message of the re-sent value; aggregates
-- and verdicts: the raw-topic positions of the batch that re-derived them, per partition
-- ``{"topic": …, "partitions": {"0": [first, last]}}``, NULL when a wall-clock tick closed
-- the window). The ``*_versions`` views join them with the current row: an entity's history.

CREATE TABLE IF NOT EXISTS measurement_revisions (
    revision_id       bigserial PRIMARY KEY,
    device_id         text NOT NULL,
    factor            text NOT NULL,
    period            text NOT NULL,
    period_start      timestamptz NOT NULL,
    outlet_id         text,
    factor_as_sent    text NOT NULL,
    rtd               double precision,
    avg               double precision,
    min               double precision,
    max               double precision,
    cou               double precision,
    zs_rtd            double precision,
    zs_avg            double precision,
    flag              text NOT NULL,
    received_at       timestamptz NOT NULL,     -- when the superseded value had arrived
    qn                text,
    superseded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded_by_received_at timestamptz NOT NULL,  -- when the replacing value arrived
    reason            text NOT NULL CHECK (reason IN ('resent')),
    source_topic      text,
    source_partition  integer,
    source_offset     bigint
);
CREATE INDEX IF NOT EXISTS measurement_revisions_key_idx
    ON measurement_revisions (device_id, factor, period, period_start, revision_id);

CREATE TABLE IF NOT EXISTS aggregate_revisions (
    revision_id         bigserial PRIMARY KEY,
    outlet_id           text NOT NULL,
    factor              text NOT NULL,
    period              text NOT NULL,
    period_start        timestamptz NOT NULL,
    device_id           text NOT NULL,
    valid               boolean NOT NULL,
    valid_count         integer NOT NULL,
    invalid_count       integer NOT NULL,
    flag_counts         jsonb NOT NULL,
    mean                double precision,
    min                 double precision,
    max                 double precision,
    o2_measured         double precision,
    o2_reference        double precision,
    o2_corrected        double precision,
    device_o2_corrected double precision,
    o2_disagrees        boolean NOT NULL,
    flow_std_m3h        double precision,
    emission_rate_kgh   double precision,
    load_kg             double precision,
    registry_version    text NOT NULL,
    computed_at         timestamptz NOT NULL,   -- when the superseded value was computed
    superseded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason              text NOT NULL CHECK (reason IN ('late_or_resent_data', 'registry_changed')),
    source              jsonb
);
CREATE INDEX IF NOT EXISTS aggregate_revisions_key_idx
    ON aggregate_revisions (outlet_id, factor, period, period_start, revision_id);

CREATE TABLE IF NOT EXISTS verdict_revisions (
    revision_id       bigserial PRIMARY KEY,
    outlet_id         text NOT NULL,
    factor            text NOT NULL,
    rule              text NOT NULL,
    period_start      timestamptz NOT NULL,
    enterprise_id     text NOT NULL,
    period            text NOT NULL,
    value             double precision,
    limit_value       double precision,
    ratio             double precision,
    status            text NOT NULL,
    standard          text,
    evidence          jsonb NOT NULL,
    registry_version  text NOT NULL,
    revision          integer NOT NULL,         -- the superseded revision's number
    issued_at         timestamptz NOT NULL,     -- when it had been issued
    superseded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded_by     integer NOT NULL,         -- the revision that replaced it
    reason            text NOT NULL
        CHECK (reason IN ('resent', 'late_or_recomputed', 'registry_changed')),
    source            jsonb,
    UNIQUE (outlet_id, factor, rule, period_start, revision)
);

CREATE OR REPLACE FUNCTION gw_revisions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS measurement_revisions_append_only ON measurement_revisions;
CREATE TRIGGER measurement_revisions_append_only BEFORE UPDATE OR DELETE ON measurement_revisions
    FOR EACH ROW EXECUTE FUNCTION gw_revisions_append_only();
DROP TRIGGER IF EXISTS measurement_revisions_no_truncate ON measurement_revisions;
CREATE TRIGGER measurement_revisions_no_truncate BEFORE TRUNCATE ON measurement_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION gw_revisions_append_only();
DROP TRIGGER IF EXISTS aggregate_revisions_append_only ON aggregate_revisions;
CREATE TRIGGER aggregate_revisions_append_only BEFORE UPDATE OR DELETE ON aggregate_revisions
    FOR EACH ROW EXECUTE FUNCTION gw_revisions_append_only();
DROP TRIGGER IF EXISTS aggregate_revisions_no_truncate ON aggregate_revisions;
CREATE TRIGGER aggregate_revisions_no_truncate BEFORE TRUNCATE ON aggregate_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION gw_revisions_append_only();
DROP TRIGGER IF EXISTS verdict_revisions_append_only ON verdict_revisions;
CREATE TRIGGER verdict_revisions_append_only BEFORE UPDATE OR DELETE ON verdict_revisions
    FOR EACH ROW EXECUTE FUNCTION gw_revisions_append_only();
DROP TRIGGER IF EXISTS verdict_revisions_no_truncate ON verdict_revisions;
CREATE TRIGGER verdict_revisions_no_truncate BEFORE TRUNCATE ON verdict_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION gw_revisions_append_only();

-- An entity's history, oldest first: its superseded versions, then the current row
-- (``current`` true, ``superseded_at`` NULL). Read by streams/revisions.py and the auditors.
CREATE OR REPLACE VIEW measurement_versions AS
    SELECT device_id, factor, period, period_start, outlet_id, rtd, avg, min, max, cou,
           zs_rtd, zs_avg, flag, received_at, qn, false AS current, superseded_at, reason,
           source_topic, source_partition, source_offset, revision_id AS seq
      FROM measurement_revisions
    UNION ALL
    SELECT device_id, factor, period, period_start, outlet_id, rtd, avg, min, max, cou,
           zs_rtd, zs_avg, flag, received_at, qn, true, NULL, NULL, NULL, NULL, NULL, NULL
      FROM measurements;

CREATE OR REPLACE VIEW aggregate_versions AS
    SELECT outlet_id, factor, period, period_start, device_id, valid, valid_count,
           invalid_count, flag_counts, mean, o2_corrected, flow_std_m3h, load_kg,
           registry_version, computed_at, false AS current, superseded_at, reason, source,
           revision_id AS seq
      FROM aggregate_revisions
    UNION ALL
    SELECT outlet_id, factor, period, period_start, device_id, valid, valid_count,
           invalid_count, flag_counts, mean, o2_corrected, flow_std_m3h, load_kg,
           registry_version, computed_at, true, NULL, NULL, NULL, NULL
      FROM aggregates;

CREATE OR REPLACE VIEW verdict_versions AS
    SELECT outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value,
           status, evidence, registry_version, revision, issued_at, false AS current,
           superseded_at, reason, source
      FROM verdict_revisions
    UNION ALL
    SELECT outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value,
           status, evidence, registry_version, revision, issued_at, true, NULL, NULL, NULL
      FROM verdicts;
