"""The doctor: every check on two runs, collected as findings instead of raised one at a time.

Codes are stable and never reused (README lists them with their fixes):
E1xx errors (gate refuses, exit 65), W2xx warnings (shown, never hidden), I3xx information.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .errors import InputError
from .finding_codes import FINDING_CODES, MAX_ABS_SCORE
from .findings import finding as _f  # short: every check below calls it
from .findings import finding_from_error, make_report
from .numfmt import counted, fixed, plural
from .pairing import Pairing, item_index, near_miss, pair, run_mean
from .policy import MIN_CLUSTERS
from .readers import OK_STATUSES
from .report import DoctorReport, Finding, RunSummary
from .run import EvalRun, cluster_key, in_file, missing_labels_error
from .stats import bell_mccaffrey_df, effective_clusters

__all__ = ["FINDING_CODES", "MAX_ABS_SCORE", "diagnose", "finding_from_error", "summarize"]

_SAMPLE = 5
# Metric names whose values are proportions: a score outside [0, 1] is a broken export.
_PROPORTION = re.compile(r"^(acc|accuracy|acc_norm|exact_match|em|match|correct|f1|pass@\d+|"
                         r"(quasi_)?(prefix_)?exact_match|includes|mc[12])$", re.IGNORECASE)


def summarize(run: EvalRun) -> RunSummary:
    return RunSummary(
        source=run.meta.source, sha256=run.meta.sha256, format=run.meta.format,
        harness=run.meta.harness, model=run.meta.model, task=run.meta.task,
        metric=run.meta.metric, run_id=run.meta.run_id,
        n_items=item_index(run).n_items, n_records=run.n_records, n_errored=run.meta.n_errored,
        mean=run_mean(run),
    )


def _run_findings(run: EvalRun, role: str, cluster: str | None,
                  dups: tuple[int, list[str]]) -> list[Finding]:
    out: list[Finding] = []
    src = run.meta.source
    if run.n_records == 0:
        why = f" ({counted(run.meta.n_errored, 'errored sample')})" if run.meta.n_errored else ""
        out.append(_f("E105", f"{role} has no scored items{why}", "re-export or re-run the eval",
                      file=src))
        return out
    bad = ~np.isfinite(run.scores)
    if bad.any():
        ids = run.item_ids[bad]
        out.append(_f("E103", f"{role}: {counted(int(bad.sum()), 'non-finite score')} "
                      "(NaN/Infinity)",
                      "fix the scorer or drop those items; evalsig never guesses a score",
                      count=int(bad.sum()), examples=ids[:_SAMPLE].tolist(), file=src))
    huge = ~bad & (np.abs(np.where(bad, 0.0, run.scores)) > MAX_ABS_SCORE)
    if huge.any():
        out.append(_f("E115", f"{role}: {counted(int(huge.sum()), 'score')} beyond "
                      f"+/-{MAX_ABS_SCORE:g} "
                      f"(largest |score| {np.abs(run.scores[huge]).max():g}): their squares "
                      "overflow float64", "rescale the scores (e.g. divide by a power of 10, "
                      "or take the log) before gating", count=int(huge.sum()),
                      examples=run.item_ids[huge][:_SAMPLE].tolist(), file=src))
    dup_n, dup_ex = dups
    if dup_n:
        pairs = counted(dup_n, "(item, epoch) pair occurs", "(item, epoch) pairs occur")
        out.append(_f("E104", f"{role}: {pairs} more than once",
                      "each (item_id, epoch) must appear once; de-duplicate the export",
                      count=dup_n, examples=dup_ex, file=src))
    if run.meta.status not in OK_STATUSES:
        if run.meta.failure_allowed:
            out.append(_f("W216", f"{role}: run status is {run.meta.status!r}; gating the "
                          f"{counted(run.n_records, 'record')} it has (--allow-failed-run)",
                          "re-run the eval to gate a complete run", file=src))
        else:
            out.append(_f("E106", f"{role}: run status is {run.meta.status!r}",
                          "re-run, or gate with --allow-failed-run", file=src))
    if run.meta.status == "started":
        out.append(_f("W217", f"{role}: the run has not finished (status 'started'); "
                      f"{counted(run.n_records, 'record was', 'records were')} written so far",
                      "gate the log of a finished run", file=src))
    if run.meta.n_errored:
        errored = counted(run.meta.n_errored, "errored sample was", "errored samples were")
        out.append(_f("W202", f"{role}: {errored} excluded",
                      "errored samples are not scores; re-run them to include them",
                      count=run.meta.n_errored, examples=list(run.meta.errored_items[:_SAMPLE]),
                      file=src))
    for message, fix in run.meta.unread_metadata:
        out.append(_f("W220", f"{role}: {message}; the run's harness version and config "
                      "fingerprint are unknown (W207 cannot compare them)", fix, file=src))
    unlabelled = None if cluster is None else missing_labels_error(cluster, role, run)
    if unlabelled is not None:
        out.append(finding_from_error(unlabelled))
    if cluster is not None and run.cluster_present is not None and not run.cluster_present.all():
        miss = ~run.cluster_present
        out.append(_f("E107", f"{role}: cluster key {cluster!r} is missing on "
                      f"{int(miss.sum())} of {run.n_records} records",
                      f"add {cluster!r} to every item's metadata, or drop --cluster",
                      count=int(miss.sum()), examples=run.item_ids[miss][:_SAMPLE].tolist(),
                      file=src))
    fin = run.scores[~bad]
    if fin.size > 1 and np.all(fin == fin[0]):
        out.append(_f("W208", f"{role}: every score is {fin[0]:g}",
                      "check the scorer and the metric; a constant run carries no signal",
                      file=src))
    metric = run.meta.metric or ""
    outside = (fin < 0) | (fin > 1)
    if _PROPORTION.match(metric.rsplit(".", 1)[-1]) and outside.any():
        out.append(_f("W210", f"{role}: {counted(int(outside.sum()), 'score')} of {metric!r} "
                      f"{plural(int(outside.sum()), 'is', 'are')} outside "
                      f"[0, 1] (range {fin.min():g} to {fin.max():g})",
                      "a proportion must lie in [0, 1]: check for percentages or a wrong field",
                      count=int(outside.sum()),
                      examples=run.item_ids[~bad][outside][:_SAMPLE].tolist(), file=src))
    return out


def _epoch_keys(run: EvalRun) -> tuple[np.ndarray, np.ndarray, int]:
    """(sorted item ids, one int64 key per record for its (item, epoch), epochs per item)."""
    items, item_codes = item_index(run).ids, item_index(run).inverse  # sorted once per run
    # epoch codes, not values: item * (max epoch + 1) overflowed int64 for epochs like 2**62
    # (timestamps) and reported duplicates that were not there
    epoch_values, e = np.unique(run.epochs, return_inverse=True)
    return items, item_codes.astype(np.int64) * len(epoch_values) + e, len(epoch_values)


def _distinct_epochs(run: EvalRun, ids: np.ndarray) -> np.ndarray:
    """Distinct epochs of each of `ids` (items of `run`): a duplicated (item, epoch) is E104's,
    not a second epoch for W203 (for a run with duplicates: else the records per item are)."""
    items, keys, n_epoch_values = _epoch_keys(run)
    per_item = np.bincount(np.unique(keys) // n_epoch_values, minlength=len(items))
    return per_item[np.searchsorted(items, ids)]


def _duplicates(run: EvalRun) -> tuple[int, list[str]]:
    """(number of (item, epoch) keys seen more than once, a few examples)."""
    if item_index(run).one_record_each:
        return 0, []  # one record per item: no key can repeat
    _, keys, _ = _epoch_keys(run)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    dup = counts > 1
    ex = [f"{run.item_ids[i]} epoch {run.epochs[i]}" for i in first[dup][:_SAMPLE].tolist()]
    return int(dup.sum()), ex


def _pair_findings(p: Pairing, b: EvalRun, c: EvalRun, cluster: str | None,
                   duplicated: tuple[bool, bool]) -> list[Finding]:
    out: list[Finding] = []
    if p.n_baseline_only or p.n_candidate_only:
        ex = [f"baseline only: {i}" for i in p.baseline_only[:3].tolist()] + [
            f"candidate only: {i}" for i in p.candidate_only[:3].tolist()]
        near = near_miss(p.baseline_only, p.candidate_only)  # the first 20 of each
        out.append(_f("W201", f"{p.n_baseline_only} baseline-only and {p.n_candidate_only} "
                      "candidate-only items were dropped; "
                      f"{counted(p.n, 'item is', 'items are')} paired"
                      + (f"; among the first 20 of each, {near}" if near else ""),
                      "run both models on the same items (errored samples count as missing)",
                      count=p.n_baseline_only + p.n_candidate_only, examples=ex))
    eb = np.unique(_distinct_epochs(b, p.item_ids) if duplicated[0] else p.epochs_baseline)
    ec = np.unique(_distinct_epochs(c, p.item_ids) if duplicated[1] else p.epochs_candidate)
    if len(eb) > 1 or len(ec) > 1 or not np.array_equal(eb, ec):
        out.append(_f("W203", f"epochs per item differ: baseline {eb.tolist()[:5]}, candidate "
                      f"{ec.tolist()[:5]}",
                      "items are averaged over their own epochs first; use equal epochs to "
                      "keep the noise comparable"))
    # the baseline carries the key on no record (E107 says so): the one "cluster" the pairing
    # sees is the missing label, not a design; counting it only added a wrong E108
    no_labels = (cluster is not None and b.cluster_present is not None
                 and not b.cluster_present.any())
    if cluster is not None and p.cluster_labels is not None and not no_labels:
        G = len(p.cluster_labels)
        if G < 2:  # the pairing clusters by the baseline's labels
            out.append(_f("E108", f"only {G} cluster under key {cluster!r}, as the baseline"
                          f"{in_file(b)} labels its paired items",
                          "choose a finer cluster key or drop --cluster", count=G))
        elif G < MIN_CLUSTERS:
            out.append(_f("W205", f"only {G} clusters under key {cluster!r}{_labels_of(b)}: "
                          "the gate answers INCONCLUSIVE",
                          "add clusters (more passages/tasks) to decide", count=G))
        elif G < 20:
            # the doctor does not know the method: the hint named CR2 above a wild bootstrap
            out.append(_f("W206", f"{G} clusters under key {cluster!r}{_labels_of(b)}",
                          "intervals rest on small-sample corrections and are wide; more "
                          "clusters give more power", count=G))
        if p.candidate_clusters is not None and p.cluster_codes is not None:
            labels_b = p.cluster_labels[p.cluster_codes]
            have = (p.candidate_cluster_present if p.candidate_cluster_present is not None
                    else True)
            diff = (labels_b != p.candidate_clusters) & have
            if diff.any():
                out.append(_f("W204", f"{counted(int(diff.sum()), 'item has', 'items have')} "
                              f"a different {cluster!r} "
                              "in the candidate; the baseline's labels are used",
                              "export both runs from the same dataset version",
                              count=int(diff.sum()),
                              examples=p.item_ids[diff][:_SAMPLE].tolist()))
        conflicts = p.baseline_cluster_conflicts
        if conflicts:
            records = counted(conflicts, "record carries", "records carry")
            out.append(_f("W204", f"baseline: {records} a different {cluster!r} than "
                          f"{plural(conflicts, 'its', 'their')} item's first epoch",
                          "fix the export", count=conflicts))
    if p.n == 1:  # doctor said OK (exit 0), then gate refused: "needs at least 2" (65)
        out.append(_f("E105", f"the baseline{in_file(b)} and the candidate{in_file(c)} "
                      f"share only 1 item ({p.item_ids[0]}): no interval can be estimated "
                      "from one paired difference",
                      "gate runs of the same task; item ids must match exactly (as strings)",
                      count=1))
    elif p.n < 30:
        out.append(_f("W209", f"only {p.n} paired items",
                      "small samples give wide intervals; add items", count=p.n))
    out += _scale_findings(p, b, c)
    if p.cluster_codes is not None and p.cluster_labels is not None and not no_labels:
        out += _cluster_df_findings(p, cluster)
    cb, cc = b.meta.config, c.meta.config
    # a key only one run records (a temperature set in the candidate alone) differs too
    differing = sorted(k for k in cb.keys() | cc.keys() if cb.get(k) != cc.get(k))
    if differing:
        keys = [k if k in cb and k in cc else
                f"{k} (only the {'baseline' if k in cb else 'candidate'} records it)"
                for k in differing[:8]]
        out.append(_f("W207", f"config differs between runs: {', '.join(keys)}",
                      "compare runs of the same task, dataset and harness version",
                      count=len(differing)))
    n_cl = None if no_labels else p.n_clusters
    delta = float(p.d.mean()) if p.n else math.nan
    shown = fixed(delta, True) if math.isfinite(delta) else "n/a (non-finite scores)"
    out.append(_f("I301", counted(p.n, "paired item")
                  + (f" in {counted(n_cl, 'cluster')}" if n_cl else "")
                  + f"; delta = {shown}", count=p.n))
    return out


def _labels_of(b: EvalRun) -> str:
    """Which file's labels W205 and W206 count (the pairing clusters by the baseline's): they
    named no file, so a suite's report left the user to guess ("" for a run built in memory,
    whose findings read as before)."""
    return f" (the baseline's labels, in {b.meta.source})" if b.meta.source else ""


def _scale_findings(p: Pairing, b: EvalRun, c: EvalRun) -> list[Finding]:
    out: list[Finding] = []
    # An error, not a warning: a copy of the baseline (a CI path that fell back to it, a
    # candidate eval that never wrote its file) has zero variance, and with enough items a
    # non-inferiority gate ALLOWed it: a model nobody evaluated would ship.
    if b.meta.sha256 and b.meta.sha256 == c.meta.sha256:
        same = ("the same path" if b.meta.source == c.meta.source
                else f"{c.meta.source} is a byte-identical copy of {b.meta.source}")
        out.append(_f("E116", f"baseline and candidate are the same file ({same}; sha256 "
                      f"{b.meta.sha256[:12]}…)",
                      "pass the candidate's own run file: the candidate eval did not write "
                      "its output or the path points at the baseline", file=c.meta.source))
    elif p.n > 1 and np.all(p.d == 0):
        out.append(_f("W214", f"all {p.n} paired items have identical scores in both runs",
                      "check that the candidate was really re-run (not a copy of the baseline)",
                      count=p.n))
    # Mismatched runs are errors, not warnings: a delta between two different quantities
    # would otherwise reach a confident verdict.
    mb, mc = b.meta.metric, c.meta.metric
    wb, wc = in_file(b), in_file(c)
    if mb and mc and mb != mc:
        out.append(_f("E112", f"the baseline's metric is {mb!r}{wb}, the candidate's {mc!r}{wc}",
                      "gate the same metric in both runs (--metric)"))
    if (tb := b.meta.task) and (tc := c.meta.task) and tb != tc:
        out.append(_f("E114", f"the baseline's task is {tb!r}{wb}, the candidate's {tc!r}{wc}",
                      "gate two runs of the same task"))
    scale = _scale_finding(p, b, c)
    return out + ([scale] if scale is not None else [])


# Runs that are both off [0, 1] are on different scales when the wider one is at least this
# many times the narrower in span, in largest |score| and in the 90th percentile of |score|.
# A rescaling by k (0-10 vs 0-100: k = 10; fraction vs percent: 100) multiplies all three by k;
# on one scale all three reach 5 only when one run stays within a fifth of the other's range
# on almost every item (a run 0-7 against 0-10, or a better candidate, gives 1.1-2).
_SCALE_RATIO = 5.0
# one run within [0, 1]: the other must reach this many times as far from 0 (max |score|)
_OUTSIDE_RATIO = 2.0


def _scale_finding(p: Pairing, b: EvalRun, c: EvalRun) -> Finding | None:
    """E113: the paired item scores of the runs are on clearly different scales."""
    x, y = p.baseline, p.candidate
    if not p.n or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    if max(np.abs(x).max(), np.abs(y).max()) > MAX_ABS_SCORE:
        return None  # E115 names the problem; ratios of such ranges overflow
    in_b = bool(np.all((x >= 0) & (x <= 1)))
    in_c = bool(np.all((y >= 0) & (y <= 1)))
    ranges = (f"the baseline's scores{in_file(b)} range from {x.min():g} to {x.max():g}, "
              f"the candidate's{in_file(c)} from {y.min():g} to {y.max():g}")
    if in_b != in_c:
        if not (x.any() and y.any()):
            # a run that scores 0 on every item is on every scale (a perfect abs_error run
            # against a signed one): no evidence of a mismatch; W208 names the constant run
            return None
        inside, outside = (x, y) if in_b else (y, x)
        reach = float(np.abs(outside).max() / np.abs(inside).max())
        if reach < _OUTSIDE_RATIO:
            # a score just past 1 (a reward of 1.02 against a run topping out at 0.99) is the
            # same scale; a fraction against a percent or a 0-10 rubric reaches 10-100x as far
            return None
        return _f("E113", f"{ranges}: one run lies within [0, 1] and the other not, reaching "
                  f"{reach:.3g}x as far from 0",
                  "put both runs on one scale (fraction vs percent?) before gating")
    if in_b:
        return None
    wide, narrow = ("candidate", "baseline") if np.abs(y).max() >= np.abs(x).max() else (
        "baseline", "candidate")
    w, n = (y, x) if wide == "candidate" else (x, y)
    ratios = [_ratio(np.ptp(w), np.ptp(n)), _ratio(np.abs(w).max(), np.abs(n).max()),
              _ratio(np.quantile(np.abs(w), 0.9), np.quantile(np.abs(n), 0.9))]
    if min(ratios) < _SCALE_RATIO:
        return None
    k = ratios[1]
    power10 = 10.0 ** round(math.log10(k))
    factor = f"{power10:g}" if abs(math.log10(k / power10)) < 0.3 else f"about {k:.0f}"
    return _f("E113", f"{ranges}: the {wide}'s range is about {k:.0f}x the {narrow}'s, the runs "
              "are on different scales", f"put both runs on one scale before gating (e.g. "
              f"divide the {wide}'s scores by {factor}), or score both with the same scorer "
              "and rubric: a delta across two scales means nothing")


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else (math.inf if a > 0 else 1.0)


def _cluster_df_findings(p: Pairing, cluster: str | None) -> list[Finding]:
    assert p.cluster_codes is not None
    sizes = np.bincount(p.cluster_codes).astype(np.float64)
    sizes = sizes[sizes > 0]
    G = len(sizes)
    if G < 2:
        return []
    df = bell_mccaffrey_df(sizes)
    out = [_f("I302", f"{G} clusters under {cluster!r} of {int(sizes.min())} to "
              f"{int(sizes.max())} items; effective df (Bell-McCaffrey) {df:.1f}", count=G)]
    if G >= MIN_CLUSTERS and df < (G - 1) / 2:
        out.append(_f("W213", f"effective df {df:.1f} with {G} clusters: a few large clusters "
                      f"dominate the variance (the largest holds {sizes.max() / sizes.sum():.0%}"
                      " of the items)", "intervals are wide and the MDE is a rough guide: the "
                      "verdict rides on those clusters' own outcomes, so the power at the MDE "
                      "can be far from the target; balance the clusters or use a finer cluster "
                      "key", count=G))
    g_eff = effective_clusters(sizes)
    if G >= MIN_CLUSTERS and g_eff < MIN_CLUSTERS:
        out.append(_f("W218", f"{G} clusters under key {cluster!r}, but the largest holds "
                      f"{sizes.max() / sizes.sum():.0%} of the items: {g_eff:.1f} effective "
                      "clusters (N^2 / sum n_g^2), so the gate answers INCONCLUSIVE",
                      "balance the clusters or choose a finer key", count=G))
    return out


def diagnose(baseline: EvalRun, candidate: EvalRun, *, cluster: str | None = None,
             pairing: Pairing | None = None) -> DoctorReport:
    """Run every check on a pair of runs already read.

    `pairing` is the caller's `pair(baseline, candidate)` when it has one (gate does), so
    large runs are not paired twice; it is used only if it was made with the same clustering.
    """
    cluster = cluster_key(cluster, baseline, candidate)
    with np.errstate(over="ignore", invalid="ignore"):  # E103/E115 report such scores
        return _diagnose(baseline, candidate, cluster, pairing)


def _diagnose(baseline: EvalRun, candidate: EvalRun, cluster: str | None,
              pairing: Pairing | None) -> DoctorReport:
    dup_b, dup_c = _duplicates(baseline), _duplicates(candidate)
    findings = _run_findings(baseline, "baseline", cluster, dup_b)
    findings += _run_findings(candidate, "candidate", cluster, dup_c)
    if baseline.n_records and candidate.n_records:
        try:
            if pairing is not None and (pairing.cluster_codes is not None) == (
                    cluster is not None and baseline.clusters is not None):
                p = pairing
            else:
                p = pair(baseline, candidate, cluster=cluster is not None)
        except InputError as exc:
            findings.append(_f("E105", exc.message, exc.hint or ""))
        else:
            findings += _pair_findings(p, baseline, candidate, cluster,
                                       (dup_b[0] > 0, dup_c[0] > 0))
    return make_report(findings, summarize(baseline), summarize(candidate))
