"""What ships to Lambda (the layer and the handlers) never imports the dev tooling, which is not deployed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "layers" / "common" / "smscore").rglob("*.py"), *(ROOT / "functions").rglob("*.py")])


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_the_shipped_code_is_found() -> None:
    assert any(path.name == "app.py" for path in SHIPPED)
    assert any(path.parent.name == "dal" for path in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(ROOT)))
def test_shipped_code_does_not_import_the_dev_tooling(path: Path) -> None:
    # The admin store (tenants, tokens, top-ups) lives in smsdev.admin_store: no function may reach it.
    tooling = sorted(m for m in imported_modules(path) if m == "smsdev" or m.startswith(("smsdev.", "tests", "bench")))
    assert tooling == []


def test_the_admin_store_is_not_in_the_layer() -> None:
    assert not (ROOT / "layers" / "common" / "smscore" / "dal" / "admin_store.py").exists()
    assert (ROOT / "tools" / "smsdev" / "admin_store.py").exists()


LAYER = ROOT / "layers" / "common" / "smscore"
# Inside the layer, imports run down only: the domain imports nothing of the adapters, and the stores (dal) never the
# providers or the API above them (a provider may use a store, as the sandbox its outbox; the ports live in domain).
NOT_BELOW = {
    "domain": ("smscore.dal", "smscore.providers", "smscore.api", "smscore.wiring"),
    "dal": ("smscore.providers", "smscore.api", "smscore.wiring"),
}


def imported_names(path: Path) -> set[str]:
    """The modules `path` imports, and for `from M import N` also `M.N` (N may be a module)."""
    names = imported_modules(path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    "path",
    sorted(path for package in NOT_BELOW for path in (LAYER / package).rglob("*.py")),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_the_domain_and_the_stores_do_not_import_the_layers_above_them(path: Path) -> None:
    above = NOT_BELOW[path.relative_to(LAYER).parts[0]]
    assert sorted(m for m in imported_names(path) if m.startswith(above)) == []
