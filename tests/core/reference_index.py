"""The item-id code before the shared index (evalsig_core/item_index.py), kept as a reference.

Each function is the earlier code, verbatim but for its name: np.unique on the ids wherever a
run's items were needed (`item_means`, the doctor's duplicate check, `summarize`),
np.intersect1d and np.setdiff1d to join the runs. `before_index()` puts them back into the
library for the duration of a `with` block: the equality tests compare every report made so
with the one the library makes now, and bench/bench_e2e.py times both side by side.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from evalsig_core.item_index import ItemIndex, Match
from evalsig_core.pairing import ItemMeans
from evalsig_core.report import RunSummary
from evalsig_core.run import EvalRun

# by module path: the package's `gate` and `doctor` attributes are the functions
cli_commands, doctor, gate_module, pairing = (importlib.import_module(f"evalsig_core.{m}") for m in
                                             ("cli._commands", "doctor", "gate", "pairing"))


def np_index(ids: np.ndarray) -> ItemIndex:
    return ItemIndex(*np.unique(ids, return_index=True, return_inverse=True,
                                return_counts=True))


def np_run_index(run: EvalRun) -> ItemIndex:
    """Not cached: the earlier code sorted a run's ids wherever it needed them."""
    return np_index(run.item_ids)


def np_match(left: np.ndarray, right: np.ndarray) -> Match:
    ids, li, ri = np.intersect1d(left, right, assume_unique=True, return_indices=True)
    return Match(ids, li, ri, np.setdiff1d(left, ids, assume_unique=True),
                 np.setdiff1d(right, ids, assume_unique=True))


def old_item_means(run: EvalRun) -> ItemMeans:
    ids, first, inverse, counts = np.unique(
        run.item_ids, return_index=True, return_inverse=True, return_counts=True
    )
    k = counts.astype(np.float64)
    sums = np.bincount(inverse, weights=run.scores, minlength=len(ids))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: the doctor's E103 says so
        means = sums / k
        dev = run.scores - means[inverse]
        ss = np.bincount(inverse, weights=dev * dev, minlength=len(ids))
    within = np.where(counts > 1, ss / np.maximum(k - 1, 1), 0.0)
    clusters = present = None
    conflicts = 0
    if run.clusters is not None:
        clusters = run.clusters[first]
        assert run.cluster_present is not None
        missing = np.bincount(inverse, weights=~run.cluster_present, minlength=len(ids))
        present = missing == 0
        conflicts = int(np.count_nonzero(run.clusters != clusters[inverse]))
    return ItemMeans(ids, means, counts, within, clusters, present, conflicts)


def old_summarize(run: EvalRun) -> RunSummary:
    # the mean averages each item's finite epochs first (since the summary stopped weighing
    # an item by its epoch count); with one record per item, over the records in file order
    finite = np.isfinite(run.scores)
    ids, inverse, counts = np.unique(run.item_ids[finite], return_inverse=True,
                                     return_counts=True)
    if len(np.unique(run.item_ids)) == run.n_records:
        mean = float(run.scores[finite].mean()) if finite.any() else None
    else:
        means = np.bincount(inverse, weights=run.scores[finite]) / counts
        mean = float(means.mean()) if ids.size else None
    return RunSummary(
        source=run.meta.source, sha256=run.meta.sha256, format=run.meta.format,
        harness=run.meta.harness, model=run.meta.model, task=run.meta.task,
        metric=run.meta.metric, run_id=run.meta.run_id,
        n_items=len(np.unique(run.item_ids)), n_records=run.n_records,
        n_errored=run.meta.n_errored, mean=mean,
    )


def old_epoch_keys(run: EvalRun) -> tuple[np.ndarray, np.ndarray, int]:
    items, item_codes = np.unique(run.item_ids, return_inverse=True)
    epoch_values, e = np.unique(run.epochs, return_inverse=True)
    return items, item_codes.astype(np.int64) * len(epoch_values) + e, len(epoch_values)


def old_duplicates(run: EvalRun) -> tuple[int, list[str]]:
    _, keys, _ = old_epoch_keys(run)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    dup = counts > 1
    ex = [f"{run.item_ids[i]} epoch {run.epochs[i]}" for i in first[dup][:5].tolist()]
    return int(dup.sum()), ex


_PATCHES: list[tuple[Any, str, Any]] = [
    (pairing, "item_means", old_item_means),
    (cli_commands, "summarize", old_summarize),
    (pairing, "index_ids", lambda a: np_index(a)),
    (pairing, "match_sorted", np_match),
    (doctor, "item_index", np_run_index),
    (doctor, "_epoch_keys", old_epoch_keys),
    (doctor, "_duplicates", old_duplicates),
    (doctor, "summarize", old_summarize),
    (gate_module, "summarize", old_summarize),
]


@contextlib.contextmanager
def before_index() -> Iterator[None]:
    """The library as it was before the shared index (not thread-safe: tests and bench)."""
    saved = [(m, name, getattr(m, name)) for m, name, _ in _PATCHES]
    try:
        for m, name, fn in _PATCHES:
            setattr(m, name, fn)
        yield
    finally:
        for m, name, fn in saved:
            setattr(m, name, fn)
