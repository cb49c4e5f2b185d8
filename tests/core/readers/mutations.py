"""Hostile variants of real harness files for the property-based fuzz tests, and the invariant
every read keeps.

`build_seeds` writes one small valid file per format from the real logs in
`tests.conftest.SHARED_FIXTURES` (Inspect `.eval` zstd and DEFLATE archives and a `.json` log,
lm-eval samples with their results file, a HELM run directory) plus the native formats (evalsig
JSON, an evalsig 0.1 RunFrame, JSONL, CSV, TSV). `mutated` is a hypothesis strategy of
(mutation description, bytes) for one seed: byte edits (truncate, flip, insert, delete, NUL,
BOM, UTF-16, CRLF, a JSON token replaced by another type), line edits (drop, duplicate),
JSON edits (a value replaced by null / a number / a string / a list / an object / a huge
integer / NaN / Infinity / -0 / a lone surrogate, a key dropped or added, a list entry
duplicated) and, for `.eval` archives, member and directory edits (a member dropped, edited or
renamed, another compression method, a lying size, a corrupted central-directory field).

`check_read` is the promise under test: `read_run` either returns a run whose arrays keep the
`EvalRun` invariants, or raises an `InputError` of exit 65/66/74 whose one-line message names
the file and the fix. Anything else (another exception, a multi-line message) fails the test.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from evalsig_core import InputError, read_run
from evalsig_core.errors import ExitCode, InputNotFoundError
from evalsig_core.readers._zip import SafeZip
from evalsig_core.run import EvalRun
from tests.conftest import REPO, SHARED_FIXTURES
from tests.core.readers.zipmaker import DEFLATED, STORED, ZSTD, write_zip

# Deterministic (the same examples on every run: `make test` never flakes), no example
# database, no deadline (a 2-core machine shared with calibration jobs).
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

READ_EXIT_CODES = {int(ExitCode.DATA), int(ExitCode.NO_INPUT), int(ExitCode.IO)}


@dataclass(frozen=True)
class Seed:
    """One valid run file (`name` relative to the seed directory) and its read options."""

    name: str
    kw: dict[str, Any] = field(default_factory=dict)

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix


def build_seeds(dst: Path) -> dict[str, Seed]:
    """Small valid files of every format, most cut from the real harness logs."""
    dst.mkdir(parents=True, exist_ok=True)
    seeds: list[Seed] = []
    items: list[dict[str, Any]] = [{"item_id": f"q{i}", "epoch": 1, "score": float(i % 3 == 0),
              "metadata": {"passage_id": f"P{i // 2}"}} for i in range(16)]
    doc = {"schema": "evalsig.run/1", "run_id": "r", "model": "m", "task": "t",
           "metric": "accuracy", "harness": "h", "status": "success", "config": {"k": "v"},
           "items": items}
    (dst / "native.json").write_text(json.dumps(doc, indent=1))
    seeds.append(Seed("native.json", {"cluster": "passage_id"}))
    frame = json.loads((REPO / "deployments/examples/baseline.json").read_text())
    frame["items"] = [it for it in frame["items"] if int(it["item_id"][1:]) % 50 < 2][:16]
    (dst / "runframe.json").write_text(json.dumps(frame, indent=1))
    seeds.append(Seed("runframe.json", {"cluster": "passage_id"}))
    head = {k: v for k, v in doc.items() if k != "items"}
    (dst / "native.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [head, *items]))
    seeds.append(Seed("native.jsonl", {"cluster": "passage_id"}))
    rows = ["item_id,score,epoch,passage_id"] + [
        f"{it['item_id']},{it['score']},1,{it['metadata']['passage_id']}" for it in items]
    (dst / "run.csv").write_text("".join(r + "\n" for r in rows))
    (dst / "run.tsv").write_text("".join(r.replace(",", "\t") + "\n" for r in rows))
    seeds += [Seed(name, {"cluster": "passage_id"}) for name in ("run.csv", "run.tsv")]

    i285, i200 = SHARED_FIXTURES / "inspect-0.3.285", SHARED_FIXTURES / "inspect-0.3.200-deflate"
    log = json.loads((i285 / "baseline_e1.json").read_text())
    log["samples"] = log["samples"][:12]
    for s in log["samples"]:  # the transcripts: large, and not read
        for k in ("messages", "events", "output", "model_usage"):
            s.pop(k, None)
    (dst / "inspect.json").write_text(json.dumps(log, indent=1))
    inspect_kw = {"metric": "match", "cluster": "passage_id"}
    seeds.append(Seed("inspect.json", inspect_kw))
    shutil.copy(i285 / "baseline_e1.eval", dst / "zstd.eval")
    shutil.copy(i200 / "baseline_e1.eval", dst / "deflate.eval")
    seeds += [Seed("zstd.eval", inspect_kw), Seed("deflate.eval", inspect_kw)]

    lm = SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline"
    results = next(lm.glob("results_*.json"))
    shutil.copy(results, dst / results.name)  # read beside the samples for metadata
    for task, kw in (("passage_mc", {"metric": "acc"}),
                     ("passage_gen", {"metric": "exact_match", "filter": "strict-match"})):
        src = next(lm.glob(f"samples_{task}_*.jsonl"))
        lines = src.read_text().splitlines(keepends=True)[:16]
        (dst / src.name).write_text("".join(lines))
        seeds.append(Seed(src.name, {**kw, "cluster": "passage_id"}))

    helm_src, helm = SHARED_FIXTURES / "helm-0.5.16" / "baseline", dst / "helm"
    helm.mkdir(exist_ok=True)
    stats = json.loads((helm_src / "per_instance_stats.json").read_text())[:12]
    (helm / "per_instance_stats.json").write_text(json.dumps(stats, indent=1))
    state = json.loads((helm_src / "scenario_state.json").read_text())
    state["request_states"] = state["request_states"][:12]
    (helm / "scenario_state.json").write_text(json.dumps(state, indent=1))
    shutil.copy(helm_src / "run_spec.json", helm / "run_spec.json")
    seeds.append(Seed("helm/per_instance_stats.json",
                      {"metric": "exact_match", "cluster": "passage_id"}))
    return {s.name: s for s in seeds}


def place(seed_dir: Path, seed: Seed, data: bytes, dst: Path) -> Path:
    """Write the mutated bytes of `seed` in `dst` beside what its reader also reads."""
    dst.mkdir(parents=True)
    if seed.name.startswith("helm/"):
        shutil.copytree(seed_dir / "helm", dst / "helm")
    for extra in seed_dir.glob("results_*.json"):
        shutil.copy(extra, dst / extra.name)
    path = dst / seed.name
    path.write_bytes(data)
    return path


# ---- mutations ------------------------------------------------------------------------------

# JSON values of every type and edge: what a broken exporter, a hand edit or a bit flip leaves.
VALUES: list[Any] = [
    None, True, False, 0, -0.0, 1, -1, 1.5, 1e308, 2**63, 2**64, 10**30, -(2**63) - 1,
    float("nan"), float("inf"), float("-inf"), "", " ", "x", "1", "NaN", "C", "\x00", "a\nb",
    "\ud800", "é", [], [1], {}, {"a": None}, [[[[]]]],
]
# Raw JSON tokens put in place of a token of the file (some are not valid JSON on purpose).
TOKENS: list[bytes] = [
    b"null", b"true", b"0", b"-0", b"-0.0", b"1e400", b"-1e400", b"1e-400", b"NaN",
    b"Infinity", b"-Infinity", b"18446744073709551616", b"99999999999999999999999",
    b"9223372036854775808", b"1.5", b'"x"', b'""', b"[]", b"{}", b'{"a":1}', b'"\\ud800"',
    b'"\\udc00\\ud800"', b'"\\u0000"', b'"a\\nb"', b"01", b"1.", b".5", b"+1", b"0x10",
    b"'x'", b"[[[[[[[[[[", b"\xff", b"\xed\xa0\x80",
    b"[" * 1020 + b"]" * 1020,  # orjson parses it; Python's recursion limit is ~1000
]
WHOLE: list[bytes] = [
    b"", b" ", b"\n\n\t \r\n", b"\x00" * 8, b"{", b"[", b"]", b"{}", b"[]", b"null", b"0",
    b'""', b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff\x00{", b"a,b\n", b"a\tb\n1\t2\n",
    b"{}\n{}\n", b"[]\n[]\n", b"PK\x05\x06" + b"\x00" * 18, b"PK\x03\x04", b"\x1f\x8b\x08",
]
_TOKEN = re.compile(rb'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\\n]|\\.)*"|null|true|false')
_BOM = b"\xef\xbb\xbf"


def _at(data: bytes, i: int) -> int:
    return i % (len(data) + 1)


def apply_bytes(data: bytes, op: tuple[Any, ...]) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[:_at(data, op[1])]
    if kind == "flip" and data:
        i = op[1] % len(data)
        return data[:i] + bytes([data[i] ^ op[2]]) + data[i + 1:]
    if kind == "insert":
        i = _at(data, op[1])
        return data[:i] + op[2] + data[i:]
    if kind == "delete":
        i = _at(data, op[1])
        return data[:i] + data[i + op[2]:]
    if kind == "bom":
        return _BOM + data
    if kind == "utf16":
        try:
            return data.decode("utf-8").encode(op[1])
        except UnicodeError:
            return data
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "cr":
        return data.replace(b"\n", b"\r")
    if kind == "token":
        spans = [m.span() for m in _TOKEN.finditer(data)]
        if spans:
            a, b = spans[op[1] % len(spans)]
            return data[:a] + op[2] + data[b:]
        return data
    if kind in ("dropline", "dupline"):
        lines = data.split(b"\n")
        i = op[1] % len(lines)
        if kind == "dropline":
            del lines[i]
        else:
            lines.insert(op[2] % len(lines), lines[i])
        return b"\n".join(lines)
    if kind == "whole":
        return op[1]
    return data


def byte_ops() -> st.SearchStrategy[tuple[Any, ...]]:
    pos = st.integers(0, 1 << 20)
    return st.one_of(
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=4)
                  | st.sampled_from([b"\x00", _BOM, b"\n", b"\r", b'"', b",", b"\t", b"{"])),
        st.tuples(st.just("delete"), pos, st.integers(1, 40)),
        st.tuples(st.just("bom")),
        st.tuples(st.just("utf16"), st.sampled_from(["utf-16", "utf-16-le", "utf-32"])),
        st.tuples(st.just("crlf")),
        st.tuples(st.just("cr")),
        st.tuples(st.just("token"), pos, st.sampled_from(TOKENS)),
        st.tuples(st.just("dropline"), pos),
        st.tuples(st.just("dupline"), pos, pos),
        st.tuples(st.just("whole"), st.sampled_from(WHOLE)),
    )


def _paths(value: Any) -> list[list[Any]]:
    out: list[list[Any]] = []

    def walk(v: Any, p: list[Any]) -> None:
        out.append(p)
        if isinstance(v, dict):
            for k in v:
                walk(v[k], [*p, k])
        elif isinstance(v, list):
            for i, x in enumerate(v[:4]):
                walk(x, [*p, i])
            if len(v) > 4:
                walk(v[-1], [*p, len(v) - 1])

    walk(value, [])
    return out


def apply_json(doc: Any, op: tuple[Any, ...]) -> Any:
    """`doc` (a parsed JSON value, changed in place) with one value replaced, a key dropped
    or added, or a list entry duplicated."""
    kind, where = op[0], op[1]
    paths = _paths(doc)
    path = paths[where % len(paths)]
    if not path:
        return op[2] if kind == "replace" else doc
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if kind == "replace":
        parent[last] = op[2]
    elif kind == "drop":
        del parent[last]
    elif kind == "dup" and isinstance(parent, list):
        parent.insert(last, json.loads(json.dumps(parent[last])))
    elif kind == "add" and isinstance(parent, dict):
        parent[f"{last}_" if op[2] is None else op[2]] = op[3]
    return doc


def json_ops() -> st.SearchStrategy[tuple[Any, ...]]:
    where = st.integers(0, 1 << 12)
    return st.one_of(
        st.tuples(st.just("replace"), where, st.sampled_from(VALUES)),
        st.tuples(st.just("drop"), where),
        st.tuples(st.just("dup"), where),
        st.tuples(st.just("add"), where,
                  st.sampled_from([None, "error", "scores", "epoch", "id", "item_id", "score"]),
                  st.sampled_from(VALUES)),
    )


def dumps(value: Any) -> bytes:
    """JSON as a harness might write it: NaN/Infinity tokens allowed, lone surrogates kept."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _edit_json_text(data: bytes, op: tuple[Any, ...], line: int | None) -> bytes:
    if line is None:
        try:
            return dumps(apply_json(json.loads(data), op))
        except (ValueError, RecursionError):
            return data
    lines = data.split(b"\n")
    i = line % len(lines)
    with contextlib.suppress(ValueError, RecursionError):
        lines[i] = dumps(apply_json(json.loads(lines[i]), op))
    return b"\n".join(lines)


# ---- .eval archives -------------------------------------------------------------------------

_CD = b"PK\x01\x02"
_EOCD = b"PK\x05\x06"
# central directory fields worth corrupting: (offset in the record, struct format)
CD_FIELDS = {"method": (10, "<H"), "crc": (16, "<L"), "compressed": (20, "<L"),
             "size": (24, "<L"), "name_len": (28, "<H"), "offset": (42, "<L")}
EOCD_FIELDS = {"entries": (10, "<H"), "cd_size": (12, "<L"), "cd_offset": (16, "<L")}
FIELD_VALUES = [0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 93, 8, 12, 14, 99]


def members_of(path: Path) -> dict[str, bytes]:
    with SafeZip(path) as z:
        return {name: z.read(name) for name in z.names}


def zip_ops() -> st.SearchStrategy[tuple[Any, ...]]:
    idx = st.integers(0, 1 << 10)
    return st.one_of(
        st.tuples(st.just("drop_member"), idx),
        st.tuples(st.just("member_json"), st.sampled_from(["header.json", "summaries.json"]),
                  json_ops()),
        st.tuples(st.just("member_json"), idx, json_ops()),
        st.tuples(st.just("member_bytes"), idx, byte_ops()),
        st.tuples(st.just("rename"), idx, st.sampled_from(
            ["../header.json", "/header.json", "samples/../summaries.json", "header.json/",
             "samples/x.json", "HEADER.JSON", "header.json\x00x", "_journal/start.json"])),
        st.tuples(st.just("method"), st.sampled_from([STORED, DEFLATED, ZSTD])),
        st.tuples(st.just("lie_size"), idx, st.sampled_from([0, 1, 2**31, 2**32 - 1])),
        st.tuples(st.just("cd_field"), idx, st.sampled_from(sorted(CD_FIELDS)),
                  st.sampled_from(FIELD_VALUES)),
        st.tuples(st.just("eocd_field"), st.sampled_from(sorted(EOCD_FIELDS)),
                  st.sampled_from(FIELD_VALUES)),
    )


def apply_zip(data: bytes, op: tuple[Any, ...], scratch: Path) -> bytes:
    """`data` (a zip archive) with one member or directory edit; archives the edit cannot
    be applied to (already broken) come back unchanged."""
    kind = op[0]
    if kind in ("cd_field", "eocd_field"):
        return _patch_directory(data, op)
    scratch.write_bytes(data)
    try:
        members = members_of(scratch)
    except InputError:
        return data
    names = sorted(members)
    if not names:
        return data
    name = names[op[1] % len(names)] if isinstance(op[1], int) else op[1]
    method, sizes = DEFLATED, None
    if kind == "drop_member":
        members.pop(name, None)
    elif kind == "member_json" and name in members:
        try:
            members[name] = dumps(apply_json(json.loads(members[name]), op[2]))
        except (ValueError, RecursionError):
            return data
    elif kind == "member_bytes":
        members[name] = apply_bytes(members[name], op[2])
    elif kind == "rename":
        members[op[2]] = members.pop(name)
    elif kind == "method":
        method = op[1]
    elif kind == "lie_size":
        sizes = {name: op[2]}
    write_zip(scratch, members, method=method, declared_size=sizes)
    return scratch.read_bytes()


def _patch_directory(data: bytes, op: tuple[Any, ...]) -> bytes:
    out = bytearray(data)
    if op[0] == "eocd_field":
        at = out.rfind(_EOCD)
        off, fmt = EOCD_FIELDS[op[1]]
        value = op[2]
    else:
        starts = [m.start() for m in re.finditer(re.escape(_CD), data)]
        if not starts:
            return data
        at = starts[op[1] % len(starts)]
        off, fmt = CD_FIELDS[op[2]]
        value = op[3]
    if at < 0 or at + off + struct.calcsize(fmt) > len(out):
        return data
    struct.pack_into(fmt, out, at + off, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
    return bytes(out)


# ---- one strategy for every format ----------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seed: Seed, data: bytes, scratch: Path) -> tuple[list[Any], bytes]:
    """(the edits, the mutated bytes) of one seed file: one to three edits of its kind."""
    is_zip = seed.suffix == ".eval"
    line_format = seed.suffix in (".jsonl",)
    n = draw(st.integers(1, 3))
    ops: list[Any] = []
    for _ in range(n):
        if is_zip:
            op = draw(zip_ops() | st.tuples(st.just("raw"), byte_ops()))
            data = apply_bytes(data, op[1]) if op[0] == "raw" else apply_zip(data, op, scratch)
        elif seed.suffix in (".json", ".jsonl") and draw(st.booleans()):
            op = ("json", draw(json_ops()), draw(st.integers(0, 64)) if line_format else None)
            data = _edit_json_text(data, op[1], op[2])
        else:
            op = draw(byte_ops())
            data = apply_bytes(data, op)
        ops.append(op)
    return ops, data


# ---- the invariant --------------------------------------------------------------------------


def assert_one_line_error(exc: InputError, path: Path) -> None:
    text = str(exc)
    assert "\n" not in text and "\r" not in text, f"a multi-line message: {text!r}"
    assert int(exc.exit_code) in READ_EXIT_CODES, (exc.exit_code, text)
    names = (str(path), str(path.parent), ascii(str(path))[1:-1])
    assert any(n in text for n in names), f"the message does not name the file: {text!r}"
    if not isinstance(exc, InputNotFoundError):
        assert "(fix: " in text, f"the message gives no fix: {text!r}"


def assert_run_invariants(run: EvalRun) -> None:
    n = run.n_records
    assert run.item_ids.dtype.kind == "U" and run.item_ids.shape == (n,)
    assert not (run.item_ids == "").any(), "an empty item id"
    assert run.epochs.dtype == np.int64 and run.epochs.shape == (n,)
    assert n == 0 or int(run.epochs.min()) >= 0
    assert run.scores.dtype == np.float64 and run.scores.shape == (n,)
    if run.clusters is not None:
        assert run.clusters.dtype.kind == "U" and run.clusters.shape == (n,)
        assert run.cluster_present is not None and run.cluster_present.dtype == bool
    run.meta.model_dump_json()  # every text of the metadata is valid UTF-8
    for arr in (run.item_ids, run.clusters):
        if arr is not None and n:
            "".join(arr.tolist()).encode("utf-8")  # no lone surrogate reached the run


def check_read(path: Path, **kw: Any) -> EvalRun | None:
    """The run `read_run` returns, checked, or None when it refused the file as promised."""
    try:
        run = read_run(path, **kw)
    except InputError as exc:
        assert_one_line_error(exc, path)
        return None
    assert_run_invariants(run)
    return run

