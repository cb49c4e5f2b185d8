"""alpha in [0.5, 1) stays accepted, but at a one-sided level of 0.5 or more the bound ALLOW
compares is at or above the estimate (t_{1-alpha} <= 0): the "detectable effect" came out
negative (-0.00007 for McNemar at alpha 0.8, power 0.81, on the example runs). The MDE is NaN
in Python and null in JSON, no extra items are claimed, and finding W219 says why."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, Verdict, gate, read_run
from evalsig_core.cli import main
from evalsig_core.policy import decide
from evalsig_core.render import render_gate, report_schema
from evalsig_core.stats import METHODS, PairedSample
from tests.conftest import EXAMPLES


def _examples() -> tuple[EvalRun, EvalRun]:
    return (read_run(EXAMPLES / "baseline.json", metric="accuracy"),
            read_run(EXAMPLES / "candidate.json", metric="accuracy"))


@pytest.mark.parametrize("method", ["mcnemar", "paired_bootstrap", "paired_t"])
def test_the_mde_at_alpha_0_8_is_null_with_a_finding_not_a_negative_number(method: str) -> None:
    b, c = _examples()
    r = gate(b, c, Policy(min_delta=0.005, alpha=0.8, power=0.81, method=method,
                          resamples=999))
    assert math.isnan(r.comparison.mde)
    doc = json.loads(render_gate(r, "json"))
    assert doc["comparison"]["mde"] is None
    (w,) = [f for f in r.findings if f.code == "W219"]
    assert "0.8" in w.message and "alpha below 0.5" in w.hint


def test_a_null_mde_validates_against_the_gate_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    b, c = _examples()
    r = gate(b, c, Policy(min_delta=0.005, alpha=0.8, power=0.81, method="mcnemar"))
    jsonschema.validate(json.loads(render_gate(r, "json")), report_schema("gate"))


def test_alpha_below_one_half_keeps_its_mde_and_has_no_finding() -> None:
    b, c = _examples()
    r = gate(b, c, Policy(min_delta=0.005, alpha=0.3, power=0.8, method="mcnemar"))
    assert r.comparison.mde > 0 and "W219" not in [f.code for f in r.findings]


def test_an_undefined_mde_never_makes_a_power_based_reject() -> None:
    # "no significant improvement although the run could detect nan": REJECT on a power claim
    # that does not exist
    d = decide(Policy(min_delta=0.01, alpha=0.6, power=0.9), delta=0.0, lower=-0.01,
               upper=0.01, mde=math.nan)
    assert d.verdict is Verdict.INCONCLUSIVE and "no detectable effect" in d.reason


def test_an_inconclusive_gate_at_high_alpha_claims_no_extra_items() -> None:
    # 3 clusters: INCONCLUSIVE whatever the bounds; the extra items came from the MDE
    rng = np.random.default_rng(3)
    ids = [f"q{i}" for i in range(90)]
    cl = [f"c{i % 3}" for i in range(90)]
    base = (rng.random(90) < 0.5).astype(float)
    b = EvalRun.from_arrays(ids, base, clusters=cl)
    c = EvalRun.from_arrays(ids, np.where(rng.random(90) < 0.2, 1 - base, base), clusters=cl)
    r = gate(b, c, Policy(min_delta=0.01, alpha=0.7, power=0.9, cluster="cluster"))
    assert r.verdict is Verdict.INCONCLUSIVE and r.extra_items_needed is None


def test_compare_at_alpha_0_6_reports_a_null_mde_with_the_finding(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--no-config", "compare", str(EXAMPLES / "baseline.json"),
                 str(EXAMPLES / "candidate.json"), "--metric", "accuracy", "--alpha", "0.6",
                 "--method", "mcnemar", "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["comparison"]["mde"] is None
    assert "W219" in [f["code"] for f in doc["findings"]]


def test_the_github_mde_output_is_empty_when_the_mde_is_null(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "github_output"
    out.touch()
    code = main(["--no-config", "gate", "--baseline", str(EXAMPLES / "baseline.json"),
                 "--candidate", str(EXAMPLES / "candidate.json"), "--metric", "accuracy",
                 "--min-delta", "0.005", "--alpha", "0.8", "--power", "0.81", "--method",
                 "mcnemar", "--json", str(tmp_path / "r.json"), "--output", "json"],
                {"GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path)})
    capsys.readouterr()
    assert code == 0 and "mde=\n" in out.read_text() and "nan" not in out.read_text()


def test_the_wild_bootstrap_bounds_at_alpha_0_6_lie_past_delta_as_the_t_bounds_do() -> None:
    # At a one-sided level of 0.6 the lower bound lies above delta (t_{0.4} < 0) and the upper
    # one below it. WCR bisected each bound only up to delta and reported L = U = delta
    # (0.0039034); CR2 t on the same data gives L = delta + 0.257 SE, U = delta - 0.262 SE
    # (SE 0.03425, 19 df), and WCR now L = 0.012615, U = -0.005069.
    # 20 clusters of 10 items, seeded uniform scores, candidate +0.02.
    rng = np.random.default_rng(0)
    x, y = rng.random(200) * 0.9, rng.random(200) * 0.9 + 0.02
    sample = PairedSample(x, y, np.arange(200) % 20)
    wcr = METHODS["wild_cluster_bootstrap"](sample, alpha=0.6)
    t = METHODS["clustered_t"](sample, alpha=0.6)
    assert wcr.lower > wcr.delta > wcr.upper
    # the bootstrap is not a t, but agrees with it to a small fraction of an SE here
    assert abs(wcr.lower - t.lower) < 0.05 * t.se and abs(wcr.upper - t.upper) < 0.05 * t.se
    # and the gate reports that bound (its default draws differ from METHODS' 9999)
    b = EvalRun.from_arrays([f"i{i}" for i in range(200)], x,
                            clusters=[f"c{i % 20}" for i in range(200)])
    c = EvalRun.from_arrays([f"i{i}" for i in range(200)], y,
                            clusters=[f"c{i % 20}" for i in range(200)])
    r = gate(b, c, Policy(min_delta=0.0, alpha=0.6, power=0.9,
                          method="wild_cluster_bootstrap"))
    assert r.comparison.ci.lower is not None
    assert abs(r.comparison.ci.lower - wcr.lower) < 0.01 * t.se  # other draws, same bound
