"""Sub-commands of the CLI (doctor, compare, schema, gate) and what every command shares:
reading runs with a progress line, writing reports to files and stdout, GitHub outputs.

The argument parser is `_args`; commands defined in their own modules (`_power`, `_suite`,
`_watch`, `_history`) take these helpers from here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..doctor import diagnose, summarize
from ..errors import (
    EvalsigError,
    ExitCode,
    StorageError,
    UsageError,
)
from ..gate import DoctorError, diagnosed_compare, gate
from ..policy import Policy
from ..readers import COLUMN_FLAGS, read_run, read_with
from ..render import (
    render_compare,
    render_doctor,
    render_gate,
    report_schema,
)
from ..report import CompareReport, GateReport
from ..run import EvalRun
from ..suite_file import SuiteSpec
from ._github import append_summary, report_dir, write_outputs
from ._tty import Progress, call_with_progress, style_for

# Files larger than this show a "reading ..." status line on a terminal.
_BIG_FILE = 16 * 1024 * 1024
_RESAMPLING = ("bootstrap", "permutation", "wild")


def _read(path: str, args: argparse.Namespace, progress: Progress) -> EvalRun:
    kw: dict[str, Any] = dict(metric=args.metric, cluster=args.cluster, filter=args.filter,
                              format=args.format, allow_failed_run=args.allow_failed_run)
    kw.update({col: getattr(args, col) for col in COLUMN_FLAGS if getattr(args, col, None)})
    try:
        big = Path(path).stat().st_size > _BIG_FILE
    except OSError:
        big = False
    if not big:
        return read_run(path, **kw)
    with progress.stage(f"reading {path}") as update:
        run: EvalRun = call_with_progress(read_run, path, progress=update, **kw)
        return run


_INPUTS = ("baseline", "candidate", "suite_file", "config_file")
_OUTPUTS = ("json", "markdown", "html")


def check_output_paths(args: argparse.Namespace, suite: SuiteSpec | None = None) -> None:
    """Refuse a report path that is an input (`--json candidate.json` overwrote the candidate
    run with the report) or that another format also writes to, before any work is done.

    `suite`: the parsed suite file, whose entries' run files are inputs too (`main` checks
    the flags before the command runs; `evalsig suite` again with the spec it read)."""
    def same(a: str, b: str) -> bool:
        try:
            return Path(a).resolve() == Path(b).resolve() or (
                Path(a).exists() and Path(b).exists() and Path(a).samefile(b))
        except OSError:
            return False

    for flag in _OUTPUTS:  # `--json ""` (an unset variable) wrote no report, without a word
        value = getattr(args, flag, None)
        if value is not None and (not value.strip() or value == "-"):
            raise UsageError(f"--{flag} {value!r} is not a file path" + (
                " (it would write a file named '-')" if value == "-" else ""),
                hint=f"give --{flag} a file path, or use --output {flag} for stdout")
    outputs = [(f, getattr(args, f)) for f in _OUTPUTS if getattr(args, f, None)]
    inputs = [(f, getattr(args, f)) for f in _INPUTS if getattr(args, f, None)]
    if outputs and suite is not None:
        # `suite s.toml --json cand.json` overwrote an entry's candidate run with the report
        inputs += [(f"{k} of entry {e.name!r}", v.removeprefix("file://"))
                   for e in suite.entries
                   for k, v in (("baseline", e.baseline), ("candidate", e.candidate))
                   if v and ("://" not in v or v.startswith("file://"))]
    inputs = [(role.replace("_", " ") if role in _INPUTS else role, src)
              for role, src in inputs]
    # `--json helm_run/per_instance_stats.json` with --candidate helm_run overwrote the run
    runs = [(role, src) for role, src in inputs if role.startswith(("baseline", "candidate"))]
    inputs += [(f"{side.name} the {role} run reads", str(side))
               for role, src in (runs if outputs else []) for side in read_with(src)]
    for i, (flag, path) in enumerate(outputs):
        for role, src in inputs:
            if same(path, src):
                raise UsageError(f"--{flag} {path} is the {role}: the report "
                                 "would overwrite it", hint=f"write the {flag} report elsewhere")
        for other, path2 in outputs[i + 1:]:
            if same(path, path2):
                raise UsageError(f"--{flag} and --{other} both write {path}",
                                 hint="give each report format its own path")


def _write(path: str, text: str) -> None:
    """Write a report file. A write that fails part-way (a full disk, a file size limit)
    removes what it wrote: a truncated report, or the previous run's report it was replacing,
    must not stand as this run's result (exit 74 either way)."""
    try:
        f = open(path, "w", encoding="utf-8")  # noqa: SIM115 (the two failures differ)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with f:
            f.write(text)
    except OSError as exc:
        removed = _remove_regular(path)
        raise StorageError(f"{path}: cannot write: {exc.strerror}"
                           + ("; the partial file was removed" if removed else "")) from None


def _remove_regular(path: str) -> bool:
    """Unlink `path` if it is a regular file (never a device such as /dev/stdout)."""
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
            return True
    except OSError:
        pass
    return False


def _write_stdout(text: str) -> None:
    """A report on stdout. Markdown, HTML and JSON are UTF-8 documents whatever the console
    encoding: `--output markdown > report.md` under cp1252 or ascii failed on the heading's
    emoji with an internal error (70) after the verdict was decided.

    A reader that stopped early (`| head -1`) is not an error: the command keeps its exit
    code (the verdict), whether or not the text still fitted in the pipe's buffer. Any other
    failure (a full disk, a closed stdout) is an I/O error (74), never an internal error."""
    out = sys.stdout
    if out is None:  # started with stdout closed (`>&-`)
        raise StorageError("stdout: cannot write the report: stdout is closed",
                           hint="redirect stdout to a file or /dev/null")
    try:
        try:
            out.write(text)  # encodes the whole text first: nothing is written on error
        except UnicodeEncodeError:
            buffer = getattr(out, "buffer", None)
            if buffer is None:
                raise
            out.flush()
            buffer.write(text.encode("utf-8"))
        out.flush()  # a write error surfaces here, not at exit (exit status 120)
    except BrokenPipeError:
        discard_stdout()
    except OSError as exc:
        discard_stdout()
        raise StorageError(f"stdout: cannot write the report: {exc.strerror or exc}") from None


def finish_stdout() -> None:
    """Flush what a command printed, with the error handling of `_write_stdout`."""
    if sys.stdout is not None:
        _write_stdout("")


def discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of what is still
    buffered cannot fail again (Python's documented handling of EPIPE)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _emit(args: argparse.Namespace, env: Mapping[str, str], render: Any, report: Any, *,
          stdout: bool = True, publish: Callable[[], None] | None = None) -> None:
    """Every format asked for by a path flag, then `publish` (the GitHub step outputs and job
    summary), then (unless not `stdout`) the report on stdout in `--output`.

    Files first: a path that cannot be written exits 74 before stdout carries a verdict that
    a pipeline (`> report.md`) would otherwise publish as if the run had succeeded. The same
    holds for an unwritable GITHUB_OUTPUT or job summary: before, stdout already showed the
    verdict (JSON with exit_code 0) when the step then failed with 74."""
    for flag, fmt in (("json", "json"), ("markdown", "markdown"), ("html", "html")):
        path = getattr(args, flag, None)
        if path:
            _write(path, render(report, fmt))
    if publish is not None:
        publish()
    if stdout:
        _write_stdout(render(report, args.output, style=style_for(sys.stdout, env)))


def cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._refusal import read_runs, unread_report  # _refusal imports this module

    b, c, read_errors = read_runs(args, Progress(sys.stderr))
    if b is not None and c is not None:
        report = diagnose(b, c, cluster=args.cluster)
    else:
        report = unread_report(read_errors)
    _emit(args, env, render_doctor, report)
    return report.exit_code


def _stage_label(policy: Policy) -> str:
    method = policy.method
    if any(k in method for k in _RESAMPLING):
        return f"{method}: {policy.resamples} resamples"
    return "estimating"


_FIXED_POWER_USE = {
    "compare": "at which compare reports the detectable effect (MDE)",
    "watch": "every policy carries (watch itself does not use it)",
}


def policy_without_power(command: str, **kw: Any) -> Policy:
    """The Policy of a command without a --power flag (compare, watch): its power is the
    default, so an --alpha at or above it is reported as that command's --alpha ("power (0.8)
    must exceed alpha (0.85)" named a flag the user could not pass)."""
    power = float(Policy.model_fields["power"].default)
    alpha = kw["alpha"]
    if alpha >= power:
        raise UsageError(f"--alpha {alpha:g} is too large for `evalsig {command}`: it must be "
                         f"below {power:g}, the power {_FIXED_POWER_USE[command]}",
                         hint="use a smaller --alpha (the usual choice is 0.05)")
    return Policy(**kw)


def cmd_compare(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._refusal import doctor_refused, read_pair  # _refusal imports this module

    policy = policy_without_power("compare", min_delta=0.0, alpha=args.alpha,
                                  method=args.method, resamples=args.resamples, seed=args.seed,
                                  metric=args.metric, cluster=args.cluster)
    progress = Progress(sys.stderr)
    baseline, candidate = read_pair(args, progress)
    try:
        with progress.stage(_stage_label(policy)) as update:
            result, doc = call_with_progress(diagnosed_compare, baseline, candidate, policy,
                                             progress=update)
    except DoctorError as exc:
        return doctor_refused(args, env, exc, baseline, candidate)
    report = CompareReport(
        metric=args.metric or baseline.meta.metric, cluster=args.cluster, alpha=args.alpha,
        comparison=result, findings=[f for f in doc.findings if f.code != "I301"],
        baseline=summarize(baseline), candidate=summarize(candidate),
    )
    _emit(args, env, render_compare, report)
    return int(ExitCode.OK)


def cmd_schema(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    _write_stdout(json.dumps(report_schema(args.kind), indent=2) + "\n")
    return int(ExitCode.OK)


def cmd_gate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._refusal import doctor_refused, read_pair  # _refusal imports this module

    policy = Policy(
        min_delta=args.min_delta, alpha=args.alpha, power=args.power, mode=args.mode,
        method=args.method, resamples=args.resamples, seed=args.seed,
        metric=args.metric, cluster=args.cluster,
    )
    progress = Progress(sys.stderr)
    baseline, candidate = read_pair(args, progress)  # unreadable: main writes the refusal
    try:
        with progress.stage(_stage_label(policy)) as update:
            report = call_with_progress(gate, baseline, candidate, policy, progress=update)
    except DoctorError as exc:
        return doctor_refused(args, env, exc, baseline, candidate)
    _emit(args, env, render_gate, report, publish=lambda: github_gate(report, env, args))
    return report.exit_code


def github_publish(report: Any, env: Mapping[str, str], args: argparse.Namespace,
                   render: Any, stats: Mapping[str, str] | None = None) -> None:
    """In GitHub Actions: step outputs (verdict, exit code, `stats`, the report files' paths)
    and the Markdown job summary. For any report with `verdict` and `exit_code` (gate, suite)
    and its renderer; `args.json` / `args.markdown` are reused when given."""
    markdown = render(report, "markdown")
    if env.get("GITHUB_OUTPUT"):
        json_path = getattr(args, "json", None)
        md_path = getattr(args, "markdown", None)
        if not json_path or not md_path:
            d = report_dir(env)
            if not json_path:
                json_path = str(d / "report.json")
                _write(json_path, render(report, "json"))
            if not md_path:
                md_path = str(d / "report.md")
                _write(md_path, markdown)
        write_outputs(env, {
            "verdict": report.verdict.value, "exit_code": str(report.exit_code),
            **(stats or {}),
            "report_json": str(Path(json_path).resolve()),
            "report_md": str(Path(md_path).resolve()),
        })
    append_summary(env, markdown)


def github_gate(report: GateReport, env: Mapping[str, str], args: argparse.Namespace) -> None:
    c = report.comparison
    mde = f"{c.mde:.6g}" if math.isfinite(c.mde) else ""  # empty as the JSON's null
    github_publish(report, env, args, render_gate, {
        "delta": f"{c.delta:.6g}", "p_value": f"{c.p_value:.6g}", "mde": mde})


def github_error(env: Mapping[str, str], code: int, message: str) -> None:
    """A command that stopped on an error still tells the workflow why (never a verdict)."""
    with contextlib.suppress(EvalsigError):
        write_outputs(env, {"verdict": "ERROR", "exit_code": str(code), "error": message})
