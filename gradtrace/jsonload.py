"""Loading a trace from JSON: read safely, validate everything, then build the graph.

A file that is valid JSON but not a valid trace is refused here, with one
``GradtraceError`` naming the first problem by its JSON path and saying what was
expected, so backward, render and explain never meet a broken graph.  The graph
is written straight into networkx's dicts (as the tape's to_graph does) with the
cyclic GC paused, so a 200,000-node trace loads in a few seconds.  Loading only
reads data: no code runs, no pickle.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import networkx as nx
import numpy as np

from .core.graph import GraphWriter, nodes_of, preds_of
from .core.jsonio import FORMAT, VERSION, decode_param
from .errors import GradtraceError
from .ops import PRIMITIVES
from .record import gcpause
from .trace import Trace

MAX_BYTES = 512 * 2**20
KINDS = {"input", "const", "op"}
DTYPES = {"float16", "float32", "float64", "bool", "int8", "int16", "int32", "int64", "uint8",
          "uint16", "uint32", "uint64"}
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Invalid(GradtraceError):
    """The JSON is not a valid trace: ``where`` is the JSON path of the first problem."""

    def __init__(self, where: str, what: str):
        super().__init__(f"invalid gradtrace trace JSON at {where}: {what}")
        self.where = where


# ---------------------------------------------------------------- reading
def read_text(source, max_bytes: int = MAX_BYTES) -> str:
    """The JSON text: ``source`` is JSON text, or a path to a regular file."""
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return source
    if not isinstance(source, (str, Path)):
        raise GradtraceError(f"load_json takes JSON text or a file path, not a "
                             f"{type(source).__name__}")
    path = Path(source)
    try:
        info = os.stat(path)
    except OSError as e:
        raise GradtraceError(f"cannot read trace JSON {path}: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise GradtraceError(f"cannot read trace JSON {path}: it is not a regular file "
                             "(a directory, a device or a pipe)")
    if info.st_size > max_bytes:
        raise GradtraceError(f"trace JSON {path} is {info.st_size / 2**20:.0f} MiB, over the "
                             f"limit of {max_bytes / 2**20:.0f} MiB (raise it with max_bytes=)")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        raise GradtraceError(f"cannot read trace JSON {path}: {e.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GradtraceError(f"trace JSON {path} is not UTF-8 text (is it a pickle, or "
                             "UTF-16?); write it with Trace.to_json()") from None


def parse(text: str):
    try:
        with gcpause.paused():
            return json.loads(text)
    except json.JSONDecodeError as e:
        raise GradtraceError(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") \
            from None
    except RecursionError:
        raise GradtraceError("this JSON is nested far deeper than a trace can be") from None


# ---------------------------------------------------------------- values
def value(d, where: str):
    """A float, or an array from {"shape", "dtype", "data"}, checked field by field."""
    if type(d) is float:
        return d
    if d is None:
        return None
    if type(d) is int:
        try:
            return float(d)
        except OverflowError:
            raise Invalid(where, "an integer too large for a float64") from None
    if type(d) is str:
        if d in _SPECIAL:
            return _SPECIAL[d]
        raise Invalid(where, f"a number, 'nan', 'inf' or '-inf', not the string {d!r:.30}")
    if type(d) is not dict:
        raise Invalid(where, f"a number or an array object, not {type(d).__name__}")
    shape = shape_of(d.get("shape"), where + ".shape")
    dtype = d.get("dtype")
    if type(dtype) is not str or dtype not in DTYPES:
        raise Invalid(where + ".dtype", f"one of {', '.join(sorted(DTYPES))}, not {dtype!r:.30}")
    data = d.get("data")
    if type(data) is not list or len(data) != math.prod(shape):
        raise Invalid(where + ".data", f"a list of {math.prod(shape)} numbers (shape {shape})")
    try:
        if dtype == "bool":
            if any(type(x) is not bool for x in data):
                raise ValueError
            return np.array(data, dtype=bool).reshape(shape)
        if any(type(x) not in (float, int) and not (type(x) is str and x in _SPECIAL)
               for x in data):
            raise ValueError
        arr = np.array([_SPECIAL[x] if type(x) is str else x for x in data], dtype=np.float64)
        if dtype[0] in "iu":
            info = np.iinfo(dtype)
            if not np.all(np.isfinite(arr)) or arr.min(initial=0) < info.min \
                    or arr.max(initial=0) > info.max or not np.all(arr == np.round(arr)):
                raise ValueError
        return arr.astype(dtype).reshape(shape)
    except (ValueError, OverflowError, TypeError):
        raise Invalid(where + ".data", f"numbers that fit dtype {dtype}") from None


def shape_of(s, where: str) -> tuple:
    if s == []:
        return ()
    if type(s) is not list or any(type(n) is not int or n < 0 for n in s) or len(s) > 32:
        raise Invalid(where, "a list of at most 32 non-negative integers")
    return tuple(s)


def _field(d: dict, key: str, types, where: str):
    if key not in d:
        raise Invalid(where, f"a field {key!r}")
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in (
            types if isinstance(types, tuple) else (types,))):
        raise Invalid(f"{where}.{key}", f"{_names(types)}, not {type(v).__name__}")
    return v


def _shape(v) -> tuple:
    return () if type(v) is float else v.shape


def _names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


# ---------------------------------------------------------------- the graph
def build(data):
    """A validated Trace from parsed JSON data."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GradtraceError("this JSON is not a gradtrace trace (no \"format\": "
                             f"\"{FORMAT}\" field); write one with Trace.to_json()")
    version = data.get("version")
    if version not in (1, VERSION):
        raise GradtraceError(f"gradtrace trace JSON version {version!r:.20} is not supported "
                             f"(this gradtrace reads versions 1 and {VERSION})")
    with gcpause.paused():
        g = nx.MultiDiGraph()
        nodes_in = _field(data, "nodes", list, "$")
        _nodes(g, nodes_in, with_args=version > 1)
        if version == 1:
            _edges(g, _field(data, "edges", list, "$"))
            _arity_and_params(g)
        output = _field(data, "output", int, "$")
        if output not in nodes_of(g):
            raise Invalid("$.output", f"the id of a node, not {output}")
        inputs = _field(data, "inputs", dict, "$")
        for k, v in inputs.items():
            if type(v) is not int or v not in nodes_of(g) or nodes_of(g)[v]["kind"] != "input":
                raise Invalid(f"$.inputs.{k}", "the id of an input node")
        wrt = _field(data, "wrt", list, "$")
        if any(type(w) is not str or w not in inputs for w in wrt):
            raise Invalid("$.wrt", "names of inputs")
        for k, v in inputs.items():
            if nodes_of(g)[v]["requires_grad"] != (k in wrt):
                raise Invalid(f"$.inputs.{k}", "an input that requires a gradient exactly when "
                                               "it is in wrt")
        name = _field(data, "name", str, "$")
    return Trace(g, output, inputs, wrt, name=name, formulas=True)


def _nodes(g, nodes_in, with_args: bool) -> None:
    writer = GraphWriter(g)
    for i, d in enumerate(nodes_in):
        if type(d) is not dict:
            raise Invalid(f"$.nodes[{i}]", "an object")
        nid = d.get("id")
        if type(nid) is not int:
            raise Invalid(f"$.nodes[{i}].id", "an integer id")
        if nid != i:
            raise Invalid(f"$.nodes[{i}].id", f"{i} (ids are 0, 1, 2 ... in creation order, "
                                              "without gaps)")
        kind = d.get("kind")
        if type(kind) is not str or kind not in KINDS:
            raise Invalid(f"$.nodes[{i}].kind", "'input', 'const' or 'op'")
        op = d.get("op")
        if kind == "op" and (type(op) is not str or op not in PRIMITIVES):
            raise Invalid(f"$.nodes[{i}].op", f"an op gradtrace knows, not {op!r:.40}")
        if kind != "op" and op is not None:
            raise Invalid(f"$.nodes[{i}].op", f"null for a {kind} node")
        if kind == "const" and d.get("requires_grad") is not False:
            raise Invalid(f"$.nodes[{i}].requires_grad", "false for a constant")
        label = d.get("name")
        if label is not None and type(label) is not str:
            raise Invalid(f"$.nodes[{i}].name", "a string or null")
        scope = d.get("scope", [])
        if scope != [] and (type(scope) is not list or any(type(s) is not str for s in scope)):
            raise Invalid(f"$.nodes[{i}].scope", "a list of strings")
        val = value(d.get("value"), f"$.nodes[{i}].value")
        shape = shape_of(d.get("shape"), f"$.nodes[{i}].shape")
        if val is None or _shape(val) != shape:
            raise Invalid(f"$.nodes[{i}].value", f"a value of the declared shape {shape}")
        if kind == "op" and type(val) is not float and val.dtype.kind != "f":
            raise Invalid(f"$.nodes[{i}].value", "a float value (an op computes floats)")
        attrs = {"kind": kind, "op": op, "name": label, "value": val, "shape": shape,
                 "scope": tuple(scope), "params": _params(d.get("params"), i),
                 "requires_grad": d.get("requires_grad")}
        _extras(d, i, attrs)
        writer.add_node(nid, attrs)
        if with_args:
            _args(writer, i, nid, d.get("args"))
        nodes_in[i] = None     # read: let the parsed record go, so its memory is reused


def _params(params, i: int):
    """A node's op parameters, decoded (None: the op takes none)."""
    if params is None:
        return None
    if type(params) is not dict:
        raise Invalid(f"$.nodes[{i}].params", "an object or null")
    try:
        return {k: decode_param(v) for k, v in params.items()}
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        raise Invalid(f"$.nodes[{i}].params", f"op parameters ({e})") from None


def _extras(d: dict, i: int, attrs: dict) -> None:
    """The optional fields of node ``i`` (var, file, line, grad), checked, into ``attrs``."""
    for key, kind_ in (("var", str), ("file", str), ("line", int)):
        if key in d:
            if type(d[key]) is not kind_:
                raise Invalid(f"$.nodes[{i}].{key}", f"a {kind_.__name__}")
            attrs[key] = d[key]
    if ("file" in attrs) != ("line" in attrs):
        raise Invalid(f"$.nodes[{i}]", "both file and line, or neither")
    if type(attrs["requires_grad"]) is not bool:
        raise Invalid(f"$.nodes[{i}].requires_grad", "true or false")
    if "grad" in d:
        grad, shape = d["grad"], attrs["shape"]
        if type(grad) is not float:
            grad = value(grad, f"$.nodes[{i}].grad")
        if grad is None or _shape(grad) != shape:
            raise Invalid(f"$.nodes[{i}].grad", f"a gradient of the node's shape {shape}")
        attrs["grad"] = grad


def _edges(g, edges_in) -> None:
    """Version 1: a separate list of {source, target, key, local, formula, contribution}."""
    writer = GraphWriter(g)
    node = writer.node
    for j, d in enumerate(edges_in):
        if type(d) is not dict:
            raise Invalid(f"$.edges[{j}]", "an object")
        u, v, k = d.get("source"), d.get("target"), d.get("key")
        if type(u) is not int or type(v) is not int or type(k) is not int:
            raise Invalid(f"$.edges[{j}]", "integer 'source', 'target' and 'key' fields")
        if u not in node or v not in node:
            raise Invalid(f"$.edges[{j}]", f"an edge between existing nodes, not {u} -> {v}")
        if u >= v:
            raise Invalid(f"$.edges[{j}]", "an edge from an earlier node to a later one, not "
                                           f"{u} -> {v} "
                                 "(a trace has no cycles or self-loops)")
        target = node[v]
        if target["kind"] != "op":
            raise Invalid(f"$.edges[{j}].target", "an op node (only ops have arguments)")
        if k < 0:   # positions used twice are caught in _arity_and_params
            raise Invalid(f"$.edges[{j}].key", f"a non-negative argument position, not {k}")
        local = d.get("local")
        if type(local) is not float:
            local = value(local, f"$.edges[{j}].local")
            if local is not None and type(local) is not float:
                try:
                    np.broadcast_shapes(local.shape, target["shape"])
                except ValueError:
                    raise Invalid(f"$.edges[{j}].local", f"a local derivative that broadcasts to "
                                                    f"the shape {target['shape']}") from None
        formula = d.get("formula")
        if formula is not None and type(formula) is not str:
            raise Invalid(f"$.edges[{j}].formula", "a string or null")
        attrs = {"local": local, "formula": formula}
        if "contribution" in d:
            c = d["contribution"]
            if type(c) is not float:
                c = value(c, f"$.edges[{j}].contribution")
            if c is not None and _shape(c) != node[u]["shape"]:
                raise Invalid(f"$.edges[{j}].contribution",
                              f"the source's shape {node[u]['shape']}")
            attrs["contribution"] = c
        if not writer.add_arg(u, v, k, attrs):
            raise Invalid(f"$.edges[{j}].key", f"a new argument position of node {v}, not {k}")


def _args(writer: GraphWriter, i: int, v: int, args) -> None:
    """Version 2: an op node's "args" are [source, local, formula(, contribution)] by position.
    Sources come before their op, so this runs as each node is read."""
    node = writer.node
    target = node[v]
    if target["kind"] != "op":
        if args is not None:
            raise Invalid(f"$.nodes[{i}].args", "absent for a node that is not an op")
        return
    if type(args) is not list or not args:
        raise Invalid(f"$.nodes[{i}].args", "a non-empty list of the op's arguments")
    shape = target["shape"]
    for k, a in enumerate(args):
        if type(a) is not list or len(a) not in (3, 4):
            raise Invalid(f"$.nodes[{i}].args[{k}]", "[source, local, formula] or "
                                                     "[source, local, formula, contribution]")
        u, local, formula = a[0], a[1], a[2]
        if type(u) is not int or u not in node or u >= v:
            raise Invalid(f"$.nodes[{i}].args[{k}][0]", f"the id of an earlier node, not "
                                                        f"{u!r:.20} (a trace has no cycles)")
        if type(local) is not float:
            local = value(local, f"$.nodes[{i}].args[{k}][1]")
            if local is not None and type(local) is not float:
                try:
                    np.broadcast_shapes(local.shape, shape)
                except ValueError:
                    raise Invalid(f"$.nodes[{i}].args[{k}][1]", "a local derivative that "
                                  f"broadcasts to the shape {shape}") from None
        if formula is not None and type(formula) is not str:
            raise Invalid(f"$.nodes[{i}].args[{k}][2]", "a string or null")
        attrs = {"local": local, "formula": formula}
        if len(a) == 4:
            c = a[3]
            if type(c) is not float:
                c = value(c, f"$.nodes[{i}].args[{k}][3]")
            if c is not None and _shape(c) != node[u]["shape"]:
                raise Invalid(f"$.nodes[{i}].args[{k}][3]", "a contribution of the source's "
                                                            f"shape {node[u]['shape']}")
            attrs["contribution"] = c
        writer.add_arg(u, v, k, attrs)
    _check_op(node, v, target, [a[0] for a in args])


def _arity_and_params(g) -> None:
    """Version 1: each op has its arguments at positions 0..n-1, each used once."""
    node, pred = nodes_of(g), preds_of(g)
    for v, attrs in node.items():
        if attrs["kind"] != "op":
            continue
        by_pos = {k: u for u, keyed in pred[v].items() for k in keyed}
        n = len(by_pos)
        if sum(map(len, pred[v].values())) != n or set(by_pos) != set(range(n)):
            raise Invalid(f"node {v} ({attrs['op']})", f"arguments at positions 0..n-1, each "
                                                       f"once, found {sorted(by_pos)}")
        _check_op(node, v, attrs, [by_pos[k] for k in range(n)])


def _check_op(node, v: int, attrs, arg_ids: list) -> None:
    """The op takes this many arguments, and its value can be recomputed from them and its
    params: params of the wrong type, axes out of range or shapes that do not fit are caught
    now, not in backward."""
    prim = PRIMITIVES[attrs["op"]]
    where = f"node {v} ({attrs['op']})"
    n = len(arg_ids)
    if n == 0 or (prim.arity >= 0 and n != prim.arity):
        raise Invalid(where, f"{prim.arity if prim.arity >= 0 else 'one or more'} arguments, "
                             f"found {n}")
    if attrs["requires_grad"] != any(node[u]["requires_grad"] for u in arg_ids):
        raise Invalid(where, "requires_grad true exactly when an argument requires it")
    if attrs["op"].startswith("torch"):   # computed by torch when traced: nothing to replay
        if not isinstance((attrs["params"] or {}).get("fn"), str):
            raise Invalid(where, "params with the torch function's name as 'fn'")
        return
    if attrs["params"] is None and prim.vjp is None and not _takes_params(prim):
        shapes = [node[u]["shape"] for u in arg_ids]
        expected = np.broadcast_shapes(*shapes) if any(shapes) else ()
        if attrs["shape"] != expected and attrs["op"] != "where":
            raise Invalid(where, f"the broadcast shape {expected} of its arguments, not "
                                 f"{attrs['shape']}")
        return
    args = [node[u]["value"] for u in arg_ids]
    params = attrs["params"] or {}
    try:
        with np.errstate(all="ignore"):
            out = prim.array(*args, **params)
            if np.shape(out) == attrs["shape"]:   # the chain rule must run on them too
                if prim.vjp is not None:
                    arrays = [np.asarray(a) for a in args]
                    for k in range(n):
                        prim.vjp(k, np.ones(np.shape(out)), np.asarray(out), arrays, params)
                elif prim.darray is not None:
                    prim.darray(out, *args, **params)
    except Exception as e:  # any failure means the params or shapes are not a real op
        raise Invalid(where, f"params and arguments that {attrs['op']} accepts "
                             f"({type(e).__name__}: {e})") from None
    if np.shape(out) != attrs["shape"]:
        raise Invalid(where, f"the shape {np.shape(out)} that {attrs['op']} gives, not "
                             f"{attrs['shape']}")


_TAKES_PARAMS: dict[str, bool] = {}


def _takes_params(prim) -> bool:
    """Does an elementwise op need params (clip's bounds, where's condition ...)?"""
    known = _TAKES_PARAMS.get(prim.name)
    if known is None:
        try:
            with np.errstate(all="ignore"):
                prim.array(*([np.float64(0.5)] * prim.arity))
            known = False
        except TypeError:
            known = True
        _TAKES_PARAMS[prim.name] = known
    return known


def load(source, max_bytes: int = MAX_BYTES):
    """Rebuild a Trace from JSON text or a path to a .json file."""
    return build(parse(read_text(source, max_bytes)))
