-- Energy, second part (issue 9, docs/energy.md), plain PostgreSQL flavor: process CO2 per product and
-- day, and the regional roll-up (GB/T 2260 prefixes) of consumption, CO2 and intensities.
-- Who may read and write (design.md "Trust"): the energy stream worker writes
-- energy_process_co2; the views are read-only by nature (over energy_consumption,
-- energy_process_co2, energy_statistics and the registry's enterprises); Grafana, auditors,
-- the audit API and the plan report read them; an enterprise reads only its own rows of
-- energy_process_co2 and energy_enterprise_monthly (enterprise_id) once row-level security
-- lands; energy_region_monthly holds no single enterprise's figures beyond its region's sum
-- (regulators of the region read it).

-- Process CO2 (过程排放, domain-energy.md §5.3): output (t) × the reference factor (t CO2/t),
-- per product and China day (natural key; a re-derived day replaces itself).
CREATE TABLE IF NOT EXISTS energy_process_co2 (
    enterprise_id    text NOT NULL,
    product          text NOT NULL,
    period_start     timestamptz NOT NULL,
    process          text NOT NULL,
    output_t         double precision NOT NULL,
    co2_t            double precision NOT NULL,
    evidence         jsonb NOT NULL DEFAULT '{}',
    registry_version text NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, product, period_start)
);
