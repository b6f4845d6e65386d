"""The shape of the code: rooms small enough to read, layers that never import each other."""

import ast
import subprocess
import sys
from pathlib import Path

from tributary.settings import PROJECT_ROOT

PLATFORM = PROJECT_ROOT / "platform"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60  # ruff's C901 (complexity 15) and PLR0915 guard the rest


def modules() -> list[Path]:
    return sorted(PLATFORM.rglob("*.py"))


def test_no_module_is_too_long_to_read():
    long = {
        str(p.relative_to(PLATFORM)): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split by job: {long}"


def test_no_function_is_too_long_to_read():
    long = [
        f"{p.relative_to(PLATFORM)}:{node.lineno} {node.name} ({n} lines)"
        for p in modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES
    ]
    assert not long, long


def test_layers_keep_their_import_contracts():
    """pyproject.toml's import-linter contracts: no layer imports another, contracts and the
    shared modules import no layer, and no layer knows the demo enterprise."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
