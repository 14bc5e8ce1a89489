"""Dependencies point inward (docs/architecture.md), checked on the source AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "floorguard"

# package -> floorguard subpackages/modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "core": {
        "config", "domain", "services", "persistence", "marketdata", "brokers",
        "api", "web", "cli", "jobs", "narrative",
    },
    "domain": {"config", "services", "persistence", "marketdata", "brokers", "api", "web", "cli", "jobs"},
    "narrative": {"services", "persistence", "marketdata", "brokers", "api", "web", "cli", "jobs"},
    "persistence": {"services", "api", "web", "cli", "jobs", "brokers", "marketdata"},
    "marketdata": {"services", "api", "web", "cli", "jobs", "brokers"},
    "brokers": {"services", "api", "web", "cli", "jobs"},
    "services": {"api", "web", "cli", "jobs"},
    "api": {"cli", "web"},
    "cli": {"web"},
    "jobs": {"api", "web", "cli"},
}

# core may only use the numeric stack (plus the standard library); threadpoolctl
# only pins BLAS threads for the Monte Carlo kernel (it comes with scikit-learn).
CORE_ALLOWED_THIRD_PARTY = {"numpy", "scipy", "pandas", "statsmodels", "arch", "sklearn", "threadpoolctl"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _files(package: str) -> list[Path]:
    root = SRC / package
    return sorted(root.rglob("*.py")) if root.is_dir() else []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    bad = []
    for path in _files(package):
        if "migrations" in path.parts:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "floorguard" and len(parts) > 1 and parts[1] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "layer violations:\n" + "\n".join(bad)


def test_core_uses_only_numeric_stack() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    bad = []
    for path in _files("core"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in stdlib or top in CORE_ALLOWED_THIRD_PARTY or top == "floorguard":
                continue
            if top == "__future__":
                continue
            bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "core must stay numeric:\n" + "\n".join(bad)
