"""`make bench`: run every benchmark module in this folder and print its ratios.

Each `bench/bench_*.py` defines `main() -> None` that times evalsig against a reference in the
same run and prints ratios (machines here are shared and noisy: ratios, not absolute seconds,
are what the targets are about). Run one: `python -m bench NAME` (e.g. `python -m bench stats`).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = [n for n in names if not argv or n in argv]
    if not chosen:
        print(f"no benchmark matches {argv}; available: {', '.join(names) or 'none'}")
        return 64
    for name in chosen:
        print(f"== bench {name} ==", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
