"""Shared test settings: a modest hypothesis profile (the whole suite must stay fast) and a seeded rng."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Few examples per property, no per-example deadline (shared CI machines are noisy).
settings.register_profile(
    "biograd", max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("biograd")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so a failing test fails the same way again."""
    return np.random.default_rng(12345)
