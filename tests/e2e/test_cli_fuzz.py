"""Property-based fuzzing of the CLI on hostile variants of real harness files
(`tests/core/readers/mutations.py`): `evalsig gate`, `doctor` and `compare` exit with a code of
the documented table, print one `evalsig: error:` line (or the doctor's report when it refuses)
and never a traceback or an internal error; a gate that does not decide never reports a
verdict to the workflow (GITHUB_OUTPUT says ERROR) and one that decides writes a strict-JSON
report whose exit code is the process's.

In-process (`main(argv, env)`) for speed, derandomized; a few subprocess runs at the end check
the same on the minimal inputs the fuzzing found. Every command with report paths is given
`--json` over an earlier run's ALLOW: it must hold this run's report, or its refusal.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from evalsig_core.cli import main
from tests.core.readers.mutations import FUZZ, Seed, build_seeds, mutated, place
from tests.core.readers.zipmaker import DEFLATED, write_zip

_SHORT = ["native.json", "runframe.json", "native.jsonl", "run.csv", "run.tsv", "inspect.json",
          "zstd.eval", "deflate.eval", "samples_passage_mc", "samples_passage_gen", "helm/"]
_CODES = {"gate": {0, 1, 2, 65, 66, 74}, "doctor": {0, 65, 66, 74}, "compare": {0, 65, 66, 74},
          "watch": {0, 1, 2, 65, 66, 74},
          "power": {0, 64, 65, 66, 74}}  # 64: a pilot without variance plans nothing
_VERDICTS = {0: "ALLOW", 1: "REJECT", 2: "INCONCLUSIVE"}
_counter = itertools.count()
_STALE = '{"kind": "gate", "verdict": "ALLOW", "exit_code": 0}'


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Seed]]:
    root = tmp_path_factory.mktemp("cli-fuzz-seeds")
    return root, build_seeds(root)


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"the report holds the non-JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def _outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's `name=value` lines (the multi-line form only carries the error)."""
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if "=" in line and "<<" not in line.split("=", 1)[0])


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, env)
    return code, out.getvalue(), err.getvalue()


def _argv(command: str, base: str, cand: str, flags: list[str], output: str,
          where: Path) -> list[str]:
    if command == "gate":
        return ["--no-config", "gate", "--baseline", base, "--candidate", cand,
                "--min-delta", "0.05", "--resamples", "200", "--output", output,
                "--json", str(where / "report.json"), "--markdown", str(where / "report.md"),
                *flags]
    if command == "watch":
        return ["--no-config", "watch", "--baseline", base, "--candidate", cand,
                "--min-delta", "0.05", "--output", output, "--json",
                str(where / "report.json"), *flags]
    if command == "power":  # a pilot: sd (and the ICC) estimated from the two runs
        return ["--no-config", "power", "--baseline", base, "--candidate", cand,
                "--delta", "0.05", "--output", "tty" if output == "markdown" else output,
                *flags]
    more = ["--resamples", "200"] if command == "compare" else []
    return ["--no-config", command, base, cand, *more, "--output", output,
            "--json", str(where / "report.json"), *flags]


@settings(FUZZ, max_examples=150)
@given(data=st.data(), short=st.sampled_from(_SHORT),
       command=st.sampled_from(["gate", "doctor", "compare", "watch", "power"]),
       swap=st.booleans(),
       output=st.sampled_from(["json", "tty", "markdown"]), cluster=st.booleans())
def test_the_cli_on_a_mutated_run_exits_as_documented_in_one_line(
        seeds: tuple[Path, dict[str, Seed]], data: st.DataObject, short: str, command: str,
        swap: bool, output: str, cluster: bool) -> None:
    root, by_name = seeds
    seed = by_name[next(n for n in by_name if n.startswith(short))]
    where = root.parent / f"{root.name}-example-{next(_counter)}"
    scratch = where.with_suffix(".zip")
    _ops, content = data.draw(mutated(seed, (root / seed.name).read_bytes(), scratch))
    try:
        path = place(root, seed, content, where)
        flags = [f for k, v in seed.kw.items() if cluster or k != "cluster"
                 for f in (f"--{k}", v)]
        base, cand = str(root / seed.name), str(path)
        if swap:
            base, cand = cand, base
        env = {"GITHUB_OUTPUT": str(where / "github_output")}
        (where / "report.json").write_text(_STALE)  # an earlier run's report
        code, out, err = _run(_argv(command, base, cand, flags, output, where), env)
        event(f"{command} exit {code}")
        _check(command, code, out, err, output, where, str(path))
    finally:
        shutil.rmtree(where, ignore_errors=True)
        scratch.unlink(missing_ok=True)


def _check(command: str, code: int, out: str, err: str, output: str, where: Path,
           mutated_path: str) -> None:
    assert code in _CODES[command], f"exit {code}: {err!r}"
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    if code >= 64:
        if err.startswith("evalsig doctor:"):  # the doctor refused: its report is the message
            assert code == 65
        elif command == "doctor" and not err:  # the doctor's own report, on stdout
            assert out
        else:
            assert len(lines) == 1 and lines[0].startswith("evalsig: error: "), err
            if code != 64:  # power's 64 (a pilot without variance) is about both runs
                # a file: a doctor error about the pair (E105, E108, E113) names them too
                assert any(w in err for w in (mutated_path, str(where), "seeds")), err
    if output == "json" and (code < 64 or command == "doctor"):
        report = _strict_json(out)
        assert report.get("exit_code", code) == code  # a compare report has none
    if command == "gate":
        verdict = _outputs(where / "github_output").get("verdict")
        assert verdict == _VERDICTS.get(code, "ERROR"), (code, verdict, err)
    if command != "power":  # every command with report paths: its report or its refusal
        report = _strict_json((where / "report.json").read_text())
        if code >= 64:  # the refusal, never the earlier run's verdict left in place
            assert report["kind"] == "doctor" and report["exit_code"] == code, report
        else:
            assert report["kind"] == command and report.get("exit_code", code) == code
            if command in ("gate", "watch"):
                assert report["verdict"] == _VERDICTS[code]


# ---- the minimal inputs the fuzzing found, through a real process ---------------------------


def _runframe_with_a_string_item(d: Path) -> Path:
    path = d / "cand.json"
    path.write_text('{"schema": "evalsig.run/1", "items": [{"item_id": "a", "score": 1}, "x"]}')
    return path


def _eval_with_a_negative_member_offset(d: Path) -> Path:
    path = write_zip(d / "cand.eval", {"header.json": b"{}", "summaries.json": b"[]"},
                     method=DEFLATED)
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<L", data, eocd + 16, struct.unpack_from("<L", data, eocd + 16)[0] + 999)
    path.write_bytes(bytes(data))
    return path


def _eval_with_a_list_start_record(d: Path) -> Path:
    return write_zip(d / "cand.eval", {"_journal/start.json": b"[]"}, method=DEFLATED)


@pytest.mark.parametrize("make", [_runframe_with_a_string_item,
                                  _eval_with_a_negative_member_offset,
                                  _eval_with_a_list_start_record])
def test_a_process_on_a_found_input_exits_65_in_one_line(tmp_path: Path, make: Any,
                                                          examples: Path) -> None:
    cand = make(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "evalsig_core.cli", "--no-config", "gate", "--baseline",
         str(examples / "baseline.json"), "--candidate", str(cand), "--min-delta", "0.05"],
        capture_output=True, text=True, check=False, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 65, r.stderr
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"evalsig: error: {cand}: ")
    assert "Traceback" not in r.stderr and "(fix: " in r.stderr


@pytest.mark.parametrize(("make", "code"), [(_runframe_with_a_string_item, 65),
                                             (lambda d: d / "missing.json", 66)])
def test_a_gate_that_cannot_read_a_run_replaces_the_earlier_report(
        tmp_path: Path, examples: Path, make: Any, code: int) -> None:
    """Found by the CLI fuzzing above: a gate that stopped on a read error left the report
    paths as they were, so report.json / report.md of an earlier ALLOW stood as this run's
    result (a refusal by the doctor already replaced them). They now hold the read error as a
    doctor report; stdout stays empty and stderr is the one error line."""
    cand = make(tmp_path)
    js, md = tmp_path / "report.json", tmp_path / "report.md"
    js.write_text(_STALE)
    md.write_text("## evalsig gate: ALLOW\n")
    code_, out, err = _run(["--no-config", "gate", "--baseline", str(examples / "baseline.json"),
                            "--candidate", str(cand), "--min-delta", "0.05", "--json", str(js),
                            "--markdown", str(md), "--output", "json"], {})
    assert code_ == code and out == ""
    assert err.count("\n") == 1 and err.startswith(f"evalsig: error: {cand}: ")
    report = _strict_json(js.read_text())
    assert report["kind"] == "doctor" and report["exit_code"] == code
    assert [f["file"] for f in report["findings"]] == [str(cand)]
    assert "ALLOW" not in md.read_text() and "not gated" in md.read_text()
    assert f"(exit {code})" in md.read_text()


@pytest.mark.parametrize("case", ["unreadable", "doctor refusal"])
def test_a_watch_that_decides_nothing_replaces_the_earlier_report(
        tmp_path: Path, examples: Path, case: str) -> None:
    """`evalsig watch` writes a verdict to its report paths as the gate does; on a run it
    could not read, or one the doctor refused, the earlier look's ALLOW stayed there."""
    base = examples / "baseline.json"
    cand = _runframe_with_a_string_item(tmp_path) if case == "unreadable" else base
    js = tmp_path / "watch.json"
    js.write_text(_STALE)
    code, out, err = _run(["--no-config", "watch", "--baseline", str(base), "--candidate",
                           str(cand), "--min-delta", "0.05", "--json", str(js)], {})
    assert code == 65 and out == "" and err.count("\n") == 1, err
    report = _strict_json(js.read_text())
    assert report["kind"] == "doctor" and report["exit_code"] == 65


# ---- suite and config files ----------------------------------------------------------------

_SUITE = """[suite]
name = "nightly"
correction = "holm"
min_delta = 0.05
resamples = 200

[[entry]]
name = "rc"
metric = "accuracy"
baseline = "native.json"
candidate = "run.csv"
cluster = "passage_id"

[[entry]]
task = "jsonl"
baseline = "native.jsonl"
candidate = "native.json"
metric = "accuracy"
mode = "non-inferiority"
"""
_CONFIG = """metric = "score"
cluster = "passage_id"
format = "auto"
min-delta = 0.05
alpha = 0.05
power = 0.8
mode = "superiority"
method = "auto"
resamples = 200
seed = 3
output = "json"
"""
# TOML values of every type, and table headers, put in place of a token of the file
_TOML_TOKENS = [
    "1", "-1", "0", "1e400", "nan", "inf", "-0.0", "true", '""', '"x"', "[]", "[1]", "{}",
    "{a = 1}", "1979-05-27", "07:32:00", "99999999999999999999", '"\\u0000"', '"a\\nb"',
    "'''x'''", '"../x.json"', '"/dev/null"', '"."', '"s3://b/k"', '"file:///nope"', '"bh"',
    '"equivalence"', '"bootstrap"', '"permutation"', "[[entry]]", "[suite]", "[entry]",
    "[[entries]]", '"native.json"', '"suite.toml"', "0.5", "2", "1000000000",
    "[" * 1200 + "]" * 1200]
_TOML_TOKEN = re.compile(r'"[^"\n]*"|\b\d+(?:\.\d+)?\b|\[\[?\w+\]\]?|\b\w+\b')


@st.composite
def _toml_edits(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        spans = [m.span() for m in _TOML_TOKEN.finditer(text)]
        kind = draw(st.sampled_from(["token", "token", "dropline", "dupline"]))
        lines = text.split("\n")
        if kind == "token" and spans:
            a, b = spans[draw(st.integers(0, len(spans) - 1))]
            text = text[:a] + draw(st.sampled_from(_TOML_TOKENS)) + text[b:]
        elif kind == "dropline":
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        else:
            lines.insert(draw(st.integers(0, len(lines))),
                         lines[draw(st.integers(0, len(lines) - 1))])
            text = "\n".join(lines)
    return text


@settings(FUZZ, max_examples=60)
@given(data=st.data(), which=st.sampled_from(["suite", "config"]))
def test_a_mutated_suite_or_config_file_exits_as_documented_in_one_line(
        seeds: tuple[Path, dict[str, Seed]], data: st.DataObject, which: str) -> None:
    root = seeds[0]
    text = data.draw(_toml_edits(_SUITE if which == "suite" else _CONFIG))
    path = root / f"{which}-{next(_counter)}.toml"  # beside the seeds: relative runs
    path.write_text(text, encoding="utf-8")
    try:
        if which == "suite":
            argv = ["--no-config", "suite", str(path), "--output", "json"]
        else:
            argv = ["--config", str(path), "gate", "--baseline", str(root / "run.csv"),
                    "--candidate", str(root / "run.tsv")]
        code, out, err = _run(argv, {})
    finally:
        path.unlink()
    event(f"{which} exit {code}")
    assert code in {0, 1, 2, 64, 65, 66, 74}, f"exit {code}: {err!r}"
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    if code >= 64 and not err.startswith("evalsig doctor:"):
        assert len(lines) == 1 and lines[0].startswith("evalsig: error: "), err
        if which == "suite" or code != 64:  # (a config without min-delta: the flag's line)
            assert str(path) in err or str(root) in err, err
    if code < 64 and which == "suite":
        assert _strict_json(out)["exit_code"] == code


def _native(path: Path, scores: list[Any], ids: list[str] | None = None,
            labels: list[str] | None = None, metric: str | None = "accuracy") -> Path:
    items = [{"item_id": i, **({"error": "boom"} if s is None else {"score": s}),
              **({} if labels is None else {"metadata": {"p": labels[n]}})}
             for n, (i, s) in enumerate(zip(ids or [f"q{n}" for n in range(len(scores))],
                                            scores, strict=True))]
    path.write_text(json.dumps({"schema": "evalsig.run/1", "items": items,
                                **({} if metric is None else {"metric": metric})}))
    return path


_BIN = [float(i % 3 == 0) for i in range(12)]
# (candidate scores, its ids, the baseline's labels, what the error line says about the files)
_PAIR_ERRORS: dict[str, tuple[list[Any], list[str] | None, list[str] | None, list[str]]] = {
    # found by the CLI fuzzing: the one-line error of compare or watch named no file
    "E112 metric": (_BIN, None, None, ["'accuracy' (in {base})", "'score' (in {cand})"]),
    "E105 no scored item": ([None] * 12, None, None, ["{cand}: candidate has no scored items"]),
    # E105, E108 and E113 named no file, or only the candidate's
    "E105 no shared item": (_BIN, [f"z{i}" for i in range(12)], None,
                            ["the baseline (in {base}) and the candidate (in {cand}) share no "
                             "item id"]),
    "E105 one shared item": (_BIN, ["q0"] + [f"z{i}" for i in range(11)], None,
                             ["the baseline (in {base}) and the candidate (in {cand}) share "
                              "only 1 item"]),
    "E108 one cluster": (_BIN, None, ["P1"] * 12,
                         ["only 1 cluster under key 'p', as the baseline (in {base}) labels"]),
    "E113 scales": ([i * 10.0 for i in range(12)], None, None,
                    ["the baseline's scores (in {base}) range", "the candidate's (in {cand})"]),
}


@pytest.mark.parametrize("command", ["compare", "watch"])
@pytest.mark.parametrize("case", list(_PAIR_ERRORS))
def test_a_doctor_error_names_the_files_in_its_one_line(
        tmp_path: Path, command: str, case: str) -> None:
    """A refusal about both runs (or one of them) names the file meant: "the runs share no
    item id" said which only by the candidate's path, E108 named none."""
    scores, ids, labels, says = _PAIR_ERRORS[case]
    base = _native(tmp_path / "base.json", _BIN, labels=labels or [f"P{i % 4}" for i in range(12)])
    cand = _native(tmp_path / "cand.json", scores, ids, [f"P{i % 4}" for i in range(12)],
                   None if case == "E112 metric" else "accuracy")
    flags = ["--cluster", "p"] if labels else []
    argv = (["--no-config", "compare", str(base), str(cand), *flags] if command == "compare"
            else ["--no-config", "watch", "--baseline", str(base), "--candidate", str(cand),
                  "--min-delta", "0.05", *flags])
    code, _out, err = _run(argv, {})
    assert code == 65
    wanted = [w.format(base=base, cand=cand) for w in says]
    line = next((ln for ln in err.splitlines() if wanted[0] in ln), "")
    assert all(w in line for w in wanted), err
    if command == "watch":
        assert err.count("\n") == 1 and err.startswith("evalsig: error: "), err
