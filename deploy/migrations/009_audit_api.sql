-- The auditors' read API (audit/, docs/audit.md): API tokens and the database half of
-- "access by role" (design.md "Trust"): row-level security on enterprise and region.
--
-- Who may read and write:
-- - api_tokens: written by `greenwatch api token create|revoke` (the owner role, the CLI);
--   read by the API's connection role to authenticate a request, before it drops to one of
--   the roles below. No API role can read it.
-- - greenwatch_api_enterprise / _regulator / _auditor (NOLOGIN, granted to the role that
--   migrates, i.e. the API's connection role): SELECT only. The API runs every request in a
--   transaction under `SET LOCAL ROLE <one of them>` with `greenwatch.enterprise` (enterprise)
--   or `greenwatch.regions` (comma-separated GB/T 2260 prefixes: regulator, auditor) set
--   LOCAL; the policies below show such a role only the rows of that enterprise or of the
--   enterprises whose region_code starts with one of the prefixes. Nothing set: nothing seen.
-- - Every other role (the services, Grafana, the owner) is unscoped by these policies: RLS
--   here narrows the API roles only, so the writers' work is unchanged.
--
-- Visibility is defined once, on enterprises; every other table's policy asks "is my
-- enterprise (outlet, alert, notice) among the ones I can see?", which RLS on that table
-- answers for the same role.

CREATE TABLE IF NOT EXISTS api_tokens (
    token_id     text PRIMARY KEY,                  -- public part of the token (gwa_<id>_…)
    digest       text NOT NULL,                     -- sha256 hex of the secret part; never the secret
    principal    text NOT NULL CHECK (principal IN ('regulator', 'enterprise', 'auditor')),
    enterprise_id text,
    regions      text[] NOT NULL DEFAULT '{}',
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    CHECK ((principal = 'enterprise') = (enterprise_id IS NOT NULL)),
    CHECK (principal = 'enterprise' OR cardinality(regions) > 0),
    CHECK (expires_at > created_at)
);

-- Roles are cluster-wide; every schema migrated here grants them its own tables.
DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['greenwatch_api_enterprise', 'greenwatch_api_regulator',
                                    'greenwatch_api_auditor'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', api_role);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- made by an earlier schema's migration (or a concurrent one)
        END;
        IF NOT pg_has_role(current_user, api_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', api_role, current_user);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), api_role);
    END LOOP;
END;
$$;

-- True for every role but the three API roles: the policies narrow those only.
CREATE OR REPLACE FUNCTION gw_api_unscoped() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_user::text NOT IN
        ('greenwatch_api_enterprise', 'greenwatch_api_regulator', 'greenwatch_api_auditor')
$$;

-- Does an enterprise with this id and region fall within the current API role's scope?
CREATE OR REPLACE FUNCTION gw_api_enterprise_in_scope(enterprise text, region text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE current_user::text
        WHEN 'greenwatch_api_enterprise' THEN
            enterprise = nullif(current_setting('greenwatch.enterprise', true), '')
        WHEN 'greenwatch_api_regulator' THEN
            EXISTS (SELECT 1 FROM unnest(string_to_array(
                        nullif(current_setting('greenwatch.regions', true), ''), ',')) AS p
                     WHERE p <> '' AND starts_with(region, p))
        WHEN 'greenwatch_api_auditor' THEN
            EXISTS (SELECT 1 FROM unnest(string_to_array(
                        nullif(current_setting('greenwatch.regions', true), ''), ',')) AS p
                     WHERE p <> '' AND starts_with(region, p))
        ELSE true
    END
$$;

GRANT SELECT ON enterprises, outlets, devices, outlet_limits, aggregates,
    verdicts, alerts, alert_events, regulator_orders, notification_outbox,
    notification_deliveries, energy_readings, energy_statistics, energy_consumption,
    energy_intensities
    TO greenwatch_api_enterprise, greenwatch_api_regulator, greenwatch_api_auditor;
-- The registry document is the regulator's published reference (whole province); the API
-- narrows it to the caller's regions. Enterprises read their own rows of the tables above.
GRANT SELECT ON registry_versions TO greenwatch_api_regulator, greenwatch_api_auditor;
-- Dead letters: regulators only (docs/audit.md).
GRANT SELECT ON dead_letters TO greenwatch_api_regulator;

ALTER TABLE enterprises ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON enterprises;
CREATE POLICY gw_scope ON enterprises
    USING (gw_api_unscoped() OR gw_api_enterprise_in_scope(enterprise_id, region_code));

-- Tables keyed by enterprise_id.
DO $$
DECLARE
    keyed text;
BEGIN
    FOREACH keyed IN ARRAY ARRAY['outlets', 'verdicts', 'alerts', 'regulator_orders',
                                 'notification_outbox', 'energy_readings', 'energy_statistics',
                                 'energy_consumption', 'energy_intensities'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', keyed);
        EXECUTE format('DROP POLICY IF EXISTS gw_scope ON %I', keyed);
        EXECUTE format(
            'CREATE POLICY gw_scope ON %I USING (gw_api_unscoped()'
            ' OR enterprise_id IN (SELECT e.enterprise_id FROM enterprises e))', keyed);
    END LOOP;
    FOREACH keyed IN ARRAY ARRAY['devices', 'outlet_limits', 'aggregates'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', keyed);
        EXECUTE format('DROP POLICY IF EXISTS gw_scope ON %I', keyed);
        EXECUTE format(
            'CREATE POLICY gw_scope ON %I USING (gw_api_unscoped()'
            ' OR outlet_id IN (SELECT o.outlet_id FROM outlets o))', keyed);
    END LOOP;
END;
$$;

-- measurements: TimescaleDB refuses row-level security on a hypertable with compression, so
-- the API roles get no grant on the table and read it through this view instead (both
-- flavors alike). It runs with its owner's rights and applies the same scope itself;
-- security_barrier keeps a caller's functions from seeing rows before the scope filter.
CREATE OR REPLACE VIEW measurements_scoped WITH (security_barrier = true) AS
SELECT m.*
  FROM measurements m
 WHERE gw_api_unscoped()
    OR m.outlet_id IN (SELECT o.outlet_id FROM outlets o JOIN enterprises e USING (enterprise_id)
                        WHERE gw_api_enterprise_in_scope(e.enterprise_id, e.region_code));
GRANT SELECT ON measurements_scoped
    TO greenwatch_api_enterprise, greenwatch_api_regulator, greenwatch_api_auditor;

ALTER TABLE alert_events ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON alert_events;
CREATE POLICY gw_scope ON alert_events
    USING (gw_api_unscoped() OR alert_id IN (SELECT a.alert_id FROM alerts a));

ALTER TABLE notification_deliveries ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON notification_deliveries;
CREATE POLICY gw_scope ON notification_deliveries
    USING (gw_api_unscoped()
           OR outbox_id IN (SELECT n.outbox_id FROM notification_outbox n));

-- A dead letter of a registered device belongs to its enterprise's region; one whose device
-- is unknown (or absent: a frame too broken to name it) belongs to no enterprise, and every
-- regulator may see it.
-- Whether a device is in the registry at all (not only in the caller's scope): runs as the
-- owner, answers nothing but yes or no.
CREATE OR REPLACE FUNCTION gw_device_registered(device text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT EXISTS (SELECT 1 FROM devices WHERE device_id = device)
$$;

ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON dead_letters;
CREATE POLICY gw_scope ON dead_letters
    USING (gw_api_unscoped()
           OR device_id IS NULL
           OR device_id IN (SELECT d.device_id FROM devices d)
           OR NOT gw_device_registered(device_id));
