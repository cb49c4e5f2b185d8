"""`compare` (statistics only) and `gate` (doctor, statistics, verdict, report)."""

from __future__ import annotations

import math

import numpy as np

from .doctor import diagnose, make_report, summarize
from .errors import InputError, UsageError
from .numfmt import counted, fixed
from .pairing import Pairing, pair
from .policy import MAX_RESAMPLES, Mode, Policy, Verdict, decide
from .report import (
    ComparisonResult,
    DoctorReport,
    Finding,
    GateReport,
    Interval,
    Severity,
    finite_or_none,
)
from .run import EvalRun, cluster_key
from .stats import (
    METHODS,
    Inference,
    PairedSample,
    choose_method,
    design_effect,
    extra_items_needed,
    icc_anova,
)
from .stats.degenerate import with_degenerate_bounds
from .stats.exchangeable import with_exchangeable_floor
from .stats.power import bound_mde

__all__ = ["DoctorError", "compare", "diagnosed_compare", "gate"]


class DoctorError(InputError):
    """The doctor found errors: the gate refuses to decide (exit 65)."""

    def __init__(self, report: DoctorReport) -> None:
        self.report = report
        first = report.errors[0]
        more = len(report.errors) - 1
        super().__init__(
            first.message
            + (f" (+{counted(more, 'more error')}; run `evalsig doctor`)" if more else ""),
            path=first.file, hint=first.hint or None, code=first.code,
        )


def compare(baseline: EvalRun, candidate: EvalRun, policy: Policy) -> ComparisonResult:
    """Pair the runs and estimate delta with the policy's method; no verdict.

    Raises `DoctorError` on doctor errors, as `gate` and `watch` do: NaN scores gave delta
    NaN with p-value 1.0, silently."""
    return diagnosed_compare(baseline, candidate, policy)[0]


def diagnosed_compare(baseline: EvalRun, candidate: EvalRun,
                      policy: Policy) -> tuple[ComparisonResult, DoctorReport]:
    """`compare` and the doctor's report it passed (the CLI shows its warnings).

    No verdict is decided, so the method's reason, its notes and the findings say nothing
    about ALLOW, REJECT or a margin (`evalsig compare` said "ALLOW needs ...")."""
    key = cluster_key(policy.cluster, baseline, candidate)
    p, doc = _diagnosed_pairing(baseline, candidate, key)
    comp = _compare_pairing(p, policy, decision=False)
    return comp, _with_level_findings(doc, comp, decision=False)


# At a one-sided level of 0.5 or more the bound ALLOW compares lies at or above the estimate
# (t_{1-alpha} <= 0), so "the effect the decision detects with `power`" is no effect at all: it
# came out negative for exact and resampling bounds (McNemar, alpha 0.8: -0.00007). Such alphas
# stay accepted; the MDE is NaN (JSON null), no extra items are claimed, and W219 says why.
MDE_LEVEL = 0.5


def _level_findings(comp: ComparisonResult, decision: bool = True) -> list[Finding]:
    if not math.isnan(comp.mde):
        return []
    level = comp.allow_alpha or (1 - comp.ci_level)
    if not decision:
        return [Finding(
            code="W219", severity=Severity.WARNING,
            message=f"the lower bound the detectable effect is measured from is at the "
            f"one-sided level {level:g} (>= 0.5): it lies at or above the estimate, so no "
            "detectable effect (MDE) is defined",
            hint="compare at an alpha below 0.5 (the usual choice is 0.05) for a detectable "
            "effect")]
    return [Finding(
        code="W219", severity=Severity.WARNING,
        message=f"the bound ALLOW compares is at the one-sided level {level:g} (>= 0.5): it "
        "lies at or above the estimate, so no detectable effect (MDE) or number of extra "
        "items is defined",
        hint="gate at an alpha below 0.5 (the usual choice is 0.05) for a detectable effect "
        "and a sample-size suggestion")]


def _with_level_findings(doc: DoctorReport, comp: ComparisonResult,
                         decision: bool = True) -> DoctorReport:
    extra = _level_findings(comp, decision)
    return make_report(doc.findings + extra, doc.baseline, doc.candidate) if extra else doc


def _diagnosed_pairing(baseline: EvalRun, candidate: EvalRun,
                       key: str | None) -> tuple[Pairing, DoctorReport]:
    """Pair once (by cluster `key`, if any), run the doctor on that pairing; raise
    `DoctorError` on its errors."""
    try:
        p: Pairing | None = pair(baseline, candidate, cluster=key is not None)
    except InputError:
        p = None  # no shared item: the doctor reports it (E105)
    doc = diagnose(baseline, candidate, cluster=key, pairing=p)
    if not doc.ok:
        raise DoctorError(doc)
    if p is None:  # the doctor always reports this as E105; kept as a guard
        raise InputError("the runs share no item", path=candidate.meta.source, code="E105")
    return p, doc


def _compare_pairing(p: Pairing, policy: Policy, *, decision: bool = True) -> ComparisonResult:
    """The statistics of a pairing. `decision` False (compare): the same numbers, with a
    reason and notes that name no verdict (there is none)."""
    sample = PairedSample(p.baseline, p.candidate, p.cluster_codes)
    alpha_allow = None
    floor = False
    if policy.method == "auto":
        choice = choose_method(sample, policy.alpha)
        name, why, alpha_allow, floor = (choice.method, choice.reason, choice.alpha_allow,
                                         choice.floor)
        if decision and choice.allow_reason:
            why += f"; {choice.allow_reason}"
    else:
        name, why = policy.method, "chosen by the policy" if decision else "as asked (not auto)"
        _check_method(name, sample)
    inf = METHODS[name](sample, alpha=policy.alpha, theta0=policy.theta0,
                        resamples=policy.resamples, seed=policy.seed, alpha_allow=alpha_allow)
    _check_resolution(inf, policy, alpha_allow)
    if floor and sample.sums is not None:
        inf = with_exchangeable_floor(inf, sample.sums, alpha=policy.alpha,
                                      alpha_allow=alpha_allow, decision=decision)
    unit_scale, width = _scale(p)
    # SE 0 up to rounding (a constant offset c + x - x is not exactly c in floating point);
    # McNemar's score bounds never collapse
    degenerate = inf.se <= DEGENERATE_SE * width and inf.method != "mcnemar"
    if degenerate:
        inf = with_degenerate_bounds(inf, units=sample.G or sample.n,
                                     width=1.0 if unit_scale else None,
                                     alpha_allow=alpha_allow, clustered=sample.G is not None)
    # The MDE is the effect the *decision* detects with `power`, measured from the bound ALLOW
    # uses (stats.power.bound_mde; for a t method the exact noncentral-t effect). Degenerate
    # bounds are not in SEs: their MDE is the distance to the bound (SE 0).
    mde = float(bound_mde(inf.delta, inf.decision_lower, 0.0 if degenerate else inf.se,
                          inf.df, policy.power))
    if (alpha_allow or policy.alpha) >= MDE_LEVEL:
        mde = math.nan
    notes = list(inf.notes)
    if name == "paired_t" and sample.sums is not None:
        notes.append(f"paired_t treats the {sample.n} items as independent: the cluster key "
                     "is ignored and the SE does not include the clustering (use auto, "
                     "clustered_t or wild_cluster_bootstrap for a cluster-robust interval)")
    if alpha_allow is not None:
        uses = "ALLOW uses" if decision else "the detectable effect is measured from"
        notes.append(f"{uses} the one-sided {1 - alpha_allow:.1%} lower bound "
                     f"{fixed(inf.decision_lower, True)} (alpha {alpha_allow:g}); the reported "
                     f"interval is at the nominal level {1 - policy.alpha:.0%}")
    icc = deff = None
    smin = smax = g_eff = None
    if sample.sums is not None and p.cluster_codes is not None:
        icc = icc_anova(sample.d, p.cluster_codes)
        deff = design_effect(sample.sums.n, icc)
        smin, smax = int(sample.sums.n.min()), int(sample.sums.n.max())
        g_eff = sample.sums.effective_clusters
    corr = None
    if p.n > 2 and np.std(p.baseline) > 0 and np.std(p.candidate) > 0:
        corr = float(np.corrcoef(p.baseline, p.candidate)[0, 1])
    return ComparisonResult(
        delta=inf.delta,
        ci=Interval(finite_or_none(inf.lower), None),
        ci_level=1 - policy.alpha,
        upper_bound=finite_or_none(inf.upper),
        ci_two_sided=Interval(finite_or_none(inf.two_sided[0]), finite_or_none(inf.two_sided[1])),
        p_value=inf.p_value,
        theta0=policy.theta0,
        # a gate's ALLOW compares the bound at allow_alpha (auto, few clusters): at alpha a
        # REJECT "no significant improvement" carried "significant": true (p 0.031)
        significant=inf.p_value < ((alpha_allow if decision else None) or policy.alpha),
        se=inf.se,
        df=inf.df,
        mde=mde,
        method=inf.method,
        method_reason=why,
        n_pairs=p.n,
        n_clusters=p.n_clusters,
        n_baseline_only=p.n_baseline_only,
        n_candidate_only=p.n_candidate_only,
        baseline_mean=float(p.baseline.mean()),
        candidate_mean=float(p.candidate.mean()),
        correlation=corr,
        icc=icc,
        design_effect=deff,
        cluster_size_min=smin,
        cluster_size_max=smax,
        effective_clusters=g_eff,
        epoch_variance_share=p.epoch_variance_share(),
        seed=inf.seed,
        resamples=inf.resamples,
        notes=notes,
        allow_alpha=alpha_allow,
        allow_lower=None if alpha_allow is None else finite_or_none(inf.decision_lower),
        distribution=list(inf.distribution) if inf.distribution else None,
    )


_CLUSTER_METHODS = ("clustered_t", "wild_cluster_bootstrap", "cluster_bootstrap")


def _check_method(name: str, sample: PairedSample) -> None:
    """A method chosen by the policy that cannot apply to the comparison's clustering is a
    usage error (64): the flags conflict, the data are fine."""
    if name in _CLUSTER_METHODS and sample.sums is None:
        raise UsageError(f"method {name} needs a cluster key",
                         hint="pass --cluster KEY (Policy(cluster=...)), or use auto, "
                         "paired_t, paired_bootstrap or permutation")
    if name == "mcnemar" and sample.sums is not None:
        raise UsageError("method mcnemar takes no cluster key (it assumes independent items)",
                         hint="drop --cluster, or use auto or wild_cluster_bootstrap")


def _check_resolution(inf: Inference, policy: Policy, alpha_allow: float | None) -> None:
    """Random resampling cannot bound beyond its most extreme draw: with B draws a bound at a
    level below 1/(B + 1) is the extreme draw whatever the level (at alpha 1e-6 and 999
    resamples the bootstraps ALLOWed where paired t did not). Exact enumerations (all sign
    vectors: a count other than the one asked for, and more resamples would not change it)
    resolve their own levels and are left alone."""
    if inf.resamples is None or inf.resamples != policy.resamples:
        return
    level = min(policy.alpha / 2, alpha_allow or 1.0)  # the smallest level a bound is at
    if (inf.resamples + 1) * level < 1:
        need = math.ceil(1 / level) - 1
        # alpha 1e-300 suggested "--resamples 1999...9" (301 digits): beyond MAX_RESAMPLES
        # draws a policy is refused, so point to the methods that need none
        fix = (f"use --resamples {need} or more, or a larger --alpha" if need <= MAX_RESAMPLES
               else "use a larger --alpha, or a t method (--method paired_t or clustered_t): "
               f"it would take about {need:.1e} resamples")
        raise UsageError(
            f"alpha {policy.alpha:g} asks for a bound at level {level:g}, beyond the most "
            f"extreme of {inf.resamples} {inf.method} resamples", hint=fix)


DEGENERATE_SE = 1e-12  # relative to the width of the score scale


def _scale(p: Pairing) -> tuple[bool, float]:
    """Whether every score lies in [0, 1], and the width of the scale for the SE = 0 test: 1
    for scores in [0, 1], else the observed span."""
    lo = min(float(p.baseline.min()), float(p.candidate.min()))
    hi = max(float(p.baseline.max()), float(p.candidate.max()))
    unit = lo >= 0.0 and hi <= 1.0
    return unit, 1.0 if unit else max(hi - lo, 1e-12)


def gate(baseline: EvalRun, candidate: EvalRun, policy: Policy) -> GateReport:
    """Doctor, then compare, then the verdict table. Raises `DoctorError` on doctor errors."""
    key = cluster_key(policy.cluster, baseline, candidate)
    p, doc = _diagnosed_pairing(baseline, candidate, key)
    comp = _compare_pairing(p, policy)
    doc = _with_level_findings(doc, comp)
    lower = -math.inf if comp.ci.lower is None else comp.ci.lower
    if comp.allow_alpha is not None:
        lower = -math.inf if comp.allow_lower is None else comp.allow_lower
    upper = math.inf if comp.upper_bound is None else comp.upper_bound
    decision = decide(policy, delta=comp.delta, lower=lower, upper=upper, mde=comp.mde,
                      n_clusters=comp.n_clusters, effective_clusters=comp.effective_clusters)
    extra = None
    if decision.verdict is Verdict.INCONCLUSIVE:
        extra = _extra_items(comp, policy)
    reason = decision.reason
    if comp.allow_alpha is not None and decision.uses_lower:
        reason += f" (L at alpha {comp.allow_alpha:g}: auto's stricter ALLOW bound, see notes)"
    return GateReport(
        verdict=decision.verdict,
        exit_code=int(decision.verdict.exit_code),
        reason=reason,
        mode=policy.mode,
        metric=policy.metric or baseline.meta.metric,
        cluster=key,
        min_delta=policy.min_delta,
        alpha=policy.alpha,
        power=policy.power,
        suggestion=_suggestion(decision.verdict, comp, policy, extra),
        extra_items_needed=extra,
        comparison=comp,
        findings=[f for f in doc.findings if f.code != "I301"],
        baseline=summarize(baseline),
        candidate=summarize(candidate),
    )


def _extra_items(comp: ComparisonResult, policy: Policy) -> int | None:
    """Extra paired items (same variance and design effect) for the next run to decide.

    Superiority decides once the MDE reaches the margin (a powered REJECT) or the current
    effect (significance either way), whichever comes first: with min_delta 0 the margin alone
    gave "no finite number of extra items" for every INCONCLUSIVE, and with a small margin it
    overstated the items needed when the effect is larger than the margin."""
    if policy.mode is Mode.SUPERIORITY:
        target = max(policy.min_delta, abs(comp.delta))
    else:
        target = abs(comp.delta - policy.theta0)
    return extra_items_needed(comp.n_pairs, comp.mde, target)


def _suggestion(v: Verdict, comp: ComparisonResult, policy: Policy, extra: int | None) -> str:
    if v is Verdict.ALLOW:
        return "ship: the candidate meets the policy"
    if v is Verdict.REJECT:
        return "do not ship: the candidate fails the policy"
    if comp.n_clusters is not None and comp.n_clusters < 5:
        return "add clusters: with fewer than 5 no verdict can be trusted"
    if math.isnan(comp.mde):
        return ("gate again at an alpha below 0.5 (e.g. 0.05): at this alpha no number of extra "
                "items is defined")
    if extra is None:
        return "no finite number of extra items decides this at the current effect size"
    return (f"collect about {extra} more paired items (at the current variance and design "
            "effect) and gate again")
