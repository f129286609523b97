"""Alerts: verdicts and data-quality signals → the enforcement ladder → notifications.

Pure core (no Kafka, psycopg or HTTP): ``ladder`` (rungs and legal bases), ``rules``
(verdicts/signals → machine inputs, hysteresis, idempotence), ``machine`` (the state machine),
``routing`` (subscriptions, quiet hours), ``messages`` (Chinese texts), ``engine`` (a batch of
inputs over loaded records), ``model`` and ``errors``. Adapters: ``store`` and ``admin``
(PostgreSQL), ``service`` (Kafka consumer loop), ``notifier`` (outbox → Apprise), ``cli``
(``greenwatch alerts``). See docs/alerts.md.
"""
