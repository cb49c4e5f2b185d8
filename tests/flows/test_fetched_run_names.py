"""A run fetched from a store is named by its URI, never by the temporary copy read.

Baselines from the store and candidates given as s3:// URIs are read from a local copy under
/tmp/evalsig-*/: a bad file's one-line error named that copy (which the operator cannot find,
and which says nothing of the object at fault), and every report's "file" row (the PR
comment, report.json's `source`) showed the temporary path instead of the stored object.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_bad_s3_candidate_is_named_by_its_uri(s3_uri: str) -> None:
    from evalsig_flows.flows import gate_flow

    open_store(s3_uri).put("incoming/bad.json", b'{"not": "a run"}')
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=f"{s3_uri}/incoming/bad.json", metric="accuracy",
                      min_delta=0.005, store=s3_uri, name="fetched-bad", return_state=True)
    assert state.is_failed()
    assert state.message.startswith(f"INPUT ERROR (exit 65): {s3_uri}/incoming/bad.json: ")
    assert "/tmp/" not in state.message


def test_reports_name_the_stored_baseline_and_the_s3_candidate(s3_uri: str) -> None:
    from evalsig_flows.flows import gate_flow

    store = open_store(s3_uri)
    seed_baseline(store)
    store.put("incoming/cand.json", (EXAMPLES / "candidate.json").read_bytes())
    state = gate_flow(baseline=None, candidate=f"{s3_uri}/incoming/cand.json", suite="demo",
                      task="qa", metric="accuracy", cluster="passage_id", min_delta=0.005,
                      store=s3_uri, name="fetched-names", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    key = result["report"]["json"].removeprefix(f"{s3_uri}/")
    report = json.loads(store.get(key))
    assert report["baseline"]["source"] == result["baseline"]["uri"]
    assert report["baseline"]["source"].startswith(f"{s3_uri}/baselines/demo/qa/accuracy/")
    assert report["candidate"]["source"] == f"{s3_uri}/incoming/cand.json"
    assert "/tmp/" not in store.get(str(Path(key).with_name("report.md"))).decode()
