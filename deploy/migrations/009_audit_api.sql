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
    SELECT CASE
        WHEN current_user::text = 'greenwatch_api_enterprise' THEN
            enterprise = nullif(current_setting('greenwatch.enterprise', true), '')
        WHEN current_user::text IN ('greenwatch_api_regulator', 'greenwatch_api_auditor') THEN
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

-- The tamper-evident trail (docs/audit.md "Trail"): every insert, update and delete of alert
-- events, regulator orders, registry versions and verdicts appends an entry to a hash chain
-- (one chain per alert, per enterprise's orders, per outlet's verdicts, one for the
-- registry): the sha256 of the row's content (to_jsonb in UTC), the previous entry's hash and
-- its own. Appended by triggers running as the owner (SECURITY DEFINER: no writer role needs
-- a grant on audit_trail); append-only like alert_events. `greenwatch audit verify` walks the
-- chains, re-hashes the rows as they are now, checks the rules of each table (an alert event
-- is never changed; a verdict's value or status changes only with a new revision; an order
-- changes only by being lifted, once; a registry version's document never changes; nothing
-- is deleted) and, given an anchor file, that the anchored heads are still there.
-- Who may read and write: the triggers append; the owner (verify, anchor) reads; no API role.
CREATE TABLE IF NOT EXISTS audit_trail (
    chain        text NOT NULL,
    seq          bigint NOT NULL,
    ref          text NOT NULL,
    op           text NOT NULL CHECK (op IN ('BASELINE', 'INSERT', 'UPDATE', 'DELETE')),
    marker       jsonb NOT NULL,
    content_hash text NOT NULL,
    prev_hash    text NOT NULL,
    entry_hash   text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain, seq)
);
CREATE INDEX IF NOT EXISTS audit_trail_ref_idx ON audit_trail (chain, ref, seq);

CREATE OR REPLACE FUNCTION gw_audit_trail_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail;
CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION gw_audit_trail_append_only();
DROP TRIGGER IF EXISTS audit_trail_no_truncate ON audit_trail;
CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION gw_audit_trail_append_only();

-- The content hash of a row: sha256 hex of its jsonb text, times in UTC whatever the session.
CREATE OR REPLACE FUNCTION gw_row_hash(content jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(content::text, 'UTF8')), 'hex')
$$;

-- (Triggers name their table in an argument: on TimescaleDB they run on the chunks, so
-- TG_TABLE_NAME is a chunk's name.)
-- Chain, ref and marker of a row of one of the chained tables (marker: what verify's rules
-- compare between two entries of the same ref).
CREATE OR REPLACE FUNCTION gw_trail_key(tbl text, r jsonb, OUT chain text, OUT ref text,
                                        OUT marker jsonb)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE tbl
               WHEN 'alert_events' THEN 'alert_events:' || (r ->> 'alert_id')
               WHEN 'regulator_orders' THEN 'regulator_orders:' || (r ->> 'enterprise_id')
               WHEN 'registry_versions' THEN 'registry_versions'
               ELSE 'verdicts:' || (r ->> 'outlet_id') END,
           CASE tbl
               WHEN 'alert_events' THEN r ->> 'event_id'
               WHEN 'regulator_orders' THEN r ->> 'order_id'
               WHEN 'registry_versions' THEN r ->> 'version'
               ELSE concat_ws('|', r ->> 'factor', r ->> 'rule', r ->> 'period_start') END,
           CASE tbl
               WHEN 'alert_events' THEN '{}'::jsonb
               WHEN 'regulator_orders' THEN jsonb_build_object(
                   'fixed', gw_row_hash(r - 'lifted_at' - 'lifted_by'),
                   'lifted', (r ->> 'lifted_at') IS NOT NULL)
               WHEN 'registry_versions' THEN jsonb_build_object(
                   'document', gw_row_hash(r -> 'document'))
               ELSE jsonb_build_object(
                   'revision', (r ->> 'revision')::int,
                   'judged', gw_row_hash(jsonb_build_object('value', r -> 'value',
                                                             'status', r -> 'status'))) END
$$;

-- Append one entry (serialised per chain by an advisory lock held to the end of the
-- transaction). The entry hash is sha256 of chain|seq|ref|op|content_hash|prev_hash, the same
-- text audit/trail.py computes.
CREATE OR REPLACE FUNCTION gw_trail_append(tbl text, op text, r jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET timezone = 'UTC' AS $$
DECLARE
    k record;
    last record;
    next_seq bigint;
    prev text;
    content text;
BEGIN
    SELECT * INTO k FROM gw_trail_key(tbl, r);
    PERFORM pg_advisory_xact_lock(hashtext('gw_trail:' || k.chain));
    SELECT seq, entry_hash INTO last FROM audit_trail
     WHERE chain = k.chain ORDER BY seq DESC LIMIT 1;
    next_seq := coalesce(last.seq, 0) + 1;
    prev := coalesce(last.entry_hash, '');
    content := CASE WHEN op = 'DELETE' THEN '' ELSE gw_row_hash(r) END;
    INSERT INTO audit_trail (chain, seq, ref, op, marker, content_hash, prev_hash, entry_hash)
    VALUES (k.chain, next_seq, k.ref, op, k.marker, content, prev,
            encode(sha256(convert_to(concat_ws('|', k.chain, next_seq::text, k.ref, op,
                                               content, prev), 'UTF8')), 'hex'));
END;
$$;

CREATE OR REPLACE FUNCTION gw_trail_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET timezone = 'UTC' AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM gw_trail_append(TG_ARGV[0], TG_OP, to_jsonb(OLD));
        RETURN OLD;
    END IF;
    PERFORM gw_trail_append(TG_ARGV[0], TG_OP, to_jsonb(NEW));
    RETURN NEW;
END;
$$;

-- The current content hash of a chained row, as verify recomputes it (UTC whatever the
-- session's time zone).
CREATE OR REPLACE FUNCTION gw_trail_row(tbl text, r jsonb, OUT chain text, OUT ref text,
                                        OUT content_hash text)
LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
    SELECT k.chain, k.ref, gw_row_hash(r) FROM gw_trail_key(tbl, r) AS k
$$;

DO $$
DECLARE
    tbl text;
    r record;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['registry_versions', 'regulator_orders', 'alert_events',
                               'verdicts'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS gw_trail ON %I', tbl);
        -- Rows from before this migration: one BASELINE entry each, in key order.
        IF NOT EXISTS (SELECT 1 FROM audit_trail
                        WHERE chain = tbl OR chain LIKE tbl || ':%') THEN
            FOR r IN EXECUTE format('SELECT to_jsonb(t) AS j FROM %I t ORDER BY 1', tbl) LOOP
                PERFORM gw_trail_append(tbl, 'BASELINE', r.j);
            END LOOP;
        END IF;
        EXECUTE format('CREATE TRIGGER gw_trail AFTER INSERT OR UPDATE OR DELETE ON %I'
                       ' FOR EACH ROW EXECUTE FUNCTION gw_trail_trigger(%L)', tbl, tbl);
    END LOOP;
END;
$$;

-- Period locking (`greenwatch audit lock --quarter 2026Q3`, docs/audit.md "Locked periods"):
-- once a period is locked, late data still re-aggregate and re-issue verdicts as always, but
-- every such write to an hourly/daily value or a verdict of the locked period is recorded in
-- after_lock_changes with the row before and after, so nothing is overwritten silently and the
-- API shows it (/v1/after-lock). Who may read and write: `audit lock` (owner) writes
-- period_locks; the trigger (as owner) writes after_lock_changes; every API role reads both
-- (after_lock_changes within its scope).
CREATE TABLE IF NOT EXISTS period_locks (
    period     text PRIMARY KEY,                -- e.g. 2026Q3
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
    locked_at  timestamptz NOT NULL DEFAULT now(),
    locked_by  text NOT NULL
);

CREATE TABLE IF NOT EXISTS after_lock_changes (
    change_id     bigserial PRIMARY KEY,
    period        text NOT NULL REFERENCES period_locks (period),
    table_name    text NOT NULL,
    outlet_id     text NOT NULL,
    factor        text NOT NULL,
    period_start  timestamptz NOT NULL,
    op            text NOT NULL,
    previous      jsonb,
    current       jsonb NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS after_lock_changes_outlet_idx
    ON after_lock_changes (outlet_id, period_start);

CREATE OR REPLACE FUNCTION gw_after_lock() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    locked text;
BEGIN
    SELECT period INTO locked FROM period_locks
     WHERE NEW.period_start >= starts_at AND NEW.period_start < ends_at
     ORDER BY starts_at LIMIT 1;
    IF locked IS NOT NULL THEN
        INSERT INTO after_lock_changes (period, table_name, outlet_id, factor, period_start, op,
                                        previous, current)
        VALUES (locked, TG_ARGV[0], NEW.outlet_id, NEW.factor, NEW.period_start, TG_OP,
                CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS gw_after_lock ON aggregates;
CREATE TRIGGER gw_after_lock AFTER INSERT OR UPDATE ON aggregates
    FOR EACH ROW EXECUTE FUNCTION gw_after_lock('aggregates');
DROP TRIGGER IF EXISTS gw_after_lock ON verdicts;
CREATE TRIGGER gw_after_lock AFTER INSERT OR UPDATE ON verdicts
    FOR EACH ROW EXECUTE FUNCTION gw_after_lock('verdicts');

GRANT SELECT ON period_locks, after_lock_changes
    TO greenwatch_api_enterprise, greenwatch_api_regulator, greenwatch_api_auditor;
ALTER TABLE after_lock_changes ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON after_lock_changes;
CREATE POLICY gw_scope ON after_lock_changes
    USING (gw_api_unscoped() OR outlet_id IN (SELECT o.outlet_id FROM outlets o));
