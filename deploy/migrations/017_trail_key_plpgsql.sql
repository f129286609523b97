-- The trail trigger's cost (issue 15, p99 slice): every verdict insert or update fires
-- gw_trail (009), whose gw_trail_append read its chain, ref and marker with
-- `SELECT * INTO k FROM gw_trail_key(tbl, r)`. gw_trail_key was a LANGUAGE sql function with
-- OUT parameters: not inlinable in FROM, so each execution of that PL/pgSQL statement
-- (once per row) parsed and planned the function's body again. That was ~0.3 ms of the
-- ~0.4 ms a verdict cost the server (EXPLAIN ANALYZE of the sink's verdict upsert, 1 000
-- verdicts: "Trigger gw_trail: time=401 calls=1000" of 442 ms; docs/perf.md "Fourth
-- slice"). As PL/pgSQL the same expressions are planned once per session and cached.
--
-- Same name, arguments, results and expressions: chain, ref and marker of every row are
-- what 009 computed, so chains written before and after this step link and verify
-- (audit/verify.py, gw_trail_row) unchanged. Same language-independent flavour (plain
-- PostgreSQL and TimescaleDB alike). Who may read and write: nothing changes; the function
-- keeps its owner and privileges (CREATE OR REPLACE), it reads and writes no table.
CREATE OR REPLACE FUNCTION gw_trail_key(tbl text, r jsonb, OUT chain text, OUT ref text,
                                        OUT marker jsonb)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    chain := CASE tbl
                 WHEN 'alert_events' THEN 'alert_events:' || (r ->> 'alert_id')
                 WHEN 'regulator_orders' THEN 'regulator_orders:' || (r ->> 'enterprise_id')
                 WHEN 'registry_versions' THEN 'registry_versions'
                 ELSE 'verdicts:' || (r ->> 'outlet_id') END;
    ref := CASE tbl
               WHEN 'alert_events' THEN r ->> 'event_id'
               WHEN 'regulator_orders' THEN r ->> 'order_id'
               WHEN 'registry_versions' THEN r ->> 'version'
               ELSE concat_ws('|', r ->> 'factor', r ->> 'rule', r ->> 'period_start') END;
    marker := CASE tbl
                  WHEN 'alert_events' THEN '{}'::jsonb
                  WHEN 'regulator_orders' THEN jsonb_build_object(
                      'fixed', gw_row_hash(r - 'lifted_at' - 'lifted_by'),
                      'lifted', (r ->> 'lifted_at') IS NOT NULL)
                  WHEN 'registry_versions' THEN jsonb_build_object(
                      'document', gw_row_hash(r -> 'document'))
                  ELSE jsonb_build_object(
                      'revision', (r ->> 'revision')::int,
                      'judged', gw_row_hash(jsonb_build_object('value', r -> 'value',
                                                                'status', r -> 'status'))) END;
END;
$$;
