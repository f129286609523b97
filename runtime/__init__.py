"""What every Greenwatch service runs on: the platform settings, the Kafka topic catalogue and
its provisioning, and the registry topic with its followers (see docs/architecture.md)."""
