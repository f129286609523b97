-- Notices at most once per notice and channel across crashes (alerts/notifier.py): a notice is
-- claimed ('sending', with the claiming database session) in a committed transaction before it
-- is sent, and its result recorded in another. A claim whose session is gone is settled as
-- 'in_doubt' (maybe delivered) instead of being sent again.
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS claimed_by text;
ALTER TABLE notification_outbox DROP CONSTRAINT IF EXISTS notification_outbox_status_check;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'in_doubt', 'dead'));
CREATE INDEX IF NOT EXISTS notification_outbox_sending_idx
    ON notification_outbox (outbox_id) WHERE status = 'sending';
