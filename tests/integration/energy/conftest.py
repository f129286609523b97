"""Fixtures of the energy integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from energy_api_harness import Api, running_api
from services import Services


@pytest.fixture(scope="module")
def api(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(services, tmp_path_factory.mktemp("energy")) as running:
        yield running
