"""The doctor's stable finding codes and what each means (README's doctor table lists them with
their fixes; a test keeps the two equal).

E1xx errors (the gate refuses, exit 65), W2xx warnings (shown, never hidden), I3xx information.
Codes are never reused: a finding that changed severity names its former code ("was W212").
"""

from __future__ import annotations

from .policy import MIN_CLUSTERS

__all__ = ["COMMAND_ERROR", "FINDING_CODES", "MAX_ABS_SCORE"]

# Largest |score| the statistics take: they square and cube sums of up to N scores, which
# overflow float64 (1e308) long before a score reaches it (1e300 gave SE null, p 1e-4 and
# "significant": true for a regression). No metric has a real score anywhere near this.
MAX_ABS_SCORE = 1e50
# The finding of a refusal report whose error is not about the runs' data (see E118).
COMMAND_ERROR = "E118"

FINDING_CODES: dict[str, str] = {
    "E101": "the file cannot be read as a run (format, JSON, encoding, archive), or is "
            "missing (exit 66) or unreadable (exit 74)",
    "E102": "the chosen metric, scorer, filter, split or column does not exist, or several "
            "exist and none was chosen",
    "E103": "non-finite scores (NaN or Infinity)",
    "E104": "duplicate (item, epoch) records",
    "E105": "the runs share no item (or only one), or a run has no scored item",
    "E106": "the run failed (status error or cancelled)",
    "E107": "the cluster key is missing on some items (or a run carries no labels)",
    "E108": "fewer than 2 clusters: no cluster-robust inference possible",
    "E109": "a record lacks an item id, a score or epoch is not a number, or an id or label "
            "is not text (a list, an object, a NUL character, a lone UTF-16 surrogate)",
    "E110": "the input exceeds a safety bound (file size, line length, nesting, zip bomb)",
    "E111": "an aggregate results file was given instead of per-item data",
    "E112": "the runs name different metrics (was W212)",
    "E113": "the runs' scores are on different scales: one within [0, 1] and the other "
            "reaching 2x or more as far from 0 (was W211), or both off [0, 1] with ranges "
            "about 5x or more apart (0-10 vs 0-100)",
    "E114": "the runs name different tasks",
    "E115": f"scores too large for float64 statistics (|score| > {MAX_ABS_SCORE:g})",
    "E116": "baseline and candidate are the same file (equal sha256; was W215)",
    "E117": "a JSON object repeats a key evalsig reads (a parser keeps only the last value)",
    "E118": "the command stopped on an error before deciding: a usage error (exit 64), an I/O "
            "error (74) or an internal error (70); the refusal a report path holds instead of "
            "the report",
    "W201": "items present in only one run (dropped from the pairing)",
    "W202": "errored samples were excluded",
    "W203": "epoch counts differ",
    "W204": "cluster labels disagree (between runs or across an item's epochs)",
    "W205": f"fewer than {MIN_CLUSTERS} clusters: the verdict will be INCONCLUSIVE",
    "W206": "few clusters (< 20): intervals rely on small-sample corrections",
    "W207": "config fingerprints differ between the runs",
    "W208": "a run has constant scores",
    "W209": "very few paired items (< 30)",
    "W210": "scores of a proportion metric (accuracy, exact_match, ...) outside [0, 1]",
    "W213": "the effective degrees of freedom are far below the number of clusters",
    "W214": "every paired difference is zero: the runs agree on every item",
    "W216": "a failed run is gated on the samples it has (--allow-failed-run)",
    "W217": "the run has not finished (status started): it may be partial",
    "W218": f"cluster sizes so unequal that fewer than {MIN_CLUSTERS} clusters are effective: "
            "the verdict will be INCONCLUSIVE",
    "W219": "the ALLOW bound is at a one-sided level of 0.5 or more: no detectable effect "
            "(MDE) or extra items are defined",
    "W220": "a file read for metadata only (lm-eval results_*.json, HELM run_spec.json) "
            "exists but cannot be read or parsed: the run's config fingerprint is unknown",
    "I301": "summary of the pairing",
    "I302": "clusters: sizes and effective degrees of freedom",
}
