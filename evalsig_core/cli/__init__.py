"""The `evalsig` command line. `main(argv, env)` returns an exit code; only `console_main` exits.

This is the edge of the core: it alone prints, reads the environment (`GITHUB_OUTPUT`,
`GITHUB_STEP_SUMMARY`, `RUNNER_TEMP`, `NO_COLOR`) and turns errors into the exit codes of
DESIGN.md (never a traceback).

The commands and the library they run are imported by `main`, not with this package: the flows
and the local stack import it for `UsageParser` alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from ..errors import EvalsigError, ExitCode, UsageError
from ._args import build_parser, parse_args
from ._parser import UsageParser

__all__ = ["UsageError", "UsageParser", "build_parser", "console_main", "main"]


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    from ._commands import check_output_paths, discard_stdout, finish_stdout, github_error
    from ._refusal import refuse_report_paths

    env = os.environ if env is None else env
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        args = parse_args(argv)
        check_output_paths(args)
        code = int(args.handler(args, env))
        finish_stdout()  # a failed final flush is 74 here, not Python's exit status 120
        return code
    except EvalsigError as exc:
        print(f"evalsig: error: {exc.one_line()}", file=sys.stderr)
        github_error(env, int(exc.exit_code), exc.one_line())
        refuse_report_paths(argv, args, env, exc)
        return int(exc.exit_code)
    except BrokenPipeError:  # a print() outside _write_stdout; the final flush must not fail
        discard_stdout()
        return int(ExitCode.IO)
    except KeyboardInterrupt:
        print("evalsig: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("evalsig: error: out of memory", file=sys.stderr)
        github_error(env, int(ExitCode.SOFTWARE), "out of memory")
        refuse_report_paths(argv, args, env, EvalsigError("out of memory"))
        return int(ExitCode.SOFTWARE)
    except Exception as exc:  # an evalsig bug: one line, exit 70, never a verdict
        msg = f"{type(exc).__name__}: {exc}"
        print(f"evalsig: internal error: {msg} (this is a bug in evalsig; please report it)",
              file=sys.stderr)
        github_error(env, int(ExitCode.SOFTWARE), f"internal error: {msg}")
        refuse_report_paths(argv, args, env, exc)
        return int(ExitCode.SOFTWARE)


def console_main() -> None:
    sys.exit(main())
