-- The hourly/daily values' lookup by natural key (issue 15, seventh slice; docs/database.md
-- "Indexes the sink's lookups depend on"). On TimescaleDB `aggregates` is a hypertable, which
-- has TimescaleDB's own time index (`aggregates_period_start_idx`, period_start DESC) for the
-- panels' time ranges; `aggregates_time_idx (period, period_start)` added nothing for them,
-- and on a chunk without statistics yet (every new 30-day chunk until autovacuum analyses
-- it) the planner preferred it, as the smaller index, to the primary key for the revision
-- lookup of each staged hourly value (streams/revisions.py): every value of a closing hour
-- compared with every stored value of that hour. Without it the lookup is a primary-key probe.
-- Who may read and write: unchanged (an index, no new grant).
DROP INDEX IF EXISTS aggregates_time_idx;
