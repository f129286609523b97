"""Fixtures of the security tests against the local stack."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.settings import Settings


@pytest.fixture(scope="module")
def local(services: Any) -> Settings:
    """The local stack's settings with no explicit login: each principal's own credentials."""
    if services.origin != "local":
        pytest.skip("the principals and their passwords are the local stack's")
    settings: Settings = services.settings
    return settings.model_copy(update={"kafka_username": None, "kafka_password": None})
