"""The `evalsig` pytest fixture, run in a separate pytest session on a generated test file."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES

TESTS = f'''
import numpy as np
import pytest
from evalsig_core import EvalRun, UsageError

EXAMPLES = {str(EXAMPLES)!r}
ids = [f"q{{i}}" for i in range(400)]
rng = np.random.default_rng(0)
base = (rng.random(400) < 0.6).astype(float)


def run(scores):
    return EvalRun.from_arrays(ids, scores, metric="accuracy")


def test_same_model_is_not_a_regression(evalsig):
    report = evalsig.assert_no_regression(run(base), run(base), margin=0.02)
    assert report.mode.value == "non-inferiority"


def test_broken_model_fails_with_the_markdown_report(evalsig):
    worse = base.copy()
    worse[:120] = 0.0
    evalsig.assert_no_regression(run(base), run(worse), margin=0.02)


def test_no_regression_names_its_own_mode(evalsig):
    report = evalsig.assert_no_regression(run(base), run(base), margin=0.02,
                                          mode="non-inferiority")
    assert report.mode.value == "non-inferiority"
    with pytest.raises(UsageError, match="tests non-inferiority, not mode 'superiority'"):
        evalsig.assert_no_regression(run(base), run(base), margin=0.02, mode="superiority")


def test_improvement_from_files(evalsig):
    evalsig.assert_improvement(EXAMPLES + "/baseline.json", EXAMPLES + "/candidate.json",
                               min_delta=0.005, metric="accuracy", cluster="passage_id")


def test_no_improvement_fails(evalsig):
    evalsig.assert_improvement(run(base), run(base), min_delta=0.01)


def test_inconclusive_may_be_allowed(evalsig):
    flipped = base[:40].copy()
    flipped[:6] = 1 - flipped[:6]
    b = EvalRun.from_arrays(ids[:40], base[:40], metric="accuracy")
    c = EvalRun.from_arrays(ids[:40], flipped, metric="accuracy")
    report = evalsig.assert_improvement(b, c, min_delta=0.01, allow_inconclusive=True)
    assert report.verdict.value == "INCONCLUSIVE"


def test_doctor_errors_fail_with_the_doctor_report(evalsig):
    bad = base.copy()
    bad[3] = float("nan")
    evalsig.assert_no_regression(run(base), run(bad), margin=0.02)
'''


def test_the_fixture_is_registered_through_the_pytest11_entry_point() -> None:
    eps = importlib.metadata.entry_points(group="pytest11")
    assert any(e.value == "evalsig_core.pytest_plugin" for e in eps)


def test_fixture_passes_on_allow_and_fails_with_the_report(tmp_path: Path) -> None:
    (tmp_path / "test_gates.py").write_text(TESTS)
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "-rN", "test_gates.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
    out = p.stdout
    assert "3 failed, 4 passed" in out, out
    assert "evalsig: REJECT: a regression could not be ruled out" in out
    assert "## EVALSIG release gate ❌ REJECT" in out
    assert "evalsig: REJECT: no proven improvement" in out
    assert "evalsig doctor found errors" in out and "E103" in out
    assert "Traceback" not in out
