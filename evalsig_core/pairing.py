"""Pair two runs item by item after averaging epochs within each item.

`pair` is the one place that decides clusters: labels come from the baseline (the candidate's
are only compared, by the doctor). Everything downstream works on the paired arrays.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from .errors import InputError
from .item_index import ItemIndex, index_ids, item_index, match_sorted
from .numfmt import counted
from .run import EvalRun, in_file

__all__ = ["ItemMeans", "Pairing", "item_means", "near_miss", "pair", "run_mean"]


@dataclass(frozen=True, eq=False)
class ItemMeans:
    """One run reduced to one score per item (mean over its epochs), ids sorted."""

    ids: np.ndarray
    means: np.ndarray
    n_epochs: np.ndarray
    within_var: np.ndarray  # unbiased variance across epochs (0 with one epoch)
    clusters: np.ndarray | None  # label of the item's first epoch
    cluster_present: np.ndarray | None  # False where any record of the item lacks a label
    n_cluster_conflicts: int  # items whose records carry different labels


def item_means(run: EvalRun) -> ItemMeans:
    index = item_index(run)  # the run's one sort of its ids, shared with the doctor
    ids, first, inverse, counts = index.ids, index.first, index.inverse, index.counts
    if index.one_record_each:
        return _single_records(run, index.ids, first, counts)
    # Sum each item's records in epoch order and take its label from its first epoch, so a
    # file's line order changes nothing: summed in file order, a shuffled file's item means
    # (and delta) moved in the last bit, and an item whose epochs carry different labels
    # (W204) took the label of whichever line came first, changing the clusters and the verdict.
    order = _epoch_order(run, index)
    item = inverse[order]
    scores = run.scores[order]
    k = counts.astype(np.float64)
    sums = np.bincount(item, weights=scores, minlength=len(ids))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: the doctor's E103 says so
        means = sums / k
        dev = scores - means[item]
        ss = np.bincount(item, weights=dev * dev, minlength=len(ids))
    within = np.where(counts > 1, ss / np.maximum(k - 1, 1), 0.0)
    clusters = present = None
    conflicts = 0
    if run.clusters is not None:
        first_epoch = order[np.cumsum(counts) - counts]  # each item's record of lowest epoch
        clusters = run.clusters[first_epoch]
        assert run.cluster_present is not None
        missing = np.bincount(inverse, weights=~run.cluster_present, minlength=len(ids))
        present = missing == 0
        conflicts = int(np.count_nonzero(run.clusters != clusters[inverse]))
    return ItemMeans(ids, means, counts, within, clusters, present, conflicts)


def run_mean(run: EvalRun) -> float | None:
    """The run's mean over items, each averaged over its (finite) epochs first (STATS.md), as
    the pairing's means are: over records, an item with 3 epochs weighed 3 times, and a
    report said "mean (all items) 0.4157" beside "mean over paired items 0.4189" with every
    item paired. Two bincounts, no sort."""
    finite = np.isfinite(run.scores)
    index = item_index(run)
    if index.one_record_each:
        return float(run.scores[finite].mean()) if finite.any() else None
    item = index.inverse[finite]
    k = np.bincount(item, minlength=index.n_items)
    sums = np.bincount(item, weights=run.scores[finite], minlength=index.n_items)
    scored = k > 0
    return float(np.mean(sums[scored] / k[scored])) if scored.any() else None


def _epoch_order(run: EvalRun, index: ItemIndex) -> np.ndarray:
    """The record positions grouped by item (ids sorted) and, within an item, by epoch.

    The index's stable order already groups by item with each item's records in file order;
    files list an item's epochs in order, so one O(N) check usually confirms it, and only
    otherwise are the records sorted (by item, then epoch)."""
    order = index.order if index.order is not None else np.argsort(index.inverse,
                                                                   kind="stable")
    item = index.inverse[order]
    ep = run.epochs[order]
    same = item[1:] == item[:-1]
    if bool(np.all(ep[1:][same] > ep[:-1][same])):
        return order
    return order[np.lexsort((ep, item))]


def _single_records(run: EvalRun, ids: np.ndarray, first: np.ndarray,
                    counts: np.ndarray) -> ItemMeans:
    """`item_means` of a run with one record per item (one epoch: the usual run) without
    the per-item sums: the same arrays, bit for bit. The sums start from 0.0, so a score of
    -0.0 averages to +0.0, as `+ 0.0` gives."""
    means = run.scores[first] + 0.0
    clusters = present = None
    if run.clusters is not None:
        assert run.cluster_present is not None
        clusters, present = run.clusters[first], run.cluster_present[first]
    return ItemMeans(ids, means, counts, np.zeros(len(ids)), clusters, present, 0)


@dataclass(frozen=True, eq=False)
class Pairing:
    """The inner join of two runs on item id.

    `d = candidate - baseline` per paired item; `cluster_codes` index `cluster_labels`
    (from the baseline) or are None when no cluster key was requested.
    """

    item_ids: np.ndarray
    baseline: np.ndarray
    candidate: np.ndarray
    cluster_codes: np.ndarray | None
    cluster_labels: np.ndarray | None
    n_baseline_only: int
    n_candidate_only: int
    baseline_only: np.ndarray
    candidate_only: np.ndarray
    epochs_baseline: np.ndarray
    epochs_candidate: np.ndarray
    within_var_baseline: np.ndarray
    within_var_candidate: np.ndarray
    # The candidate's own cluster labels of the paired items (and where every record of the
    # item had one), and the baseline's records whose label differs from their item's first:
    # what the doctor checks, kept here so it never reduces the runs a second time.
    candidate_clusters: np.ndarray | None = None
    candidate_cluster_present: np.ndarray | None = None
    baseline_cluster_conflicts: int = 0

    @property
    def d(self) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # the doctor refuses (E103/E115)
            return self.candidate - self.baseline

    @property
    def n(self) -> int:
        return len(self.item_ids)

    @property
    def n_clusters(self) -> int | None:
        return None if self.cluster_labels is None else len(self.cluster_labels)

    def epoch_variance_share(self) -> float | None:
        """Share of Var(d) that is epoch sampling noise (None with one epoch everywhere)."""
        if self.epochs_baseline.max(initial=1) <= 1 and self.epochs_candidate.max(initial=1) <= 1:
            return None
        noise = float(np.mean(self.within_var_baseline / self.epochs_baseline
                              + self.within_var_candidate / self.epochs_candidate))
        total = float(np.var(self.d, ddof=1)) if self.n > 1 else 0.0
        if total <= 0:
            return None
        return min(1.0, noise / total)


def _norm(item_id: object) -> str:
    return unicodedata.normalize("NFC", str(item_id)).strip().casefold()


def _number(item_id: object) -> str | None:
    """An id that is a decimal number, as its exact value ("1", "1.0", "01" and "1e0" are
    all "1"), else None. Decimal, not float: two 20-digit ids never look alike."""
    try:
        d = Decimal(str(item_id).strip())
    except InvalidOperation:
        return None
    return str(d.normalize()) if d.is_finite() else None


def near_miss(baseline_ids: np.ndarray, candidate_ids: np.ndarray) -> str | None:
    """Why unpaired ids may be the same items: how many baseline ids match a candidate id once
    case, surrounding whitespace and Unicode normalization (NFC) are ignored, or once both are
    read as numbers ("1" and "1.0": a CSV of floats against a JSON of integers), with an
    example (ascii() shows a decomposed accent or a trailing space), or None. For error paths
    and hints only (one pass over the ids given)."""
    text = _matches(baseline_ids, candidate_ids, _norm)
    if text:
        b, c = text[0]
        return (f"{len(text)} of the baseline's ids match a candidate id when case, surrounding "
                f"spaces and Unicode normalization are ignored (e.g. {b!a} and {c!a}): "
                "export both runs with the same ids")
    numbers = _matches(baseline_ids, candidate_ids, _number)
    if numbers:
        b, c = numbers[0]
        return (f"{len(numbers)} of the baseline's ids equal a candidate id as numbers but are "
                f"written differently (e.g. {b!a} and {c!a}): ids pair as text; export both "
                "runs with the same ids (integers written as integers)")
    return None


def _matches(baseline_ids: np.ndarray, candidate_ids: np.ndarray,
             key: Callable[[object], str | None]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for cid in candidate_ids.tolist():
        if (k := key(cid)) is not None:
            seen.setdefault(k, str(cid))
    return [(str(bid), seen[k]) for bid in baseline_ids.tolist()
            if (k := key(bid)) is not None and k in seen]


def pair(baseline: EvalRun, candidate: EvalRun, *, cluster: bool = True) -> Pairing:
    """Pair on item id (as strings). Raises `InputError` when no item is shared."""
    b = item_means(baseline)
    c = item_means(candidate)
    m = match_sorted(b.ids, c.ids)  # both sorted already: no third sort of the ids
    ids, ib, ic = m.ids, m.left, m.right
    if len(ids) == 0:
        near = near_miss(b.ids, c.ids)
        raise InputError(
            f"the baseline{in_file(baseline)} and the candidate{in_file(candidate)} share no "
            f"item id ({counted(len(b.ids), 'baseline item')}, "
            f"{counted(len(c.ids), 'candidate item')})" + (f"; {near}" if near else ""),
            hint="gate runs of the same task; item ids must match exactly (as strings)",
        )
    b_only, c_only = m.left_only, m.right_only
    codes = labels = None
    if cluster and b.clusters is not None:
        labelled = index_ids(b.clusters[ib])  # np.unique(..., return_inverse=True), faster
        labels, codes = labelled.ids, labelled.inverse
    return Pairing(
        item_ids=ids,
        baseline=b.means[ib],
        candidate=c.means[ic],
        cluster_codes=codes,
        cluster_labels=labels,
        n_baseline_only=len(b_only),
        n_candidate_only=len(c_only),
        baseline_only=b_only[:20],
        candidate_only=c_only[:20],
        epochs_baseline=b.n_epochs[ib],
        epochs_candidate=c.n_epochs[ic],
        within_var_baseline=b.within_var[ib],
        within_var_candidate=c.within_var[ic],
        candidate_clusters=None if c.clusters is None else c.clusters[ic],
        candidate_cluster_present=None if c.cluster_present is None else c.cluster_present[ic],
        baseline_cluster_conflicts=b.n_cluster_conflicts,
    )
