"""Errors of the alerts package; each carries the data a caller needs.

::

    AlertsError
    ├── AlertNotOpen        acknowledging an alert that is not pending, firing or escalated
    ├── UnknownAlert        no alert has this id
    ├── UnknownTarget       an enterprise/outlet id the registry does not know
    ├── OrderNotFound       no order in force to lift
    ├── InvalidSubscription a channel URL Apprise cannot use, or bad quiet hours
    ├── RejectedInput       a decoded input the engine refuses (unknown device, wrong enterprise)
    ├── PoisonMessage       an input record that cannot be used (→ dead-letter topic)
    └── DeliveryFailed      a channel refused or could not take a notification
"""

from __future__ import annotations


class AlertsError(Exception):
    """Root of the alerts package's errors."""


class AlertNotOpen(AlertsError):
    def __init__(self, alert_id: str, state: str) -> None:
        super().__init__(f"alert {alert_id} is {state}, not open")
        self.alert_id = alert_id
        self.state = state


class UnknownAlert(AlertsError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert {alert_id}")
        self.alert_id = alert_id


class UnknownTarget(AlertsError):
    def __init__(self, target: str, what: str) -> None:
        super().__init__(f"unknown {what} {target!r}")
        self.target = target
        self.what = what


class OrderNotFound(AlertsError):
    def __init__(self, enterprise_id: str, outlet_id: str | None) -> None:
        where = f"{enterprise_id}/{outlet_id}" if outlet_id else enterprise_id
        super().__init__(f"no order in force for {where}")
        self.enterprise_id = enterprise_id
        self.outlet_id = outlet_id


class InvalidSubscription(AlertsError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RejectedInput(AlertsError):
    """A well-formed input the engine cannot apply; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class PoisonMessage(AlertsError):
    """An input record that cannot be used; ``reason`` is a stable code."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str, message: str) -> None:
        super().__init__(f"{topic}[{partition}]@{offset}: {reason}: {message}")
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason
        self.message = message


class DeliveryFailed(AlertsError):
    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"delivery to {channel} failed: {reason}")
        self.channel = channel
        self.reason = reason
