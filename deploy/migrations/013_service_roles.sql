-- Service roles connect as themselves (issue 11, item 4; deploy/grants.yaml, docs/security.md).
--
-- The stream worker (gw_worker) refreshes the hourly rollup for the device-hours a batch
-- touched (streams/upserts.py). In the plain flavor that is a DELETE + INSERT on
-- measurement_hourly recomputed from measurements; rather than grant the worker DELETE on the
-- rollup, the refresh functions run as their owner (SECURITY DEFINER) with the search_path of
-- this migration pinned, so no caller can redirect the tables they name. In the TimescaleDB
-- flavor they are no-ops (a real-time continuous aggregate, refreshed by its policy job, which
-- runs as the owner); pinning them too keeps both flavors alike.
ALTER FUNCTION gw_refresh_measurement_hourly_keys(text[], timestamptz[])
    SECURITY DEFINER SET search_path FROM CURRENT;
ALTER FUNCTION gw_refresh_measurement_hourly(timestamptz, timestamptz)
    SECURITY DEFINER SET search_path FROM CURRENT;
-- Only the roles that need it may call it (PUBLIC may execute functions by default).
REVOKE ALL ON FUNCTION gw_refresh_measurement_hourly_keys(text[], timestamptz[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_refresh_measurement_hourly(timestamptz, timestamptz) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gw_worker') THEN
        GRANT EXECUTE ON FUNCTION gw_refresh_measurement_hourly_keys(text[], timestamptz[])
            TO gw_worker;
    END IF;
END
$$;
