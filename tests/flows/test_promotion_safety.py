"""Promotion never promotes the wrong baseline, never hides a refusal, never reports a failure
as success. Through Prefect (the session's harness) against file:// stores.

Tasks `qa` and `math` of suite `demo` share the example baseline; candidate.json is ALLOW
against it, regressed.json REJECT (deployments/examples/make_examples.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, StorageError
from evalsig_core.audit import AUDIT_HEAD_KEY, AuditRecord
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, fetch_baseline, promote, read_pointer
from evalsig_flows.ci_records import read_records
from evalsig_flows.store import LocalStore, Store, open_store
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")

SHA = "abad1dea0123456789abcdef0123456789abcdef"
ALLOW, REJECT = EXAMPLES / "candidate.json", EXAMPLES / "regressed.json"
BASELINE = (EXAMPLES / "baseline.json").read_bytes()


def seed(store: Store, suite: str = "demo", task: str = "qa") -> None:
    promote(store, suite=suite, task=task, metric="accuracy", data=BASELINE, ext="json",
            expected_base=None, decision_id=f"seed-{suite}-{task}", source={"seeded": True})


@pytest.fixture
def uri(tmp_path: Path) -> str:
    uri = (tmp_path / "store").as_uri()
    for task in ("qa", "math"):
        seed(open_store(uri), task=task)
    return uri


def gate(uri: str, task: str, candidate: Path, suite: str = "demo") -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/model", pr_number=4, head_sha=SHA, task=task,
                        metric="accuracy", cluster="passage_id", min_delta=0.005,
                        candidate=str(candidate), suite=suite, store=uri, resamples=999,
                        return_state=True)


def promote_flow(uri: str, **kw: Any) -> Any:
    from evalsig_flows.flows import promote_baseline_flow

    return promote_baseline_flow(store=uri, return_state=True,
                                 **({"repo": "acme/model", "commit": SHA} | kw))


def newest(store: Store) -> AuditRecord:
    return next(recent_records(store))[1]


def current(store: Store, task: str) -> str:
    pointer = read_pointer(store, baseline_prefix("demo", task, "accuracy"))[0]
    assert pointer is not None
    return pointer.current.version_sha256


# -- every refusal is audited, with one line and its exit code ------------------------------

def _corrupt_record(store: Store) -> None:
    store.put(f"ci/acme/model/commits/{SHA}/demo/qa/accuracy.json", b"{not json")


def _delete_candidate(store: Store) -> None:
    [rec] = read_records.fn(store.uri, "acme/model", SHA, None, (None, None, None))
    assert isinstance(store, LocalStore) and rec.candidate_key
    (store.root / rec.candidate_key).unlink()


@pytest.mark.parametrize(("params", "spoil", "label", "code", "says"), [
    ({"commit": "NOTHEX"}, None, "USAGE ERROR", 64, "invalid commit SHA 'NOTHEX'"),
    ({"repo": "acme/.."}, None, "USAGE ERROR", 64, "invalid repo 'acme/..'"),
    ({}, _corrupt_record, "INPUT ERROR", 65, "not a CI gate record"),
    ({}, _delete_candidate, "INPUT NOT FOUND", 66, "object not found: the candidate gated "
     "for demo/qa/accuracy is gone from the store (fix: gate the commit again, then promote"),
])
def test_every_kind_of_refusal_is_audited_with_one_line_and_its_exit_code(
        uri: str, params: dict[str, Any], spoil: Any, label: str, code: int,
        says: str) -> None:
    assert gate(uri, "qa", ALLOW).is_completed()
    store = open_store(uri)
    if spoil is not None:
        spoil(store)
    state = promote_flow(uri, **params)
    assert state.is_failed() and state.message.startswith(f"{label} (exit {code}): ")
    assert says in state.message and "\n" not in state.message
    refusal = newest(store)
    assert (refusal.decision, refusal.verdict, refusal.exit_code) == (
        "promotion", "REFUSED", code)
    assert says in refusal.context["reason"]
    assert state.result(raise_on_failure=False).result["decision_id"] == refusal.decision_id
    assert current(store, "qa") == current(store, "math")  # still the seeded baseline


def test_a_refusal_that_could_not_be_audited_says_so(uri: str, tmp_path: Path) -> None:
    assert gate(uri, "qa", REJECT).is_failed()
    store = open_store(uri)
    head = tmp_path / "store" / AUDIT_HEAD_KEY
    head.unlink()
    head.mkdir()  # the trail cannot be read or appended: a real store fault, even as root
    state = promote_flow(uri)
    assert state.is_failed() and state.message.startswith("REFUSED (exit 1): ")
    assert "this refusal was NOT audited: " in state.message
    assert state.result(raise_on_failure=False).result["audited"] is False
    assert state.name == "Failed"  # not in the trail: a redelivered event runs it again
    shutil.rmtree(head)
    assert store.head(AUDIT_HEAD_KEY) is None


# -- the candidate is read once; nothing wrong is ever pointed at ----------------------------

def test_each_candidate_is_read_once_per_promotion(
        uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for task in ("qa", "math"):
        assert gate(uri, task, ALLOW).is_completed()
    reads: Counter[str] = Counter()
    real_get = LocalStore.get

    def counting_get(self: LocalStore, key: str) -> bytes:
        reads[key] += 1
        return real_get(self, key)

    monkeypatch.setattr(LocalStore, "get", counting_get)
    state = promote_flow(uri)
    assert state.is_completed(), state.message
    candidates = {k: n for k, n in reads.items() if k.startswith("candidates/")}
    assert len(candidates) == 1 and list(candidates.values()) == [2]  # one file, two entries
    assert {e["status"] for e in state.result()["entries"]} == {"promoted"}


def test_a_pointer_under_another_entrys_prefix_is_refused_not_used(tmp_path: Path) -> None:
    """E.g. `QA` and `qa` folded into one folder by a case-insensitive file system."""
    store = open_store(tmp_path.as_uri())
    seed(store, task="qa")
    promote(store, suite="demo", task="math", metric="accuracy", data=REJECT.read_bytes(),
            ext="json", expected_base=None, decision_id="m", source={})
    qa_pointer = store.get(baseline_prefix("demo", "qa", "accuracy") + "/current.json")
    store.put(baseline_prefix("demo", "math", "accuracy") + "/current.json", qa_pointer)
    with pytest.raises(InputError, match="the baseline pointer of demo/qa/accuracy, not of"):
        fetch_baseline(store, baseline_prefix("demo", "math", "accuracy"))
    with pytest.raises(InputError, match="not of the entry its key names"):
        promote(store, suite="demo", task="math", metric="accuracy", data=ALLOW.read_bytes(),
                ext="json", expected_base=None, decision_id="x", source={})


def test_a_damaged_stored_version_is_never_pointed_at(tmp_path: Path) -> None:
    store = open_store(tmp_path.as_uri())
    seed(store)
    data = ALLOW.read_bytes()
    key = f"{baseline_prefix('demo', 'qa', 'accuracy')}/versions/" \
          f"{hashlib.sha256(data).hexdigest()}.json"
    store.put(key, b"damaged")
    before = current(store, "qa")
    with pytest.raises(StorageError, match="does not match the SHA-256 its key names"):
        promote(store, suite="demo", task="qa", metric="accuracy", data=data, ext="json",
                expected_base=before, decision_id="x", source={})
    assert current(store, "qa") == before


def test_entries_differing_only_in_where_a_slash_falls_stay_apart(tmp_path: Path) -> None:
    """Suite `demo/qa` task `x` and suite `demo` task `qa/x` both print as demo/qa/x/..."""
    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    seed(store, suite="demo/qa", task="x")
    seed(store, suite="demo", task="qa/x")
    assert gate(uri, "x", ALLOW, suite="demo/qa").is_completed()
    assert gate(uri, "qa/x", REJECT, suite="demo").is_failed()
    state = promote_flow(uri)
    assert state.is_failed() and "demo/qa%2Fx/accuracy was gated REJECT" in state.message
    assert newest(store).context["entries"] == {"demo%2Fqa/x/accuracy": "ALLOW",
                                                "demo/qa%2Fx/accuracy": "REJECT"}


def test_bytes_promoted_by_another_decision_are_not_audited_as_this_promotion(
        uri: str) -> None:
    gated = gate(uri, "qa", ALLOW)
    assert gated.is_completed()
    store = open_store(uri)
    promote(store, suite="demo", task="qa", metric="accuracy", data=ALLOW.read_bytes(),
            ext="json", expected_base=current(store, "qa"), decision_id="elsewhere",
            source={})
    before = [r.decision_id for _, r in recent_records(store)]
    state = promote_flow(uri, task="qa")
    assert state.is_completed(), state.message
    assert [e["status"] for e in state.result()["entries"]] == ["already-current"]
    assert [r.decision_id for _, r in recent_records(store)] == before  # nothing claimed


def test_an_unforeseen_error_between_pointers_rolls_back_what_moved(
        uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import evalsig_flows.promotion as promotion

    for task in ("qa", "math"):
        assert gate(uri, task, ALLOW).is_completed()
    real = promotion.move_pointer

    def flaky(store: Store, **kw: Any) -> Any:
        if kw["task"] == "qa":  # math goes first (sorted), then this
            raise RuntimeError("client bug")
        return real(store, **kw)

    monkeypatch.setattr(promotion, "move_pointer", flaky)
    state = promote_flow(uri)
    assert state.is_failed() and state.message.startswith("ERROR (exit 70): RuntimeError")
    assert "rolled back: demo/math/accuracy" in state.message
    store = open_store(uri)
    assert current(store, "math") == current(store, "qa")  # the seeded baseline again
    assert newest(store).verdict == "ROLLED-BACK"
    assert [e["entry"] for e in newest(store).context["rolled_back"]] == [
        "demo/math/accuracy"]


class _TwinFirst:
    """A store on which a twin promotion of the same version lands just before our pointer
    write (as when a merge's push and merged-PR events both start a promotion)."""

    def __init__(self, inner: Store, twin: Any) -> None:
        self.inner, self.twin, self.uri = inner, twin, inner.uri

    def put(self, key: str, data: bytes, **kw: Any) -> Any:
        if key.endswith("/current.json") and self.twin is not None:
            twin, self.twin = self.twin, None
            twin()
        return self.inner.put(key, data, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_losing_the_pointer_race_to_the_same_version_is_already_current(
        tmp_path: Path) -> None:
    inner = open_store(tmp_path.as_uri())
    seed(inner)
    base, data = current(inner, "qa"), ALLOW.read_bytes()

    def twin() -> None:
        promote(inner, suite="demo", task="qa", metric="accuracy", data=data, ext="json",
                expected_base=base, decision_id="twin", source={})

    result = promote(_TwinFirst(inner, twin), suite="demo", task="qa",
                     metric="accuracy", data=data, ext="json", expected_base=base,
                     decision_id="us", source={})
    assert result.status == "already-current"
    assert result.pointer.current.decision_id == "twin"
    assert current(inner, "qa") == hashlib.sha256(data).hexdigest()


# -- a gate finishing last never overwrites the decision of a gate started after it ----------

def _record(verdict: str, second: int) -> Any:
    from datetime import UTC, datetime

    from evalsig_flows.ci import GateRecord

    return GateRecord(decision_id=None if verdict == "PENDING" else f"d{second}",
                      verdict=verdict, repo="acme/model", pr_number=4, commit=SHA,
                      suite="demo", task="qa", metric="accuracy",
                      time=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_an_older_gates_verdict_does_not_replace_a_newer_gates_record(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from evalsig_flows.ci_records import record_gate, record_keys

    uri = tmp_path.as_uri() if kind == "file" else request.getfixturevalue("s3_uri")
    old = record_gate.fn(uri, _record("PENDING", 1))     # gate A starts
    new = record_gate.fn(uri, _record("PENDING", 2))     # gate B (a re-run) starts
    assert set(new) == set(record_keys(_record("PENDING", 2)))
    assert set(record_gate.fn(uri, _record("REJECT", 3), replaces=new)) == set(new)  # B ends
    assert record_gate.fn(uri, _record("ALLOW", 4), replaces=old) == {}  # A finishes last
    [rec] = read_records.fn(uri, "acme/model", SHA, None, (None, None, None))
    assert rec.verdict == "REJECT"


def test_a_gate_whose_pending_record_was_replaced_says_so_and_is_not_promoted(
        uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import evalsig_flows.ci as ci
    from evalsig_flows.ci_records import record_gate

    real = ci.run_gate

    def later_gate_starts_meanwhile(*args: Any, **kw: Any) -> Any:
        record_gate.fn(uri, _record("PENDING", 59))
        return real(*args, **kw)

    monkeypatch.setattr(ci, "run_gate", later_gate_starts_meanwhile)
    state = gate(uri, "qa", ALLOW)
    assert state.is_completed() and "a gate of this entry started later replaced" in (
        state.message)
    assert len(state.result()["superseded"]) == 2 and state.result()["recorded"] == []
    refused = promote_flow(uri)
    assert refused.is_failed() and "demo/qa/accuracy was gated PENDING" in refused.message


@pytest.mark.parametrize("tamper", ["other-entry", "misnamed-version", "traversal",
                                    "sha-as-path"])
def test_a_pointer_naming_a_key_that_is_not_its_version_is_refused(uri: str,
                                                                    tamper: str) -> None:
    # The bytes at the key match the pointer's SHA-256 in the first two cases, so a check of
    # the content alone let the gate decide against another entry's (or an unnamed) baseline
    store = open_store(uri)
    qa, math = (baseline_prefix("demo", t, "accuracy") for t in ("qa", "math"))
    sha = hashlib.sha256(BASELINE).hexdigest()
    key, named = {
        "other-entry": (f"{math}/versions/{sha}.json", sha),
        "misnamed-version": (f"{qa}/versions/{'0' * 64}.json", sha),
        "traversal": (f"{qa}/versions/{sha}.json/../../../../math/accuracy/versions/x", sha),
        # the SHA-256 field itself a path, the key built from it as put_version would
        "sha-as-path": (f"{qa}/versions/../../math/accuracy/versions/{sha}.json",
                        f"../../math/accuracy/versions/{sha}")}[tamper]
    if tamper == "misnamed-version":
        store.put(key, BASELINE)
    pointer = json.loads(store.get(f"{qa}/current.json"))
    pointer["current"] |= {"key": key, "version_sha256": named}
    store.put(f"{qa}/current.json", json.dumps(pointer).encode())
    with pytest.raises(InputError) as info:
        fetch_baseline(store, qa)
    err = info.value
    assert err.exit_code == 65 and "not this entry's version" in err.message, err.message
    assert err.path.endswith("qa/accuracy/current.json") and "object versions" in (err.hint or "")
    fetch_baseline(store, math)  # the other entry is untouched


def test_a_version_whose_bytes_differ_from_its_pointer_is_not_retried(uri: str) -> None:
    store = open_store(uri)
    qa = baseline_prefix("demo", "qa", "accuracy")
    sha = hashlib.sha256(BASELINE).hexdigest()
    Path(LocalStore.from_uri(uri).root, f"{qa}/versions/{sha}.json").write_bytes(b"{}")
    with pytest.raises(StorageError) as info:
        fetch_baseline(store, qa)
    assert "does not match the pointer's SHA-256" in info.value.message
    assert getattr(info.value, "permanent", False)  # task retries would read the same bytes
