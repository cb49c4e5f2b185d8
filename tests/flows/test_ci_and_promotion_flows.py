"""CI gate -> promotion, end to end through Prefect, against file:// and a real S3 (SeaweedFS)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, read_pointer
from evalsig_flows.store import Store, open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")

SHA = "0123456789abcdef0123456789abcdef01234567"
PREFIX = baseline_prefix("demo", "qa", "accuracy")


def artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    uri = tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")
    seed(open_store(uri))
    return uri


def seed(store: Store) -> None:
    seed_baseline(store, source={"seeded": True})


def ci(store_uri: str, candidate: str | None, pr: int, sha: str = SHA, **kw: Any) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/model", pr_number=pr, head_sha=sha, task="qa",
                        metric="accuracy", cluster="passage_id", min_delta=0.005,
                        candidate=candidate, suite="demo", store=store_uri,
                        return_state=True, **kw)


def chain(store: Store) -> list[str]:
    head = store.get(AUDIT_HEAD_KEY)
    assert verify_chain(head, store.get).ok
    return [f"{r.decision}:{r.verdict}" for _, r in recent_records(store)][::-1]


def test_allow_then_promote_then_replay(store_uri: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    pr = 11 if store_uri.startswith("file") else 12
    state = ci(store_uri, str(EXAMPLES / "candidate.json"), pr)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["verdict"] == "ALLOW"
    store = open_store(store_uri)
    stored = json.loads(store.get(result["report"]["json"][len(store.uri) + 1:]))
    assert stored["verdict"] == "ALLOW"
    key = f"ci-acme-model-pr-{pr}-demo-qa-accuracy"  # one key per gated entry
    assert "EVALSIG release gate" in artifacts(f"evalsig-report-{key}")[0].data
    assert artifacts(f"evalsig-entries-{key}")[0].type == "table"
    assert result["report"]["json"] in artifacts(f"evalsig-link-{key}")[0].data

    before, _ = read_pointer(store, PREFIX)
    promoted = promote_baseline_flow(repo="acme/model", commit=SHA, store=store_uri,
                                     return_state=True)
    assert promoted.is_completed(), promoted.message
    summary = promoted.result()
    assert summary["status"] == "promoted"
    [entry] = summary["entries"]
    assert (entry["entry"], entry["status"]) == ("demo/qa/accuracy", "promoted")
    assert entry["version_sha256"] == result["candidate"]["sha256"]
    assert entry["previous_sha256"] == before.current.version_sha256
    replay = promote_baseline_flow(repo="acme/model", pr_number=pr, store=store_uri,
                                   return_state=True)
    assert replay.is_completed() and replay.result()["status"] == "already-current"
    assert chain(store) == ["gate:ALLOW", "promotion:PROMOTED"]


def test_a_rejected_candidate_is_never_promoted(store_uri: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    pr = 21 if store_uri.startswith("file") else 22
    state = ci(store_uri, str(EXAMPLES / "regressed.json"), pr)
    assert state.is_failed() and state.message.startswith("REJECT:")
    assert state.name == "Rejected"
    store = open_store(store_uri)
    before = read_pointer(store, PREFIX)[0]
    refused = promote_baseline_flow(repo="acme/model", commit=SHA, store=store_uri,
                                    return_state=True)
    assert refused.is_failed() and refused.message.startswith("REFUSED (exit 1)")
    assert refused.name == "Refused"  # audited: a decision
    assert "gated REJECT" in refused.message
    assert read_pointer(store, PREFIX)[0] == before
    assert chain(store) == ["gate:REJECT", "promotion:REFUSED"]


def test_promotion_without_a_gate_is_refused(tmp_path: Path) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    state = promote_baseline_flow(repo="acme/model", commit="feedbeef", store=tmp_path.as_uri(),
                                  return_state=True)
    assert state.is_failed() and "no CI gate decision" in state.message


def test_a_gate_without_a_pr_keys_its_artifacts_by_commit(tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    state = ci(uri, str(EXAMPLES / "candidate.json"), None)  # type: ignore[arg-type]
    assert state.is_completed(), state.message
    key = f"ci-acme-model-commit-{SHA[:12]}-demo-qa-accuracy"  # was ci-acme-model-pr-None-...
    assert "EVALSIG release gate" in artifacts(f"evalsig-report-{key}")[0].data


def test_a_candidate_produced_by_a_command_is_ingested(tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    src = EXAMPLES / "candidate.json"
    cmd = [sys.executable, "-c", "import os, shutil, sys; os.makedirs('logs');"
           f"shutil.copy({str(src)!r}, os.path.join(sys.argv[1], 'logs', 'run.json'))",
           "{output_dir}"]
    state = ci(uri, None, 31, command=cmd, output="*.json", timeout=60)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["key"].startswith("candidates/demo/")
    assert open_store(uri).get(cand["key"]) == src.read_bytes()


def test_a_failing_command_fails_the_flow_with_an_input_error(tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    state = ci(uri, None, 32, command=[sys.executable, "-c", "raise SystemExit(3)"],
               timeout=60)
    assert state.is_failed() and state.message.startswith("INPUT ERROR (exit 65)")
    assert "exited 3" in state.message


def test_a_candidate_given_as_an_s3_uri_is_fetched_and_verified(s3_uri: str) -> None:
    store = open_store(s3_uri)
    seed(store)
    store.put("incoming/run.json", (EXAMPLES / "candidate.json").read_bytes())
    state = ci(s3_uri, store.url("incoming/run.json"), 61)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["uri"] == store.url("incoming/run.json")
    assert store.get(cand["key"]) == (EXAMPLES / "candidate.json").read_bytes()


def test_a_gate_that_fails_midway_leaves_no_older_allow_promotable(tmp_path: Path) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    assert ci(uri, str(EXAMPLES / "candidate.json"), 71).is_completed()  # an ALLOW for PR 71
    broken = ci(uri, str(tmp_path / "missing.json"), 71, sha="feedbeef")  # a new push fails
    assert broken.is_failed() and broken.message.startswith("INPUT NOT FOUND (exit 66)")
    assert broken.name == "Failed"  # decided nothing: a redelivery re-runs it
    state = promote_baseline_flow(repo="acme/model", pr_number=71, store=uri,
                                  return_state=True)
    assert state.is_failed() and "gated PENDING" in state.message


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_a_candidate_uri_naming_no_object_says_what_to_check(kind: str, tmp_path: Path,
                                                             request: pytest.FixtureRequest
                                                             ) -> None:
    # before: "INPUT NOT FOUND (exit 66): s3://.../incoming/Run.json: object not found" (or
    # ".../Run.json: candidate run not found" in a file store), with no fix
    uri = request.getfixturevalue("s3_uri") if kind == "s3" else (tmp_path / "store").as_uri()
    store = open_store(uri)
    seed(store)
    store.put("incoming/run.json", (EXAMPLES / "candidate.json").read_bytes())
    state = ci(uri, store.url("incoming/Run.json"), 62)
    assert state.is_failed() and state.message.startswith("INPUT NOT FOUND (exit 66): ")
    assert "(fix: check the path or URI: names are case-sensitive" in state.message, \
        state.message
    assert "Run.json: " in state.message
