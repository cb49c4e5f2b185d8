"""The draws of the wild cluster bootstrap (`wild`): which weights, and how they are drawn.

Weights: Webb's six-point law when G < 12 (all 6^G vectors when that is at most `resamples`),
Rademacher otherwise, all 2^G sign vectors when G <= 14 (`wild_plan`). The bootstrap needs a
draw v only through its projections v.X on a few data columns X (`wild.WildBootstrap.fit`).
Random Rademacher draws come as bytes of 8 signs; a table of sum_j (+-1)_j X_j for every byte
value of every group of 8 clusters turns a draw into G/8 table rows (sparse 0/1 products over
cache-sized blocks of the table, two threads: `rademacher_projections`), with no (B x G) float
matrix. From `TYPES_MIN_G` clusters with few distinct (S_g, n_g) types (binary scores) the
signs are counted per type instead, exactly (`type_sign_projections`: popcounts of random
words, O(B (G/64 + T))). Enumerated and Webb draws (small G) come as (rows x G) weight chunks
(`weight_chunks`), a GEMM per chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .bootstrap import THREADS, distinct_rows

__all__ = ["WEBB", "WildPlan", "rademacher_projections", "type_sign_projections",
           "weight_chunks", "wild_plan"]

WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
CHUNK_CELLS = 2_000_000  # weights generated per chunk: rows * G ~ 2M cells (16 MB)
MAX_ENUMERATION = 1 << 16
PACKED_BYTES = 1 << 25  # sign bytes gathered per pass (32 MB)
TABLE_BLOCK = 64  # groups of 8 clusters whose table rows one gather pass reads
TYPES_MIN_G = 2048  # Rademacher signs counted per cluster type from this many clusters on
TYPES_RATIO = 16  # ... when there are at most G / 16 distinct types
TYPES_CHUNK_CELLS = 1 << 17
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_LOW_BITS = np.array([(1 << k) - 1 for k in range(65)], dtype=np.uint64)  # k low bits set


@dataclass(frozen=True)
class WildPlan:
    """Which weights, whether all vectors are enumerated, and how many draws."""

    weights: str  # "rademacher" | "webb"
    enumerated: bool
    draws: int

    def describe(self) -> str:
        how = "all" if self.enumerated else "random"
        return f"{how} {self.draws} {self.weights} weight vectors"


def wild_plan(G: int, resamples: int) -> WildPlan:
    if G < 12:
        if min(resamples, MAX_ENUMERATION) >= 6**G:
            return WildPlan("webb", True, 6**G)
        return WildPlan("webb", False, resamples)
    if G <= 14:
        return WildPlan("rademacher", True, 2**G)
    return WildPlan("rademacher", False, resamples)


def weight_chunks(G: int, plan: WildPlan, seed: int) -> Iterator[np.ndarray]:
    """(rows, G) float64 weight matrices, the same stream for the same (G, plan, seed)."""
    rows = max(1, CHUNK_CELLS // max(G, 1))
    rng = np.random.default_rng(seed)
    nbytes = (G + 7) // 8
    for start in range(0, plan.draws, rows):
        m = min(rows, plan.draws - start)
        if plan.enumerated:
            k = np.arange(start, start + m, dtype=np.int64)[:, None]
            if plan.weights == "webb":
                digits = (k // 6 ** np.arange(G, dtype=np.int64)) % 6
                yield WEBB[digits]
            else:
                bits = (k >> np.arange(G, dtype=np.int64)) & 1
                yield bits.astype(np.float64) * 2.0 - 1.0
        elif plan.weights == "webb":
            yield WEBB[rng.integers(0, 6, size=(m, G))]
        else:
            packed = rng.integers(0, 256, size=(m, nbytes), dtype=np.uint8)
            v = np.unpackbits(packed, axis=1, count=G).astype(np.float64)
            v *= 2.0
            v -= 1.0
            yield v


def _sign_table(X: np.ndarray) -> np.ndarray:
    """For each group of 8 clusters and each byte of signs: sum_j (+-1)_j X_j, (groups*256, k).

    Bit i of a byte (most significant first, as np.unpackbits reads it) is the sign of
    cluster 8 g + i: the same weights as unpacking the bytes, at 1/8 of the gathers. Built by
    doubling (entry 2 e + bit of step i extends entry e by -+X_i): 8 vectorised steps.
    """
    G, k = X.shape
    groups = (G + 7) // 8
    Xg = np.zeros((groups * 8, k))
    Xg[:G] = X
    Xg = Xg.reshape(groups, 8, k)
    table = np.zeros((groups, 1, k))
    for i in range(8):
        xi = Xg[:, i:i + 1, :]
        table = np.stack([table - xi, table + xi], axis=2).reshape(groups, -1, k)
    return table.reshape(groups * 256, k)


def rademacher_projections(data: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """(k, draws) projections v.X for random Rademacher v: byte table, blocked gathers.

    The sign bytes come from the generator in chunks of `CHUNK_CELLS // groups` draws (one
    stream for a given seed and G); up to `PACKED_BYTES` of them are gathered at a time. The
    gathers run group-major: a block of `TABLE_BLOCK` groups (256 rows each, k columns: 512
    KB at k = 4) stays in cache while every draw of the chunk reads it, where a draw-major
    pass would miss the cache on every one of its G/8 reads (the whole table is G/8 * 8 KB:
    51 MB at 50k clusters). Blocks alternate between `THREADS` threads (scipy's sparse
    product releases the GIL), each summing into its own buffer; the buffers are added in a
    fixed order, so the result does not depend on scheduling.
    """
    X = np.ascontiguousarray(data.T)
    table = _sign_table(X)
    G, k = X.shape
    groups = (G + 7) // 8
    rows = max(1, CHUNK_CELLS // groups)
    per_pass = min(draws, rows * max(1, PACKED_BYTES // (rows * groups)))
    rng = np.random.default_rng(seed)
    starts = list(range(0, groups, TABLE_BLOCK))
    lanes = [starts[i::THREADS] for i in range(min(THREADS, len(starts)))]
    packed = np.empty((per_pass, groups), dtype=np.uint8)
    out = np.empty((draws, k))
    for first in range(0, draws, per_pass):
        m = min(per_pass, draws - first)
        for start in range(0, m, rows):
            r = min(rows, m - start)
            packed[start:start + r] = rng.integers(0, 256, size=(r, groups), dtype=np.uint8)

        def lane(block_starts: list[int], m: int = m) -> np.ndarray:
            acc = np.zeros((m, k))
            for g0 in block_starts:
                w = min(TABLE_BLOCK, groups - g0)
                # one table row per (draw, group): a 0/1 sparse matrix times the block
                index = packed[:m, g0:g0 + w].astype(np.int32)
                index += np.arange(0, 256 * w, 256, dtype=np.int32)
                pick = sparse.csr_matrix(
                    (np.ones(m * w), index.ravel(), np.arange(0, m * w + 1, w, dtype=np.int32)),
                    shape=(m, 256 * w))
                acc += pick @ table[256 * g0:256 * (g0 + w)]
            return acc

        if len(lanes) > 1:
            with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
                parts = list(pool.map(lane, lanes))
        else:
            parts = [lane(lanes[0])]
        out[first:first + m] = sum(parts[1:], parts[0])
    return out.T


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy >= 2 has a ufunc; else a byte lookup)."""
    if hasattr(np, "bitwise_count"):
        return np.asarray(np.bitwise_count(x))
    return np.asarray(_POP8[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1, dtype=np.uint8))


def type_sign_projections(data: np.ndarray, draws: int, seed: int) -> np.ndarray | None:
    """(k, draws) projections v.X for random Rademacher v by counting signs per cluster type.

    Exact shortcut: clusters whose columns of `data` (S, S n, n, n^2) are equal form a type t
    with c_t clusters, and sum_{g in t} v_g X_g = X_t (2 P_t - c_t), P_t the number of + signs
    among them. Every cluster still gets its own fair sign: with the clusters ordered by
    type, cluster j's sign is bit j of a draw's ceil(G/64) random 64-bit words, and P_t is
    the popcount of type t's bits (one masked word per (type, word) segment). So the draws
    have exactly the law of per-cluster Rademacher signs (they are such signs), at
    O(B (G/64 + T)) instead of O(B G/8) table gathers.
    Returns None (use the byte table) below `TYPES_MIN_G` clusters or with more than
    G / `TYPES_RATIO` types (continuous scores: every cluster is its own type).
    """
    G = data.shape[1]
    if G < TYPES_MIN_G:
        return None
    types, counts = distinct_rows(data.T)
    if len(types) > G // TYPES_RATIO:
        return None
    first = np.cumsum(counts) - counts  # bit of the type's first cluster
    end = first + counts
    n_seg = (end - 1) // 64 - first // 64 + 1
    seg_type = np.repeat(np.arange(len(types)), n_seg)
    seg_word = np.repeat(first // 64, n_seg) + (
        np.arange(len(seg_type)) - np.repeat(np.cumsum(n_seg) - n_seg, n_seg))
    lo_bit = np.maximum(first[seg_type] - 64 * seg_word, 0)
    hi_bit = np.minimum(end[seg_type] - 64 * seg_word, 64)
    mask = (_LOW_BITS[hi_bit] & ~_LOW_BITS[lo_bit])[:, None]  # bits lo..hi-1 of the word
    used = (hi_bit - lo_bit)[:, None]
    Xs = np.ascontiguousarray(types[seg_type].T)
    W = (G + 63) // 64
    # small chunks: the (segments x draws) buffers stay in cache, are reused, and the GEMM is
    # too small for BLAS threads (which stall on a busy machine): measured 5-9x faster than
    # 2M-cell chunks at 5k-50k clusters
    cols = max(1, TYPES_CHUNK_CELLS // len(seg_type))
    rng = np.random.default_rng(seed)
    out = np.empty((types.shape[1], draws))
    bits = np.empty((len(seg_type), cols), dtype=np.uint64)
    e = np.empty((len(seg_type), cols))
    for start in range(0, draws, cols):
        m = min(cols, draws - start)
        words = rng.integers(0, np.iinfo(np.uint64).max, size=(W, m), dtype=np.uint64,
                             endpoint=True)
        b = np.take(words, seg_word, axis=0, out=bits[:, :m] if m == cols else None)
        b &= mask
        x = np.multiply(_popcount(b), 2.0, out=e[:, :m] if m == cols else None)
        x -= used
        # sum over segments of X_type (2 popcount - used) = sum_t X_t (2 P_t - c_t)
        out[:, start:start + m] = Xs @ x
    return out

