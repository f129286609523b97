-- Stream sink support (streams/sink.py, docs/streams.md), plain PostgreSQL flavor.
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

-- 2. Rollup refresh for exactly the device-hours a batch closed or re-aggregated, so the cost
--    of keeping measurement_hourly is linear in the data (gw_refresh_measurement_hourly
--    recomputes every device of a time range). Recomputed from measurements: idempotent.
CREATE OR REPLACE FUNCTION gw_refresh_measurement_hourly_keys(device_ids text[], buckets timestamptz[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM measurement_hourly h
     USING unnest(device_ids, buckets) AS k(device_id, bucket)
     WHERE h.device_id = k.device_id AND h.bucket = date_trunc('hour', k.bucket);
    INSERT INTO measurement_hourly (device_id, factor, bucket, samples, avg_value, min_value, max_value)
    SELECT m.device_id, m.factor, date_trunc('hour', m.period_start), count(*),
           avg(coalesce(m.avg, m.rtd)), min(coalesce(m.min, m.avg, m.rtd)),
           max(coalesce(m.max, m.avg, m.rtd))
      FROM (SELECT DISTINCT device_id, date_trunc('hour', bucket) AS bucket
              FROM unnest(device_ids, buckets) AS u(device_id, bucket)) AS k
      JOIN measurements m
        ON m.device_id = k.device_id
       AND m.period_start >= k.bucket AND m.period_start < k.bucket + interval '1 hour'
     WHERE m.period IN ('rtd', 'minute')
     GROUP BY 1, 2, 3;
$$;
