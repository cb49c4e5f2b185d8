"""Run files named by a local path or file:// URI are read where the store would read them.

`file://./runs/b.json` is the relative form the stores accept (the default store is
`file://./.evalsig-store`), but fetching a run dropped the `.` and read `/runs/b.json` at the
file system's root. A relative path with a colon (`run-10:00.json`) was taken for a URI of
scheme `run-10` and refused as an unsupported store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")


def _gate(tmp_path: Path, baseline: str, candidate: str) -> object:
    from evalsig_flows.flows import gate_flow

    return gate_flow(baseline=baseline, candidate=candidate, metric="accuracy",
                     cluster="passage_id", min_delta=0.005, store=(tmp_path / "s").as_uri(),
                     name="local-uris", return_state=True)


def test_a_relative_file_uri_is_read_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runs").mkdir()
    shutil.copy(EXAMPLES / "baseline.json", tmp_path / "runs" / "b.json")
    shutil.copy(EXAMPLES / "candidate.json", tmp_path / "runs" / "c.json")
    monkeypatch.chdir(tmp_path)
    state = _gate(tmp_path, "file://./runs/b.json", "file://./runs/c.json")
    assert state.is_completed(), state.message  # type: ignore[attr-defined]


def test_a_relative_path_with_a_colon_is_a_file_not_a_uri_scheme(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(EXAMPLES / "baseline.json", tmp_path / "base-10:00.json")
    shutil.copy(EXAMPLES / "candidate.json", tmp_path / "cand-10:05.json")
    monkeypatch.chdir(tmp_path)
    state = _gate(tmp_path, "base-10:00.json", "cand-10:05.json")
    assert state.is_completed(), state.message  # type: ignore[attr-defined]
