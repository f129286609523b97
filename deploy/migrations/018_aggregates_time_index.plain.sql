-- The hourly/daily values' lookup by natural key (issue 15, seventh slice; docs/database.md
-- "Indexes the sink's lookups depend on"). On plain PostgreSQL `aggregates` is an ordinary
-- table: `aggregates_time_idx (period, period_start)` is the index of the panels' time
-- ranges, and the table always has statistics, with which the revision lookup
-- (streams/revisions.py) probes the primary key. It stays; 018_aggregates_time_index.timescaledb.sql
-- drops it on hypertables, which have TimescaleDB's own time index.
COMMENT ON INDEX aggregates_time_idx IS
    'time ranges of the panels (plain PostgreSQL only; migration 018)';
