"""Suites: combine many gate entries into one verdict (DESIGN.md "Gate policy and verdicts").

MINIMAL placeholder written by the flows branch so `nightly_gate_flow` calls the core for the
suite statistics; the statistics branch owns the full version (same function name wanted).

Rule: superiority p-values are corrected across the suite (Holm by default, or BH); an ALLOW
entry whose corrected p-value exceeds its alpha becomes INCONCLUSIVE. The suite is REJECT if
any entry is REJECT, else INCONCLUSIVE if any entry is INCONCLUSIVE or could not be gated
(an error is never evidence of safety), else ALLOW.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import UsageError
from .policy import Mode, Verdict
from .report import SuiteEntry, SuiteReport

__all__ = ["CORRECTIONS", "adjust_p_values", "suite_report"]

CORRECTIONS = ("holm", "bh")


def adjust_p_values(p: Sequence[float], correction: str = "holm") -> np.ndarray:
    """Holm step-down or Benjamini-Hochberg step-up adjusted p-values (same order as p)."""
    if correction not in CORRECTIONS:
        raise UsageError(f"unknown correction {correction!r}; use one of {CORRECTIONS}")
    x = np.asarray(p, dtype=float)
    m = x.size
    if m == 0:
        return x
    order = np.argsort(x, kind="stable")
    ranked = x[order]
    if correction == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def suite_report(entries: Sequence[SuiteEntry], *, correction: str = "holm") -> SuiteReport:
    """Correct the superiority entries, then combine: REJECT > INCONCLUSIVE (or error) > ALLOW."""
    idx = [i for i, e in enumerate(entries)
           if e.report is not None and e.report.mode is Mode.SUPERIORITY]
    adjusted = adjust_p_values([entries[i].report.comparison.p_value  # type: ignore[union-attr]
                                for i in idx], correction)
    out = list(entries)
    for i, p_adj in zip(idx, adjusted, strict=True):
        e = entries[i]
        assert e.report is not None
        verdict = e.report.verdict
        if verdict is Verdict.ALLOW and p_adj > e.report.alpha:
            verdict = Verdict.INCONCLUSIVE
        out[i] = e.model_copy(update={"verdict": verdict, "p_value_adjusted": float(p_adj)})
    for i, e in enumerate(out):
        if e.report is not None and e.verdict is None:
            out[i] = e.model_copy(update={"verdict": e.report.verdict})
    verdicts = [e.verdict for e in out]
    errors = [e.name for e in out if e.report is None]
    if not out:
        raise UsageError("a suite needs at least one entry")
    if Verdict.REJECT in verdicts:
        verdict = Verdict.REJECT
    elif Verdict.INCONCLUSIVE in verdicts or errors:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.ALLOW
    counts = {v.value: sum(1 for x in verdicts if x is v) for v in Verdict}
    reason = (f"{len(out)} entries: {counts['ALLOW']} ALLOW, {counts['REJECT']} REJECT, "
              f"{counts['INCONCLUSIVE']} INCONCLUSIVE, {len(errors)} not gated "
              f"({correction} correction)")
    return SuiteReport(verdict=verdict, exit_code=int(verdict.exit_code), reason=reason,
                       correction=correction, entries=out)
