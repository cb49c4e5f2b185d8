"""Suites: gate many (task, metric) entries at once and combine them (DESIGN.md, STATS.md).

- Every entry is gated on its own (doctor, method, verdict table).
- Superiority entries ("any entry improved") share one family: their p-values are adjusted
  with Holm (default) or Benjamini-Hochberg, each relative to the level its own ALLOW used
  (auto: alpha/2 for a clustered design; stats/multiplicity.py derives it), and an entry
  whose adjusted p-value is not below that level is INCONCLUSIVE instead of ALLOW: in the
  suite and in the entry's own report (`verdict`, `exit_code`, `reason`, extra items at the
  adjusted level), which keeps the ALLOW it had alone as `verdict_before_correction`. The
  correction only ever demotes: no entry is ALLOWed that its own gate would not ALLOW.
- Non-inferiority / minimum-effect entries are guardrails: "every guardrail holds" is an
  intersection-union test, each at its own ALLOW level (no split; the IUT's level is the
  largest of them).
- The suite is REJECT if any entry is REJECT, else INCONCLUSIVE if any is (or if an entry could
  not be gated at all: it is reported with its error), else ALLOW. A usage error of an entry
  raises `UsageError` (exit 64) instead: usage errors never exit 2.

The suite file format (one for `evalsig suite` and the nightly flow) is in suite_file.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EvalsigError, UsageError
from .gate import gate
from .numfmt import counted
from .policy import Mode, Policy, Verdict
from .report import ComparisonResult, GateReport, SuiteEntry, SuiteReport, decision_lower
from .run import EvalRun
from .stats.multiplicity import CORRECTIONS, adjust_p_values
from .stats.power import bound_mde, extra_items_needed, t_quantile
from .suite_file import SuiteSpec, read_suite_spec

__all__ = ["SuiteItem", "gate_suite", "load_suite", "run_suite_file", "suite_report"]



@dataclass(frozen=True)
class SuiteItem:
    """One entry to gate: its runs are read lazily by `load` (errors stay with the entry)."""

    name: str
    policy: Policy
    load: Callable[[], tuple[EvalRun, EvalRun]]
    task: str | None = None


def gate_suite(items: Sequence[SuiteItem], *, correction: str = "holm") -> SuiteReport:
    """Gate every item, correct superiority p-values across the suite, combine verdicts.

    An entry whose data cannot be gated (65, 66) is reported with its error and makes the
    suite INCONCLUSIVE; a usage error (a bad flag of an entry) stops the suite with
    `UsageError` naming the entry: usage errors never exit 2."""
    entries: list[SuiteEntry] = []
    for item in items:
        try:
            b, c = item.load()
            report = gate(b, c, item.policy)
        except UsageError as exc:
            raise UsageError(f"suite entry {item.name!r}: {exc.message}", hint=exc.hint) from None
        except EvalsigError as exc:
            entries.append(SuiteEntry(name=item.name, task=item.task, metric=item.policy.metric,
                                      error=exc.one_line(), error_code=int(exc.exit_code)))
        else:
            entries.append(SuiteEntry(name=item.name, task=item.task, metric=report.metric,
                                      report=report))
    return suite_report(entries, correction=correction)


def suite_report(entries: Sequence[SuiteEntry], *, correction: str = "holm") -> SuiteReport:
    """Combine entries already gated (each with its `report` or its `error`) into a suite.

    The one place suites are decided: `gate_suite` calls it after gating in turn, and the
    nightly flow after gating the entries in parallel.
    """
    if correction not in ("holm", "bh"):
        raise UsageError(f"correction must be holm or bh, got {correction!r}")
    if not entries:
        raise UsageError("a suite needs at least one entry")
    sup = [(i, e.report) for i, e in enumerate(entries)
           if e.report is not None and e.report.mode is Mode.SUPERIORITY]
    # each p-value against its own ALLOW level (auto: alpha/2 when clustered), stats/multiplicity
    p_adj = adjust_p_values([r.comparison.p_value for _, r in sup], correction,
                            [r.allow_level for _, r in sup])
    adjusted = {i: p for (i, _), p in zip(sup, p_adj, strict=True)}
    mixed = len({r.allow_level for _, r in sup}) > 1
    out = [_decided(e, adjusted.get(i), correction=correction, family=len(sup), mixed=mixed)
           for i, e in enumerate(entries)]
    verdict, reason = _combine(out)
    used = correction if sup else "iut"
    return SuiteReport(verdict=verdict, exit_code=int(verdict.exit_code), reason=reason,
                       correction=used, entries=out)


def _decided(entry: SuiteEntry, p_adj: float | None, *, correction: str,
             family: int, mixed: bool = False) -> SuiteEntry:
    """An entry's verdict after the suite's multiplicity correction, stated in the entry's own
    report too (a reader of `entries[].report.verdict` must never see ALLOW for an entry the
    suite did not accept)."""
    report = entry.report
    if report is None:
        return entry
    if p_adj is not None and report.verdict is Verdict.ALLOW:
        level = report.allow_level
        if p_adj >= level:
            report = _demoted(report, p_adj, level, correction=correction, family=family,
                              mixed=mixed)
    return entry.model_copy(update={"verdict": report.verdict, "report": report,
                                    "p_value_adjusted": p_adj,
                                    "metric": entry.metric or report.metric})


_CORRECTION_NAME = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def _demoted(report: GateReport, p_adj: float, level: float, *, correction: str,
             family: int, mixed: bool) -> GateReport:
    """An ALLOW whose adjusted p-value is not below its level: INCONCLUSIVE, with the reason,
    the suggestion and the extra items needed at the level the correction implies. `mixed`:
    the family's ALLOW levels differ (the reason says each p-value was taken per its level)."""
    c = report.comparison
    # the per-entry level the correction holds this p-value to: p_adj / p is its multiplier
    eff = min(level, level * c.p_value / p_adj) if c.p_value > 0 else level / family
    extra = extra_items_needed(c.n_pairs, _mde_at(c, level, eff, report.power),
                               max(report.min_delta, abs(c.delta)))
    name = _CORRECTION_NAME[correction]
    per_level = " (each p-value relative to its own ALLOW level)" if mixed else ""
    reason = (f"{name}-adjusted p-value {p_adj:.4g} >= {level:g} across the suite's {family} "
              f"superiority entries{per_level}: not an improvement after the multiplicity "
              f"correction (alone it passed: {report.reason})")
    suggestion = ("no finite number of extra items decides this at the current effect size"
                  if extra is None else
                  f"collect about {extra} more paired items (at the current variance and "
                  "design effect) and gate the suite again")
    v = Verdict.INCONCLUSIVE
    return report.model_copy(update={
        "verdict": v, "verdict_before_correction": report.verdict,
        "exit_code": int(v.exit_code), "reason": reason, "suggestion": suggestion,
        "extra_items_needed": extra})


def _mde_at(c: ComparisonResult, level: float, eff: float, power: float) -> float:
    """The entry's MDE with its ALLOW bound moved from `level` to the stricter level `eff`:
    the bound moved out by the t (normal without df) quantiles' difference, measured as the
    gate measures its own (`bound_mde`)."""
    df = math.inf if c.df is None else c.df
    lower = decision_lower(c)
    if lower is None or not math.isfinite(c.mde):
        return c.mde
    shift = t_quantile(1 - eff, df) - t_quantile(1 - level, df)
    return float(bound_mde(c.delta, lower - shift * c.se, c.se, df, power))


def _combine(entries: list[SuiteEntry]) -> tuple[Verdict, str]:
    """REJECT if any entry is, else INCONCLUSIVE if any is or could not be gated, else ALLOW;
    the reason counts the entries and names those that decided it."""
    groups: dict[str, list[str]] = {"REJECT": [], "INCONCLUSIVE": [], "not gated": [],
                                    "ALLOW": []}
    for e in entries:
        key = "not gated" if e.error is not None else (e.verdict.value if e.verdict else "ALLOW")
        groups[key].append(e.name)
    if groups["REJECT"]:
        verdict = Verdict.REJECT
    elif groups["INCONCLUSIVE"] or groups["not gated"]:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.ALLOW
    parts = [f"{k}: {', '.join(v)}" for k, v in groups.items() if v]
    return verdict, f"{counted(len(entries), 'entry', 'entries')}: " + "; ".join(parts)


def load_suite(path: str | Path, *, correction: str | None = None,
               spec: SuiteSpec | None = None) -> tuple[list[SuiteItem], str]:
    """Read a suite file into items the CLI can gate (runs are read lazily, one entry at a
    time). Every entry needs local `baseline` and `candidate` runs here; stored baselines and
    candidate commands are the nightly flow's. `spec`: the file as `read_suite_spec(path)`
    already parsed it (the CLI checks report paths against its entries first)."""
    spec = read_suite_spec(path) if spec is None else spec
    items = []
    for e in spec.entries:
        if e.baseline is None or e.candidate is None:
            missing = "baseline" if e.baseline is None else "candidate"
            raise UsageError(
                f"{path}: entry {e.name!r} has no {missing} run file",
                hint="`evalsig suite` gates files; stored baselines and candidate commands "
                "need the nightly flow (evalsig_flows)")
        items.append(SuiteItem(name=e.name, policy=e.policy(), task=e.task,
                               load=_loader(Path(e.baseline), Path(e.candidate),
                                            e.read_options())))
    return items, correction or spec.correction


def _loader(b: Path, c: Path, flags: dict[str, Any]) -> Callable[[], tuple[EvalRun, EvalRun]]:
    def load() -> tuple[EvalRun, EvalRun]:
        from .readers import read_run

        return read_run(str(b), **flags), read_run(str(c), **flags)
    return load


def run_suite_file(path: str | Path, *, correction: str | None = None,
                   spec: SuiteSpec | None = None) -> SuiteReport:
    """Load a suite TOML file (or gate its `spec` when already read) and gate it."""
    items, corr = load_suite(path, correction=correction, spec=spec)
    if corr not in CORRECTIONS[:2]:
        raise UsageError(f"correction must be holm or bh, got {corr!r}")
    try:
        return gate_suite(items, correction=corr)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}", hint=exc.hint) from None
