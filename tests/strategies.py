"""Hypothesis settings and score strategies shared by the property tests of the statistics
(tests/stats/test_properties.py) and of the gate (tests/core/test_gate_properties.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def props(n: int) -> Callable[[Any], Any]:
    """Deterministic hypothesis settings with `n` examples."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Scores: binary (McNemar's domain), a dyadic grid (k/8: every sum, difference and power-of-two
# scaling is exact, so exact properties can be checked bit for bit) or any float in [0, 1].
SCORES = {
    "binary": st.sampled_from([0.0, 1.0]),
    "grid": st.integers(0, 8).map(lambda k: k / 8),
    "float": st.floats(0.0, 1.0, allow_nan=False),
}
