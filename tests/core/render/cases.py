"""Deterministic reports for the renderer tests (golden files, Chromium).

Everything that varies between machines (evalsig version, file paths) is normalised, so a
golden file changes only when a renderer or a statistic does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalsig_core import EvalRun, Policy, compare, diagnose, gate, read_run
from evalsig_core.report import CompareReport, GateReport, SuiteEntry, SuiteReport
from evalsig_core.sequential import WatchResult, watch
from tests.conftest import EXAMPLES

VERSION = "0.0.0-golden"


def _norm(report: Any, **update: Any) -> Any:
    fix: dict[str, Any] = {"evalsig_version": VERSION} if "evalsig_version" in type(
        report).model_fields else {}
    for role in ("baseline", "candidate"):
        summary = getattr(report, role, None)
        if summary is not None:
            fix[role] = summary.model_copy(update={"source": f"{role}.json"})
    return report.model_copy(update={**fix, **update})


def example_runs(candidate: str = "candidate.json") -> tuple[EvalRun, EvalRun]:
    kw: dict[str, Any] = dict(metric="accuracy", cluster="passage_id")
    return read_run(EXAMPLES / "baseline.json", **kw), read_run(EXAMPLES / candidate, **kw)


def gate_with_lower(lower: float) -> GateReport:
    """A paired-t ALLOW on 100 items whose one-sided 95% lower bound L is `lower` (> 0, tiny):
    the differences are 0.1 z + t_0.95,99 * 0.01 + lower with z standardised (SE = 0.01)."""
    z = np.random.default_rng(1).standard_normal(100)
    z = (z - z.mean()) / z.std(ddof=1)
    t95 = 1.6603911559963895  # scipy.stats.t.ppf(0.95, 99)
    ids = [f"q{i}" for i in range(100)]
    return gate(EvalRun.from_arrays(ids, np.full(100, 0.5)),
                EvalRun.from_arrays(ids, 0.5 + t95 * 0.01 + lower + 0.1 * z),
                Policy(min_delta=0.0, method="paired_t"))


def gate_allow() -> GateReport:
    b, c = example_runs()
    return _norm(gate(b, c, Policy(min_delta=0.005, cluster="passage_id", metric="accuracy")))


def gate_reject() -> GateReport:
    b, c = example_runs("regressed.json")
    return _norm(gate(b, c, Policy(min_delta=0.005, cluster="passage_id", metric="accuracy")))


def _small_runs() -> tuple[EvalRun, EvalRun]:
    """60 items in 12 clusters, a few items only in one run: warnings W201 and W206."""
    rng = np.random.default_rng(7)
    ids = np.array([f"q{i:03d}" for i in range(60)])
    clusters = np.array([f"c{i // 5:02d}" for i in range(60)])
    base = (rng.random(60) < 0.55).astype(float)
    cand = np.where(rng.random(60) < 0.15, 1 - base, base)
    b = EvalRun.from_arrays(ids, base, clusters=clusters, model="small-a", task="toy",
                            metric="accuracy", run_id="toy-a")
    keep = np.arange(60) != 3
    c = EvalRun.from_arrays(ids[keep], cand[keep], clusters=clusters[keep], model="small-b",
                            task="toy", metric="accuracy", run_id="toy-b")
    return b, c


def gate_inconclusive() -> GateReport:
    b, c = _small_runs()
    return _norm(gate(b, c, Policy(min_delta=0.02, mode="non-inferiority", cluster="cluster",
                                   metric="accuracy")))


def doctor_errors() -> Any:
    ids = [f"q{i}" for i in range(8)]
    b = EvalRun.from_arrays(ids, [1, 0, 1, 1, 0, 1, 0, 1], metric="accuracy", task="t")
    c = EvalRun.from_arrays(ids[:6], [1, 1, float("nan"), 1, 0, 1], metric="accuracy", task="t")
    return _norm(diagnose(b, c))


def compare_report() -> CompareReport:
    b, c = example_runs()
    policy = Policy(min_delta=0.0, cluster="passage_id", metric="accuracy")
    doc = diagnose(b, c, cluster="passage_id")
    assert doc.baseline is not None and doc.candidate is not None
    return _norm(CompareReport(metric="accuracy", cluster="passage_id", alpha=0.05,
                               comparison=compare(b, c, policy), findings=[],
                               baseline=doc.baseline, candidate=doc.candidate))


def suite_report() -> SuiteReport:
    """Three gated entries and one that could not be read: one forest row each."""
    entries = [
        SuiteEntry(name="reading/accuracy", task="reading", metric="accuracy",
                   verdict=gate_allow().verdict, p_value_adjusted=0.0003, report=gate_allow()),
        SuiteEntry(name="reading-regressed/accuracy", task="reading", metric="accuracy",
                   verdict=gate_reject().verdict, p_value_adjusted=1.0, report=gate_reject()),
        SuiteEntry(name="toy/accuracy", task="toy", metric="accuracy",
                   verdict=gate_inconclusive().verdict, p_value_adjusted=0.41,
                   report=gate_inconclusive()),
        SuiteEntry(name="math/exact_match", task="math", metric="exact_match",
                   error="runs/math.eval: file not found", error_code=66),
    ]
    return SuiteReport(verdict=gate_reject().verdict, exit_code=1, evalsig_version=VERSION,
                       reason="1 of 4 entries is REJECT", correction="holm", entries=entries)


def suite_demoted() -> SuiteReport:
    """Two marginal ALLOWs that Holm demotes (McNemar p 0.036 each, adjusted 0.072) and
    one that survives: each demoted entry's own report says INCONCLUSIVE."""
    from evalsig_core.suite import suite_report

    def entry(name: str, improved: int, regressed: int) -> SuiteEntry:
        ids = [f"q{i}" for i in range(2000)]
        b = np.zeros(2000)
        b[improved:improved + regressed] = 1.0
        c = b.copy()
        c[:improved] = 1.0
        c[improved:improved + regressed] = 0.0
        base, cand = (EvalRun.from_arrays(ids, x, metric="accuracy", task=name) for x in (b, c))
        return SuiteEntry(name=name, task=name, metric="accuracy",
                          report=_norm(gate(base, cand, Policy(min_delta=0.0))))

    report = suite_report([entry("a", 59, 41), entry("b", 59, 41), entry("c", 200, 20)])
    return report.model_copy(update={"evalsig_version": VERSION})


def watch_result() -> WatchResult:
    """The example runs watched by cluster: 120 cluster means, not settled yet."""
    b, c = example_runs()
    return _norm(watch(b, c, Policy(min_delta=0.005, cluster="passage_id", metric="accuracy")))


CASES = {
    "gate_allow": ("gate", gate_allow),
    "gate_reject": ("gate", gate_reject),
    "gate_inconclusive": ("gate", gate_inconclusive),
    "doctor_errors": ("doctor", doctor_errors),
    "compare": ("compare", compare_report),
    "suite": ("suite", suite_report),
    "suite_demoted": ("suite", suite_demoted),
    "watch": ("watch", watch_result),
}
