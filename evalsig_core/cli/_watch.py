"""`evalsig watch`: always-valid bounds for repeated looks (nightly re-runs), exit by verdict."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ..policy import Mode
from ..render import render_watch
from ..sequential import watch

__all__ = ["register"]


def register(sub: Any) -> None:
    from ._args import (
        _add_input_flags,
        _add_margin_flag,
        _add_report_flags,
        _finite_float,
        _int,
        add_run_args,
    )

    p = sub.add_parser("watch", help="always-valid confidence sequence for repeated looks")
    add_run_args(p, "candidate run file (its latest look)")
    _add_input_flags(p)
    _add_margin_flag(p)
    p.add_argument("--alpha", type=_finite_float("--alpha"), default=0.05,
                   help="error rate over all looks together (default 0.05; alpha/2 per "
                   "side of the confidence sequence)")
    p.add_argument("--mode", default=Mode.SUPERIORITY.value, choices=[m.value for m in Mode],
                   help="superiority (default), non-inferiority or minimum-effect")
    p.add_argument("--seed", type=_int, default=0,
                   help="seed of the order of the units (default 0)")
    _add_report_flags(p, "watch report")
    p.set_defaults(handler=cmd_watch)


def cmd_watch(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    # here: _commands imports this module
    from ._commands import Progress, _emit, policy_without_power
    from ._refusal import read_pair

    policy = policy_without_power("watch", min_delta=args.min_delta, alpha=args.alpha,
                                  mode=args.mode, seed=args.seed, metric=args.metric,
                                  cluster=args.cluster)
    # a run it cannot read, or the doctor's refusal (DoctorError): main() writes the refusal
    # to the report paths, never leaving the verdict of an earlier look there
    res = watch(*read_pair(args, Progress(sys.stderr)), policy)
    _emit(args, env, render_watch, res)
    return res.exit_code
