"""A gate against the store's baseline when none was ever promoted: input not found (66).

It was "INPUT ERROR (exit 65): .../current.json: no baseline promoted yet", the exit code of
bad input data; DESIGN.md's table gives a missing input 66 (as a missing run file or a
missing S3 object already are), and a CI step keyed on the exit code took it for a run the
doctor refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import InputNotFoundError
from evalsig_flows.baselines import baseline_prefix, fetch_baseline
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")


def test_no_baseline_promoted_is_input_not_found_naming_the_pointer_and_the_fix(
        store_uri: str) -> None:
    from evalsig_flows.flows import gate_flow
    from evalsig_flows.outcome import outcome

    store = open_store(store_uri)
    pointer = store.url(baseline_prefix("demo", "qa", "accuracy") + "/current.json")
    with pytest.raises(InputNotFoundError):
        fetch_baseline(store, baseline_prefix("demo", "qa", "accuracy"))
    state = gate_flow(baseline=None, candidate=str(EXAMPLES / "candidate.json"), suite="demo",
                      task="qa", metric="accuracy", min_delta=0.005, store=store_uri,
                      name="no-baseline", return_state=True)
    assert state.is_failed() and state.name == "Failed"  # decided nothing
    assert state.message == (f"INPUT NOT FOUND (exit 66): {pointer}: no baseline promoted "
                             "yet (fix: pass an explicit baseline URI or promote one first)")
    assert outcome(state)["exit_code"] == 66
