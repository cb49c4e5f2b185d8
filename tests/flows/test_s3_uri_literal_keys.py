"""S3 keys are literal: `#` and `?` in an s3:// URI are part of the key, never a fragment or
query (S3 keys may hold them; the AWS CLI reads `s3://b/run#2.json` as key `run#2.json`).

urlparse cut `s3://bucket/x/run#2.json` to the key `x/run`: the gate read another object
(or reported `x/run` not found), and a store URI `s3://bucket/team?a` wrote under `team`.
"""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_candidate_key_with_a_hash_is_read_as_named_not_cut_at_it(s3_uri: str) -> None:
    from evalsig_flows.flows import gate_flow
    from evalsig_flows.store import open_store

    store = open_store(s3_uri)
    store.put("incoming/run", (EXAMPLES / "regressed.json").read_bytes())  # the decoy
    store.put("incoming/run#2.json", (EXAMPLES / "candidate.json").read_bytes())
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=f"{s3_uri}/incoming/run#2.json", metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store=s3_uri, name="s3-hash",
                      return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["candidate"]["uri"] == f"{s3_uri}/incoming/run#2.json"


@pytest.mark.parametrize("odd", ["team?a", "team#a"])
def test_a_store_prefix_with_a_query_or_hash_character_is_kept_whole(s3_server: S3Server,
                                                                     odd: str) -> None:
    from evalsig_flows.store import open_store

    store = open_store(f"s3://{s3_server.bucket}/{odd}")
    assert store.url("k.json") == f"s3://{s3_server.bucket}/{odd}/k.json"
