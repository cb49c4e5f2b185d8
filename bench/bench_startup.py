"""What a fresh `evalsig` process pays before it does anything (`make bench BENCH=startup`).

`evalsig_core/__init__.py` imported every public name eagerly, and `evalsig_core.cli` its
commands, so `import evalsig_core.cli` (the flows and the local stack import it for
`UsageParser`) loaded numpy, scipy, pydantic, jinja2 and every module of the package. Now the
package imports its names on first use and `main` the commands.

"before" imports, up front, the modules that the eager `import evalsig_core.cli` loaded (EAGER);
"now" does not. Each case is a fresh interpreter (`python -c`), timed in CPU seconds inside it
(time.process_time: the machines here are shared and wall-clock swings with other jobs'
load), the best of REPEATS, "before" and "now" alternated. Cases: `import evalsig_core`,
`import evalsig_core.cli`, and `evalsig --help` (`main(["--help"])`, which builds the parser:
its choices still come from readers, render and stats, so it still loads them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPEATS = 5
# What `import evalsig_core.cli` imported before the lazy package (its __init__ and the CLI's).
EAGER = ("evalsig_core.doctor", "evalsig_core.gate", "evalsig_core.pairing",
         "evalsig_core.policy", "evalsig_core.readers", "evalsig_core.report",
         "evalsig_core.run", "evalsig_core.sequential", "evalsig_core.stats",
         "evalsig_core.stats.power", "evalsig_core.suite", "evalsig_core.render",
         "evalsig_core.cli._commands", "evalsig_core.cli._refusal")
CASES = {
    "import evalsig_core": "import evalsig_core",
    "import evalsig_core.cli": "import evalsig_core.cli",
    "evalsig --help": ("import contextlib, io\n"
                       "from evalsig_core.cli import main\n"
                       "with contextlib.redirect_stdout(io.StringIO()), "
                       "contextlib.suppress(SystemExit):\n"
                       "    main(['--no-config', '--help'], {})"),
}


def _cpu(code: str, before: bool) -> float:
    """CPU seconds of a fresh interpreter running `code` (after EAGER's imports if `before`)."""
    pre = "".join(f"import {m}\n" for m in EAGER) if before else ""
    child = f"import time\nt = time.process_time()\n{pre}{code}\nprint(time.process_time() - t)"
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"-- fresh process, CPU s, best of {REPEATS}", flush=True)
    print(f"  {'case':24s} {'before':>8s} {'now':>8s} {'ratio':>7s}", flush=True)
    for name, code in CASES.items():
        before = now = float("inf")
        for _ in range(REPEATS):  # alternated: a load that drifts hits both alike
            before = min(before, _cpu(code, True))
            now = min(now, _cpu(code, False))
        print(f"  {name:24s} {before:8.3f} {now:8.3f} {before / now:6.1f}x", flush=True)


if __name__ == "__main__":
    main()
