"""`evalsig watch`: always-valid bounds for repeated looks (nightly re-runs), exit by verdict."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..policy import Mode
from ..readers import read_run
from ..render import OUTPUTS, render_watch
from ..sequential import watch

__all__ = ["register"]


def register(sub: Any) -> None:
    from ._commands import _finite_float, _int, _name

    p = sub.add_parser("watch", help="always-valid confidence sequence for repeated looks")
    p.add_argument("--baseline", required=True)
    p.add_argument("--candidate", required=True)
    p.add_argument("--metric", type=_name)
    p.add_argument("--cluster", type=_name)
    p.add_argument("--filter", type=_name)
    p.add_argument("--format", default="auto")
    p.add_argument("--min-delta", type=_finite_float("--min-delta"), required=True)
    p.add_argument("--alpha", type=_finite_float("--alpha"), default=0.05)
    p.add_argument("--mode", default=Mode.SUPERIORITY.value, choices=[m.value for m in Mode])
    p.add_argument("--seed", type=_int, default=0, help="seed of the order of the units")
    p.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format")
    p.set_defaults(handler=cmd_watch)


def cmd_watch(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._commands import _emit, policy_without_power  # here: _commands imports this module

    policy = policy_without_power("watch", min_delta=args.min_delta, alpha=args.alpha,
                                  mode=args.mode, seed=args.seed, metric=args.metric,
                                  cluster=args.cluster)
    flags = {"metric": args.metric, "cluster": args.cluster, "filter": args.filter,
             "format": args.format}
    res = watch(read_run(args.baseline, **flags), read_run(args.candidate, **flags), policy)
    _emit(args, env, render_watch, res)
    return res.exit_code
