-- The revision history (migration 007) through the auditors' read API (migration 009, issue 14
-- item 1: every time series and verdict "with its revisions", verdicts "and their history").
--
-- Who may read and write:
-- - measurement_revisions, aggregate_revisions, verdict_revisions: written by the stream and
--   energy workers only (deploy/grants.yaml, unchanged here); now also read, SELECT only, by
--   greenwatch_api_enterprise / _regulator / _auditor, under the same row-level security as
--   the tables they revise: an enterprise role sees only its enterprise's revisions, a
--   regulator or auditor role only those of the enterprises in its GB/T 2260 prefixes.
-- - The *_versions views of 007 get no API grant: a view runs with its owner's rights and
--   reads measurements (a compressed hypertable on TimescaleDB, without RLS), so it would
--   bypass the scope. The API reads the revision tables and the scoped current tables itself.
--
-- The revision tables are plain tables in both flavors (007 has no .timescaledb variant and
-- makes no hypertable), so RLS applies to them directly; no scoped view is needed as for
-- measurements. A revision's outlet is its scope key (measurement_revisions.outlet_id may be
-- NULL for a device without an outlet: no API role sees such a row, as with measurements).

GRANT SELECT ON measurement_revisions, aggregate_revisions, verdict_revisions
    TO greenwatch_api_enterprise, greenwatch_api_regulator, greenwatch_api_auditor;

ALTER TABLE verdict_revisions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON verdict_revisions;
CREATE POLICY gw_scope ON verdict_revisions
    USING (gw_api_unscoped()
           OR enterprise_id IN (SELECT e.enterprise_id FROM enterprises e));

ALTER TABLE aggregate_revisions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON aggregate_revisions;
CREATE POLICY gw_scope ON aggregate_revisions
    USING (gw_api_unscoped() OR outlet_id IN (SELECT o.outlet_id FROM outlets o));

ALTER TABLE measurement_revisions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS gw_scope ON measurement_revisions;
CREATE POLICY gw_scope ON measurement_revisions
    USING (gw_api_unscoped() OR outlet_id IN (SELECT o.outlet_id FROM outlets o));
