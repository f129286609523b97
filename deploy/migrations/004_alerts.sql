-- Alerts (alerts/, docs/alerts.md): one row per (subject, factor, rule), its append-only
-- history, the notification outbox and delivery log, subscriptions, maintenance windows and
-- regulator orders. The state machine's transitions and their outbox rows are written in one
-- transaction; Kafka offsets are committed only after it.

CREATE TABLE IF NOT EXISTS alerts (
    alert_id          text PRIMARY KEY,            -- '<subject>/<factor or ->/<rule>'
    subject           text NOT NULL,               -- outlet id (verdict rules) or device MN (quality)
    factor            text,
    rule              text NOT NULL,
    enterprise_id     text NOT NULL,
    outlet_id         text,
    device_id         text,
    state             text NOT NULL CHECK (state IN ('pending', 'firing', 'escalated', 'resolved')),
    level             smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    episode           integer NOT NULL CHECK (episode >= 0),
    basis             text NOT NULL,
    opened_at         timestamptz,
    fired_at          timestamptz,
    resolved_at       timestamptz,
    updated_at        timestamptz,
    pending_until     timestamptz,
    clearing_until    timestamptz,
    escalate_at       timestamptz,
    acknowledged_by   text,
    acknowledged_at   timestamptz,
    last_notified_at  timestamptz,
    notified_level    smallint,
    due_at            timestamptz,
    evidence          jsonb NOT NULL DEFAULT '{}',
    registry_version  text NOT NULL,
    marks             jsonb NOT NULL DEFAULT '{}'  -- the rule's window of judged periods
);
-- One alert per key, whatever the id says.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_key_idx ON alerts (subject, coalesce(factor, ''), rule);
CREATE INDEX IF NOT EXISTS alerts_enterprise_idx ON alerts (enterprise_id, state);
CREATE INDEX IF NOT EXISTS alerts_due_idx ON alerts (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS alerts_outlet_quality_idx ON alerts (outlet_id)
    WHERE rule LIKE 'quality.%' AND state IN ('firing', 'escalated');

-- What happened, when, who did it, on which evidence (hourly values, flags, rule, registry
-- version). Append-only: updates and deletes are refused by trigger.
CREATE TABLE IF NOT EXISTS alert_events (
    event_id          bigserial PRIMARY KEY,
    alert_id          text NOT NULL REFERENCES alerts (alert_id),
    episode           integer NOT NULL,
    at                timestamptz NOT NULL,
    kind              text NOT NULL,
    actor             text NOT NULL,
    level             smallint NOT NULL,
    state             text NOT NULL,
    rule              text NOT NULL,
    evidence          jsonb NOT NULL DEFAULT '{}',
    registry_version  text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS alert_events_alert_idx ON alert_events (alert_id, event_id);

CREATE OR REPLACE FUNCTION gw_alert_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS alert_events_append_only ON alert_events;
CREATE TRIGGER alert_events_append_only BEFORE UPDATE OR DELETE ON alert_events
    FOR EACH ROW EXECUTE FUNCTION gw_alert_events_append_only();
DROP TRIGGER IF EXISTS alert_events_no_truncate ON alert_events;
CREATE TRIGGER alert_events_no_truncate BEFORE TRUNCATE ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION gw_alert_events_append_only();

-- Where notices go. enterprise_id '*' (all) is allowed for the regulator audience only.
CREATE TABLE IF NOT EXISTS alert_subscriptions (
    subscription_id   bigserial PRIMARY KEY,
    enterprise_id     text NOT NULL,
    audience          text NOT NULL CHECK (audience IN ('enterprise', 'regulator')),
    channel           text NOT NULL,               -- Apprise URL
    min_level         smallint NOT NULL DEFAULT 0 CHECK (min_level BETWEEN 0 AND 4),
    quiet_start       time,                        -- China time (UTC+8)
    quiet_end         time,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL,
    CHECK (audience = 'regulator' OR enterprise_id <> '*'),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);
CREATE INDEX IF NOT EXISTS alert_subscriptions_enterprise_idx
    ON alert_subscriptions (enterprise_id) WHERE enabled;

-- Declared by enterprises: notices held back meanwhile (transitions still recorded).
CREATE TABLE IF NOT EXISTS maintenance_windows (
    window_id         bigserial PRIMARY KEY,
    enterprise_id     text NOT NULL,
    outlet_id         text,                        -- NULL: the whole enterprise
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason            text NOT NULL DEFAULT '',
    declared_by       text NOT NULL,
    declared_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS maintenance_windows_time_idx ON maintenance_windows (ends_at);

-- Regulator decisions under Order No. 30 (2014): restrict (Art. 5) or suspend (Art. 6).
CREATE TABLE IF NOT EXISTS regulator_orders (
    order_id          bigserial PRIMARY KEY,
    enterprise_id     text NOT NULL,
    outlet_id         text,                        -- NULL: the whole enterprise
    action            text NOT NULL CHECK (action IN ('restrict', 'suspend')),
    effective_from    timestamptz NOT NULL,
    issued_at         timestamptz NOT NULL,
    issued_by         text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    lifted_at         timestamptz,
    lifted_by         text
);
CREATE INDEX IF NOT EXISTS regulator_orders_in_force_idx
    ON regulator_orders (enterprise_id) WHERE lifted_at IS NULL;

-- Transactional outbox: one row per notice and subscription, written with the transition.
CREATE TABLE IF NOT EXISTS notification_outbox (
    outbox_id         bigserial PRIMARY KEY,
    alert_id          text REFERENCES alerts (alert_id),   -- NULL for order notices
    episode           integer,
    subscription_id   bigint NOT NULL REFERENCES alert_subscriptions (subscription_id),
    enterprise_id     text NOT NULL,
    channel           text NOT NULL,
    kind              text NOT NULL,
    level             smallint NOT NULL,
    title             text NOT NULL,
    body              text NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sent', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    not_before        timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    enqueued_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at           timestamptz,
    last_error        text
);
CREATE INDEX IF NOT EXISTS notification_outbox_due_idx
    ON notification_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notification_outbox_enterprise_idx
    ON notification_outbox (enterprise_id, outbox_id);

-- Every delivery attempt (the channel is stored with secrets masked).
CREATE TABLE IF NOT EXISTS notification_deliveries (
    delivery_id       bigserial PRIMARY KEY,
    outbox_id         bigint NOT NULL REFERENCES notification_outbox (outbox_id),
    attempt           integer NOT NULL,
    at                timestamptz NOT NULL DEFAULT clock_timestamp(),
    ok                boolean NOT NULL,
    channel           text NOT NULL,
    duration_ms       double precision NOT NULL,
    error             text
);
CREATE INDEX IF NOT EXISTS notification_deliveries_outbox_idx ON notification_deliveries (outbox_id);
