"""A promotion killed between its writes leaves the old or the new baseline, never a broken one.

The promotion runs in a child process whose store kills it (SIGKILL) just before its k-th
write: 1 version, 2 pointer, 3 audit claim, 4 audit record, 5 audit head, 6 the claim's
`.linked` marker. A replay (e.g. the fresh run a webhook redelivery starts after a run that
ended Failed or Crashed) then completes it, with one PROMOTED record.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import fetch_baseline, read_pointer
from evalsig_flows.store import open_store
from tests.conftest import REPO
from tests.flows.test_ci_and_promotion_flows import PREFIX, SHA, ci, seed

pytestmark = pytest.mark.usefixtures("prefect_api")

CHILD = """
import os, signal, sys
from evalsig_flows import s3, store
kill_at, calls = int(sys.argv[2]), [0]
for cls in (store.LocalStore, s3.S3Store):
    def put(self, key, data, _orig=cls.put, **kw):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return _orig(self, key, data, **kw)
    cls.put = put
from evalsig_flows.flows import promote_baseline_flow
state = promote_baseline_flow(repo="acme/model", commit=sys.argv[3], store=sys.argv[1],
                              return_state=True)
sys.exit(0 if state.is_completed() else 1)
"""


def _promote_in_child(store_uri: str, kill_at: int) -> int:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()),
               PREFECT_LOGGING_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-c", CHILD, store_uri, str(kill_at), SHA],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode


@pytest.mark.parametrize(("backend", "kill_at"),
                         [("file", 1), ("file", 2), ("file", 3), ("file", 4), ("file", 5),
                          ("file", 6), ("s3", 2)])
def test_a_killed_promotion_leaves_a_whole_baseline_and_a_replay_completes_it(
        backend: str, kill_at: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    uri = tmp_path.as_uri() if backend == "file" else request.getfixturevalue("s3_uri")
    store = open_store(uri)
    seed(store)
    gated = ci(uri, str(Path(REPO, "deployments/examples/candidate.json")), 40 + kill_at)
    assert gated.is_completed(), gated.message
    old = read_pointer(store, PREFIX)[0]
    new_sha = gated.result()["candidate"]["sha256"]

    assert _promote_in_child(uri, kill_at) == -signal.SIGKILL

    pointer, _ = fetch_baseline(store, PREFIX)  # whole: the bytes match the pointer
    assert pointer.current.version_sha256 in (old.current.version_sha256, new_sha)
    assert (pointer.current.version_sha256 == new_sha) == (kill_at > 2)
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok

    replay = promote_baseline_flow(repo="acme/model", commit=SHA, store=uri,
                                   return_state=True)
    assert replay.is_completed(), replay.message
    assert read_pointer(store, PREFIX)[0].current.version_sha256 == new_sha
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok
    verdicts = [r.verdict for _, r in recent_records(store)]
    assert verdicts.count("PROMOTED") == 1
