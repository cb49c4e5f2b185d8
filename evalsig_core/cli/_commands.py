"""Sub-commands of the CLI and their argument parser.

Commands defined in their own modules (`_power`, `_suite`, `_watch`, `_history`) add their
sub-parser with `register(sub)` from `build_parser`; project defaults from the config file are
applied to every sub-command afterwards, by argparse destination.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Defaults, find_config, load_config
from ..doctor import diagnose, finding_from_error, make_report, summarize
from ..errors import (
    EvalsigError,
    ExitCode,
    InputError,
    InputNotFoundError,
    StorageError,
    UsageError,
)
from ..gate import DoctorError, diagnosed_compare, gate
from ..policy import Mode, Policy
from ..readers import FORMATS, read_run, read_with
from ..render import (
    OUTPUTS,
    SCHEMA_KINDS,
    render_compare,
    render_doctor,
    render_gate,
    report_schema,
)
from ..report import CompareReport, DoctorReport, GateReport
from ..run import EvalRun
from ..stats import METHODS
from ..suite_file import SuiteSpec
from ._github import append_summary, report_dir, write_outputs
from ._parser import UsageParser, _subparsers
from ._plugins import add_plugin_commands
from ._tty import Progress, call_with_progress, style_for

# Files larger than this show a "reading ..." status line on a terminal.
_BIG_FILE = 16 * 1024 * 1024
_RESAMPLING = ("bootstrap", "permutation", "wild")


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


def _name(text: str) -> str:
    """A metric, cluster key or filter name: an empty one (`--cluster ""`, an unset shell
    variable) used to be read as "the file's own" or as a key named ''."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a name, got an empty string")
    return text


def _add_input_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", type=_name,
                   help="metric / scorer to read (Inspect: scorer or scorer.key)")
    p.add_argument("--cluster", type=_name,
                   help="metadata key that clusters items (e.g. passage_id)")
    p.add_argument("--filter", type=_name, help="lm-eval filter name when a file has several")
    p.add_argument("--format", default="auto", choices=FORMATS,
                   help="input format (default: detected from content)")
    p.add_argument("--allow-failed-run", action="store_true",
                   help="use a run whose status is error, on the samples it has")


def _add_stats_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=_finite_float("--alpha"), default=0.05,
                   help="error rate (default 0.05; below 0.8, the power of the reported "
                   "MDE): the interval is the two-sided (1 - alpha) one, alpha/2 per side; "
                   "the JSON's one-sided bounds L and U (ci, upper_bound) and the MDE use "
                   "alpha on one side")
    p.add_argument("--method", default="auto", choices=["auto", *METHODS],
                   help="inference method (default auto)")
    p.add_argument("--resamples", type=_int, default=10000,
                   help="resamples of the random methods (default 10000)")
    p.add_argument("--seed", type=_int, default=0, help="seed of every random method (default 0)")


def _add_report_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format (default tty)")
    p.add_argument("--json", metavar="PATH", help=f"also write the {what} as JSON to PATH")
    p.add_argument("--markdown", metavar="PATH", help=f"also write the {what} as Markdown")
    p.add_argument("--html", metavar="PATH", help=f"also write the {what} as one HTML page")


def build_parser() -> UsageParser:
    parser = UsageParser(prog="evalsig", description="Statistical release gate for LLM evals. "
                     "Exit codes: 0 ALLOW/ok, 1 REJECT, 2 INCONCLUSIVE, 64 usage error, "
                     "65 bad input data, 66 input not found, 70 internal error, 74 I/O error.")
    parser.add_argument("--version", action="version", version=f"evalsig {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="defaults file (default: nearest evalsig.toml or pyproject.toml "
                        "with [tool.evalsig]); flags always win; before the command")
    parser.add_argument("--no-config", action="store_true",
                        help="ignore config files (not with --config); before the command")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)

    d = sub.add_parser("doctor", help="check two runs before gating (exit 0 ok, 65 errors)")
    d.add_argument("baseline", help="baseline run file")
    d.add_argument("candidate", help="candidate run file")
    _add_input_flags(d)
    _add_report_flags(d, "doctor report")
    d.set_defaults(handler=cmd_doctor)

    cmp_ = sub.add_parser("compare", help="estimate delta and its interval; no policy (exit 0)")
    cmp_.add_argument("baseline", help="baseline run file")
    cmp_.add_argument("candidate", help="candidate run file")
    _add_input_flags(cmp_)
    _add_stats_flags(cmp_)
    _add_report_flags(cmp_, "comparison")
    cmp_.set_defaults(handler=cmd_compare)

    s = sub.add_parser("schema", help="print the JSON Schema of a report")
    s.add_argument("--kind", default="gate", choices=list(SCHEMA_KINDS),
                   help="which report (default gate)")
    s.set_defaults(handler=cmd_schema)

    g = sub.add_parser("gate", help="decide ALLOW / REJECT / INCONCLUSIVE (exit 0 / 1 / 2)")
    g.add_argument("--baseline", required=True, help="baseline run file")
    g.add_argument("--candidate", required=True, help="candidate run file")
    _add_input_flags(g)
    g.add_argument("--min-delta", type=_finite_float("--min-delta"), required=True,
                   help="the margin, >= 0: the smallest improvement worth shipping "
                   "(non-inferiority: the largest loss tolerated); required unless the config "
                   "file sets it")
    g.add_argument("--alpha", type=_finite_float("--alpha"), default=0.05,
                   help="one-sided error rate (default 0.05)")
    g.add_argument("--power", type=_finite_float("--power"), default=0.80,
                   help="power for the detectable effect (default 0.80)")
    g.add_argument("--mode", default=Mode.SUPERIORITY.value, choices=[m.value for m in Mode],
                   help="superiority (default), non-inferiority or minimum-effect")
    g.add_argument("--method", default="auto", choices=["auto", *METHODS],
                   help="inference method (default auto)")
    g.add_argument("--resamples", type=_int, default=10000,
                   help="resamples of the random methods (default 10000)")
    g.add_argument("--seed", type=_int, default=0, help="seed of every random method (default 0)")
    g.add_argument("--markdown", metavar="PATH", help="also write the report as Markdown")
    g.add_argument("--html", metavar="PATH", help="also write the report as one HTML page")
    g.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format (default tty)")
    g.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    g.set_defaults(handler=cmd_gate)

    from . import _history, _power, _suite, _watch

    for module in (_power, _suite, _watch, _history):
        module.register(sub)
    add_plugin_commands(sub)  # e.g. `evalsig webhook serve` from evalsig_flows, loaded lazily
    return parser


def apply_defaults(parser: argparse.ArgumentParser, defaults: Defaults,
                   command: str | None, argv: Sequence[str] = ()) -> None:
    """Make the config's values the defaults of `command`'s flags with that destination.

    A required flag that gets a default becomes optional; a flag given on the command line
    (in `argv`) still wins. Values restricted to choices are checked like flags (usage error
    64) unless the flag is given. Only the command being run is touched, so a default another
    command cannot take (say `output = "html"` for a command without HTML) never breaks this
    one, and `evalsig watch --output json` runs under `output = "html"`.
    """
    values = defaults.as_flags()
    for name, sp in _subparsers(parser).items():
        if name != command:
            continue
        for action in sp._actions:
            if action.dest not in values or not action.option_strings:
                continue
            value = values[action.dest]
            given = any(a == o or a.startswith(o + "=") for a in argv
                        for o in action.option_strings)
            if given:
                continue
            if action.choices is not None and value not in action.choices:
                raise UsageError(f"config: {action.dest} = {value!r} is not valid for "
                                 f"`evalsig {name}`; choose from {', '.join(action.choices)}")
            if isinstance(value, str) and callable(action.type):
                # argparse converts a string default with the flag's type, and its error
                # named the flag ("argument --metric: expected a name") for a value nobody
                # typed: check it here and name the config's key instead
                try:
                    action.type(value)
                except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
                    raise UsageError(f"config: {action.dest} = {value!r} is not valid for "
                                     f"`evalsig {name}`: {exc}") from None
            action.default = value
            action.required = False


_TOP_LEVEL_CONFIG = ("--config", "--no-config")


def _before_command(argv: list[str],
                    commands: Mapping[str, argparse.ArgumentParser]) -> list[str]:
    """The arguments before the command, where `--config`/`--no-config` belong (the top-level
    parser takes them). Read anywhere, `gate --config missing.toml` exited 66 "not found"
    (or read an existing file) where the parser refuses the option: now a usage error, 64."""
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--config":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:  # the command
            own = commands.get(argv[i])
            # a plugin's arguments (prefix_chars "\0": passed through) are its own
            if own is not None and "-" in own.prefix_chars:
                _refuse_config_after(argv[i], argv[i + 1:], own)
            break
    return argv[:i]


def _refuse_config_after(command: str, rest: list[str], own: argparse.ArgumentParser) -> None:
    for arg in rest:
        if arg == "--":
            return
        flag = arg.split("=", 1)[0]
        if flag in _TOP_LEVEL_CONFIG and flag not in own._option_string_actions:
            usage = "--config PATH" if flag == "--config" else flag
            raise UsageError(f"{flag} goes before the command, not after `{command}`",
                             hint=f"put it before the command: evalsig {usage} {command} ...")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line with the project's config defaults applied."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for arg in argv:  # a non-UTF-8 byte arrives as a lone surrogate: no report could hold it
        if not arg.isascii() and any("\ud800" <= ch <= "\udfff" for ch in arg):
            raise UsageError(f"argument {arg!a} is not valid UTF-8",
                             hint="rename the file, or give the value, in UTF-8")
    parser = build_parser()
    head = _before_command(argv, _subparsers(parser))
    # allow_abbrev=False: with abbreviations `power --n 100` read as `--no-config`
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config")
    pre.add_argument("--no-config", action="store_true")
    known, _ = pre.parse_known_args([a for a in head if a not in ("-h", "--help")])
    if known.no_config and known.config is not None:  # one would be silently ignored
        raise UsageError("--config and --no-config contradict each other",
                         hint="drop --no-config to read the file, or drop --config")
    parser.refuse_repeats(argv)  # `--config a --config b`: before either file is read
    path: Path | None = None
    if not known.no_config:
        path = Path(known.config) if known.config else find_config(Path.cwd())
        if known.config and not path.is_file():  # type: ignore[union-attr]
            if path.exists():  # type: ignore[union-attr]  # a directory was "not found" (66)
                raise UsageError(f"{known.config}: is not a file; --config takes a TOML file",
                                 hint="pass evalsig.toml or pyproject.toml, or drop --config")
            raise InputNotFoundError(f"{known.config}: config file not found",
                                     hint="check the --config path, or drop --config")
        if path is not None:
            names = _subparsers(parser)
            command = next((a for a in argv if a in names), None)
            try:
                apply_defaults(parser, load_config(path), command, argv)
            except UsageError as exc:  # name the file the bad value is in
                if exc.message.startswith("config: "):
                    raise UsageError(f"{path}: {exc.message.removeprefix('config: ')}",
                                     hint=exc.hint) from None
                raise
    args = parser.parse_args(argv)
    args.config_file = None if path is None else str(path)  # an input: never a report path
    return args


def _read(path: str, args: argparse.Namespace, progress: Progress) -> EvalRun:
    kw: dict[str, Any] = dict(metric=args.metric, cluster=args.cluster, filter=args.filter,
                              format=args.format, allow_failed_run=args.allow_failed_run)
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
    progress = Progress(sys.stderr)
    runs: list[EvalRun | None] = []
    read_errors: list[InputError] = []
    for path in (args.baseline, args.candidate):
        try:
            runs.append(_read(path, args, progress))
        except InputError as exc:
            read_errors.append(exc)
            runs.append(None)
    b, c = runs
    if b is not None and c is not None:
        report = diagnose(b, c, cluster=args.cluster)
    else:
        report = make_report([finding_from_error(e) for e in read_errors], None, None)
        for e in read_errors:  # a missing (66) or unreadable (74) file is not bad data (65)
            if e.exit_code != ExitCode.DATA:  # the report's exit_code is the process's
                report = report.model_copy(update={"exit_code": int(e.exit_code)})
                break
    _emit(args, env, render_doctor, report)
    return report.exit_code


def _stage_label(policy: Policy) -> str:
    method = policy.method
    if any(k in method for k in _RESAMPLING):
        return f"{method}: {policy.resamples} resamples"
    return "estimating"


def _doctor_failed(exc: DoctorError, env: Mapping[str, str]) -> int:
    """The doctor refused: its report on stderr is the message, said once (re-raising added
    an `evalsig: error:` line repeating its first error); the workflow still gets the step
    outputs main() would write for the error, and the doctor's exit 65."""
    sys.stderr.write(render_doctor(exc.report, "tty", style=style_for(sys.stderr, env)))
    github_error(env, int(exc.exit_code), exc.one_line())
    return int(exc.exit_code)


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
    policy = policy_without_power("compare", min_delta=0.0, alpha=args.alpha,
                                  method=args.method, resamples=args.resamples, seed=args.seed,
                                  metric=args.metric, cluster=args.cluster)
    progress = Progress(sys.stderr)
    baseline = _read(args.baseline, args, progress)
    candidate = _read(args.candidate, args, progress)
    try:
        with progress.stage(_stage_label(policy)) as update:
            result, doc = call_with_progress(diagnosed_compare, baseline, candidate, policy,
                                             progress=update)
    except DoctorError as exc:
        return _doctor_failed(exc, env)
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
    policy = Policy(
        min_delta=args.min_delta, alpha=args.alpha, power=args.power, mode=args.mode,
        method=args.method, resamples=args.resamples, seed=args.seed,
        metric=args.metric, cluster=args.cluster,
    )
    progress = Progress(sys.stderr)
    baseline = _read(args.baseline, args, progress)
    candidate = _read(args.candidate, args, progress)
    try:
        with progress.stage(_stage_label(policy)) as update:
            report = call_with_progress(gate, baseline, candidate, policy, progress=update)
    except DoctorError as exc:
        code = _doctor_failed(exc, env)
        _emit_refusal(args, env, exc.report, {"metric": policy.metric or baseline.meta.metric,
                                              "task": candidate.meta.task})
        return code
    _emit(args, env, render_gate, report, publish=lambda: github_gate(report, env, args))
    return report.exit_code


def _emit_refusal(args: argparse.Namespace, env: Mapping[str, str], report: DoctorReport,
                  gate_marker: dict[str, str | None]) -> None:
    """A gate the doctor refused still writes its report paths, stdout (unless tty: stderr has
    it) and the job summary: the doctor report, its Markdown under the marker this gate's
    verdict would carry. Before, nothing was written: `> report.md` posted an empty PR
    comment, and a comment or report.json left by an earlier ALLOW stood as if still true.
    A path that cannot be written is said on stderr; the exit stays the doctor's 65."""
    render = functools.partial(render_doctor, gate=gate_marker)

    def summary() -> None:  # best effort: the exit is the doctor's 65 whatever happens here
        with contextlib.suppress(EvalsigError):
            append_summary(env, render(report, "markdown"))

    try:
        _emit(args, env, render, report, stdout=args.output != "tty", publish=summary)
    except EvalsigError as exc:
        sys.stderr.write(f"evalsig: also: {exc.one_line()}\n")


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
