"""Reader speed, as ratios measured side by side (`make bench BENCH=readers`).

Targets (issue 4):
- a 1M-line lm-eval samples file and a 1M-item native JSONL file read within 1.5x of a bare loop
  that parses the same lines with the fastest JSON parser available and picks the same four
  fields (the loop builds no arrays and checks nothing: it is the floor);
- an Inspect `.eval` with 10k samples and long transcripts read through `summaries.json` at
  least 10x faster than parsing every sample (the same archive without `summaries.json`).
- the duplicate-key check (`readers._dupkeys`, E117) of a 200k-item native JSON document at
  most 5% of its read (CPU, the fastest of 3 runs each);
- the duplicate-key check of native JSONL item lines at most +5%: read_run with it vs without
  it (`native._LINE_CHECK`), sandwiched as below. The per-line key sum runs in both (it is
  part of the parsing loop): callgrind counts it and the rest below.
Also printed (no target): 1M number cluster labels (integers, then floats) written by
`numtext.cluster_labels` (vectorised, `numtext.number_labels`) vs the per-label rule `label_text`.
Files are generated in a temporary directory. Set EVALSIG_BENCH_N to shrink the 1M files and
EVALSIG_BENCH_RUNS (default 15) for the reader runs per file.

The line-file ratios are judged on CPU seconds of this process. The machines here are shared
virtual machines: wall-clock swings by 2x with other jobs' load, and even the CPU time of one
and the same loop varies by +-20% from one second to the next (measured: the bare loop took
0.70 to 0.92 CPU s in six consecutive runs; page faults and system time stayed level), so the
best of a few runs each (the earlier method) flipped around the target between runs. Now the
bare loop and the reader alternate, B R B R ... B, with a garbage collection before each run;
each reader run is divided by the mean of the two bare runs around it (which cancels a load
that drifts over seconds), and the judged ratio is the median of those ratios. Their range and
the ratio of the fastest runs are printed beside it, so a result near the target shows as one.
The reader's time includes hashing the file (sha256, recorded in the run's metadata).

Measured so (2026-11-30, five runs at 1M lines, 9 or 15 reader runs each): lm-eval 1.26 to
1.48, OK in every run; native JSONL 1.58 to 1.70, MISSED in every run. Then (jsonlspeed) the
native reader builds its string columns without numpy's type inference (`numtext.str_array`),
takes the ids' and labels' types from its parsing loop instead of scanning the columns, and
tests an item's key count instead of looking for `error` and `scores` in it: per 1M lines
`build_run` fell from 0.36 to 0.07 CPU s (the string arrays, 0.13 s, now end the parsing
pass), and callgrind counts 9% fewer instructions per run (1.33 vs 1.46 G per 100k lines;
the bare loop 0.74 G; the reader's sha256 is 0.24 G of it in valgrind's software SHA). At 1M
lines on a machine loaded 4 to 6 (2 cores), old and new reader alternated in one process:
median ratios 1.69 vs 1.60 (earlier steps: 1.51 vs 1.55, 1.56 vs 1.57, noise as large as the
gain); `make bench`, three runs: 1.57 and 1.55 MISSED, 1.45 OK (lm-eval 1.32, 1.43, 1.43).
Still beyond the bare loop: the sha256 (0.06 s), the two string arrays (0.13 s: a width pass
and a copy each), splitting lines (0.05 s, about what the bare loop's readline costs) and the
epoch and score arrays (0.06 s).

Tried and dropped (jsonlblock, 2026-11-30): parsing each `line_blocks` block as one JSON array
(lines joined by newline-comma, one orjson call). orjson's thousands of live dicts trigger the
cyclic GC (2420 gen-0 collections per 1M native lines): 2.5x to 4x slower. With the GC paused
around the parse, vs main in one alternating run (1M lines, medians of 5-7 rounds): native
0.91-0.95x, lm-eval 1.32-1.36x; adding the E117 colon pre-check on item lines: native 1.04-1.05x,
lm-eval 1.55x. Even with the GC off for the whole read the block parse was 1.13x for both.

Duplicate keys on JSONL item lines (jsonldup, 2026-11-30): the native reader adds up the keys
of each block's objects in its parsing loop and compares the sum with the block's colons,
counted by numpy (`_dupkeys.check_block`). Callgrind (instructions of one read of 100k lines,
PYTHONHASHSEED=0, main vs this change; the load of the shared machine does not move them):
the lines below with --cluster 1313 -> 1346 M (+2.5%: one key per metadata is assumed, the
cluster key); the same without --cluster 1226 -> 1360 M (+11%: every metadata is looked up and
its keys added); with --cluster and metadata of three keys 1548 -> 1651 M (+6.7%: the first
block is parsed again, then every metadata key is added up); ids and metadata holding colons
("mmlu:alg:3", "12:30": the key-colon count too) 1472 -> 1657 M (+12.6%); an object nested in
metadata (two blocks parsed again, then the objects in metadata counted) 1656 -> 1999 M (+21%).
At 1M lines the blocks parsed again weigh a tenth as much. The with/without row, two runs at
1M lines on a machine loaded 5 to 8 (2 cores): 0.94 (0.85..1.08) and 1.06 (0.93..1.11), noise
that hides 2.5%; the native ratio in those runs 1.60 and 1.53 (lm-eval 1.46, 1.39). A third
run at load 0.3: with/without 0.95 (0.89..1.13), native 1.57 (fastest runs 1.52). The same
check on lm-eval samples lines (keys added up over doc, arguments and their objects; their
strings hold colons, "Question:", so every block needs the key-colon count too) measured
723 -> 848 M per 20k of the lines below, +17%: not landed, lm-eval item lines are unchecked.

NUL in ids and labels (nulids, 2026-11-30): `numtext.str_array` refuses a NUL (numpy's `<U`
dropped a trailing one). Its lengths come from `bytes(map(len, ...))` (fewer instructions than
the `max(map(len, ...))` it replaces) and one `count_nonzero` of the code points. At 1M values,
CPU best of 40, old vs new: ids "q{i}" 63.6 vs 63.5 ms, labels "P{i // 7}" 58.9 vs 58.7 ms,
"item-0000000" 67.2 vs 68.7 ms (+2%), 28-character ids 78.0 vs 86.3 ms (+11%: the scan grows
with the width). Callgrind, one read of 100k native lines with --cluster: 1357 -> 1347 M.

Where the native JSONL read went beyond orjson (jsonlperf, 2026-11-30; callgrind, one read of
100k lines with --cluster, main 1347 M, the bare loop 714 M): the sha256 238 M (valgrind's
software SHA; about 0.07 CPU s per 1M lines on the real CPU's SHA instructions), the string
arrays 146 M (`numtext.str_array`: the width pass `max(map(len))` 31 M and `np.fromiter` 40 M
per column), `build_run` 81 M (the epoch type scan and fromiter 43 M, the score array 33 M),
`bytes.split` 45 M (it compares byte by byte; readline and `BytesIO.readlines` use memchr) and
about 90 interpreter instructions more per line than the bare loop (the key count, the
three type tests and the E117 sum). Changed: JSON lines are split by `BytesIO.readlines`
(`line_blocks(ends=True)`, the newline kept): 1347 -> 1314 M; the loop notes whether every
epoch is the integer 1 (an identity test on lines with an epoch) and then hands `build_run` an
int64 column of ones (`Columns.epoch_ints`, as lm-eval now does for its missing epochs), the
epoch branch comes last in the loop and adjusts the key sum only off the usual shape: 1246 M
(-7.4%). Without --cluster: 1364 -> 1286 M. lm-eval, per 20k lines: 715 -> 653 M (split and
epochs only).
Tried and dropped: each block parsed as one JSON array with a separator integer no float can
equal (2**53 + 1, checked absent from the block, so that every line is provably one value:
plain newline-comma joining accepts `{"a": 1}, {"b": 2}` plus two half lines as three items):
1313 M vs 1200 M for the same loop line by line (copies, the separator integers, the newline
count); extracting the columns of parsed blocks with `map(itemgetter(...))`: 1306 vs 1246 M
(map's call overhead exceeds the bytecodes it saves); converting string columns per block
while the strings are in cache: slower (more numpy calls, the concatenation); building `<U`
arrays from one joined string with numpy (offsets, ragged scatter): 2 to 4x slower than
`np.fromiter`. CPU, main and this change alternated with the bare loop at 1M lines (5 rounds,
load 1.8): median ratios 1.74 vs 1.61 (0.88x per pair); `make bench BENCH=readers` (7 runs,
beside `make test`): native 1.63 (1.59..1.66) MISSED, lm-eval 1.39 OK, with/without the line
check 0.98. The CPU ratio stays above the instruction ratio (about 1.50 with the real SHA's
cost): the string arrays' two passes reach 2M strings scattered through the heap, which the
bare loop never touches again (the same conversion of scattered strings measured 3x slower
than of strings allocated in a row). The duplicate-key check on lm-eval lines (+17%, 125 M per
20k lines) would take lm-eval from about 1.4 past 1.5: still not landed.

Tried and dropped (lmdup, 2026-12-01): the E117 check on lm-eval lines again (80409c5, reverted
in 91fdafb): per block, each key the reader reads (doc_id, filter, the metric, doc and its
cluster key) counted in the block's bytes against the records holding it; a block that differs
is checked line by line. One process, 1M of the lines below, 7 sandwiched CPU ratios each,
read_run with vs without the check (without it 1.41x the bare loop): 80409c5's numpy count
(every colon, the eight bytes before it) 1.21 (1.16..1.31), 1.70x bare; `bytes.count` of each
`"key"` 1.76 (1.73..1.83), 2.48x bare (CPython's search runs at about 2 GB/s here, 130 us per
256 KiB block and key, against the read's 1.5 ms per block; the metric is also written in
`metrics`, so `"acc"]` and `"acc",` are counted and taken off); numpy with a memchr test for
escapes first 1.22 (1.18..1.25), 1.71x bare; counting the block before its parse, while in
cache: no gain (1.24 vs 1.22 at 200k lines). The colon positions alone exceed +5%: per 100k
lines (read 220 CPU ms) `a == 58` 4 ms, its flatnonzero 12 ms, the eight-byte windows 9 ms.
+5% needs one compiled pass, or a parser that reports a repeated key (orjson and msgspec
have no such option).
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from evalsig_core import read_run
from evalsig_core.numtext import cluster_labels, is_missing, label_text
from evalsig_core.readers import native
from evalsig_core.readers._dupkeys import refuse_duplicates
from evalsig_core.readers._io import ReadOptions
from evalsig_core.readers._json import read_json_doc
from tests.core.readers.zipmaker import ZSTD, write_zip

try:
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
    PARSER = "orjson"
except ImportError:  # pragma: no cover
    loads = json.loads
    PARSER = "json"


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


@dataclass(frozen=True)
class Sandwich:
    """CPU and wall seconds of alternating runs B R B R ... B of a baseline B and a reader R."""

    bare_cpu: list[float]
    read_cpu: list[float]
    bare_wall: list[float]
    read_wall: list[float]

    def ratios(self, cpu: bool = True) -> list[float]:
        """Each reader run over the mean of the baseline runs just before and after it."""
        b, r = (self.bare_cpu, self.read_cpu) if cpu else (self.bare_wall, self.read_wall)
        return [r[i] / ((b[i] + b[i + 1]) / 2) for i in range(len(r))]

    def ratio(self, cpu: bool = True) -> float:
        return statistics.median(self.ratios(cpu))


def _sandwich(bare: Callable[[], Any], read: Callable[[], Any], runs: int) -> Sandwich:
    """`runs` reader runs, each between two baseline runs; a garbage collection (untimed)
    before every run, so neither starts with the other's garbage to collect."""
    out = Sandwich([], [], [], [])
    for i in range(2 * runs + 1):
        fn, cpu, wall = ((bare, out.bare_cpu, out.bare_wall) if i % 2 == 0
                         else (read, out.read_cpu, out.read_wall))
        gc.collect()
        w, c = _timed(fn)
        cpu.append(c)
        wall.append(w)
    return out


def _write_lines(path: Path, n: int, line: Callable[[int], dict[str, Any]]) -> None:
    with path.open("w") as f:
        block = 10000
        for start in range(0, n, block):
            end = min(n, start + block)
            f.write("".join(json.dumps(line(i)) + "\n" for i in range(start, end)))


def _lmeval_line(i: int) -> dict[str, Any]:
    return {"doc_id": i, "doc": {"id": f"q{i}", "passage_id": f"P{i // 7}", "question":
            f"What is {i} plus {i % 13}?"}, "target": str(i + i % 13),
            "arguments": {"gen_args_0": {"arg_0": f"Question: What is {i}?", "arg_1": " 1"}},
            "resps": [[f" {i}"]], "filtered_resps": [f"{i}"], "filter": "none",
            "metrics": ["acc"], "doc_hash": f"{i:064x}", "acc": float(i % 3 == 0)}


def _native_line(i: int) -> dict[str, Any]:
    return {"item_id": f"q{i}", "epoch": 1, "score": float(i % 3 == 0),
            "metadata": {"passage_id": f"P{i // 7}"}}


def _bare_lmeval(p: Path) -> int:
    ids, filters, scores, clusters = [], [], [], []
    with p.open("rb") as f:
        for line in f:
            d = loads(line)
            ids.append(d["doc_id"])
            filters.append(d["filter"])
            scores.append(d["acc"])
            clusters.append(d["doc"]["passage_id"])
    return len(ids)


def _bare_native(p: Path) -> int:
    ids, epochs, scores, clusters = [], [], [], []
    with p.open("rb") as f:
        for line in f:
            d = loads(line)
            ids.append(d["item_id"])
            epochs.append(d["epoch"])
            scores.append(d["score"])
            clusters.append(d["metadata"]["passage_id"])
    return len(ids)


def _eval_archives(tmp: Path, n: int) -> tuple[Path, Path]:
    header = {"version": 2, "status": "success",
              "eval": {"task": "bench", "model": "m", "packages": {"inspect_ai": "0.3.285"},
                       "scorers": [{"name": "match"}], "dataset": {"name": "d", "samples": n}}}
    members: dict[str, bytes] = {"header.json": json.dumps(header).encode()}
    summaries = []
    turn = "The passage says many things about bakeries and shops. " * 40
    for i in range(n):
        rec = {"id": f"q{i}", "epoch": 1, "metadata": {"passage_id": f"P{i // 7}"},
               "scores": {"match": {"value": "C" if i % 3 else "I", "answer": str(i)}}}
        summaries.append(rec)
        full = {**rec, "messages": [{"role": "user" if k % 2 else "assistant",
                                     "content": f"{k} {turn}"} for k in range(24)],
                "events": [{"event": "model", "output": turn} for _ in range(8)]}
        members[f"samples/q{i}_epoch_1.json"] = json.dumps(full).encode()
    slow = write_zip(tmp / "no_summaries.eval", members, ZSTD)
    members["summaries.json"] = json.dumps(summaries).encode()
    fast = write_zip(tmp / "with_summaries.eval", members, ZSTD)
    return fast, slow


def _per_label(values: list[Any]) -> list[str]:
    """The per-label rule `cluster_labels` applied before `number_labels` (its Python loop)."""
    return [label_text(v) if not is_missing(v) else "" for v in values]


def _labels_line(n: int) -> None:
    for kind, values in (("int", [i // 7 for i in range(n)]),
                         ("float", [float(i // 7) if i % 5 else i / 8 for i in range(n)])):
        loop = min(_timed(partial(_per_label, values))[1] for _ in range(3))
        vec = min(_timed(partial(cluster_labels, values))[1] for _ in range(3))
        print(f"cluster labels, {n} {kind}s: per-label rule {loop:.3f} CPU s, vectorised "
              f"{vec:.3f} CPU s: {loop / vec:.1f}x faster", flush=True)


def _dupkeys_line(tmp: Path, n: int) -> None:
    p = tmp / "run.json"
    p.write_text(json.dumps({"schema": "evalsig.run/1", "metric": "accuracy",
                             "items": [_native_line(i) for i in range(n)]}))
    doc, data = read_json_doc(p)
    spec = {**native._header_spec(),
            "items": native._item_spec(ReadOptions(cluster="passage_id"))}
    check = min(_timed(partial(refuse_duplicates, data, doc, spec, str(p)))[1] for _ in range(3))
    read = min(_timed(partial(read_run, p, cluster="passage_id"))[1] for _ in range(3))
    share = check / read
    print(f"duplicate-key check of a native JSON document, {n} items: {check:.3f} of "
          f"{read:.3f} CPU s read = {share:.1%} (target <= 5%) "
          f"{'OK' if share <= 0.05 else 'MISSED'}", flush=True)
    p.unlink()


def _line_check_line(p: Path, kw: dict[str, Any], runs: int) -> None:
    """The duplicate-key check of JSONL item lines (E117), read_run with it vs without."""

    def unchecked() -> None:
        native._LINE_CHECK = False
        try:
            read_run(p, **kw)
        finally:
            native._LINE_CHECK = True

    m = _sandwich(unchecked, lambda: read_run(p, **kw), runs)
    ratio, each = m.ratio(), m.ratios()
    print(f"  duplicate-key check of the item lines: read_run with vs without it, median of "
          f"{runs} sandwiched CPU ratios {ratio:.3f} (target <= 1.05) "
          f"{'OK' if ratio <= 1.05 else 'MISSED'}; ratios {min(each):.3f}..{max(each):.3f}; "
          f"fastest runs {min(m.read_cpu) / min(m.bare_cpu):.3f} (the per-line key sum runs in "
          "both)", flush=True)


def main() -> None:
    n = int(os.environ.get("EVALSIG_BENCH_N", "1000000"))
    runs = max(1, int(os.environ.get("EVALSIG_BENCH_RUNS", "15")))
    _labels_line(n)
    with tempfile.TemporaryDirectory(prefix="evalsig-bench-") as d:
        tmp = Path(d)
        for name, line, bare, kw in (
            ("lm-eval samples", _lmeval_line, _bare_lmeval,
             {"metric": "acc", "cluster": "passage_id"}),
            ("native JSONL", _native_line, _bare_native, {"cluster": "passage_id"}),
        ):
            p = tmp / ("samples_bench_2026-01-01T00-00-00.000000.jsonl" if "lm" in name
                       else "run.jsonl")
            _write_lines(p, n, line)
            m = _sandwich(lambda p=p, bare=bare: bare(p),  # type: ignore[misc]
                          lambda p=p, kw=kw: read_run(p, **kw), runs)  # type: ignore[misc]
            ratio, each = m.ratio(), m.ratios()
            print(f"{name}: {n} lines, read_run vs a bare {PARSER} loop, median of {runs} "
                  f"sandwiched CPU ratios {ratio:.2f} (target <= 1.5) "
                  f"{'OK' if ratio <= 1.5 else 'MISSED'}\n"
                  f"  ratios {min(each):.2f}..{max(each):.2f}; fastest runs "
                  f"{min(m.read_cpu):.2f} / {min(m.bare_cpu):.2f} CPU s = "
                  f"{min(m.read_cpu) / min(m.bare_cpu):.2f}; wall-clock median ratio "
                  f"{m.ratio(cpu=False):.2f}", flush=True)
            if name == "native JSONL":
                _line_check_line(p, kw, runs)
            p.unlink()
        _dupkeys_line(tmp, max(1, n // 5))
        fast, slow = _eval_archives(tmp, 10000)
        t_fast = min(_timed(lambda: read_run(fast, metric="match", cluster="passage_id"))[0]
                     for _ in range(3))
        t_slow = _timed(lambda: read_run(slow, metric="match", cluster="passage_id"))[0]
        speedup = t_slow / t_fast
        print(f"inspect .eval 10k samples ({fast.stat().st_size // 1024**2} MiB): summaries.json "
              f"{t_fast:.3f}s vs every sample {t_slow:.2f}s: {speedup:.1f}x faster "
              f"(target >= 10) {'OK' if speedup >= 10 else 'MISSED'}", flush=True)
