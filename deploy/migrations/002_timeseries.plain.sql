-- Time series on plain PostgreSQL: native range partitioning of measurements by month,
-- a DEFAULT partition so that no row is ever refused (device clocks are years off in real
-- traffic), and rollup tables maintained by the sink (see docs/database.md).
-- The TimescaleDB variant of this migration is 002_timeseries.timescaledb.sql.

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
) PARTITION BY RANGE (period_start);

CREATE TABLE IF NOT EXISTS measurements_default PARTITION OF measurements DEFAULT;

-- Creates the monthly partitions of measurements covering [from_ts, to_ts). Idempotent.
-- Rows already in the DEFAULT partition for a new month are moved into it.
CREATE OR REPLACE FUNCTION gw_ensure_measurement_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    created integer := 0;
    part_name text;
BEGIN
    WHILE month_start < (to_ts AT TIME ZONE 'UTC')::date LOOP
        part_name := 'measurements_' || to_char(month_start, 'YYYYMM');
        IF to_regclass(quote_ident(current_schema()) || '.' || quote_ident(part_name)) IS NULL THEN
            EXECUTE format(
                'CREATE TEMP TABLE gw_moved ON COMMIT DROP AS
                   SELECT * FROM measurements_default
                   WHERE period_start >= %L::timestamptz AND period_start < %L::timestamptz',
                month_start::text || ' 00:00:00+00',
                (month_start + interval '1 month')::date::text || ' 00:00:00+00');
            EXECUTE format(
                'DELETE FROM measurements_default
                  WHERE period_start >= %L::timestamptz AND period_start < %L::timestamptz',
                month_start::text || ' 00:00:00+00',
                (month_start + interval '1 month')::date::text || ' 00:00:00+00');
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF measurements FOR VALUES FROM (%L) TO (%L)',
                part_name,
                month_start::text || ' 00:00:00+00',
                (month_start + interval '1 month')::date::text || ' 00:00:00+00');
            EXECUTE 'INSERT INTO measurements SELECT * FROM gw_moved';
            DROP TABLE gw_moved;
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;

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

-- Hourly rollup of raw measurements per device and factor. On TimescaleDB this is a
-- continuous aggregate; here a table the sink refreshes for the hours it touched
-- (gw_refresh_measurement_hourly), recomputed from measurements so replays stay idempotent.
CREATE TABLE IF NOT EXISTS measurement_hourly (
    device_id   text NOT NULL,
    factor      text NOT NULL,
    bucket      timestamptz NOT NULL,
    samples     bigint NOT NULL,
    avg_value   double precision,
    min_value   double precision,
    max_value   double precision,
    PRIMARY KEY (device_id, factor, bucket)
);

CREATE OR REPLACE FUNCTION gw_refresh_measurement_hourly(from_ts timestamptz, to_ts timestamptz)
RETURNS void LANGUAGE sql AS $$
    DELETE FROM measurement_hourly WHERE bucket >= date_trunc('hour', from_ts) AND bucket < to_ts;
    INSERT INTO measurement_hourly (device_id, factor, bucket, samples, avg_value, min_value, max_value)
    SELECT device_id, factor, date_trunc('hour', period_start), count(*),
           avg(coalesce(avg, rtd)), min(coalesce(min, avg, rtd)), max(coalesce(max, avg, rtd))
      FROM measurements
     WHERE period IN ('rtd', 'minute')
       AND period_start >= date_trunc('hour', from_ts) AND period_start < to_ts
     GROUP BY 1, 2, 3;
$$;
