"""`make demo`: run the gate flow on the bundled example runs, with no server and no cloud.

    python -m evalsig_flows.demo [--baseline B --candidate C --store file:///dir]

Prefect starts its own temporary local API (SQLite under .evalsig-demo/prefect) when no
PREFECT_API_URL is set; reports go to a file:// store under .evalsig-demo/store.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "deployments" / "examples"


def main(argv: list[str] | None = None) -> int:
    from evalsig_core.cli import UsageParser

    ap = UsageParser(prog="python -m evalsig_flows.demo", description=__doc__)
    ap.add_argument("--baseline", default=str(EXAMPLES / "baseline.json"))
    ap.add_argument("--candidate", default=str(EXAMPLES / "candidate.json"))
    ap.add_argument("--workdir", default=".evalsig-demo")
    ap.add_argument("--store", default=None, help="store URI (default: file://WORKDIR/store)")
    args = ap.parse_args_or_exit(argv)
    work = Path(args.workdir).resolve()
    (work / "prefect").mkdir(parents=True, exist_ok=True)  # Prefect does not create parents
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect"))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The temporary API can take longer than Prefect's 20 s default on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    store = args.store or (work / "store").as_uri()

    from evalsig_core import ExitCode

    from .flows import gate_flow
    from .outcome import outcome

    print(f"evalsig demo: gating {args.candidate} against {args.baseline}", flush=True)
    state = gate_flow(
        baseline=args.baseline, candidate=args.candidate, metric="accuracy",
        cluster="passage_id", min_delta=0.005, alpha=0.05, power=0.80, store=store,
        name="demo", return_state=True,
    )
    try:
        result = outcome(state)
    except TypeError:
        result = None
    if isinstance(result, dict) and "verdict" in result:
        print(f"verdict: {result['verdict']}  (delta {result['delta']:+.4f})")
        print(f"report:  {result['report']['json']}")
        print(f"         {result['report']['markdown']}")
        return int(result["exit_code"])
    print(f"flow ended {state.type.value}: {state.message}", file=sys.stderr)
    return int(ExitCode.SOFTWARE)


if __name__ == "__main__":
    sys.exit(main())
