"""A long name or key in an error line is quoted short: its first 60 characters, "…", its length.

Before, `key_segment` (and every check echoing a user-supplied name, key or URI) printed the
whole value: a 300-character task name made a 600-character "one-line" error (twice over in the
nightly flow, which names the entry by its task too). The keys themselves keep whole names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import UsageError
from evalsig_flows.baselines import baseline_prefix, promote, read_pointer
from evalsig_flows.store import Store, check_store_uri, open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import suite_file

LONG = "t" * 300
SHORT = f"{'t' * 60!r}… (300 characters)"


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return open_store(tmp_path.as_uri() if request.param == "file"
                      else request.getfixturevalue("s3_uri"))


def _short_line(line: str, limit: int = 400) -> None:
    assert LONG not in line and "t" * 61 not in line, line
    assert len(line) < limit and "\n" not in line, line


def test_a_promotion_of_an_over_long_name_quotes_it_short(store: Store) -> None:
    with pytest.raises(UsageError) as err:
        promote(store, suite="demo", task=LONG, metric="accuracy",
                data=(EXAMPLES / "baseline.json").read_bytes(), ext="json",
                expected_base=None, decision_id="d", source={})
    line = err.value.one_line()
    assert line.startswith(f"invalid task name {SHORT}: empty, '.', '..' or longer than 200")
    _short_line(line)
    assert store.list("") == []  # nothing written


def test_a_long_name_that_fits_keeps_its_whole_name_in_its_key(store: Store) -> None:
    name = "m" * 150
    promote(store, suite="demo", task="qa", metric=name, ext="json", expected_base=None,
            data=(EXAMPLES / "baseline.json").read_bytes(), decision_id="d", source={})
    pointer, _ = read_pointer(store, baseline_prefix("demo", "qa", name))
    assert pointer is not None and pointer.metric == name
    assert pointer.current.key.startswith(f"baselines/demo/qa/{name}/versions/")


def test_a_bad_store_key_or_uri_is_quoted_short(store: Store) -> None:
    with pytest.raises(UsageError) as err:
        store.get(f"a/../{LONG}")
    assert err.value.one_line().startswith(
        f"invalid store key {'a/../' + 't' * 55!r}… (305 characters)")
    with pytest.raises(UsageError) as err:
        check_store_uri(f"gs://{LONG}")
    assert err.value.one_line().startswith(
        f"unsupported store URI {'gs://' + 't' * 55!r}… (305 characters); use file:///path")


@pytest.mark.usefixtures("prefect_api")
def test_the_flows_name_an_over_long_task_short(store: Store, tmp_path: Path) -> None:
    from evalsig_flows.flows import ci_gate_flow, nightly_gate_flow

    gate = ci_gate_flow(repo="acme/model", pr_number=3, head_sha="ab" * 20, task=LONG,
                        metric="accuracy", min_delta=0.005, store=store.uri,
                        candidate=str(EXAMPLES / "candidate.json"), return_state=True)
    assert gate.is_failed() and "USAGE ERROR (exit 64)" in gate.message, gate.message
    assert f"invalid task name {SHORT}" in gate.message
    _short_line(gate.message or "")

    suite = suite_file(tmp_path / "suite.toml", "demo", {
        "task": LONG, "metric": "accuracy", "candidate": str(EXAMPLES / "candidate.json")})
    nightly = nightly_gate_flow(suite_file=suite, store=store.uri, return_state=True)
    assert nightly.is_failed() and "USAGE ERROR (exit 64)" in nightly.message, nightly.message
    # the entry is named after its task ("<task>-<metric>"): both quoted short
    assert f"entry {'t' * 60!r}… (309 characters): invalid task name {SHORT}" in \
        nightly.message
    _short_line(nightly.message or "", limit=600)
