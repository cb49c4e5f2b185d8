"""What a command that decides nothing writes to its report paths: the refusal, never the
report an earlier run left there.

`--json report.json` of an earlier ALLOW stood after a run that could not be read, a doctor
refusal of `compare`, or a usage error (`--alpha 2`), and a CI job that uploads report.json
published it as this run's result. Every command with report paths (doctor, compare, gate,
watch, suite) now replaces them on any error with a doctor report (`kind: doctor`) holding the
error and the real exit code: `main` calls `refuse_report_paths` for any error, gate and
compare call `doctor_refused` for a doctor refusal (which also goes to stdout). A path that
is refused as a report path (empty, `-`, an input, or shared by two formats) is never
written; neither are paths the command line does not name (`--json` without a value).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import find_config
from ..doctor import finding_from_error, make_report, summarize
from ..errors import EvalsigError, ExitCode, InputError
from ..finding_codes import COMMAND_ERROR
from ..gate import DoctorError
from ..render import MARKER, render_doctor
from ..report import DoctorReport, Finding, Severity
from ..run import EvalRun
from ..suite_file import SuiteSpec, read_suite_spec
from ._commands import _OUTPUTS, Progress, _emit, _read, check_output_paths, github_error
from ._github import append_summary
from ._tty import style_for

__all__ = ["UnreadRunsError", "doctor_refused", "read_pair", "read_runs", "refuse_report_paths",
           "unread_report"]

# The commands that write reports to --json / --markdown / --html paths.
_REPORTING = ("doctor", "compare", "gate", "watch", "suite")


class UnreadRunsError(InputError):
    """A run (or both) could not be read. It says the first error (the baseline's when both
    fail) with that error's exit code (65, 66 or 74); `errors` are all of them and `baseline`
    / `candidate` the runs that were read (None if not), for the refusal report."""

    def __init__(self, errors: list[InputError], baseline: EvalRun | None,
                 candidate: EvalRun | None) -> None:
        first = errors[0]
        super().__init__(first.message, hint=first.hint, code=first.code)
        self.path, self.item, self.exit_code = first.path, first.item, first.exit_code
        self.errors, self.baseline, self.candidate = errors, baseline, candidate


def read_runs(args: argparse.Namespace, progress: Progress
              ) -> tuple[EvalRun | None, EvalRun | None, list[InputError]]:
    """Both runs of `args`, each read even when the other cannot be, and the read errors."""
    runs: list[EvalRun | None] = []
    errors: list[InputError] = []
    for path in (args.baseline, args.candidate):
        try:
            runs.append(_read(path, args, progress))
        except InputError as exc:
            errors.append(exc)
            runs.append(None)
    return runs[0], runs[1], errors


def read_pair(args: argparse.Namespace, progress: Progress) -> tuple[EvalRun, EvalRun]:
    """Both runs, or `UnreadRunsError`: the other run is still read, so the refusal lists
    every unreadable file and its marker carries the task of the run that could be read."""
    b, c, errors = read_runs(args, progress)
    if b is None or c is None:
        raise UnreadRunsError(errors, b, c)
    return b, c


def unread_report(errors: list[InputError], baseline: EvalRun | None = None,
                  candidate: EvalRun | None = None) -> DoctorReport:
    """The doctor report of runs that could not be read: one finding per file, and the
    summary of a run that was read."""
    report = make_report([finding_from_error(e) for e in errors],
                         None if baseline is None else summarize(baseline),
                         None if candidate is None else summarize(candidate))
    for e in errors:  # a missing (66) or unreadable (74) file is not bad data (65)
        if e.exit_code != ExitCode.DATA:  # the report's exit_code is the process's
            return report.model_copy(update={"exit_code": int(e.exit_code)})
    return report


def error_report(exc: BaseException) -> DoctorReport:
    """The refusal report of the error a command stopped on, with its exit code: a doctor
    refusal's own report, a read error's finding (E101...), else E118 (a usage error 64, an
    I/O error 74, an internal error 70)."""
    if isinstance(exc, DoctorError):
        return exc.report
    if isinstance(exc, UnreadRunsError):
        return unread_report(exc.errors, exc.baseline, exc.candidate)
    if isinstance(exc, InputError):
        return unread_report([exc])
    if isinstance(exc, EvalsigError):
        message, hint, code = exc.message, exc.hint or "", int(exc.exit_code)
    else:  # main's internal error (70), said as main says it
        message = f"internal error: {type(exc).__name__}: {exc}"
        hint, code = "this is a bug in evalsig; please report it", int(ExitCode.SOFTWARE)
    finding = Finding(code=COMMAND_ERROR, severity=Severity.ERROR, message=message, hint=hint)
    return make_report([finding], None, None).model_copy(update={"exit_code": code})


def marker_fields(args: argparse.Namespace, baseline: EvalRun | None = None,
                  candidate: EvalRun | None = None) -> dict[str, str | None] | None:
    """The marker line fields the command's own Markdown report would carry, as far as they
    can be known: its kind (none for gate), and for gate and compare the metric (--metric, or
    the runs' own, the baseline's first) and the task (the candidate's, or the baseline's when
    the candidate cannot be read: the doctor refuses runs of different tasks, E114). Nothing
    is guessed (not from a file name): a field that cannot be known is left out, and the
    refusal is then a comment of its own. None for doctor: its refusal is a doctor report."""
    command = args.command
    if command == "doctor":
        return None
    if command in ("watch", "suite"):  # their markers carry no metric or task
        return {"kind": command, "metric": None, "task": None}
    metric = getattr(args, "metric", None) or next(
        (r.meta.metric for r in (baseline, candidate) if r is not None), None)
    task = next((r.meta.task for r in (candidate, baseline) if r is not None), None)
    return {"kind": None if command == "gate" else command, "metric": metric, "task": task}


def emit_refusal(args: argparse.Namespace, env: Mapping[str, str], report: DoctorReport,
                 marker: dict[str, str | None] | None, *, stdout: bool = True,
                 said: EvalsigError | None = None) -> None:
    """Write the refusal `report` to the report paths, the job summary and (unless not
    `stdout`, or tty: stderr has it) stdout: the doctor report, its Markdown under the marker
    the command's own report would carry (`marker_fields`), headed "not gated" (compared,
    decided). A path that cannot be written is said on stderr (unless `said` already says
    it); the exit stays the refusal's."""
    render = functools.partial(render_doctor, gate=marker)

    def summary() -> None:  # best effort: the exit is the refusal's whatever happens here
        with contextlib.suppress(EvalsigError):
            append_summary(env, render(report, "markdown"))

    try:
        _emit(args, env, render, report, stdout=stdout and args.output != "tty",
              publish=summary)
    except EvalsigError as exc:
        if said is None or exc.one_line() != said.one_line():
            sys.stderr.write(f"evalsig: also: {exc.one_line()}\n")


def doctor_refused(args: argparse.Namespace, env: Mapping[str, str], exc: DoctorError,
                   baseline: EvalRun, candidate: EvalRun) -> int:
    """The doctor refused the runs of gate or compare: its report on stderr is the message,
    said once (re-raising added an `evalsig: error:` line repeating its first error); the
    workflow gets the step outputs main() writes for an error, the report paths and stdout
    the refusal; the exit is the doctor's 65."""
    sys.stderr.write(render_doctor(exc.report, "tty", style=style_for(sys.stderr, env)))
    github_error(env, int(exc.exit_code), exc.one_line())
    emit_refusal(args, env, exc.report, marker_fields(args, baseline, candidate))
    return int(exc.exit_code)


def refuse_report_paths(argv: Sequence[str], args: argparse.Namespace | None,
                        env: Mapping[str, str], exc: BaseException) -> None:
    """`main`'s error path: replace the report paths of a reporting command with the refusal
    of `exc`. `args` is None when the command line did not parse (`--alpha abc`, `--method
    nope`, a bad config file): the paths and inputs are then read from `argv` as written."""
    ns = args if args is not None else _lenient_args(argv)
    if ns is None or getattr(ns, "command", None) not in _REPORTING:
        return
    if not any(getattr(ns, flag, None) for flag in _OUTPUTS):
        return
    spec: SuiteSpec | None = None
    if ns.command == "suite":
        with contextlib.suppress(EvalsigError):
            spec = read_suite_spec(ns.suite_file)
    try:  # never over an input (`--json cand.json`), nor a path refused as a report path
        check_output_paths(ns, spec)
    except Exception:  # any doubt about a path: write nothing
        return
    if ns.command == "suite" and spec is None:  # its runs are unknown: never over one
        ns = argparse.Namespace(**{**vars(ns), **{
            f: None for f in _OUTPUTS if getattr(ns, f, None) and not _replaceable(
                getattr(ns, f))}})
    runs = (exc.baseline, exc.candidate) if isinstance(exc, UnreadRunsError) else (None, None)
    try:
        emit_refusal(ns, env, error_report(exc), marker_fields(ns, *runs), stdout=False,
                     said=exc if isinstance(exc, EvalsigError) else None)
    except Exception as bug:  # the error line is said; a failing refusal must not hide it
        sys.stderr.write(f"evalsig: also: the refusal report was not written: "
                         f"{type(bug).__name__}: {bug}\n")


def _lenient_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The command line as written, for one that did not parse: every value a string (no
    types, no choices, nothing required, a repeated option's last value). None when even
    that fails (`--json` without a value) or a report flag is given twice (which path?)."""
    from ._args import build_parser, resolve_runs  # _args imports _commands (main's first)
    from ._parser import UsageParser, _subparsers

    flags = [a.split("=", 1)[0] for a in argv]
    if any(flags.count(f"--{f}") > 1 for f in _OUTPUTS):
        return None
    try:
        parser = build_parser()
        for sub in _subparsers(parser).values():
            if isinstance(sub, UsageParser):  # the other option's repeat is not ours to judge
                sub.refuse_repeats = lambda argv: None  # type: ignore[method-assign]
            for action in sub._actions:
                if not isinstance(action, argparse._SubParsersAction):
                    action.type, action.choices, action.required = None, None, False
        ns, _ = parser.parse_known_args(list(argv))
        resolve_runs(ns, strict=False)
        ns.config_file = None if ns.no_config else (ns.config or find_config(Path.cwd()))
    except Exception:  # a command line that cannot name its paths
        return None
    return ns


def _replaceable(path: str) -> bool:
    """Whether `path` is absent, empty or a report evalsig wrote (JSON, Markdown or HTML):
    the only files a refusal may replace when the command's inputs are unknown."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return (not head or head.startswith(MARKER.encode())
            or (head.startswith(b"{") and b'"schema_version"' in head and b'"kind"' in head)
            or b'<meta name="generator" content="evalsig' in head)

