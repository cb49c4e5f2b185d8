"""Sub-commands of the CLI and their argument parser."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ..doctor import diagnose, finding_from_error, make_report
from ..errors import ExitCode, InputError, InputNotFoundError, UsageError
from ..gate import DoctorError, gate
from ..policy import Mode, Policy
from ..readers import FORMATS, read_run
from ..render import OUTPUTS, render_doctor, render_gate
from ..report import GateReport
from ..run import EvalRun
from ..stats import METHODS


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 64) instead of exiting 2 (= INCONCLUSIVE)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _finite_float(name: str) -> Any:
    def conv(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
        return v
    return conv


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _add_input_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", help="metric / scorer to read (Inspect: scorer or scorer.key)")
    p.add_argument("--cluster", help="metadata key that clusters items (e.g. passage_id)")
    p.add_argument("--filter", help="lm-eval filter name when a file has several")
    p.add_argument("--format", default="auto", choices=FORMATS,
                   help="input format (default: detected from content)")
    p.add_argument("--allow-failed-run", action="store_true",
                   help="gate a run whose status is error, on the samples it has")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evalsig", description="Statistical release gate for LLM evals. "
                     "Exit codes: 0 ALLOW/ok, 1 REJECT, 2 INCONCLUSIVE, 64 usage error, "
                     "65 bad input data, 66 input not found, 70 internal error, 74 I/O error.")
    parser.add_argument("--version", action="version", version=f"evalsig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("doctor", help="check two runs before gating (exit 0 ok, 65 errors)")
    d.add_argument("baseline", help="baseline run file")
    d.add_argument("candidate", help="candidate run file")
    _add_input_flags(d)
    d.add_argument("--output", default="tty", choices=OUTPUTS)
    d.add_argument("--json", metavar="PATH", help="also write the doctor report as JSON")
    d.set_defaults(handler=cmd_doctor)

    g = sub.add_parser("gate", help="decide ALLOW / REJECT / INCONCLUSIVE (exit 0 / 1 / 2)")
    g.add_argument("--baseline", required=True, help="baseline run file")
    g.add_argument("--candidate", required=True, help="candidate run file")
    _add_input_flags(g)
    g.add_argument("--min-delta", type=_finite_float("--min-delta"), required=True,
                   help="the margin: smallest improvement worth shipping (>= 0)")
    g.add_argument("--alpha", type=_finite_float("--alpha"), default=0.05,
                   help="one-sided error rate (default 0.05)")
    g.add_argument("--power", type=_finite_float("--power"), default=0.80,
                   help="power for the detectable effect (default 0.80)")
    g.add_argument("--mode", default=Mode.SUPERIORITY.value, choices=[m.value for m in Mode],
                   help="superiority (default), non-inferiority or minimum-effect")
    g.add_argument("--method", default="auto", choices=["auto", *METHODS],
                   help="inference method (default auto)")
    g.add_argument("--resamples", type=_int, default=10000, help="resamples for bootstraps")
    g.add_argument("--seed", type=_int, default=0, help="seed of every random method")
    g.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format")
    g.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    g.set_defaults(handler=cmd_gate)
    # statistics commands (evalsig_core/cli/_power.py, _suite.py, _watch.py)
    from . import _power, _suite, _watch

    for module in (_power, _suite, _watch):
        module.register(sub)
    return parser


def _read(path: str, args: argparse.Namespace) -> EvalRun:
    return read_run(path, metric=args.metric, cluster=args.cluster, filter=args.filter,
                    format=args.format, allow_failed_run=args.allow_failed_run)


def _write(path: str, text: str) -> None:
    from ..errors import EvalsigError

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        err = EvalsigError(f"{path}: cannot write: {exc.strerror}")
        err.exit_code = ExitCode.IO
        raise err from None


def cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    runs: list[EvalRun | None] = []
    read_errors: list[InputError] = []
    for path in (args.baseline, args.candidate):
        try:
            runs.append(_read(path, args))
        except InputError as exc:
            read_errors.append(exc)
            runs.append(None)
    b, c = runs
    if b is not None and c is not None:
        report = diagnose(b, c, cluster=args.cluster)
    else:
        report = make_report([finding_from_error(e) for e in read_errors], None, None)
    sys.stdout.write(render_doctor(report, args.output))
    if args.json:
        _write(args.json, report.model_dump_json(indent=2) + "\n")
    if any(isinstance(e, InputNotFoundError) for e in read_errors):
        return int(ExitCode.NO_INPUT)
    return report.exit_code


def cmd_gate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    policy = Policy(
        min_delta=args.min_delta, alpha=args.alpha, power=args.power, mode=args.mode,
        method=args.method, resamples=args.resamples, seed=args.seed,
        metric=args.metric, cluster=args.cluster,
    )
    baseline = _read(args.baseline, args)
    candidate = _read(args.candidate, args)
    try:
        report = gate(baseline, candidate, policy)
    except DoctorError as exc:
        sys.stderr.write(render_doctor(exc.report, "tty"))
        raise
    sys.stdout.write(render_gate(report, args.output))
    if args.json:
        _write(args.json, report.to_json() + "\n")
    _github(report, env, args)
    return report.exit_code


def _github(report: GateReport, env: Mapping[str, str], args: argparse.Namespace) -> None:
    """In GitHub Actions: step outputs and the job summary."""
    out = env.get("GITHUB_OUTPUT")
    if out:
        c = report.comparison
        lines = {
            "verdict": report.verdict.value, "exit_code": str(report.exit_code),
            "delta": f"{c.delta:.6g}", "p_value": f"{c.p_value:.6g}", "mde": f"{c.mde:.6g}",
        }
        if args.json:
            lines["report_json"] = str(args.json)
        with open(out, "a", encoding="utf-8") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in lines.items())
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(render_gate(report, "markdown"))
