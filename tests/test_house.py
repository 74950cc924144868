"""The shape of the package: imports go one way, imports sit at the top of modules
(except where a dependency is optional or the CLI starts lazily), modules and functions
stay small, the top level stays short, only ``graph.py`` touches networkx's private
dicts, and ``import gradtrace`` pulls in no optional dependency."""

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "gradtrace"
MAX_LINES = 450     # ~400; the longest are op-table families (rows, one per op)
MAX_FUNCTION_LINES = 60
# modules directly in gradtrace/ (besides __init__ and __main__): the front door; the rest
# live in rooms by role (core, names, record, calculus, ops, render, pytorch, cli, valuegraph)
MAX_TOP_LEVEL = 12
# the recording and calculus side never reaches the views built on it
RECORDING = ("gradtrace.core.tape", "gradtrace.core.graph", "gradtrace.names",
             "gradtrace.record", "gradtrace.calculus.backward", "gradtrace.ops")
VIEWS = ("gradtrace.render", "gradtrace.core.jsonio", "gradtrace.jsonload", "gradtrace.cli")
# module -> what it may import inside a function, and why
LAZY_OK = {
    "gradtrace.cli.main": None,               # any: the CLI starts fast and imports on demand
    "gradtrace.tracing": {"gradtrace.pytorch.run"},   # only when torch is already loaded
    "gradtrace.cli.targets": {"gradtrace.pytorch.torch_examples"},   # a torch example, if named
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
            for alias in node.names:           # x may be a module (from .room import x)
                yield f"{target}.{alias.name}", id(node) in inside


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


def room_of(module: str) -> str:
    """A subpackage's modules are one room (``gradtrace.record``); a top-level module is
    a room of its own."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def test_rooms_import_one_way():
    """Between rooms, too, imports go one way: no room reaches back into one that
    imports it (so a room can be read, and tested, from the bottom up)."""
    g = package_graph()
    rooms = nx.DiGraph()
    for a, b in g.edges():
        if room_of(a) != room_of(b):
            rooms.add_edge(room_of(a), room_of(b))
    assert list(nx.simple_cycles(rooms)) == []
    assert {"gradtrace.core", "gradtrace.names", "gradtrace.record", "gradtrace.calculus",
            "gradtrace.render", "gradtrace.pytorch", "gradtrace.cli"} <= set(rooms)
    assert not nx.has_path(rooms, "gradtrace.record", "gradtrace.render")


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


def test_no_function_is_long():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module_name(path)}.{node.name}: {lines} lines")
    assert long == []


def test_the_top_level_stays_short():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= MAX_TOP_LEVEL, sorted(top)


def test_recording_never_imports_the_views():
    g = package_graph()
    for low in g:
        if not low.startswith(RECORDING):
            continue
        for view in g:
            if view.startswith(VIEWS):
                assert not nx.has_path(g, low, view), f"{low} reaches {view}"


def test_only_graph_py_touches_networkx_private_dicts():
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "graph.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("_node", "_pred", "_succ",
                                                                 "_adj"):
                found.append(f"{module_name(path)}:{node.lineno} .{node.attr}")
    assert found == []


def test_import_gradtrace_loads_no_optional_dependency():
    code = ("import sys, gradtrace\n"
            "bad = [m for m in ('torch', 'PIL', 'playwright', 'hypothesis', 'autograd') "
            "if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_module_sets_another_objects_private_state():
    """A Trace's (or any object's) private fields change only through its class's own
    methods (a Value engine's method may set ``out._backward`` on the Value it made)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_class = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                    for n in ast.walk(c)}
        for node in ast.walk(tree):
            if id(node) in in_class:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            while targets:
                e = targets.pop()
                if isinstance(e, (ast.Tuple, ast.List)):
                    targets.extend(e.elts)
                elif isinstance(e, ast.Attribute) and e.attr.startswith("_") and \
                        not e.attr.startswith("__"):
                    found.append(f"{module_name(path)}:{node.lineno} {ast.unparse(e)}")
    assert found == []
