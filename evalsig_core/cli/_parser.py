"""`UsageParser`: the one argparse rule of every evalsig command line and script.

argparse exits 2 on a usage error, and 2 means INCONCLUSIVE to a CI gate; an abbreviated long
option (`--min` for `--min-delta`) becomes ambiguous (or changes meaning) when a flag is added
later. So every parser of evalsig (the `evalsig` CLI, `evalsig webhook`, `deployments/serve.py`,
`infra/local/{stack,s3}.py`, `python -m evalsig_flows.demo`) is a `UsageParser`: abbreviations
are refused, an unknown option is named (with the options it abbreviates: "did you mean"),
an option that holds one value may be given once (argparse let the last of `--alpha 0.05 ...
--alpha 0.5` win silently, so a CI file gated on a value its reader may not see), and a usage
error raises `UsageError` (exit 64). `parse_args_or_exit` is for a script's own
`main()`: it prints that error as one line and exits 64.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import UsageError

__all__ = ["UsageParser"]

# Actions meant to be given several times; every other option holds one value.
_REPEATABLE = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction,
               argparse._HelpAction, argparse._VersionAction)


class UsageParser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 64) instead of exiting 2 (= INCONCLUSIVE).

    Long options must be spelled out (allow_abbrev is always False, for every sub-parser too:
    they are made with this class): with abbreviations a flag added later made `--min` in
    someone's CI ambiguous (64 on upgrade) or silently changed what it meant. An unknown
    option is named first, with the option it abbreviates, even when argparse would rather
    report the required flag it was meant to be.

    An option that holds one value (`--alpha X`, a `store_true` flag, `--x/--no-x`) may be
    given once: `--alpha 0.05 ... --alpha 0.5` is refused naming both values, whatever they
    are. The one exception is a flag repeated (`--dry-run ... --dry-run`, or `-n` and its
    alias `--dry-run`): it cannot say two different things, so it is allowed, as `--x` then
    `--no-x` is not. Options meant to repeat (`action="append"`, counts) repeat freely.

    `options` holds every option string given to this parser's `add_argument` (-h and --help
    too): a record of our own, where argparse's is private."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: set[str] = set()  # before argparse's __init__, which adds -h/--help
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        self._argv: list[str] = []

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options.update(action.option_strings)
        return action

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        self.refuse_repeats(self._argv)
        return super().parse_known_args(args, namespace)

    def refuse_repeats(self, argv: Sequence[str]) -> None:
        """Raise UsageError (64) for an option of this parser, or of the sub-command chosen
        in `argv`, that holds one value and is given more than once (see the class)."""
        words = list(argv)
        uses: dict[str, list[tuple[str, str | None, object]]] = {}
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word == "--":
                return
            if not self._looks_like_option(word):
                chosen = _subparsers(self).get(word)
                if chosen is not None:  # the rest of the words are the sub-command's
                    self._refuse(uses)
                    if isinstance(chosen, UsageParser):
                        chosen._argv = words[i:]  # its unknown options are named first
                        chosen.refuse_repeats(words[i:])
                    return
                continue
            name, inline = word, None
            if word not in self._option_string_actions and "=" in word:
                name, inline = word.split("=", 1)
            action = self._option_string_actions.get(name)
            if action is None:
                continue  # unknown: named by parse_args
            if action.nargs == argparse.REMAINDER:
                break
            value = inline
            if action.nargs != 0 and inline is None:
                nargs = action.nargs
                wanted = 1 if nargs in (None, argparse.OPTIONAL) else nargs  # int, * or +
                taken: list[str] = []
                while i < len(words) and not self._looks_like_option(words[i]) and (
                        not isinstance(wanted, int) or len(taken) < wanted):
                    taken.append(words[i])
                    i += 1
                if not taken:
                    continue  # a missing value: argparse names it
                value = " ".join(taken)
            if not isinstance(action, _REPEATABLE) and action.dest != argparse.SUPPRESS:
                # what a flag does: its action's constant (-n and --dry-run alike), but
                # --x and --no-x of one BooleanOptionalAction differ
                boolean = isinstance(action, argparse.BooleanOptionalAction)
                does = (action, name) if boolean else action
                uses.setdefault(action.dest, []).append((name, value, does))
        self._refuse(uses)

    def _refuse(self, uses: dict[str, list[tuple[str, str | None, object]]]) -> None:
        for given in uses.values():
            names = list(dict.fromkeys(n for n, _, _ in given))
            flag_once = all(v is None for _, v, _ in given) and len({d for *_, d in given}) == 1
            if len(given) < 2 or flag_once:
                continue  # once, or one flag repeated: nothing contradicts
            times = "twice" if len(given) == 2 else f"{len(given)} times"
            if len(names) == 1:
                values = [v for _, v, _ in given]
                shown = ", ".join(str(v) for v in values[:-1]) + f", then {values[-1]}"
                self.error(f"{names[0]} given {times} ({shown}): give it once")
            shown = ", then ".join(n if v is None else f"{n} {v}" for n, v, _ in given)
            self.error(f"{' and '.join(names)} set the same option ({shown}): give one of them")

    def _looks_like_option(self, word: str) -> bool:
        """Whether argparse reads `word` as an option (not a value such as -0.5 or "- x")."""
        return (len(word) > 1 and word[0] in self.prefix_chars and " " not in word
                and not self._negative_number_matcher.match(word))

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        if self._unknown_option() is not None:  # before the command's own errors
            self.error("unrecognized arguments")
        ns, extras = self.parse_known_args(args, namespace)
        if extras:  # name them in the parser of the command they were given to
            action = _subparsers_action(self)
            chosen = getattr(ns, action.dest, None) if action is not None else None
            leaf = _subparsers(self).get(chosen or "", self)
            leaf.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns

    def parse_args_or_exit(self, args: Any = None,
                           namespace: Any = None) -> argparse.Namespace:
        """`parse_args` for a script's `main()`: a usage error is one line on stderr
        (`<prog>: error: ...`) and exit status 64 (SystemExit), never argparse's 2."""
        try:
            ns: argparse.Namespace = self.parse_args(args, namespace)
            return ns
        except UsageError as exc:
            print(f"{self.prog}: error: {exc.one_line()}", file=sys.stderr)
            raise SystemExit(int(exc.exit_code)) from None

    def error(self, message: str) -> NoReturn:
        unknown = self._unknown_option()
        if unknown is not None:
            message = f"unrecognized option {unknown}"
            meant = sorted(o for o in self._option_string_actions if o.startswith(unknown))
            if meant:
                message += (f": did you mean {' or '.join(meant)}? "
                            "(long options are spelled out in full)")
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def _unknown_option(self) -> str | None:
        """The first option-like word of this parser's arguments that no option of it
        spells (`--min` of `--min=0.01` too); a parser with sub-commands looks only at the
        words before the sub-command (the rest are the sub-command's)."""
        commands = _subparsers(self)
        for word in self._argv:
            if word == "--" or word in commands:
                return None
            name = word.split("=", 1)[0]
            if self._looks_like_option(word) and name not in self._option_string_actions:
                return name
        return None


def _subparsers_action(parser: argparse.ArgumentParser) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = _subparsers_action(parser)
    return dict(action.choices) if action is not None else {}
