-- Energy (issue 9, docs/energy.md), plain PostgreSQL flavor: ordinary tables, natural keys.
-- Who may read and write (design.md "Trust"): the energy stream worker writes every table here
-- (and energy verdicts into `verdicts`); Grafana, auditors and the audit API read them;
-- an enterprise reads only its own rows (enterprise_id) once row-level security lands.

-- Every accepted reading as posted (natural key: meter, statistic type, instant or period
-- start: a re-sent reading replaces itself, never counts twice), with its data-quality marks
-- (rollover, replacement, backwards, implausible_jump): kept and marked, never dropped.
CREATE TABLE IF NOT EXISTS energy_readings (
    meter_id       text NOT NULL,
    stat_type      text NOT NULL CHECK (stat_type IN ('realtime', 'day', 'month', 'year')),
    at             timestamptz NOT NULL,
    enterprise_id  text NOT NULL,
    value          double precision NOT NULL,
    unit           text NOT NULL,
    register       boolean NOT NULL,
    marks          text[] NOT NULL DEFAULT '{}',
    stored_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, stat_type, at)
);
CREATE INDEX IF NOT EXISTS energy_readings_enterprise_idx ON energy_readings (enterprise_id, at);

-- Reported figures (output per product, value added, water, waste), day or month.
CREATE TABLE IF NOT EXISTS energy_statistics (
    enterprise_id  text NOT NULL,
    indicator      text NOT NULL,
    product        text NOT NULL DEFAULT '',
    stat_type      text NOT NULL CHECK (stat_type IN ('day', 'month')),
    period_start   timestamptz NOT NULL,
    value          double precision NOT NULL,
    unit           text NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, indicator, product, stat_type, period_start)
);

-- Consumption per meter and hour, day, month: the carrier's unit, kgce on both electricity
-- bases, kg CO2 (NULL: no factor, or feedstock), completeness of the day, the coefficients
-- and their versions in `evidence`. Late and corrected readings rewrite the rows they move.
CREATE TABLE IF NOT EXISTS energy_consumption (
    meter_id         text NOT NULL,
    period           text NOT NULL CHECK (period IN ('hour', 'day', 'month')),
    period_start     timestamptz NOT NULL,
    enterprise_id    text NOT NULL,
    carrier          text NOT NULL,
    product          text,
    feedstock        boolean NOT NULL,
    quantity         double precision NOT NULL,
    kgce_calorific   double precision NOT NULL,
    kgce_equivalent  double precision NOT NULL,
    co2_kg           double precision,
    readings         integer,
    expected         integer,
    completeness     double precision,
    marks            text[] NOT NULL DEFAULT '{}',
    evidence         jsonb NOT NULL DEFAULT '{}',
    registry_version text NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, period, period_start)
);
CREATE INDEX IF NOT EXISTS energy_consumption_enterprise_idx
    ON energy_consumption (enterprise_id, period, period_start);

-- Rolling intensities (Σ numerator ÷ Σ denominator) per window ending with the day at
-- period_start: subject = product (unit consumption), indicator = the quota's unit.
CREATE TABLE IF NOT EXISTS energy_intensities (
    enterprise_id    text NOT NULL,
    subject          text NOT NULL,
    indicator        text NOT NULL,
    window_name      text NOT NULL CHECK (window_name IN ('24h', '30d', 'month', 'ytd')),
    period_start     timestamptz NOT NULL,
    numerator        double precision NOT NULL,
    denominator      double precision NOT NULL,
    value            double precision NOT NULL,
    evidence         jsonb NOT NULL DEFAULT '{}',
    registry_version text NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, subject, indicator, window_name, period_start)
);

-- Consumption by enterprise, carrier and period (what dashboards and auditors ask for).
CREATE OR REPLACE VIEW energy_consumption_by_carrier AS
SELECT enterprise_id, carrier, period, period_start,
       sum(quantity) AS quantity, sum(kgce_calorific) AS kgce_calorific,
       sum(kgce_equivalent) AS kgce_equivalent, sum(co2_kg) AS co2_kg,
       bool_or(feedstock) AS has_feedstock
  FROM energy_consumption
 GROUP BY enterprise_id, carrier, period, period_start;
