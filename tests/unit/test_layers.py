"""The layers of docs/architecture.md, as the code's imports: greenwatch/ (the composition root)
is imported by no package, no service imports deploy/, and runtime/ and schemas/ import no
service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "streams", "alerts", "grafana", "audit")
FORBIDDEN = {
    **dict.fromkeys(SERVICES, frozenset({"deploy", "greenwatch"})),
    "deploy": frozenset({"greenwatch", *SERVICES}),
    "runtime": frozenset({"deploy", "greenwatch", *SERVICES}),
    "schemas": frozenset({"deploy", "greenwatch", "runtime", *SERVICES}),
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages ``path`` imports (absolute imports, anywhere in the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_above_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}
