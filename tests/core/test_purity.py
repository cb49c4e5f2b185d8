"""The dependency rule: evalsig_core never loads prefect, boto3, HTTP libraries or the flows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "evalsig_core"
FORBIDDEN = ("prefect", "boto3", "botocore", "evalsig_flows", "requests", "httpx", "urllib3",
             "aiohttp")


def test_importing_core_and_its_cli_loads_no_orchestration_or_network_library() -> None:
    code = (
        "import sys, evalsig_core, evalsig_core.cli, evalsig_core.render;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_core_module_imports_a_forbidden_package() -> None:
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path}: imports {name}"


def test_only_the_cli_reads_the_environment() -> None:
    for path in CORE.rglob("*.py"):
        if "cli" in path.relative_to(CORE).parts:
            continue
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text, path
