"""A run's item ids sorted once: the one index pairing, the doctor and the summaries share.

Item ids are strings, and sorting a million of them is the costliest step of a gate outside
the readers (np.unique on 1M string ids: 0.5-2 s each). `pair`, the doctor's duplicate check
and `summarize` each needed the sorted distinct ids of both runs and sorted them again (eight
sorts per gate); `item_index(run)` sorts a run's ids once and keeps the result with the run
(weakly: it goes with the run object), and `match_sorted` joins two sorted id arrays without
sorting them again.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .run import EvalRun

__all__ = ["ItemIndex", "Match", "index_ids", "item_index", "match_sorted"]


@dataclass(frozen=True, eq=False)
class ItemIndex:
    """`np.unique(ids, return_index=True, return_inverse=True, return_counts=True)`, named:
    the distinct ids sorted, the position of each one's first record, each record's item and
    the records per item."""

    ids: np.ndarray
    first: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray
    # the records grouped by item (ids sorted), each item's records in file order: the
    # stable argsort the index was built from (None: not kept; pairing sorts `inverse` then)
    order: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.ids)

    @property
    def one_record_each(self) -> bool:
        """Every item has exactly one record (a run of one epoch without duplicates)."""
        return len(self.ids) == len(self.inverse)


def index_ids(ids: np.ndarray) -> ItemIndex:
    """The same arrays (values and dtypes) as np.unique with index, inverse and counts.

    One stable argsort instead of np.unique's; ids that are already sorted and distinct (a run
    written in id order, one epoch each) need only one comparison pass."""
    n = len(ids)
    if n == 0 or bool(np.all(ids[1:] > ids[:-1])):
        step = _read_only(np.arange(n, dtype=np.int64))  # first and inverse alike
        return ItemIndex(_read_only(ids), step, step, np.ones(n, dtype=np.int64), step)
    perm = np.argsort(ids, kind="stable")  # stable: the first record of each id comes first
    ordered = ids[perm]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = np.cumsum(new) - 1
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    return ItemIndex(ordered[new], perm[new].astype(np.int64), inverse, counts,
                     _read_only(perm.astype(np.int64, copy=False)))


def _read_only(a: np.ndarray) -> np.ndarray:
    """A view of `a` that cannot be written through (no copy of a million ids)."""
    view = a.view()
    view.flags.writeable = False
    return view


_CACHE: weakref.WeakKeyDictionary[EvalRun, ItemIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def item_index(run: EvalRun) -> ItemIndex:
    """`index_ids(run.item_ids)`, computed once per run object (runs are frozen)."""
    with _LOCK:
        hit = _CACHE.get(run)
    if hit is not None:
        return hit
    index = index_ids(run.item_ids)
    with _LOCK:
        _CACHE[run] = index
    return index


@dataclass(frozen=True, eq=False)
class Match:
    """The inner join of two sorted arrays of distinct ids (what np.intersect1d with
    assume_unique and return_indices gives, and the two np.setdiff1d)."""

    ids: np.ndarray  # shared ids, sorted, in the dtype np.intersect1d gives
    left: np.ndarray  # their positions in the left array
    right: np.ndarray  # and in the right one
    left_only: np.ndarray  # ids of the left array absent from the right, sorted
    right_only: np.ndarray


def match_sorted(left: np.ndarray, right: np.ndarray) -> Match:
    """Join two sorted arrays of distinct ids by binary search: no third sort, and no
    concatenated copy of both (np.intersect1d's way; at 1M ids the fresh memory alone cost
    more than the search). Ids are compared in blocks that stay in cache."""
    pos = np.searchsorted(right, left)
    found = np.zeros(len(left), dtype=bool)
    for s in range(0, len(left), _BLOCK):
        p, here = pos[s:s + _BLOCK], found[s:s + _BLOCK]
        inside = p < len(right)
        here[inside] = right[p[inside]] == left[s:s + _BLOCK][inside]
    li = np.flatnonzero(found)
    ri = pos[li]
    in_right = np.zeros(len(right), dtype=bool)
    in_right[ri] = True
    dtype = np.result_type(left, right)  # what np.intersect1d's concatenation gives
    ids = (_read_only(left) if len(li) == len(left) and left.dtype == dtype
           else left[li].astype(dtype, copy=False))
    return Match(ids, li, ri, left[~found], right[~in_right])


_BLOCK = 1 << 16
