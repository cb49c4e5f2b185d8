"""`evalsig power`: MDE for n items or the N that detects a delta, from flags or a pilot run."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..doctor import diagnose
from ..errors import UsageError
from ..gate import DoctorError
from ..numfmt import counted
from ..pairing import pair
from ..stats import icc_anova
from ..stats.auto import allow_alpha
from ..stats.power import power_analysis

__all__ = ["register"]


def _num(name: str, *, positive: bool = False) -> Any:
    def conv(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v) or (positive and v <= 0):
            raise argparse.ArgumentTypeError(f"{name} must be finite"
                                             + (" and > 0" if positive else ""))
        return v
    return conv


def register(sub: Any) -> None:
    from ._args import _add_input_flags

    p = sub.add_parser("power", help="minimum detectable effect or required N (exit 0)")
    p.add_argument("--sd", type=_num("--sd", positive=True), help="SD of the paired difference")
    p.add_argument("--n", type=int, help="paired items: report the MDE")
    p.add_argument("--delta", type=_num("--delta", positive=True),
                   help="effect to detect: report the required N")
    p.add_argument("--icc", type=_num("--icc"), default=None,
                   help="ICC of d within clusters (default 0)")
    p.add_argument("--cluster-size", type=_num("--cluster-size", positive=True), default=None,
                   help="mean cluster size, >= 1 (default 1)")
    p.add_argument("--cv", type=_num("--cv"), default=None,
                   help="CV of the cluster sizes, >= 0 (default 0)")
    p.add_argument("--baseline", help="pilot baseline run: estimate sd (and with --cluster the "
                   "icc and cluster sizes) from it")
    p.add_argument("--candidate", help="pilot candidate run")
    _add_input_flags(p)
    p.add_argument("--alpha", type=_num("--alpha"), default=0.05,
                   help="one-sided error rate of the gate (default 0.05); a clustered design "
                   "(--cluster-size, or a pilot with --cluster) is planned at alpha/2, the "
                   "level of auto's ALLOW bound")
    p.add_argument("--power", type=_num("--power"), default=0.80,
                   help="power for the detectable effect (default 0.80)")
    p.add_argument("--output", default="tty", choices=["tty", "json"],
                   help="stdout format (default tty)")
    p.set_defaults(handler=cmd_power)


def cmd_power(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._commands import Progress, _read, _write_stdout  # _commands imports this module

    pilot = bool(args.baseline or args.candidate)
    # The pilot estimates sd (and with --cluster the ICC and the sizes): a flag for the same
    # quantity was silently replaced by the estimate ("--sd 0.5" printed "sd of d 0.5883").
    given = [f"--{n.replace('_', '-')}" for n in ("sd", "icc", "cluster_size", "cv")
             if getattr(args, n) is not None and (n == "sd" or args.cluster is not None)]
    if pilot and given:
        raise UsageError(f"{', '.join(given)} given with a pilot run, which estimates sd"
                         + (", icc, cluster size and cv" if args.cluster else ""),
                         hint=f"drop {' '.join(given)}, or the pilot (--baseline/--candidate)")
    args.icc = 0.0 if args.icc is None else args.icc
    args.cv = 0.0 if args.cv is None else args.cv
    for name in ("alpha", "power"):
        if not 0 < getattr(args, name) < 1:
            raise UsageError(f"--{name} must be strictly between 0 and 1")
    if args.power <= args.alpha:
        raise UsageError(f"--power ({args.power:g}) must exceed --alpha ({args.alpha:g}): "
                         "below it the detectable effect is negative")
    if args.icc < 0 or args.icc >= 1:
        raise UsageError("--icc must be in [0, 1)")
    if args.cv < 0:
        raise UsageError(f"--cv must be >= 0 (the coefficient of variation of the cluster "
                         f"sizes), got {args.cv:g}")
    if args.cluster_size is not None and args.cluster_size < 1:
        raise UsageError(f"--cluster-size must be >= 1 (the mean items per cluster), got "
                         f"{args.cluster_size:g}: below 1 the design effect drops under 1")
    if args.icc > 0 and args.cluster_size is None and not pilot:
        # With the default cluster size 1 the design effect is 1 whatever the ICC: never
        # drop a flag the user gave silently.
        raise UsageError("--icc needs --cluster-size (the mean cluster size); with clusters of "
                         "one item the ICC has no effect")
    sd, n, icc, cv, G, sd_df = args.sd, args.n, args.icc, args.cv, None, None
    m = 1.0 if args.cluster_size is None else args.cluster_size
    if pilot:
        if not (args.baseline and args.candidate):
            raise UsageError("a pilot needs both --baseline and --candidate")
        progress = Progress(sys.stderr)
        b, c = _read(args.baseline, args, progress), _read(args.candidate, args, progress)
        doc = diagnose(b, c, cluster=args.cluster)  # a pilot the gate would refuse plans nothing
        if not doc.ok:
            raise DoctorError(doc)
        pr = pair(b, c, cluster=args.cluster is not None)
        sd = float(np.std(pr.d, ddof=1)) if pr.n > 1 else 0.0
        n = n or pr.n
        if pr.cluster_codes is not None:
            sizes = np.bincount(pr.cluster_codes).astype(np.float64)
            icc, G = icc_anova(pr.d, pr.cluster_codes), len(sizes)
            m, cv = float(sizes.mean()), float(sizes.std() / sizes.mean())
        # the pilot's sd is an estimate: the MDE is corrected for its bias as the gate's is
        sd_df = float(G - 1 if G is not None else pr.n - 1)
        if sd <= 0:
            raise UsageError("the pilot's paired differences are all equal: no variance to use")
    if sd is None:
        raise UsageError("give --sd, or a pilot run with --baseline and --candidate")
    if n is None and args.delta is None:
        raise UsageError("give --n (for the MDE) and/or --delta (for the required N)")
    # the gate decides a clustered design at auto's ALLOW level (alpha/2): planning it at
    # alpha promised an MDE about 11% and an N about 21% smaller than the gate will need
    # from flags, n items in clusters of m are about n / m clusters (power_analysis): the
    # MDE's t has n / m - 1 df (STATS.md), as a pilot's has; z promised 5 clusters what 50 give
    clustered = G is not None if pilot else args.cluster_size is not None
    try:
        res = power_analysis(sd, n=n, delta=args.delta, alpha=args.alpha, power=args.power,
                             icc=icc, cluster_size=m, cv=cv, clusters=G,
                             allow_alpha=allow_alpha(args.alpha, clustered), sd_df=sd_df)
    except ValueError as exc:  # UsageError included (a non-finite required N)
        raise UsageError(str(exc)) from None
    if args.output == "json":
        _write_stdout(json.dumps(res.to_dict(), indent=2) + "\n")
        return 0
    level = (f"alpha {res.alpha:g} (one-sided)" if res.allow_alpha == res.alpha else
             f"alpha {res.alpha:g} (clustered: ALLOW at alpha/2 = {res.allow_alpha:g}, "
             "one-sided, as auto decides)")
    lines = [f"sd of d {res.sd:.4f}, design effect {res.design_effect:.3f}, {level}, "
             f"power {res.power:g}"]
    G = res.clusters if clustered else None  # the clusters power_analysis planned n items in
    if res.mde is not None:
        lines.append(f"minimum detectable effect at n = {res.n}"
                     + (f" ({counted(G, 'cluster')})" if G is not None else "")
                     + f": {res.mde:.4f}")
    if res.required_n is not None:
        lines.append(f"paired items needed to detect {res.delta:g}: {res.required_n}")
    if res.note:
        lines.append(f"note: {res.note}")
    _write_stdout("\n".join(lines) + "\n")
    return 0
