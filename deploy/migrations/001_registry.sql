-- Registry: the versioned reference of who is monitored and which thresholds apply.
-- Every verdict records registry_version; registry_versions keeps each loaded document whole
-- so that any past verdict can be re-derived (greenwatch replay --registry).
CREATE TABLE IF NOT EXISTS registry_versions (
    version     text PRIMARY KEY,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    document    jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS enterprises (
    enterprise_id   text PRIMARY KEY,
    name            text NOT NULL,
    region_code     text NOT NULL,
    industry_code   text NOT NULL,
    art7_facility   boolean NOT NULL DEFAULT false,
    registry_version text NOT NULL REFERENCES registry_versions (version)
);

CREATE TABLE IF NOT EXISTS outlets (
    outlet_id       text PRIMARY KEY,
    enterprise_id   text NOT NULL REFERENCES enterprises (enterprise_id),
    name            text NOT NULL,
    medium          text NOT NULL CHECK (medium IN ('gas', 'water')),
    standard_id     text NOT NULL,
    reference_o2    double precision,
    registry_version text NOT NULL REFERENCES registry_versions (version)
);

CREATE TABLE IF NOT EXISTS devices (
    device_id       text PRIMARY KEY,           -- HJ 212 MN
    outlet_id       text NOT NULL REFERENCES outlets (outlet_id),
    interval_s      integer NOT NULL,
    registry_version text NOT NULL REFERENCES registry_versions (version)
);

-- Effective limits per outlet and factor (standard or permit override), for dashboards.
CREATE TABLE IF NOT EXISTS outlet_limits (
    outlet_id       text NOT NULL REFERENCES outlets (outlet_id),
    factor          text NOT NULL,
    limit_value     double precision NOT NULL,
    limit_source    text NOT NULL,
    daily_quota_kg  double precision,
    annual_quota_kg double precision,
    registry_version text NOT NULL REFERENCES registry_versions (version),
    PRIMARY KEY (outlet_id, factor)
);

-- Input that could not be processed, kept with its bytes and reason (also on the DLQ topic).
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    reason      text NOT NULL,
    message     text NOT NULL,
    peer        text,
    device_id   text,
    received_at timestamptz NOT NULL,
    payload     bytea NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letters_reason_idx ON dead_letters (reason, received_at);
