"""The flows' count wordings go through the core's helper (evalsig_core.numfmt.counted):
"1 of 1 entry", "1 attempt", never "1 entries" or "1 attempts"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import StorageError
from evalsig_core.audit import AUDIT_HEAD_KEY
from evalsig_flows.audit_log import append_record
from evalsig_flows.store import LocalStore, ObjectInfo, open_store
from tests.conftest import EXAMPLES
from tests.flows.test_ci_and_promotion_flows import SHA, ci, seed


def _fields(did: str) -> dict[str, Any]:
    return {"decision_id": did, "decision": "gate", "time": datetime.now(UTC),
            "verdict": "ALLOW", "exit_code": 0}


class RacedStore(LocalStore):
    """A file store where another writer appends a record just before each head write."""

    def put(self, key: str, data: bytes, **kw: Any) -> ObjectInfo:
        if key == AUDIT_HEAD_KEY:
            append_record(LocalStore(self.root), _fields(f"other-{datetime.now(UTC):%f}"))
        return super().put(key, data, **kw)


def test_an_append_that_loses_its_only_attempt_says_1_attempt(tmp_path: Path) -> None:
    append_record(LocalStore(tmp_path), _fields("first"))
    with pytest.raises(StorageError) as info:
        append_record(RacedStore(tmp_path), _fields("mine"), max_attempts=1)
    assert "could not append to the audit trail after 1 attempt (too many" in str(info.value)


@pytest.mark.usefixtures("prefect_api")
def test_a_refused_single_entry_promotion_says_1_of_1_entry(tmp_path: Path) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    uri = tmp_path.as_uri()
    seed(open_store(uri))
    assert ci(uri, str(EXAMPLES / "regressed.json"), 71).name == "Rejected"
    refused = promote_baseline_flow(repo="acme/model", commit=SHA, store=uri,
                                    return_state=True)
    assert refused.name == "Refused"
    assert "nothing promoted (1 of 1 entry not ALLOW)" in refused.message
