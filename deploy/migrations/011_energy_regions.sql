
-- One row per enterprise and China-time month: energy (tce, calorific basis) without and with
-- feedstock use (发改环资〔2022〕803号), CO2 of combustion + purchased electricity, process CO2,
-- and value added (10^4 yuan, constant prices: the month's figure, else the sum of its daily
-- figures). streams.domain.energy.regions.EnterpriseMonth is this row.
CREATE OR REPLACE VIEW energy_enterprise_monthly AS
WITH consumption AS (
    SELECT enterprise_id,
           date_trunc('month', period_start AT TIME ZONE 'Asia/Shanghai')::date AS month,
           sum(kgce_calorific) FILTER (WHERE NOT feedstock) / 1000.0 AS tce,
           sum(kgce_calorific) / 1000.0 AS tce_with_feedstock,
           coalesce(sum(co2_kg), 0) / 1000.0 AS energy_co2_t
      FROM energy_consumption
     WHERE period = 'day'
     GROUP BY 1, 2
), process AS (
    SELECT enterprise_id,
           date_trunc('month', period_start AT TIME ZONE 'Asia/Shanghai')::date AS month,
           sum(co2_t) AS process_co2_t
      FROM energy_process_co2
     GROUP BY 1, 2
), value_added AS (
    SELECT enterprise_id,
           date_trunc('month', period_start AT TIME ZONE 'Asia/Shanghai')::date AS month,
           coalesce(sum(value) FILTER (WHERE stat_type = 'month'),
                    sum(value) FILTER (WHERE stat_type = 'day')) AS value_added
      FROM energy_statistics
     WHERE indicator = 'value_added'
     GROUP BY 1, 2
), keys AS (
    SELECT enterprise_id, month FROM consumption
    UNION SELECT enterprise_id, month FROM process
    UNION SELECT enterprise_id, month FROM value_added
)
SELECT k.enterprise_id, e.region_code, k.month,
       coalesce(c.tce, 0) AS tce,
       coalesce(c.tce_with_feedstock, 0) AS tce_with_feedstock,
       coalesce(c.energy_co2_t, 0) AS energy_co2_t,
       coalesce(p.process_co2_t, 0) AS process_co2_t,
       coalesce(c.energy_co2_t, 0) + coalesce(p.process_co2_t, 0) AS co2_t,
       v.value_added
  FROM keys k
  JOIN enterprises e USING (enterprise_id)
  LEFT JOIN consumption c USING (enterprise_id, month)
  LEFT JOIN process p USING (enterprise_id, month)
  LEFT JOIN value_added v USING (enterprise_id, month);

-- The same rolled up by region (GB/T 2260: province = first 2 digits, city = first 4, county =
-- all 6; the region is named by its full code, e.g. 520000, 520400, 520402) and month.
-- Intensities are Σ numerator ÷ Σ value added over the enterprises that reported value added
-- (never an average of ratios); NULL when none did. streams.domain.energy.regions.roll_up
-- computes the same rows.
CREATE OR REPLACE VIEW energy_region_monthly AS
SELECT r.level, r.region, m.month,
       count(*) AS enterprises,
       sum(m.tce) AS tce,
       sum(m.tce_with_feedstock) AS tce_with_feedstock,
       sum(m.energy_co2_t) AS energy_co2_t,
       sum(m.process_co2_t) AS process_co2_t,
       sum(m.co2_t) AS co2_t,
       sum(m.value_added) AS value_added,
       sum(m.tce) FILTER (WHERE m.value_added IS NOT NULL)
           / nullif(sum(m.value_added), 0) AS tce_per_10k_yuan,
       sum(m.co2_t) FILTER (WHERE m.value_added IS NOT NULL)
           / nullif(sum(m.value_added), 0) AS tco2_per_10k_yuan
  FROM energy_enterprise_monthly m
 CROSS JOIN LATERAL (VALUES
       ('province', rpad(left(m.region_code, 2), 6, '0')),
       ('city', rpad(left(m.region_code, 4), 6, '0')),
       ('county', m.region_code)) AS r(level, region)
 GROUP BY r.level, r.region, m.month;
