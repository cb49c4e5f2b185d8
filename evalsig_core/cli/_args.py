"""The CLI's argument parser: flags, sub-parsers, config defaults and `parse_args`.

Commands defined in their own modules (`_power`, `_suite`, `_watch`, `_history`) add their
sub-parser with `register(sub)` from `build_parser`; project defaults from the config file are
applied to every sub-command afterwards, by argparse destination.

The library modules (readers, render, stats, the commands) are imported where the parser is
built, not with this module: `evalsig_core.cli` is imported for `UsageParser` by the flows and
the local stack, which need none of them.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import InputNotFoundError, UsageError
from ._parser import UsageParser, _subparsers
from ._plugins import add_plugin_commands

if TYPE_CHECKING:
    from ..config import Defaults

__all__ = ["add_run_args", "apply_defaults", "build_parser", "parse_args", "resolve_runs"]

_RUN_ORDER = {"baseline": "first", "candidate": "second"}


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
    from ..readers import FORMATS

    p.add_argument("--metric", type=_name,
                   help="metric / scorer to read (Inspect: scorer or scorer.key)")
    p.add_argument("--cluster", type=_name,
                   help="metadata key that clusters items (e.g. passage_id)")
    p.add_argument("--filter", type=_name, help="lm-eval filter name when a file has several")
    p.add_argument("--format", default="auto", choices=FORMATS,
                   help="input format (default: detected from content)")
    p.add_argument("--allow-failed-run", action="store_true",
                   help="use a run whose status is error, on the samples it has")
    for flag, default in (("id", "item_id"), ("score", "the --metric name, else score"),
                          ("cluster", "the --cluster name"), ("epoch", "epoch, if present")):
        p.add_argument(f"--{flag}-col", type=_name, metavar="NAME",
                       help=f"CSV/TSV column of the {flag} of each row, in both runs "
                       f"(default: {default})")


def _add_margin_flag(p: argparse.ArgumentParser) -> None:
    """--min-delta, as gate and watch take it."""
    p.add_argument("--min-delta", type=_finite_float("--min-delta"), required=True,
                   help="the margin, >= 0: the smallest improvement worth shipping "
                   "(non-inferiority: the largest loss tolerated); required unless the config "
                   "file sets it")


def _add_stats_flags(p: argparse.ArgumentParser) -> None:
    from ..stats import METHODS

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
    from ..render import OUTPUTS

    p.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format (default tty)")
    p.add_argument("--json", metavar="PATH", help=f"also write the {what} as JSON to PATH "
                   "(on an error: the error, as a doctor report)")
    p.add_argument("--markdown", metavar="PATH", help=f"also write the {what} as Markdown")
    p.add_argument("--html", metavar="PATH", help=f"also write the {what} as one HTML page")


def add_run_args(p: argparse.ArgumentParser, candidate: str = "candidate run file") -> None:
    """The two runs of doctor, compare, gate and watch, given either way: as the first two
    arguments (`evalsig doctor b.json c.json`, the seed workflow) or with --baseline and
    --candidate (its `gate`). Every such command takes both forms, so `compare --baseline`
    and `gate b.json c.json` are not usage errors; `resolve_runs` joins them after parsing."""
    p.add_argument("baseline_arg", nargs="?", metavar="BASELINE",
                   help="baseline run file (or --baseline)")
    p.add_argument("candidate_arg", nargs="?", metavar="CANDIDATE",
                   help=f"{candidate} (or --candidate)")
    p.add_argument("--baseline", metavar="FILE", help="baseline run file (or the first argument)")
    p.add_argument("--candidate", metavar="FILE", help=f"{candidate} (or the second argument)")


def resolve_runs(ns: argparse.Namespace, *, strict: bool = True) -> None:
    """Set `ns.baseline` / `ns.candidate` from either form of `add_run_args`. A run given
    both ways is a usage error, also when not strict: the lenient re-read of a command line
    that failed then names no path, so the refusal is written nowhere (with one path
    dropped, `--json` naming it would have overwritten a run). Strict (a command line about
    to run): a run not given at all is a usage error too."""
    if not hasattr(ns, "baseline_arg"):
        return
    missing = []
    for role, which in _RUN_ORDER.items():
        pos, opt = vars(ns).pop(f"{role}_arg"), getattr(ns, role, None)
        if pos is not None and opt is not None:
            raise UsageError(f"the {role} run is given twice: {pos!r} as the {which} argument "
                             f"and --{role} {opt!r}",
                             hint=f"give the {role} once, as the {which} argument or with "
                             f"--{role}")
        setattr(ns, role, opt if opt is not None else pos)
        if getattr(ns, role) is None:
            missing.append(role)
    if strict and missing:
        raise UsageError(f"the {' and '.join(missing)} run file"
                         f"{'s are' if len(missing) > 1 else ' is'} missing",
                         hint=f"evalsig {ns.command} BASELINE CANDIDATE, or --baseline FILE "
                         "--candidate FILE")


def build_parser() -> UsageParser:
    from ..policy import Mode
    from ..render import OUTPUTS, SCHEMA_KINDS
    from ..stats import METHODS
    from ._commands import cmd_compare, cmd_doctor, cmd_gate, cmd_schema

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
    add_run_args(d)
    _add_input_flags(d)
    _add_report_flags(d, "doctor report")
    d.set_defaults(handler=cmd_doctor)

    cmp_ = sub.add_parser("compare", help="estimate delta and its interval; no policy (exit 0)")
    add_run_args(cmp_)
    _add_input_flags(cmp_)
    _add_stats_flags(cmp_)
    _add_report_flags(cmp_, "comparison")
    cmp_.set_defaults(handler=cmd_compare)

    s = sub.add_parser("schema", help="print the JSON Schema of a report")
    s.add_argument("--kind", default="gate", choices=list(SCHEMA_KINDS),
                   help="which report (default gate)")
    s.set_defaults(handler=cmd_schema)

    g = sub.add_parser("gate", help="decide ALLOW / REJECT / INCONCLUSIVE (exit 0 / 1 / 2)")
    add_run_args(g)
    _add_input_flags(g)
    _add_margin_flag(g)
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
    g.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH (on "
                   "an error: the error, as a doctor report)")
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
        defined = own.options if isinstance(own, UsageParser) else set()
        if flag in _TOP_LEVEL_CONFIG and flag not in defined:
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
        from ..config import find_config, load_config

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
    resolve_runs(args)
    args.config_file = None if path is None else str(path)  # an input: never a report path
    return args
