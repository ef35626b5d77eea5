"""The package layout is the architecture: each layer imports only the layers below it.

Layers, lowest first (docs/architecture.md): the base modules at the top of ``aimsgraph``
(errors, config, clock, namespaces, resources, limits, auth); ``store``; ``semantics``; ``risk``;
``records``; ``reporting``; ``interop``; ``sparql``; ``runtime`` (what a running service holds,
and its write path); ``http``; ``mcp`` (a peer of ``http``: it imports neither ``http`` nor
Flask, checked below); and ``cli``, which may use all of
them. ``sparql.guard`` is a leaf (it imports only base modules) that the store's remote engine
uses to read SPARQL text. Imports are read from the source with ``ast``, including those inside
functions, so a lazy import cannot hide a violation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "service" / "aimsgraph"
BASE = ("errors", "config", "clock", "namespaces", "resources", "limits", "auth", "__version__")
LAYERS = ("store", "semantics", "risk", "records", "reporting", "interop", "sparql", "runtime", "http", "mcp", "cli")
#: Leaves any layer may import: they import only base modules (checked below). The CSV sheet
#: reader is one: records.files reads a record kept as files, sheets included, below reporting.
LEAVES = {"sparql.guard", "interop.importers.spreadsheet"}


def _layer(module: str) -> int:
    """-1 for a base module, else the position of the module's layer."""
    top = module.split(".")[0]
    return -1 if top in BASE else LAYERS.index(top)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:
            found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """The aimsgraph modules a file imports, relative to the package (``store.remote``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aimsgraph":
            base = node.module.removeprefix("aimsgraph").lstrip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}".lstrip(".")
                found.add(candidate if candidate.split(".")[0] in (*BASE, *LAYERS) and _is_module(candidate) else base)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("aimsgraph.") for a in node.names if a.name.startswith("aimsgraph.")}
    return {m for m in found if m}


def _is_module(name: str) -> bool:
    return name in _modules() or name in BASE


def test_every_module_belongs_to_a_layer():
    for name in _modules():
        assert name.split(".")[0] in (*BASE, *LAYERS), f"aimsgraph.{name} is in no layer: move it into one"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_imports_a_higher_layer(module: str):
    own = _layer(module)
    for imported in sorted(_imports(_modules()[module])):
        if imported in LEAVES:
            continue
        assert _layer(imported) <= own, (
            f"aimsgraph.{module} ({LAYERS[own] if own >= 0 else 'base'}) imports aimsgraph.{imported}, "
            f"a higher layer ({LAYERS[_layer(imported)]})"
        )


def test_leaves_import_only_base_modules():
    for leaf in LEAVES:
        assert all(_layer(m) == -1 for m in _imports(_modules()[leaf])), f"aimsgraph.{leaf} is no longer a leaf"


def test_flask_is_imported_only_by_the_http_layer():
    for module, path in _modules().items():
        if _layer(module) < LAYERS.index("http"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not any(n.split(".")[0] in ("flask", "werkzeug") for n in names), f"aimsgraph.{module} imports Flask"


def test_the_mcp_front_end_is_a_peer_of_http():
    for module, path in _modules().items():
        if module.split(".")[0] == "mcp":
            assert not any(m.split(".")[0] == "http" for m in _imports(path)), f"aimsgraph.{module} imports aimsgraph.http"
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not any(n.split(".")[0] in ("flask", "werkzeug") for n in names), f"aimsgraph.{module} imports Flask"


#: The attributes that reach ``GraphStore``'s backend (pyoxigraph's Store or the external store):
#: ``backend`` (formerly ``raw``) and the private ``_store`` behind it.
BACKEND_ATTRIBUTES = {"backend", "raw", "_store"}
#: The modules that may use them: the store package, and the SPARQL executor, which hands the
#: backend to its forked readers. Every other module goes through ``GraphStore``'s methods.
BACKEND_USERS = {"sparql.executor"}


def test_only_the_store_and_the_executor_reach_the_backend():
    offenders = sorted(
        f"{module}:{node.lineno}: .{node.attr}"
        for module, path in _modules().items()
        if module.split(".")[0] != "store" and module not in BACKEND_USERS
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in BACKEND_ATTRIBUTES
    )
    assert offenders == [], "use GraphStore's methods (quads, contains, select, extend), not its backend"
