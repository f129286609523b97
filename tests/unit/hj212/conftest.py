"""Fixtures for the HJ 212 codec tests (helpers in ``hj212_reference``)."""

from __future__ import annotations

import pytest
from hj212_reference import HJ212_DATA, capture_lines, reference_checks


@pytest.fixture(scope="session")
def capture() -> list[bytes]:
    """Every non-blank line of shared/data/hj212/capture-2016/."""
    assert HJ212_DATA.is_dir(), f"shared HJ 212 data missing at {HJ212_DATA}"
    return capture_lines()


@pytest.fixture(scope="session")
def capture_checks(capture: list[bytes]) -> list[tuple[bool, bool] | None]:
    """``reference_checks`` of every capture line (bit-by-bit CRC: computed once)."""
    return [reference_checks(line) for line in capture]
