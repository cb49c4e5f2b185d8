"""Pydantic report models. JSON is strict: no NaN/Infinity tokens; unbounded ends are null.

`GateReport` is a superset of evalsig 0.1's report (verdict, exit_code, min_delta, alpha, power,
suggestion, comparison{delta, ci, ci_level, p_value, significant, n_pairs, n_clusters, method,
mde, notes}) plus `mode`, `schema_version` and the details reviewers need.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ._version import __version__
from .policy import Mode, Verdict

__all__ = [
    "SCHEMA_VERSION", "ComparisonResult", "DoctorReport", "Finding", "GateReport", "Interval",
    "RunSummary", "Severity", "SuiteEntry", "SuiteReport", "decision_lower", "finite_or_none",
]

SCHEMA_VERSION = "1"


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def decision_lower(c: Any) -> float | None:
    """The lower bound the ALLOW decision compared: `allow_lower` when `auto` used a stricter
    level than alpha (few clusters / low df; the report then carries `allow_alpha`), else the
    reported one-sided bound. None = unbounded. Reports without those fields use `ci.lower`.
    (Reports, suites and the flows' entries table all ask this one function.)"""
    if getattr(c, "allow_alpha", None) is not None:
        return getattr(c, "allow_lower", None)
    return c.ci.lower


class Interval(NamedTuple):
    """A confidence interval; None marks an unbounded end (rendered as -inf / +inf)."""

    lower: float | None
    upper: float | None


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null", extra="forbid")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Finding(_Strict):
    """One doctor finding: stable code (E1xx / W2xx / I3xx), what, why it matters, the fix."""

    code: str
    severity: Severity
    message: str
    hint: str = ""
    count: int | None = None
    examples: list[str] = Field(default_factory=list)
    file: str | None = None


class RunSummary(_Strict):
    source: str | None = None
    sha256: str | None = None
    format: str | None = None
    harness: str | None = None
    model: str | None = None
    task: str | None = None
    metric: str | None = None
    run_id: str | None = None
    n_items: int = 0
    n_records: int = 0
    n_errored: int = 0
    mean: float | None = None


class DoctorReport(_Strict):
    """Every doctor finding on two runs; `exit_code` 65 when any is an error (66 / 74 when a
    file is missing / unreadable), else 0 (`evalsig schema --kind doctor`)."""

    schema_version: str = SCHEMA_VERSION
    kind: str = "doctor"
    ok: bool
    exit_code: int
    findings: list[Finding]
    baseline: RunSummary | None = None
    candidate: RunSummary | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]


class ComparisonResult(_Strict):
    """The statistics of one paired comparison (no policy verdict)."""

    delta: float
    ci: Interval = Field(description="one-sided (ci_level) interval [L, +inf) of delta; when "
                         "allow_alpha is set, a gate's ALLOW compares allow_lower instead "
                         "(reports show it next to this interval)")
    ci_level: float
    upper_bound: float | None = Field(
        default=None, description="one-sided (ci_level) upper bound U of delta"
    )
    ci_two_sided: Interval = Field(description="two-sided (ci_level) interval of delta")
    p_value: float = Field(description="one-sided p-value of H0: delta <= theta0 (the mode's)")
    theta0: float = 0.0
    significant: bool = Field(description="p_value < alpha; in a gate p_value < allow_alpha "
                              "when that is set (the level ALLOW compares), as the verdict")
    se: float
    df: float | None = Field(default=None, description="degrees of freedom; null = normal")
    mde: float = Field(description="the smallest effect detectable with `power` (one-sided) "
                       "from the lower bound at allow_alpha (null: alpha; in a gate, ALLOW "
                       "compares it); null when undefined: an unbounded bound, or one at a "
                       "level of 0.5 or more (finding W219)")
    method: str
    method_reason: str = ""
    n_pairs: int
    n_clusters: int | None = None
    n_baseline_only: int = 0
    n_candidate_only: int = 0
    baseline_mean: float
    candidate_mean: float
    correlation: float | None = None
    icc: float | None = None
    design_effect: float | None = None
    cluster_size_min: int | None = None
    cluster_size_max: int | None = None
    effective_clusters: float | None = Field(
        default=None, description="Kish's effective number of clusters N^2 / sum n_g^2 "
        "(n_clusters when sizes are equal); below 5 the gate answers INCONCLUSIVE")
    epoch_variance_share: float | None = None
    seed: int | None = None
    resamples: int | None = None
    notes: list[str] = Field(default_factory=list)
    # Shared by gate and compare (which decides nothing): one wording that holds for both.
    allow_alpha: float | None = Field(
        default=None, description="one-sided level of the lower bound the MDE is measured "
        "from (in a gate, ALLOW compares it) when auto is stricter than alpha (clustered "
        "data: alpha/2); null: alpha")
    allow_lower: float | None = Field(
        default=None, description="the lower bound at allow_alpha (with the exchangeable "
        "floor and skewness correction): the MDE is measured from it (in a gate, ALLOW "
        "compares it with the margin, and reports show it next to the CI); null when "
        "unbounded, and always with allow_alpha null (then ci.lower is that bound)")
    distribution: list[float] | None = Field(
        default=None, description="percentiles 0..100 of the resampling distribution of "
        "delta (resampling methods only)")

    @field_serializer("df")
    def _df(self, v: float | None) -> float | None:
        return finite_or_none(v)

    @field_serializer("mde")
    def _mde(self, v: float) -> float | None:  # the JSON Schema says null is possible
        return finite_or_none(v)


class GateReport(_Strict):
    """A gate's decision: the verdict, its exit code and reason, the policy, the comparison
    behind it and every doctor finding (`evalsig schema --kind gate`)."""

    schema_version: str = SCHEMA_VERSION
    kind: str = "gate"
    evalsig_version: str = __version__
    verdict: Verdict = Field(description="the verdict that applies to this comparison; in a "
                             "suite entry, after the suite's multiplicity correction")
    verdict_before_correction: Verdict | None = Field(
        default=None, description="set only on a suite entry whose verdict the suite's "
        "multiplicity correction (holm or bh) changed: the verdict it had when gated alone")
    exit_code: int
    reason: str
    mode: Mode
    metric: str | None = None
    cluster: str | None = None
    min_delta: float
    alpha: float
    power: float
    suggestion: str
    extra_items_needed: int | None = None
    comparison: ComparisonResult
    findings: list[Finding] = Field(default_factory=list)
    baseline: RunSummary
    candidate: RunSummary

    @property
    def allow_level(self) -> float:
        """The one-sided level ALLOW compared: `comparison.allow_alpha` (auto's stricter
        level), else `alpha`. A suite holds the entry's adjusted p-value to it."""
        return self.comparison.allow_alpha or self.alpha

    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(indent=2, **kw)


class SuiteEntry(_Strict):
    """One (task, metric) entry of a suite: its gate report, or the error that stopped it."""

    name: str
    task: str | None = None
    metric: str | None = None
    verdict: Verdict | None = None
    p_value_adjusted: float | None = None
    report: GateReport | None = None
    error: str | None = None
    error_code: int | None = None


class SuiteReport(_Strict):
    """A suite: REJECT if any entry is REJECT, else INCONCLUSIVE if any is, else ALLOW."""

    schema_version: str = SCHEMA_VERSION
    kind: str = "suite"
    evalsig_version: str = __version__
    verdict: Verdict
    exit_code: int
    reason: str
    correction: str = Field(description="holm, bh, or iut (intersection-union)")
    entries: list[SuiteEntry]

    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(indent=2, **kw)


__all__ += ["CompareReport"]


class CompareReport(_Strict):
    """`evalsig compare`: the statistics of two runs without a policy or a verdict."""

    schema_version: str = SCHEMA_VERSION
    kind: str = "compare"
    evalsig_version: str = __version__
    metric: str | None = None
    cluster: str | None = None
    alpha: float
    comparison: ComparisonResult
    findings: list[Finding] = Field(default_factory=list)
    baseline: RunSummary
    candidate: RunSummary

    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(indent=2, **kw)
