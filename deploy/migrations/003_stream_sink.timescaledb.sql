-- Stream sink support (streams/sink.py, docs/streams.md), TimescaleDB flavor.
--
-- 1. Dead letters written by the stream workers carry the Kafka position they came from, and
--    that position is their natural key: a batch re-processed after a crash (offsets are
--    committed only after the database commit) inserts nothing twice. Rows from other
--    sources (the gateway) leave the position NULL and are never deduplicated.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS source_topic text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS source_partition integer;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS source_offset bigint;
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_position_idx
    ON dead_letters (source_topic, source_partition, source_offset);

-- 2. measurement_hourly is a real-time continuous aggregate here: nothing to refresh.
CREATE OR REPLACE FUNCTION gw_refresh_measurement_hourly_keys(device_ids text[], buckets timestamptz[])
RETURNS void LANGUAGE sql AS $$ SELECT $$;
