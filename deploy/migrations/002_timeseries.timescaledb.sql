-- Time series on TimescaleDB: the same tables as 002_timeseries.plain.sql, as hypertables
-- (7-day chunks, compressed after an age `db migrate` sets from the settings), and
-- measurement_hourly as a real-time continuous aggregate instead of a sink-maintained rollup
-- table (see docs/database.md). The extension itself is created once per database, in public,
-- by the runner (deploy/timescaledb.py), never here: a schema must not own it.

CREATE TABLE IF NOT EXISTS measurements (
    device_id       text NOT NULL,
    factor          text NOT NULL,
    period          text NOT NULL CHECK (period IN ('rtd', 'minute', 'hour', 'day')),
    period_start    timestamptz NOT NULL,
    outlet_id       text,
    factor_as_sent  text NOT NULL,
    rtd             double precision,
    avg             double precision,
    min             double precision,
    max             double precision,
    cou             double precision,
    zs_rtd          double precision,
    zs_avg          double precision,
    flag            text NOT NULL,
    received_at     timestamptz NOT NULL,
    qn              text,
    PRIMARY KEY (device_id, factor, period, period_start)
);

CREATE INDEX IF NOT EXISTS measurements_outlet_time_idx
    ON measurements (outlet_id, factor, period_start);

-- Hourly and daily values per outlet and factor (HJ 75-2017 validity, O2 correction, loads).
CREATE TABLE IF NOT EXISTS aggregates (
    outlet_id           text NOT NULL,
    factor              text NOT NULL,
    period              text NOT NULL CHECK (period IN ('hour', 'day')),
    period_start        timestamptz NOT NULL,
    device_id           text NOT NULL,
    valid               boolean NOT NULL,
    valid_count         integer NOT NULL,
    invalid_count       integer NOT NULL,
    flag_counts         jsonb NOT NULL DEFAULT '{}',
    mean                double precision,
    min                 double precision,
    max                 double precision,
    o2_measured         double precision,
    o2_reference        double precision,
    o2_corrected        double precision,
    device_o2_corrected double precision,
    o2_disagrees        boolean NOT NULL DEFAULT false,
    flow_std_m3h        double precision,
    emission_rate_kgh   double precision,
    load_kg             double precision,
    registry_version    text NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outlet_id, factor, period, period_start)
);
CREATE INDEX IF NOT EXISTS aggregates_time_idx ON aggregates (period, period_start);

-- Verdicts: one per (outlet, factor, rule, period start); re-issued (revision + 1) when late
-- data change the value they judged.
CREATE TABLE IF NOT EXISTS verdicts (
    outlet_id        text NOT NULL,
    factor           text NOT NULL,
    rule             text NOT NULL,
    period_start     timestamptz NOT NULL,
    enterprise_id    text NOT NULL,
    period           text NOT NULL,
    value            double precision,
    limit_value      double precision,
    ratio            double precision,
    status           text NOT NULL,
    standard         text,
    evidence         jsonb NOT NULL DEFAULT '{}',
    registry_version text NOT NULL,
    revision         integer NOT NULL DEFAULT 1,
    issued_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outlet_id, factor, rule, period_start)
);
CREATE INDEX IF NOT EXISTS verdicts_status_idx ON verdicts (status, period_start);
CREATE INDEX IF NOT EXISTS verdicts_enterprise_idx ON verdicts (enterprise_id, period_start);


SELECT create_hypertable('measurements', by_range('period_start', INTERVAL '7 days'), if_not_exists => TRUE);
SELECT create_hypertable('aggregates', by_range('period_start', INTERVAL '30 days'), if_not_exists => TRUE);
SELECT create_hypertable('verdicts', by_range('period_start', INTERVAL '30 days'), if_not_exists => TRUE);

-- Compression: one segment per series as every reader asks for it (a device's factor at one
-- period kind: the primary key minus its time column, so the upsert's key lookups and the
-- panels' `WHERE device_id/factor/period` touch one segment), ordered by time within it
-- (range filters skip whole batches by their min/max). Leaving `period` out would mix the
-- four period kinds in a segment and TimescaleDB warns about exactly that. The policy (age)
-- is set by `db migrate` (deploy.timescaledb.apply_policies), not here.
ALTER TABLE measurements SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id, factor, period',
    timescaledb.compress_orderby = 'period_start DESC'
);

-- Chunks are created by TimescaleDB as rows arrive: nothing to prepare.
CREATE OR REPLACE FUNCTION gw_ensure_measurement_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE MATERIALIZED VIEW IF NOT EXISTS measurement_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id, factor, time_bucket(INTERVAL '1 hour', period_start) AS bucket,
       count(*) AS samples,
       avg(coalesce(avg, rtd)) AS avg_value,
       min(coalesce(min, avg, rtd)) AS min_value,
       max(coalesce(max, avg, rtd)) AS max_value
  FROM measurements
 WHERE period IN ('rtd', 'minute')
 GROUP BY 1, 2, 3
WITH NO DATA;
-- start_offset NULL: the policy refreshes wherever late or re-sent data invalidated buckets,
-- however old (only invalidated ranges are recomputed); end_offset 1 hour leaves the open hour
-- to real-time aggregation.
SELECT add_continuous_aggregate_policy('measurement_hourly',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes', if_not_exists => TRUE);

-- Real-time aggregation (materialized_only = false) serves fresh hours without a refresh.
CREATE OR REPLACE FUNCTION gw_refresh_measurement_hourly(from_ts timestamptz, to_ts timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT $$;
