"""Number cluster labels are written by numpy (`numtext.number_labels`) exactly as the
per-label rule `numtext.label_text` writes them (a Python call per label, about 0.6 us each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evalsig_core.numtext import cluster_labels, is_missing, label_text, number_labels

_INTS = [0, 7, -1, 10, 99, 100, -123456789, 2**53 + 1, 2**62, 2**63 - 1, -2**63]
_FLOATS = [0.0, -0.0, 1.0, -1.0, 2.5, -0.1, 0.5, 1e16, 1e300, -1e22, 2.0**63, -2.0**63,
           2.0**53 + 2, 1e-05, 123456789.125, 9007199254740993.0, 1e15 + 0.5, 5e-324,
           float("inf"), float("-inf"), float("nan"), 3.0, -7.0, 1e17]


def _per_label(values: list[Any]) -> tuple[list[str], list[bool]]:
    """The rule before vectorisation: `cluster_labels`' Python loop."""
    present = [not is_missing(v) for v in values]
    return [label_text(v) if ok else "" for v, ok in zip(values, present, strict=True)], present


@pytest.mark.parametrize("values", [
    _INTS, _FLOATS, [True, False, True], [3], [-0.0], [float("nan")],
    np.asarray(_INTS, dtype=np.int64), np.asarray([0, 2**64 - 1, 5], dtype=np.uint64),
    np.asarray(_FLOATS, dtype=np.float64), np.asarray([0.1, 2.0, -3.5], dtype=np.float32),
    np.asarray([True, False]), np.asarray([1, -2], dtype=np.int8),
])
def test_number_labels_equal_the_per_label_rule(values: Any) -> None:
    got = number_labels(values)
    assert got is not None
    labels, present = got
    # the per-label rule on the array's own scalars (a float32 0.1 is "0.1", as numpy and
    # `label_text` write it; `.tolist()` would widen it to 0.10000000149011612 first)
    raw = list(values) if isinstance(values, np.ndarray) else values
    want, want_present = _per_label(raw)
    assert labels.tolist() == want and present.tolist() == want_present
    assert labels.dtype.kind == "U" and labels.shape == (len(raw),)


def test_float32_cluster_labels_are_written_as_float32_not_widened() -> None:
    # EvalRun.from_arrays with float32 labels made 0.1 the cluster "0.10000000149011612":
    # never equal to the same label read from a file or given as float64 (W204 on every item)
    from evalsig_core import EvalRun

    for dtype in (np.float32, np.float16):
        run = EvalRun.from_arrays(["a", "b", "c", "d"], [1.0, 0.0, 1.0, 0.0],
                                  clusters=np.array([0.1, 0.25, 3.0, np.nan], dtype=dtype))
        assert run.clusters is not None and run.cluster_present is not None
        assert run.clusters.tolist()[:3] == ["0.1", "0.25", "3"]
        assert run.cluster_present.tolist() == [True, True, True, False]


@pytest.mark.parametrize("values", [[], [1, 2.0], [1, True], [2**64, 1], ["a", 1], [None, 1.0],
                                    np.asarray([1, "a"], dtype=object)])
def test_other_columns_take_the_per_label_rule(values: Any) -> None:
    # mixed types, integers beyond int64, strings and None keep the loop (exact rule)
    assert number_labels(values) is None


def test_cluster_labels_of_numbers_match_the_rule_with_the_fast_path() -> None:
    for values in (_INTS * 3, _FLOATS * 3, [1, 2.0, None, True, "x", 2**70]):
        labels, present = cluster_labels(values)
        want, want_present = _per_label(values)
        assert labels.tolist() == want and present.tolist() == want_present
