"""The layering of ARCHITECTURE.md, checked on the source: no import cycle among the project's
modules (function-level imports count too), imports point one way (web -> services -> runs ->
the Django app's base -> engine and kube), and the engine and kube load no Django module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("backups", "veloweb", "emulator")

# Layers, highest first; a module may import its own layer and the ones below it. The longest
# matching prefix decides a module's layer.
LAYERS = {
    "web": 5,
    "services": 4,
    "runs": 3,
    "base": 2,
    "engine": 1,
    "kube": 1,
}
LAYER_OF_PREFIX = {
    "backups.views": "web",
    "backups.forms": "web",
    "backups.urls": "web",
    "backups.admin": "web",
    "backups.apps": "web",
    "backups.management": "web",
    "backups.templatetags": "web",
    "backups.periodic_jobs": "web",
    "backups.middleware": "web",
    "backups.live": "web",
    "backups.api": "web",
    "backups.live.progress": "base",
    "veloweb.urls": "web",
    "veloweb.asgi": "web",
    "backups.services": "services",
    "backups.runs": "runs",
    "backups": "base",
    "veloweb": "base",
    "backups.engine": "engine",
    "backups.kube": "kube",
}
# kube implements the engine's protocols (Source, ResourceTable): it may import the engine, the
# engine never imports kube
MAY_IMPORT = {"engine": {"engine"}, "kube": {"kube", "engine"}}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # `from package import module` imports that module
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in modules else module)
    resolved = set()
    for module in found:
        while module and module not in modules:
            module = module.rpartition(".")[0]
        if module and module != name:
            resolved.add(module)
    return resolved


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def layer(module: str) -> str | None:
    matches = [p for p in LAYER_OF_PREFIX if module == p or module.startswith(p + ".")]
    return LAYER_OF_PREFIX[max(matches, key=len)] if matches else None


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_projects_modules():
    assert cycles(import_graph()) == []


def test_imports_point_one_way():
    wrong = []
    for module, imported in import_graph().items():
        mine = layer(module)
        if mine is None:
            continue
        for other in imported:
            theirs = layer(other)
            if theirs is None:
                continue
            allowed = theirs in MAY_IMPORT[mine] if mine in MAY_IMPORT else LAYERS[theirs] <= LAYERS[mine]
            if not allowed:
                wrong.append(f"{module} ({mine}) imports {other} ({theirs})")
    assert wrong == []


def test_the_layer_rule_sees_an_upward_import():
    assert layer("backups.runs.batches") == "runs"
    assert layer("backups.services.backups") == "services"
    assert layer("backups.live.progress") == "base"
    assert layer("backups.live.consumer") == "web"
    assert LAYERS[layer("backups.services.backups")] > LAYERS[layer("backups.runs.tasks")]


def test_the_engine_and_kube_load_no_django_module():
    """Every module of backups/engine and backups/kube, imported in a fresh interpreter."""
    names = sorted(n for n in project_modules() if n.startswith(("backups.engine", "backups.kube")))
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert len(names) > 30
    assert result.stdout.strip() == "[]"
