"""A candidate made by a command is named by its stored copy in reports and in the audit.

The command writes into a temporary directory (removed once the run is read); the report's
"file" row, the result's candidate URI and the audit record's candidate input all named that
temporary file, so the audited decision's input could not be found again, although its
stored copy (candidates/<suite>/<sha16>/...) was right there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from evalsig_flows.audit_log import recent_records
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_command_candidate_is_named_by_its_stored_copy(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    store = open_store((tmp_path / "s").as_uri())
    command = [sys.executable, "-c", "import shutil, sys; shutil.copy(sys.argv[1], 'c.json')",
               str(EXAMPLES / "candidate.json")]
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"), candidate=None,
                      command=command, output="*.json", metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store=store.uri,
                      name="command-names", return_state=True)
    assert state.is_completed(), state.message
    cand = state.result()["candidate"]
    assert cand["uri"] == store.url(cand["key"])
    assert store.get(cand["key"]) == (EXAMPLES / "candidate.json").read_bytes()
    report = json.loads(Path(state.result()["report"]["json"].removeprefix("file://"))
                        .read_text())
    assert report["candidate"]["source"] == cand["uri"]
    [(_, record)] = list(recent_records(store))
    assert {i.role: i.uri for i in record.inputs}["candidate"] == cand["uri"]
