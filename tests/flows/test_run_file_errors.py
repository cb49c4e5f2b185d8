"""A run file a flow cannot read is the core's one line (`evalsig_core.readers.os_error`) with
the flow's own fixes: the flows restated its errno rules (missing 66, a directory 65, else 74)
and lost its reasons and per-errno fixes ("candidate run not found", no OS reason; an I/O error
said "check the file's permissions"). Task functions run without a Prefect server (`.fn`).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, InputNotFoundError, InputReadError
from evalsig_flows import tasks
from tests.conftest import EXAMPLES, SHARED_FIXTURES


def _baseline(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        tasks.resolve_baseline.fn(str(path), "file:///unused", "s", "t", "m")
    return info.value


def test_a_missing_baseline_names_the_os_reason_and_the_flow_fix(tmp_path: Path) -> None:
    error = _baseline(tmp_path / "Run.json")
    assert type(error) is InputNotFoundError and error.exit_code == 66
    assert str(error).startswith(f"{tmp_path / 'Run.json'}: baseline run not found (No such "
                                 "file or directory) (fix: check the path or URI")


def test_a_directory_that_is_no_helm_run_gets_the_cores_fix(tmp_path: Path) -> None:
    # a flow takes a HELM run directory (it packs it into one archive), so the core's fix
    # for any other directory holds in a flow too: the run files it holds, one of them
    error = _baseline(SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline")
    assert error.exit_code == 65 and "the baseline run is a directory" in error.message
    assert error.hint is not None and error.hint.startswith(
        "pass the log file itself: the directory holds samples_passage_gen_")
    assert _baseline(tmp_path).hint == ("pass the log file itself (a HELM run directory must "
                                        "contain per_instance_stats.json)")


def test_an_io_error_reading_the_candidate_gets_the_cores_fix_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: Path, *args: Any, **kw: Any) -> bytes:
        raise OSError(errno.EIO, "Input/output error", str(self))

    monkeypatch.setattr(Path, "read_bytes", failing)
    with pytest.raises(InputReadError) as info:
        tasks.store_candidate.fn(str(EXAMPLES / "candidate.json"), tmp_path.as_uri(), "demo")
    assert info.value.exit_code == 74
    assert "candidate run cannot be read: Input/output error" in info.value.message
    assert info.value.hint is not None and "storage failed while reading" in info.value.hint
