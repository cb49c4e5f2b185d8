"""Serve the three evalsig deployments of prefect.yaml from one process, without a worker.

    python deployments/serve.py [--prefect-file deployments/prefect.yaml] [--store URI]
                                [--set deployment.param=value ...] [--limit N]

prefect.yaml is the one source of truth: names, parameters, schedules (cron and timezone),
concurrency limits, tags and descriptions are read from it; `--store` replaces the `store`
parameter of every deployment (the local stack points it at SeaweedFS) and `--set` overrides
one parameter of one deployment (values parsed as JSON when they parse, else strings).
Needs PREFECT_API_URL (a server; `serve` against an ephemeral API would vanish on exit).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def load_specs(prefect_file: Path) -> list[dict[str, Any]]:
    """The `deployments` list of a prefect.yaml (YAML anchors resolved)."""
    doc = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    specs = doc.get("deployments") or []
    if not specs:
        raise SystemExit(f"{prefect_file}: no deployments")
    return list(specs)


def _flow(entrypoint: str) -> Any:
    """'evalsig_flows/ci.py:ci_gate_flow' -> the flow object, imported as a module."""
    path, _, name = entrypoint.partition(":")
    module = path.removesuffix(".py").replace("/", ".")
    return getattr(importlib.import_module(module), name)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(specs: list[dict[str, Any]], store: str | None,
                    sets: list[str]) -> list[dict[str, Any]]:
    """Copies of `specs` with `store` and `deployment.param=value` overrides applied."""
    out = [{**s, "parameters": dict(s.get("parameters") or {})} for s in specs]
    by_name = {s["name"]: s for s in out}
    for s in out:
        if store is not None:
            s["parameters"]["store"] = store
    for item in sets:
        target, eq, value = item.partition("=")
        dep, dot, param = target.partition(".")
        if not (eq and dot and dep in by_name):
            raise SystemExit(f"--set {item!r}: expected DEPLOYMENT.PARAM=VALUE with DEPLOYMENT "
                             f"one of {sorted(by_name)}")
        by_name[dep]["parameters"][param] = _value(value)
    return out


def to_deployments(specs: list[dict[str, Any]]) -> list[Any]:
    """RunnerDeployments for `prefect.serve`, one per spec."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    out = []
    for s in specs:
        schedules = [Cron(sch["cron"], timezone=sch.get("timezone", "UTC"),
                          active=sch.get("active", True)) for sch in s.get("schedules") or []]
        out.append(_flow(s["entrypoint"]).to_deployment(
            name=s["name"], parameters=s.get("parameters") or {}, schedules=schedules or None,
            concurrency_limit=s.get("concurrency_limit"), tags=s.get("tags"),
            description=s.get("description"), entrypoint_type=EntrypointType.MODULE_PATH))
    return out


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO))  # run from anywhere: evalsig_core/_flows are importable
    from evalsig_core.cli import UsageParser  # exit 64, no abbreviations, "did you mean"

    ap = UsageParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefect-file", type=Path, default=HERE / "prefect.yaml",
                    help="deployments file (default: deployments/prefect.yaml)")
    ap.add_argument("--store", help="store URI for every deployment (default: prefect.yaml's)")
    ap.add_argument("--set", action="append", default=[], metavar="DEPLOYMENT.PARAM=VALUE",
                    help="override one parameter of one deployment (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="max concurrent flow runs")
    args = ap.parse_args_or_exit(argv)
    if not os.environ.get("PREFECT_API_URL"):
        print("serve.py: PREFECT_API_URL is not set: start a server (`make up` does) and "
              "point PREFECT_API_URL at it", file=sys.stderr)
        return 64
    os.chdir(REPO)  # relative paths in prefect.yaml parameters are relative to the repository
    specs = apply_overrides(load_specs(args.prefect_file), args.store, args.set)
    from prefect import serve

    serve(*to_deployments(specs), limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
