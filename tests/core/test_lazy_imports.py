"""The package and its command line import the library on first use, not on `import`.

`import evalsig_core.cli` loaded numpy, scipy, pydantic and jinja2 (every module of the
package, through `evalsig_core/__init__.py`): the flows and the local stack import it for
`UsageParser` alone, and each `evalsig` process paid for all of it before parsing a flag.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import evalsig_core

HEAVY = ("numpy", "scipy", "pydantic", "jinja2")
INIT = Path(evalsig_core.__file__)


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.strip()


def test_importing_the_package_and_its_cli_loads_no_numerical_or_template_library() -> None:
    code = ("import sys, evalsig_core, evalsig_core.cli, evalsig_core.errors;"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    assert _fresh(code) == ""


def test_the_public_names_are_the_objects_their_modules_define() -> None:
    for name in evalsig_core.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(evalsig_core._MODULE_OF[name], "evalsig_core")
        assert getattr(evalsig_core, name) is getattr(module, name), name
    assert {*evalsig_core._MODULE_OF, "__version__"} == set(evalsig_core.__all__)
    assert set(evalsig_core.__all__) <= set(dir(evalsig_core))


def test_the_type_checkers_imports_and_the_lazy_table_agree() -> None:
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and ast.unparse(n.test) == "TYPE_CHECKING")
    seen = {a.name: "." * n.level + (n.module or "") for n in block.body
            if isinstance(n, ast.ImportFrom) for a in n.names}
    assert seen == evalsig_core._MODULE_OF


def test_gate_is_the_function_after_a_module_imported_the_gate_module() -> None:
    # loading evalsig_core/gate.py binds the module on the package; the function must win
    code = ("import evalsig_core.cli._commands; from evalsig_core import gate;"
            "import evalsig_core as e; print(callable(gate), gate is e.gate,"
            " type(gate).__name__)")
    assert _fresh(code).split() == ["True", "True", "function"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        evalsig_core.no_such_name  # noqa: B018
