"""Sub-commands contributed by other packages through the `evalsig.commands` entry points.

A plugin's entry point names a `main(argv, env) -> int`. Nothing of the plugin is imported
until its command runs, so the core stays free of HTTP and orchestration libraries:
`evalsig webhook serve` loads `evalsig_flows.webhook:main` only when it is invoked.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import UsageError

GROUP = "evalsig.commands"


def add_plugin_commands(sub: Any) -> None:
    """Add one pass-through sub-command per installed plugin not shadowing a built-in one."""
    for ep in entry_points(group=GROUP):
        if ep.name in sub.choices:
            continue
        p = sub.add_parser(ep.name, add_help=False, prefix_chars="\0",
                           help=f"from {ep.module}; see `evalsig {ep.name} --help`")
        p.add_argument("plugin_args", nargs=argparse.REMAINDER)
        p.set_defaults(handler=partial(_run, ep))


def _run(ep: EntryPoint, args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        main = ep.load()
    except ImportError as exc:
        raise UsageError(f"`evalsig {ep.name}` needs {exc.name or 'a package'}, which is not "
                         f"installed (install the extra that provides {ep.module})") from None
    try:
        return int(main(list(args.plugin_args), env))
    except SystemExit as exc:  # a plugin's argparse --help (0) or error: never exit 2
        code = exc.code if isinstance(exc.code, int) else 1
        return 64 if code == 2 else code
