"""A store directory whose name holds a colon is a directory, never a URI: only
`<scheme>://` with a known scheme (file, s3) is a URI.

Before: `runs:2024` was read as a URI of scheme `runs` ("unsupported store URI" from the flows,
"no store plugin for runs:// URIs" from `evalsig history`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import UsageError
from evalsig_core.cli import main
from evalsig_flows.store import LocalStore, open_store, uri_scheme
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(("uri", "scheme"), [
    ("runs:2024", None), ("./runs:2024", None), ("/tmp/a:b", None), ("C:\\x", None),
    ("a:b/c:d", None), ("file:runs", None), ("file:///tmp/a:b", "file"),
    ("file://./runs:2024", "file"), ("s3://bucket/a:b", "s3"), ("S3://b", "s3"),
    ("gs://b", "gs"),
])
def test_only_scheme_slash_slash_is_a_uri(uri: str, scheme: str | None) -> None:
    assert uri_scheme(uri) == scheme


@pytest.mark.parametrize("name", ["runs:2024", "./runs:2024", "a:b/c", "C:\\x"])
def test_a_relative_directory_with_a_colon_is_a_local_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(name)
    assert isinstance(store, LocalStore) and store.root == (tmp_path / name).resolve()
    store.put("k.json", b"x")
    assert (tmp_path / name / "k.json").read_bytes() == b"x"
    assert LocalStore.from_uri(name).root == store.root


def test_an_absolute_directory_or_file_uri_with_a_colon_is_that_directory(
        tmp_path: Path) -> None:
    assert open_store(str(tmp_path / "a:b")).root == tmp_path / "a:b"  # type: ignore[attr-defined]
    assert open_store((tmp_path / "a:b").as_uri()).root == tmp_path / "a:b"  # type: ignore[attr-defined]


def test_an_unknown_scheme_is_still_refused() -> None:
    with pytest.raises(UsageError, match="unsupported store URI 'gs://b'"):
        open_store("gs://b")


@pytest.mark.usefixtures("prefect_api")
def test_a_gate_flow_writes_to_a_store_named_with_a_colon(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_flows.flows import gate_flow

    monkeypatch.chdir(tmp_path)
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store="runs:2024",
                      name="colon-store", return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["report"]["json"].startswith((tmp_path / "runs:2024").as_uri())
    capsys.readouterr()
    assert main(["history", "--store", "runs:2024"]) == 0  # the CLI reads it too
    assert state.result()["decision_id"] in capsys.readouterr().out
