"""The shape of the package: imports go one way, imports sit at the top of modules
(except where a dependency is optional or the CLI starts lazily), modules stay small,
and ``import gradtrace`` pulls in no optional dependency."""

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "gradtrace"
MAX_LINES = 460     # ~400; the longest are op-table families (rows, one per op)
# module -> what it may import inside a function, and why
LAZY_OK = {
    "gradtrace.cli": None,                    # any: the CLI starts fast and imports on demand
    "gradtrace.tracing": {"gradtrace.torchrun"},          # only when torch is already loaded
    "gradtrace.trace": {"gradtrace.torchrun"},            # a torch trace's re-trace, likewise
    "gradtrace.targets": {"gradtrace.torch_examples"},    # only when a torch example is named
    "gradtrace.render.gif": {"PIL"},                      # the optional gif extra
    "gradtrace.render.output": {"resource", "ctypes"},    # in Graphviz's child process only
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(imported module, inside a function?) for every import statement of a file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(fn) if n is not fn)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in inside
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None:            # from . import x: x is a module
                for alias in node.names:
                    yield f"{target}.{alias.name}", id(node) in inside
            else:
                yield target, id(node) in inside


def package_graph() -> nx.DiGraph:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        for target, _ in imports(path):
            while target and target not in modules:     # a name imported from a module
                target = target.rpartition(".")[0]
            if target and target != name:
                g.add_edge(name, target)
    return g


def test_the_import_graph_has_no_cycle():
    g = package_graph()
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], cycles[:5]
    assert not nx.has_path(g, "gradtrace.trace", "gradtrace.jsonload")   # loaders build on
    assert nx.has_path(g, "gradtrace.jsonload", "gradtrace.trace")       # Trace, not reverse


def test_imports_sit_at_the_top_except_where_a_dependency_is_optional():
    found = []
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        allowed = LAZY_OK.get(name, set())
        for target, inside in imports(path):
            if inside and allowed is not None and not any(
                    target == a or target.startswith(a + ".") for a in allowed):
                found.append(f"{name} imports {target} inside a function")
    assert found == []


def test_no_module_is_large():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_import_gradtrace_loads_no_optional_dependency():
    code = ("import sys, gradtrace\n"
            "bad = [m for m in ('torch', 'PIL', 'playwright', 'hypothesis', 'autograd') "
            "if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
