"""The one root of ``runtime/``'s errors.

Hierarchy::

    RuntimePlumbingError            root; catch this to catch everything runtime/ raises
    ├── RegistryTopicError          the registry topic (runtime.registry_topic: its subclasses
    │                               RegistryPublishError, NoRegistryPublished,
    │                               InvalidRegistryRecord)
    └── PublishFailed               the broker did not acknowledge a record (runtime.runner)

Kafka's and psycopg's own errors pass through as they come.
"""

from __future__ import annotations


class RuntimePlumbingError(Exception):
    """Root of the errors of the plumbing every service runs on."""
