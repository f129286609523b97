-- The revision history's views (migration 007) run with the rights of the role that reads them
-- (security_invoker, PostgreSQL 15+), so row-level security applies through them and the
-- auditors' API reads an entity's history from the same view the stream code does (one UNION
-- of superseded and current rows, not a second copy in audit/history.py). Until now the views
-- ran with their owner's rights, which skips RLS: no API role could be granted them
-- (migration 012).
--
-- Who may read and write (views are read-only by nature):
-- - verdict_versions, aggregate_versions: SELECT to greenwatch_api_enterprise / _regulator /
--   _auditor (here: deploy/grants.yaml names only the LOGIN service roles; the API's NOLOGIN
--   roles are granted by their migrations, as in 009 and 012), under the gw_scope policies of
--   verdicts / verdict_revisions and aggregates / aggregate_revisions (009, 012): a role sees
--   only its enterprise's or its regions' rows. The service roles and gw_reader keep what
--   deploy/grants.yaml gives them; reading a view now also needs SELECT on the tables under
--   it, which each of them already has.
-- - measurement_versions: no API grant. Its current rows come from measurements, which the
--   API roles cannot read (a compressed hypertable on TimescaleDB has no RLS; they read
--   measurements_scoped): granted, the view would answer "permission denied", not leak.
--
-- verdict_versions gains ratio, standard and superseded_by, which the API's history shows
-- (appended: CREATE OR REPLACE keeps the existing columns, so nothing built on the view
-- breaks); the other two views keep their definition and only change whose rights they run
-- with.

DO $$
BEGIN
    IF current_setting('server_version_num')::int < 150000 THEN
        RAISE EXCEPTION 'the *_versions views need PostgreSQL 15 or later (security_invoker);'
                        ' this server is %', current_setting('server_version')
            USING ERRCODE = 'feature_not_supported';
    END IF;
END;
$$;

ALTER VIEW measurement_versions SET (security_invoker = true);
ALTER VIEW aggregate_versions SET (security_invoker = true);

CREATE OR REPLACE VIEW verdict_versions WITH (security_invoker = true) AS
    SELECT outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value,
           status, evidence, registry_version, revision, issued_at, false AS current,
           superseded_at, reason, source, ratio, standard, superseded_by
      FROM verdict_revisions
    UNION ALL
    SELECT outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value,
           status, evidence, registry_version, revision, issued_at, true, NULL, NULL, NULL,
           ratio, standard, NULL
      FROM verdicts;

GRANT SELECT ON verdict_versions, aggregate_versions
    TO greenwatch_api_enterprise, greenwatch_api_regulator, greenwatch_api_auditor;
