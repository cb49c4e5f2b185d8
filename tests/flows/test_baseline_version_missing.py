"""A pointer that names a missing version is store damage: a storage error (74) with the fix.

It was "INPUT NOT FOUND (exit 66): .../versions/<sha>.json: object not found", the answer to a
wrong path the user typed, with no word that the store's own pointer names it or how to
restore it (the same damage as a version whose bytes changed, which is already a storage
error with that fix).
"""

from __future__ import annotations

import pytest

from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_gate_against_a_pointer_to_a_deleted_version_is_a_storage_error(s3_uri: str) -> None:
    from evalsig_flows.flows import gate_flow
    from evalsig_flows.s3 import S3Store

    store = open_store(s3_uri)
    assert isinstance(store, S3Store)
    seeded = seed_baseline(store)
    version = seeded.pointer.current.key
    store.client().delete_object(Bucket=store.bucket, Key=f"{store.prefix}/{version}")
    state = gate_flow(baseline=None, candidate=str(EXAMPLES / "candidate.json"), suite="demo",
                      task="qa", metric="accuracy", min_delta=0.005, store=s3_uri,
                      name="version-missing", return_state=True)
    assert state.is_failed() and state.name == "Failed"  # decided nothing
    assert state.message.startswith(f"STORAGE ERROR (exit 74): {store.url(version)}: "), \
        state.message
    assert "current.json names this version" in state.message, state.message
    assert "restore" in state.message and "\n" not in state.message
