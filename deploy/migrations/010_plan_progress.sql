-- Plan progress (issue 10, docs/plans.md), both flavors: small tables, no time partitioning.
-- Who may read and write (design.md "Trust"): `greenwatch plan progress` (a plan role) writes
-- both tables; Grafana, auditors and the audit API read them; a region's regulator reads the
-- rows of its region (region_code prefix) once row-level security lands; enterprises read
-- their own rows (subject_kind = 'enterprise').

-- One verdict `plan_progress` per subject (a region by GB/T 2260 code, or an enterprise),
-- target, as-of date and barometer vintage: the colour (NULL: cannot be judged, `reason`
-- says why), reduction or rate to date vs required, and the evidence (sums, baseline, path).
-- Re-running for the same day replaces the row (natural key).
CREATE TABLE IF NOT EXISTS plan_progress (
    subject_kind     text NOT NULL CHECK (subject_kind IN ('region', 'enterprise')),
    subject_id       text NOT NULL,
    target_id        text NOT NULL,
    as_of            date NOT NULL,
    vintage          text NOT NULL,
    subject_name     text NOT NULL,
    region_code      text NOT NULL,
    indicator        text NOT NULL,
    colour           text CHECK (colour IN ('green', 'yellow', 'red')),
    actual           double precision,
    required         double precision,
    reason           text NOT NULL,
    evidence         jsonb NOT NULL DEFAULT '{}',
    registry_version text NOT NULL,
    plan_version     text NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_kind, subject_id, target_id, as_of, vintage)
);
CREATE INDEX IF NOT EXISTS plan_progress_region_idx ON plan_progress (region_code, as_of);

-- What the plans make a regulator do about a verdict (consequences, issue 10 item 3):
-- `restrict_approvals` (限批缓批, a red region, to its regulator), `subsidy_loss` (an
-- enterprise missing its target), `credit_entry` (bad energy or emission records, for the
-- credit system; exported by `greenwatch plan credit-list`). Natural key: one per kind,
-- subject, basis and year.
CREATE TABLE IF NOT EXISTS plan_consequences (
    kind             text NOT NULL
                     CHECK (kind IN ('restrict_approvals', 'subsidy_loss', 'credit_entry')),
    subject_kind     text NOT NULL CHECK (subject_kind IN ('region', 'enterprise')),
    subject_id       text NOT NULL,
    basis            text NOT NULL,
    year             integer NOT NULL,
    subject_name     text NOT NULL,
    region_code      text NOT NULL,
    addressee        text,
    reason           text NOT NULL,
    evidence         jsonb NOT NULL DEFAULT '{}',
    first_seen       date NOT NULL,
    last_seen        date NOT NULL,
    PRIMARY KEY (kind, subject_kind, subject_id, basis, year)
);
