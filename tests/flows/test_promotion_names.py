"""Names LLM evals really use, end to end: gate -> CI record -> promotion -> baseline -> gate.

`pass@1`, lm-eval's `exact_match,strict-match` (metric,filter), `f1/macro`, spaces, unicode:
one escaping (`store.key_segment`) serves the CI records, the baselines and the candidates.
Through Prefect (the session's harness) against file:// and SeaweedFS (S3).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import UsageError
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, promote, read_pointer
from evalsig_flows.ci import GateRecord, record_keys
from evalsig_flows.outcome import outcome
from evalsig_flows.store import Store, key_segment, open_store
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")

SHA = "5eed0123456789abcdef0123456789abcdef0123"
NEXT_SHA = "0ff1ce0123456789abcdef0123456789abcdef01"

# name -> its key segment: quote(name, safe="") (urllib.parse), i.e. A-Za-z0-9._~- kept and
# every other UTF-8 byte %XX ('@' 40, ',' 2C, '/' 2F, ' ' 20, 'ü' C3 BC, '%' 25)
SEGMENTS = {"accuracy": "accuracy", "pass@1": "pass%401", "pass@k": "pass%40k",
            "exact_match,strict-match": "exact_match%2Cstrict-match",
            "f1/macro": "f1%2Fmacro", "code gen ü": "code%20gen%20%C3%BC", "%41": "%2541",
            "~v1_2-3.x": "~v1_2-3.x"}


@pytest.mark.parametrize(("name", "segment"), SEGMENTS.items())
def test_a_name_becomes_one_escaped_segment(name: str, segment: str) -> None:
    assert key_segment("metric", name) == segment


def test_two_different_names_never_share_a_segment() -> None:
    names = [*SEGMENTS, "A", "a", "a b", "a%20b", "f1%2Fmacro", "f1_macro", "é", "e\u0301"]
    segments = [key_segment("task", n) for n in names]
    assert len(set(segments)) == len(names)
    assert not any("/" in s for s in segments)


@pytest.mark.parametrize("name", ["", ".", "..", "\ud800", "x" * 201, "ü" * 34])
def test_an_unkeyable_name_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="invalid task name"):
        key_segment("task", name)


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_records_and_baselines_spell_a_name_the_same_way(name: str) -> None:
    rec = GateRecord(decision_id=None, verdict="PENDING", repo="acme/model", pr_number=None,
                     commit=SHA, suite=name, task=name, metric=name,
                     time=datetime(2026, 1, 1, tzinfo=UTC))
    seg = SEGMENTS[name]
    assert record_keys(rec) == [f"ci/acme/model/commits/{SHA}/{seg}/{seg}/{seg}.json"]
    assert baseline_prefix(name, name, name) == f"baselines/{seg}/{seg}/{seg}"
    assert rec.entry == f"{seg}/{seg}/{seg}"


# -- end to end ------------------------------------------------------------------------------

def runs(tmp_path: Path, metric: str) -> tuple[Path, Path]:
    """The example baseline and ALLOW candidate, relabelled with `metric`."""
    out = []
    for name in ("baseline", "candidate"):
        doc = json.loads((EXAMPLES / f"{name}.json").read_text())
        doc["metric_name"] = metric
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        out.append(path)
    return out[0], out[1]


def seed(store: Store, suite: str, task: str, metric: str, data: bytes) -> None:
    promote(store, suite=suite, task=task, metric=metric, data=data, ext="json",
            expected_base=None, decision_id="seed", source={"seeded": True})


def ci(uri: str, sha: str, suite: str, task: str, metric: str, candidate: Path) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/model", pr_number=8, head_sha=sha, task=task,
                        metric=metric, cluster="passage_id", min_delta=0.005,
                        candidate=str(candidate), suite=suite, store=uri, resamples=999,
                        return_state=True)


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    return str(request.getfixturevalue("s3_uri"))


@pytest.mark.parametrize(("suite", "task", "metric"), [
    ("lm eval", "code gen ü", "exact_match,strict-match"),
    ("humaneval", "pass@k", "pass@1"),
])
def test_llm_eval_names_gate_promote_and_feed_the_next_gate(
        store_uri: str, tmp_path: Path, suite: str, task: str, metric: str) -> None:
    from evalsig_flows.flows import nightly_gate_flow, promote_baseline_flow

    baseline, candidate = runs(tmp_path, metric)
    store = open_store(store_uri)
    seed(store, suite, task, metric, baseline.read_bytes())
    gated = ci(store_uri, SHA, suite, task, metric, candidate)  # fetches the stored baseline
    assert gated.is_completed(), gated.message
    seg = "/".join(key_segment("name", n) for n in (suite, task, metric))
    record = json.loads(store.get(f"ci/acme/model/commits/{SHA}/{seg}.json"))
    assert (record["verdict"], record["metric"]) == ("ALLOW", metric)

    promoted = promote_baseline_flow(repo="acme/model", commit=SHA, store=store_uri,
                                     return_state=True)  # not narrowed
    assert promoted.is_completed(), promoted.message
    [entry] = promoted.result()["entries"]
    assert entry["pointer"] == f"baselines/{seg}/current.json"
    pointer, _ = read_pointer(store, f"baselines/{seg}")
    assert pointer is not None and (pointer.task, pointer.metric) == (task, metric)
    assert pointer.current.version_sha256 == gated.result()["candidate"]["sha256"]

    # the next CI gate and the nightly gate both fetch the promoted baseline
    again = ci(store_uri, NEXT_SHA, suite, task, metric, candidate)
    assert outcome(again)["baseline"]["sha256"] == pointer.current.version_sha256
    (tmp_path / "suite.toml").write_text(f"""
[suite]
name = {json.dumps(suite)}
min_delta = 0.005
cluster = "passage_id"
resamples = 999

[[entry]]
task = {json.dumps(task)}
metric = {json.dumps(metric)}
candidate = "{candidate}"
""")
    nightly_gate_flow(suite_file=str(tmp_path / "suite.toml"), store=store_uri,
                      return_state=True)
    _, suite_record = next(recent_records(store))
    assert suite_record.decision == "suite"
    [fetched] = [i for i in suite_record.inputs if i.role.endswith(":baseline")]
    assert fetched.sha256 == pointer.current.version_sha256
