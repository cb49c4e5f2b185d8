"""A HELM run directory through the flows: gated, stored and promoted as one HELM run archive.

A flow gates, stores and promotes one run file, and a HELM run is a directory: given as a
flow's baseline or candidate it was refused (INPUT ERROR, exit 65, "gate a HELM run directory
with the evalsig CLI"), so a team whose harness is HELM could not use the flows. Now a local
directory, a file:// URI of one or a store key prefix holding one is packed into its
deterministic `<run>.helm.tar` (the same directory, the same SHA-256), which is what is read,
stored under candidates/ and promoted into baselines/.../versions/<sha256>.helm.tar.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.readers import pack_helm_run
from evalsig_flows.baselines import baseline_prefix, fetch_baseline, promote, read_pointer
from evalsig_flows.store import Store, open_store
from tests.conftest import SHARED_FIXTURES
from tests.flows.conftest import suite_file

pytestmark = pytest.mark.usefixtures("prefect_api")

HELM = SHARED_FIXTURES / "helm-0.5.16"
SHA = "feed0000000000000000000000000000000000aa"
PREFIX = baseline_prefix("helm", "passage", "exact_match")
FILES = ("per_instance_stats.json", "scenario_state.json", "run_spec.json")


def archive(run_dir: Path) -> bytes:
    out = io.BytesIO()
    pack_helm_run(run_dir, out)
    return out.getvalue()


def seed(store: Store) -> str:
    """The HELM baseline run as the entry's first stored baseline; returns its SHA-256."""
    result = promote(store, suite="helm", task="passage", metric="exact_match",
                     data=archive(HELM / "baseline"), ext="helm.tar", expected_base=None,
                     decision_id="seed", source={})
    return result.pointer.current.version_sha256


def ci(store_uri: str, candidate: str, pr: int, **kw: Any) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/helm", pr_number=pr, head_sha=SHA, task="passage",
                        metric="exact_match", cluster="passage_id", min_delta=0.005,
                        candidate=candidate, suite="helm", store=store_uri,
                        return_state=True, **kw)


def upload(store: Store, prefix: str, run_dir: Path, names: tuple[str, ...] = FILES) -> None:
    for name in names:
        store.put(f"{prefix}/{name}", (run_dir / name).read_bytes())


def test_a_gate_flow_takes_two_helm_run_directories(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    state = gate_flow(baseline=str(HELM / "baseline"), candidate=(HELM / "candidate").as_uri(),
                      metric="exact_match", cluster="passage_id", min_delta=0.005,
                      store=tmp_path.as_uri(), name="helm-dirs", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["verdict"] == "ALLOW" and result["delta"] == pytest.approx(0.25)
    stored = open_store(tmp_path.as_uri()).get(result["candidate"]["key"])
    assert result["candidate"]["key"].endswith("/candidate.helm.tar")
    assert stored == archive(HELM / "candidate")
    assert result["candidate"]["sha256"] == hashlib.sha256(stored).hexdigest()
    assert result["baseline"]["sha256"] == hashlib.sha256(archive(HELM / "baseline")).hexdigest()
    report = json.loads(Path(result["report"]["json"].removeprefix("file://")).read_text())
    # the report names the run the user gave and the SHA-256 of what was stored
    assert report["candidate"]["source"] == (HELM / "candidate").as_uri()
    assert report["candidate"]["sha256"] == result["candidate"]["sha256"]
    assert not Path(result["candidate"]["path"]).exists()  # the temporary archive is removed


def test_a_helm_directory_is_gated_stored_and_promoted_as_one_archive(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow, promote_baseline_flow

    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    base_sha = seed(store)
    run = tmp_path / "mmlu:subject=anatomy,model=x"  # a HELM run's name
    shutil.copytree(HELM / "candidate", run)
    state = ci(uri, str(run), 5)
    assert state.is_completed(), state.message
    assert state.result()["baseline"]["sha256"] == base_sha

    promoted = promote_baseline_flow(repo="acme/helm", commit=SHA, store=uri,
                                     return_state=True)
    assert promoted.is_completed(), promoted.message
    pointer, _ = read_pointer(store, PREFIX)
    assert pointer is not None and pointer.previous is not None
    want = archive(HELM / "candidate")
    sha = hashlib.sha256(want).hexdigest()
    assert pointer.current.key == f"{PREFIX}/versions/{sha}.helm.tar"
    assert fetch_baseline(store, PREFIX)[1] == want  # one immutable object: the archive
    # the promoted archive is the stored baseline a later gate reads: the old baseline's run
    # regresses against it, and the candidate itself is the very same file (E116)
    again = gate_flow(baseline=None, candidate=str(HELM / "baseline"), metric="exact_match",
                      cluster="passage_id", min_delta=0.005, store=uri, suite="helm",
                      task="passage", name="helm-again", return_state=True)
    assert again.is_failed() and again.message.startswith("REJECT:"), again.message
    same = gate_flow(baseline=None, candidate=str(run), metric="exact_match", min_delta=0.005,
                     store=uri, suite="helm", task="passage", name="helm-same",
                     return_state=True)
    assert same.message.startswith("DOCTOR: E116 baseline and candidate are the same file")


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_helm_run_under_an_s3_prefix_is_gated_and_promoted(s3_uri: str, slash: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    store = open_store(s3_uri)
    seed(store)
    upload(store, "incoming/run-1", HELM / "candidate")
    state = ci(s3_uri, store.url("incoming/run-1") + slash, 7 if slash else 8)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["uri"] == store.url("incoming/run-1") + slash
    assert cand["key"].endswith("/run-1.helm.tar")
    assert store.get(cand["key"]) == archive(HELM / "candidate")
    promoted = promote_baseline_flow(repo="acme/helm", commit=SHA, store=s3_uri,
                                     return_state=True)
    assert promoted.is_completed(), promoted.message
    sha = hashlib.sha256(archive(HELM / "candidate")).hexdigest()
    assert promoted.result()["entries"][0]["version_key"] == f"{PREFIX}/versions/{sha}.helm.tar"


def test_an_s3_prefix_without_per_instance_stats_is_not_found(s3_uri: str) -> None:
    store = open_store(s3_uri)
    seed(store)
    upload(store, "incoming/half", HELM / "candidate", ("scenario_state.json",))
    state = ci(s3_uri, store.url("incoming/half") + "/", 9)
    assert state.is_failed()
    assert state.message.startswith("INPUT NOT FOUND (exit 66): "), state.message
    assert "check the path or URI" in state.message


def test_a_prefix_without_scenario_state_names_the_missing_file(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(HELM / "candidate" / "per_instance_stats.json", run)
    state = gate_flow(baseline=str(HELM / "baseline"), candidate=str(run),
                      metric="exact_match", cluster="passage_id", min_delta=0.005,
                      store=(tmp_path / "store").as_uri(), name="helm-no-state",
                      return_state=True)
    assert state.is_failed()
    # the member of the archive packed from it is named as the directory's file
    assert state.message.startswith(f"INPUT ERROR (exit 65): {run}/scenario_state.json: "
                                    "--cluster needs scenario_state.json"), state.message


def test_a_per_instance_stats_file_is_kept_with_the_files_beside_it(tmp_path: Path) -> None:
    # A HELM eval command writes runs/<suite>/<run>/per_instance_stats.json and its siblings;
    # `output` names the stats file. Only that file was stored and promoted: the gate read
    # the cluster labels from scenario_state.json beside it, but every later gate against the
    # promoted baseline failed "--cluster needs scenario_state.json next to the stats".
    import sys

    from evalsig_flows.flows import gate_flow, promote_baseline_flow

    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    seed(store)
    cmd = [sys.executable, "-c", "import shutil, sys; shutil.copytree(sys.argv[1], "
           "sys.argv[2] + '/runs/v1/mmlu:model=x')", str(HELM / "candidate"), "{output_dir}"]
    state = ci(uri, None, 11, command=cmd, output="per_instance_stats.json",  # type: ignore[arg-type]
               timeout=60)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["key"].endswith("/mmlu-model-x.helm.tar")
    assert store.get(cand["key"]) == archive(HELM / "candidate")
    assert promote_baseline_flow(repo="acme/helm", commit=SHA, store=uri,
                                 return_state=True).is_completed()
    again = gate_flow(baseline=None, candidate=str(HELM / "baseline" / "per_instance_stats.json"),
                      metric="exact_match", cluster="passage_id", min_delta=0.005, store=uri,
                      suite="helm", task="passage", name="helm-clustered", return_state=True)
    assert again.message.startswith("REJECT:"), again.message  # clustered: labels were kept


def test_an_s3_per_instance_stats_object_is_fetched_with_its_run_files(s3_uri: str) -> None:
    store = open_store(s3_uri)
    seed(store)
    upload(store, "incoming/run-2", HELM / "candidate")
    state = ci(s3_uri, store.url("incoming/run-2/per_instance_stats.json"), 12)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["key"].endswith("/run-2.helm.tar")
    assert store.get(cand["key"]) == archive(HELM / "candidate")


def test_a_nightly_suite_gates_a_helm_directory_against_its_stored_archive(
        tmp_path: Path) -> None:
    from evalsig_flows.flows import nightly_gate_flow

    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    suite = suite_file(tmp_path / "suite.toml", "helm", {
        "task": "passage", "metric": "exact_match", "candidate": str(HELM / "candidate")})
    state = nightly_gate_flow(suite_file=suite, store=uri, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["entries"] == {"passage-exact_match": "ALLOW"}


def test_the_copies_and_archives_of_helm_runs_are_removed(
        s3_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from evalsig_flows.flows import gate_flow

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # this test's temporary directory
    store = open_store(s3_uri)
    seed(store)
    upload(store, "incoming/run-3", HELM / "candidate")
    for baseline in (None, str(HELM / "baseline"), store.url("incoming/run-3")):
        state = gate_flow(baseline=baseline, candidate=store.url("incoming/run-3"),
                          metric="exact_match", min_delta=0.005, store=s3_uri, suite="helm",
                          task="passage", name="helm-temp", return_state=True)
        assert state.message.split(":")[0] in ("ALLOW", "REJECT", "DOCTOR"), state.message
        assert [p.name for p in tmp.iterdir()] == []
