"""Opening an s3:// store per task: shared client vs a new one per store (`make bench BENCH=s3`).

Every flow task calls `open_store(uri)`. "before" is what each call cost until the client was
shared (evalsig_flows/s3_clients.py): a new boto3 Session and client (`make_client`, passed in
as the store's own) and its HeadBucket, then the task's one request; "after" is
`open_store(uri).head(key)` as it is, on the process's shared client. Each is N calls against
a real SeaweedFS on 127.0.0.1 (infra/local/s3.py; the dev extra's `weed`), wall-clock (the
server's side of each round trip counts), best of ROUNDS rounds, "before" and "after"
alternated. EVALSIG_BENCH_S3_N sets N (default 50, a nightly suite's entries).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from unittest.mock import patch

from evalsig_flows.s3 import S3Settings, S3Store, s3_settings
from evalsig_flows.s3_clients import make_client
from evalsig_flows.store import open_store

ROUNDS = 3
BUCKET = "evalsig-bench"
KEY = "bench/object.json"


def _local_s3() -> ModuleType:
    """infra/local/s3.py, loaded by path (infra/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "infra" / "local" / "s3.py"
    spec = importlib.util.spec_from_file_location("evalsig_local_s3", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while being defined
    spec.loader.exec_module(mod)
    return mod


def _total(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def _race(settings: S3Settings, n: int) -> tuple[float, float]:
    """(before, after): N stores each, best of ROUNDS, alternated."""
    uri = f"s3://{BUCKET}"
    open_store(uri).put(KEY, b"{}")

    def before() -> object:
        return S3Store(BUCKET, settings=settings, client=make_client(settings)).head(KEY)

    def after() -> object:
        return open_store(uri).head(KEY)

    t_before = t_after = float("inf")
    for _ in range(ROUNDS):
        t_before = min(t_before, _total(before, n))
        t_after = min(t_after, _total(after, n))
    return t_before, t_after


def main() -> None:
    n = int(os.environ.get("EVALSIG_BENCH_S3_N", "50"))
    script = _local_s3()
    with tempfile.TemporaryDirectory(prefix="evalsig-bench-s3-") as d:
        srv = script.start(d, buckets=(BUCKET,))
        env = {"EVALSIG_S3_ENDPOINT_URL": srv.endpoint, "EVALSIG_S3_ACCESS_KEY_ID": srv.access_key,
               "EVALSIG_S3_SECRET_ACCESS_KEY": srv.secret_key,
               "EVALSIG_S3_ADDRESSING_STYLE": "path"}
        try:
            with patch.dict(os.environ, env):
                s3_settings.cache_clear()
                t_before, t_after = _race(s3_settings(), n)
        finally:
            script.stop(srv.pid)
            s3_settings.cache_clear()
    print(f"open_store(s3://...).head(key) x{n}: a new client per store {t_before:.3f} s "
          f"({t_before / n * 1e3:.1f} ms each) | shared client {t_after:.3f} s "
          f"({t_after / n * 1e3:.1f} ms each) | {t_before / t_after:.1f}x")


if __name__ == "__main__":
    main()
