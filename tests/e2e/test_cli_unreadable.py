"""A run file that exists but cannot be read exits 74 (I/O error), never 65 (bad data) or 70.

CI runs as root, where `chmod 000` denies nothing: the faults are injected where every reader
reaches the file system (`evalsig_core.readers._io._open` and `_stat`).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputReadError, read_run
from evalsig_core.cli import main
from evalsig_core.readers import _io
from tests.conftest import SHARED_FIXTURES, write_runframe

I285, LM, HELM = (SHARED_FIXTURES / "inspect-0.3.285", SHARED_FIXTURES / "lm-eval-0.4.13",
                  SHARED_FIXTURES / "helm-0.5.16")
_IDS = [f"q{i}" for i in range(20)]
_CLUSTERS = [f"P{i % 4}" for i in range(20)]
_B = [float(i % 3 == 0) for i in range(20)]
_C = [float(i % 2 == 0) for i in range(20)]
# Files read for metadata only (a config fingerprint): a fault there is not an error, but a
# warning (W220) naming the file, the OS reason and the fix.
_OPTIONAL = ("results_", "run_spec.json")


def _lm(run: str) -> Path:
    (path,) = (LM / run).glob("samples_passage_mc_*.jsonl")
    return path


def _native_jsonl(path: Path, scores: list[float]) -> Path:
    lines = [{"schema": "evalsig.run/1", "metric": "accuracy"}] + [
        {"item_id": i, "score": s, "metadata": {"passage_id": c}}
        for i, s, c in zip(_IDS, scores, _CLUSTERS, strict=True)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _tabular(path: Path, scores: list[float], sep: str) -> Path:
    rows = [sep.join(("item_id", "accuracy", "passage_id"))] + [
        sep.join((i, str(s), c)) for i, s, c in zip(_IDS, scores, _CLUSTERS, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _pair(fmt: str, tmp: Path) -> tuple[Path, Path, list[str]]:
    """(baseline, candidate, flags) of a gate that reads `fmt` without error."""
    if fmt == "evalsig-json":
        return (write_runframe(tmp / "b.json", _IDS, _B, _CLUSTERS),
                write_runframe(tmp / "c.json", _IDS, _C, _CLUSTERS), ["--metric", "accuracy"])
    if fmt == "evalsig-jsonl":
        return (_native_jsonl(tmp / "b.jsonl", _B), _native_jsonl(tmp / "c.jsonl", _C),
                ["--metric", "accuracy"])
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        return (_tabular(tmp / f"b.{fmt}", _B, sep), _tabular(tmp / f"c.{fmt}", _C, sep),
                ["--metric", "accuracy"])
    if fmt in ("inspect-eval", "inspect-json"):
        ext = fmt.removeprefix("inspect-")
        return (I285 / f"baseline_e1.{ext}", I285 / f"candidate_e1.{ext}", ["--metric", "match"])
    if fmt == "lm-eval-samples":
        return _lm("baseline"), _lm("candidate"), ["--metric", "acc"]
    return HELM / "baseline", HELM / "candidate", ["--metric", "exact_match"]


_FORMATS = ["evalsig-json", "evalsig-jsonl", "csv", "tsv", "inspect-eval", "inspect-json",
            "lm-eval-samples", "helm"]


def _gate(b: Path, c: Path, flags: list[str]) -> list[str]:
    return ["gate", "--baseline", str(b), "--candidate", str(c), *flags,
            "--cluster", "passage_id", "--min-delta", "0.01", "--output", "json"]


class _FailingReads:
    """A file whose reads fail as a dying disk's do (EIO)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()

    def read(self, n: int = -1) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    readline = read

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


def _deny_open(path: Path) -> Any:
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


_FAULTS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "open EACCES": (_deny_open, "Permission denied"),
    "read EIO": (_FailingReads, "Input/output error"),
}


def _opened_paths(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> list[Path]:
    """Every file the command opens, in order, when nothing fails."""
    seen: list[Path] = []
    real = _io._open

    def recording(path: Path, mode: str) -> Any:
        if Path(path) not in seen:
            seen.append(Path(path))
        return real(path, mode)

    monkeypatch.setattr(_io, "_open", recording)
    assert main(argv, {}) in (0, 1, 2)
    monkeypatch.setattr(_io, "_open", real)
    return seen


@pytest.mark.parametrize("fault", list(_FAULTS))
@pytest.mark.parametrize("fmt", _FORMATS)
def test_every_file_a_reader_opens_exits_74_when_it_cannot_be_read(
        fmt: str, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A permission-denied run file exited 65 ("bad data") from some readers; an EIO inside a
    # zip member or a JSONL block was a traceback and exit 70; an unreadable .eval said "not a
    # readable zip archive ... the file is truncated or corrupt; re-export the log".
    b, c, flags = _pair(fmt, tmp_path)
    argv = _gate(b, c, flags)
    paths = _opened_paths(monkeypatch, argv)
    capsys.readouterr()
    assert any(p.parent == b or p == b for p in paths)  # the baseline itself was opened
    make, reason = _FAULTS[fault]
    real = _io._open
    for bad in paths:
        def faulty(path: Path, mode: str, bad: Path = bad) -> Any:
            return make(Path(path)) if Path(path) == bad else real(path, mode)

        monkeypatch.setattr(_io, "_open", faulty)
        code = main(argv, {})
        out, err = capsys.readouterr()
        if bad.name.startswith(_OPTIONAL):  # was skipped silently: the fingerprint vanished
            assert code in (0, 1, 2), (bad, err)
            (w220,) = [f for f in json.loads(out)["findings"] if f["code"] == "W220"]
            assert f"{bad}: exists but cannot be read: {reason}" in w220["message"], w220
            assert w220["hint"].startswith(("make the file", "the storage failed")), w220
            continue
        assert code == 74, (bad, err)
        assert out == "" and err.count("\n") == 1, err
        assert f"{bad}: exists but cannot be read: {reason} (fix: " in err


@pytest.mark.parametrize("fmt", ["evalsig-json", "inspect-eval", "helm"])
def test_a_path_the_system_refuses_to_stat_exits_74(
        fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A file under a directory without search permission: Path.exists() raised PermissionError
    # out of the reader, "internal error ... this is a bug in evalsig" (70).
    b, c, flags = _pair(fmt, tmp_path)
    real = _io._stat

    def stat(path: Any, *a: Any, **kw: Any) -> os.stat_result:
        if Path(path) == b:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(_io, "_stat", stat)
    assert main(_gate(b, c, flags), {}) == 74
    err = capsys.readouterr().err
    assert f"{b}: cannot be accessed: Permission denied (fix: make the file" in err


def test_doctor_exits_74_and_names_the_unreadable_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    b, c, _ = _pair("evalsig-json", tmp_path)
    real = _io._open
    monkeypatch.setattr(_io, "_open", lambda p, m: _deny_open(p) if Path(p) == c
                        else real(p, m))
    assert main(["doctor", str(b), str(c), "--metric", "accuracy"], {}) == 74
    out = capsys.readouterr().out
    assert f"{c}: exists but cannot be read: Permission denied" in out


def test_read_run_raises_input_read_error(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    b, _, _ = _pair("evalsig-jsonl", tmp_path)
    monkeypatch.setattr(_io, "_open", lambda p, m: _FailingReads(Path(p)))
    with pytest.raises(InputReadError, match="Input/output error") as info:
        read_run(b)
    assert info.value.exit_code == 74 and info.value.path == str(b)


@pytest.mark.parametrize(("make", "code", "says"), [
    (lambda d: d / "missing.json", 66, "file not found"),
    (lambda d: (d / "link.json").symlink_to(d / "gone.json") or d / "link.json", 66,
     "symbolic link to a missing file"),
    (lambda d: d / "b.json" / "x.json", 66, "file not found"),  # a file used as a directory
    (lambda d: d, 65, "is a directory, a run file was expected"),
])
def test_missing_files_stay_66_and_a_directory_stays_65(
        make: Callable[[Path], Path], code: int, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A directory is readable: it is the wrong input (65, "pass the log file itself"), not a
    # failing disk. "b.json/x.json" (ENOTDIR) is a path that cannot exist: not found.
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    bad = make(tmp_path)
    assert main(_gate(bad, c, ["--metric", "accuracy"]), {}) == code
    err = capsys.readouterr().err
    assert says in err and str(bad) in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["pipe", "device"])
def test_a_pipe_or_device_is_refused_before_it_is_read_twice(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `evalsig compare <(cat b.jsonl) c.jsonl`: detection consumed the pipe's head and the
    # reader saw the rest: "invalid JSON at line 1: Extra data" (65), or, when the cut fell on
    # a line end, a run silently missing its first items. /dev/null was "file is empty".
    if kind == "pipe":
        bad = tmp_path / "fifo"
        os.mkfifo(bad)
    else:
        bad = Path(os.devnull)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    assert main(["compare", str(bad), str(c), "--metric", "accuracy"], {}) == 64
    err = capsys.readouterr().err
    assert f"{bad} is a {kind}, not a run file" in err and "save the run to a file" in err
    assert err.count("\n") == 1
