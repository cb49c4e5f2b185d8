"""The doctor: every check on two runs, collected as findings instead of raised one at a time.

Codes are stable and never reused (README lists them with their fixes):
E1xx errors (gate refuses, exit 65), W2xx warnings (shown, never hidden), I3xx information.
"""

from __future__ import annotations

import numpy as np

from .errors import ExitCode, InputError
from .pairing import Pairing, item_means, pair
from .policy import MIN_CLUSTERS
from .report import DoctorReport, Finding, RunSummary, Severity
from .run import EvalRun

__all__ = ["FINDING_CODES", "diagnose", "finding_from_error", "summarize"]

FINDING_CODES: dict[str, str] = {
    "E101": "the file cannot be read as a run (format, JSON, metric, encoding)",
    "E102": "the chosen metric does not exist in the file",
    "E103": "non-finite scores (NaN or Infinity)",
    "E104": "duplicate (item, epoch) records",
    "E105": "the runs share no item",
    "E106": "the run failed (status error)",
    "E107": "the cluster key is missing on some items",
    "E108": "fewer than 2 clusters: no cluster-robust inference possible",
    "W201": "items present in only one run (dropped from the pairing)",
    "W202": "errored samples were excluded",
    "W203": "epoch counts differ",
    "W204": "cluster labels disagree (between runs or across an item's epochs)",
    "W205": f"fewer than {MIN_CLUSTERS} clusters: the verdict will be INCONCLUSIVE",
    "W206": "few clusters (< 20): intervals rely on small-sample corrections",
    "W207": "config fingerprints differ between the runs",
    "W208": "a run has constant scores",
    "W209": "very few paired items (< 30)",
    "I301": "summary of the pairing",
}

_SAMPLE = 5


def _f(code: str, message: str, hint: str = "", *, count: int | None = None,
       examples: list[str] | None = None, file: str | None = None) -> Finding:
    sev = {"E": Severity.ERROR, "W": Severity.WARNING, "I": Severity.INFO}[code[0]]
    return Finding(code=code, severity=sev, message=message, hint=hint, count=count,
                   examples=examples or [], file=file)


def finding_from_error(exc: InputError) -> Finding:
    """A read failure as a finding, so `doctor` can report both files in one go."""
    return _f(getattr(exc, "code", "E101"), exc.message, exc.hint or "", file=exc.path)


def summarize(run: EvalRun) -> RunSummary:
    finite = run.scores[np.isfinite(run.scores)]
    return RunSummary(
        source=run.meta.source, sha256=run.meta.sha256, format=run.meta.format,
        harness=run.meta.harness, model=run.meta.model, task=run.meta.task,
        metric=run.meta.metric, run_id=run.meta.run_id,
        n_items=len(np.unique(run.item_ids)), n_records=run.n_records,
        n_errored=run.meta.n_errored,
        mean=float(finite.mean()) if finite.size else None,
    )


def _run_findings(run: EvalRun, role: str, cluster: str | None) -> list[Finding]:
    out: list[Finding] = []
    src = run.meta.source
    if run.n_records == 0:
        out.append(_f("E105", f"{role} has no scored items", "re-export the run", file=src))
        return out
    bad = ~np.isfinite(run.scores)
    if bad.any():
        ids = run.item_ids[bad]
        out.append(_f("E103", f"{role}: {int(bad.sum())} non-finite scores (NaN/Infinity)",
                      "fix the scorer or drop those items; evalsig never guesses a score",
                      count=int(bad.sum()), examples=ids[:_SAMPLE].tolist(), file=src))
    keys = np.char.add(np.char.add(run.item_ids, "\x00"), run.epochs.astype(np.str_))
    uniq, counts = np.unique(keys, return_counts=True)
    dup = counts > 1
    if dup.any():
        ex = [k.replace("\x00", " epoch ") for k in uniq[dup][:_SAMPLE].tolist()]
        out.append(_f("E104", f"{role}: {int(dup.sum())} (item, epoch) pairs occur more than once",
                      "each (item_id, epoch) must appear once; de-duplicate the export",
                      count=int(dup.sum()), examples=ex, file=src))
    if run.meta.status not in ("success", "started"):
        out.append(_f("E106", f"{role}: run status is {run.meta.status!r}",
                      "re-run, or gate with --allow-failed-run", file=src))
    if run.meta.n_errored:
        out.append(_f("W202", f"{role}: {run.meta.n_errored} errored samples were excluded",
                      "errored samples are not scores; re-run them to include them",
                      count=run.meta.n_errored, examples=list(run.meta.errored_items[:_SAMPLE]),
                      file=src))
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
    return out


def _pair_findings(p: Pairing, b: EvalRun, c: EvalRun, cluster: str | None) -> list[Finding]:
    out: list[Finding] = []
    if p.n_baseline_only or p.n_candidate_only:
        ex = [f"baseline only: {i}" for i in p.baseline_only[:3].tolist()] + [
            f"candidate only: {i}" for i in p.candidate_only[:3].tolist()]
        out.append(_f("W201", f"{p.n_baseline_only} baseline-only and {p.n_candidate_only} "
                      f"candidate-only items were dropped; {p.n} items are paired",
                      "run both models on the same items (errored samples count as missing)",
                      count=p.n_baseline_only + p.n_candidate_only, examples=ex))
    eb, ec = np.unique(p.epochs_baseline), np.unique(p.epochs_candidate)
    if len(eb) > 1 or len(ec) > 1 or not np.array_equal(eb, ec):
        out.append(_f("W203", f"epochs per item differ: baseline {eb.tolist()[:5]}, candidate "
                      f"{ec.tolist()[:5]}",
                      "items are averaged over their own epochs first; use equal epochs to "
                      "keep the noise comparable"))
    if cluster is not None and p.cluster_labels is not None:
        G = len(p.cluster_labels)
        if G < 2:
            out.append(_f("E108", f"only {G} cluster under key {cluster!r}",
                          "choose a finer cluster key or drop --cluster", count=G))
        elif G < MIN_CLUSTERS:
            out.append(_f("W205", f"only {G} clusters under key {cluster!r}: the gate answers "
                          "INCONCLUSIVE", "add clusters (more passages/tasks) to decide", count=G))
        elif G < 20:
            out.append(_f("W206", f"{G} clusters under key {cluster!r}",
                          "intervals use CR2 with Bell-McCaffrey df; more clusters give "
                          "more power", count=G))
        cm = item_means(c)
        if cm.clusters is not None:
            _, ib, ic = np.intersect1d(p.item_ids, cm.ids, assume_unique=True,
                                       return_indices=True)
            labels_b = p.cluster_labels[p.cluster_codes[ib]] if p.cluster_codes is not None \
                else np.array([])
            have = cm.cluster_present[ic] if cm.cluster_present is not None else True
            diff = (labels_b != cm.clusters[ic]) & have
            if diff.any():
                out.append(_f("W204", f"{int(diff.sum())} items have a different {cluster!r} "
                              "in the candidate; the baseline's labels are used",
                              "export both runs from the same dataset version",
                              count=int(diff.sum()),
                              examples=p.item_ids[ib][diff][:_SAMPLE].tolist()))
        conflicts = item_means(b).n_cluster_conflicts
        if conflicts:
            out.append(_f("W204", f"baseline: {conflicts} records carry a different {cluster!r} "
                          "than their item's first epoch", "fix the export", count=conflicts))
    if p.n < 30:
        out.append(_f("W209", f"only {p.n} paired items",
                      "small samples give wide intervals; add items", count=p.n))
    cb, cc = b.meta.config, c.meta.config
    differing = sorted(k for k in cb.keys() & cc.keys() if cb[k] != cc[k])
    if differing:
        out.append(_f("W207", f"config differs between runs: {', '.join(differing[:8])}",
                      "compare runs of the same task, dataset and harness version",
                      count=len(differing)))
    n_cl = p.n_clusters
    out.append(_f("I301", f"{p.n} paired items" + (f" in {n_cl} clusters" if n_cl else "")
                  + f"; delta = {float(p.d.mean()):+.4f}", count=p.n))
    return out


def diagnose(baseline: EvalRun, candidate: EvalRun, *, cluster: str | None = None) -> DoctorReport:
    """Run every check on a pair of runs already read."""
    cluster = cluster or baseline.meta.cluster_key
    findings = _run_findings(baseline, "baseline", cluster)
    findings += _run_findings(candidate, "candidate", cluster)
    if baseline.n_records and candidate.n_records:
        try:
            p = pair(baseline, candidate, cluster=cluster is not None)
        except InputError as exc:
            findings.append(_f("E105", exc.message, exc.hint or ""))
        else:
            findings += _pair_findings(p, baseline, candidate, cluster)
    return make_report(findings, summarize(baseline), summarize(candidate))


def make_report(findings: list[Finding], b: RunSummary | None,
                c: RunSummary | None) -> DoctorReport:
    ok = not any(f.severity is Severity.ERROR for f in findings)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings = sorted(findings, key=lambda f: (order[f.severity], f.code))
    return DoctorReport(ok=ok, exit_code=int(ExitCode.OK if ok else ExitCode.DATA),
                        findings=findings, baseline=b, candidate=c)
