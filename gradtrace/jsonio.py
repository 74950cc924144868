"""A trace as plain JSON and back: graph, values, gradients, formulas, op parameters.

Non-finite numbers are written as the strings "nan", "inf", "-inf" so the file is
standard JSON.  Loading only reads data: no code runs, no pickle.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import networkx as nx
import numpy as np

from .errors import GradtraceError
from .ops import PRIMITIVES

FORMAT = "gradtrace-trace"
VERSION = 1
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _num(x: float):
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def encode_value(v):
    """Floats stay numbers; arrays become {"shape", "dtype", "data"}."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return _num(v)
    a = np.asarray(v)
    if a.dtype.kind == "b":
        return {"shape": list(a.shape), "dtype": "bool", "data": [bool(x) for x in a.ravel()]}
    return {"shape": list(a.shape), "dtype": str(a.dtype),
            "data": [_num(x) for x in a.ravel().tolist()]}


def decode_value(d):
    if d is None:
        return None
    if isinstance(d, (int, float)):
        return float(d)
    if isinstance(d, str):
        return _SPECIAL[d]
    data = [(_SPECIAL[x] if isinstance(x, str) else x) for x in d["data"]]
    return np.array(data, dtype=d["dtype"]).reshape(d["shape"])


def encode_param(p):
    if p is None or isinstance(p, (bool, str)):
        return p
    if isinstance(p, (int, np.integer)):
        return int(p)
    if isinstance(p, (float, np.floating)):
        return {"float": _num(p)}
    if isinstance(p, slice):
        return {"slice": [encode_param(p.start), encode_param(p.stop), encode_param(p.step)]}
    if p is Ellipsis:
        return {"ellipsis": True}
    if isinstance(p, tuple):
        return {"tuple": [encode_param(x) for x in p]}
    if isinstance(p, list):
        return [encode_param(x) for x in p]
    if isinstance(p, np.ndarray):
        return {"array": encode_value(p)}
    raise GradtraceError(f"cannot write op parameter of type {type(p).__name__} to JSON")


def decode_param(p):
    if isinstance(p, list):
        return [decode_param(x) for x in p]
    if not isinstance(p, dict):
        return p
    if "float" in p:
        return decode_value(p["float"])
    if "slice" in p:
        return slice(*[decode_param(x) for x in p["slice"]])
    if "ellipsis" in p:
        return Ellipsis
    if "tuple" in p:
        return tuple(decode_param(x) for x in p["tuple"])
    if "array" in p:
        return decode_value(p["array"])
    raise ValueError(f"unknown parameter encoding {sorted(p)}")


def to_data(trace) -> dict:
    g = trace.graph
    nodes = []
    for nid, a in g.nodes(data=True):
        d = {"id": nid, "kind": a["kind"], "op": a["op"], "name": a["name"],
             "value": encode_value(a["value"]), "shape": list(a["shape"]),
             "scope": list(a["scope"]), "requires_grad": a["requires_grad"],
             "params": None if a["params"] is None else
             {k: encode_param(v) for k, v in a["params"].items()}}
        if "grad" in a:
            d["grad"] = encode_value(a["grad"])
        nodes.append(d)
    edges = []
    for u, v, k, e in g.edges(keys=True, data=True):
        d = {"source": u, "target": v, "key": k, "local": encode_value(e["local"]),
             "formula": e["formula"]}
        if "contribution" in e:
            d["contribution"] = encode_value(e["contribution"])
        edges.append(d)
    return {"format": FORMAT, "version": VERSION, "name": trace.name, "output": trace.output,
            "inputs": trace.inputs, "wrt": trace.wrt, "nodes": nodes, "edges": edges}


def dumps(trace, indent: int | None = None) -> str:
    return json.dumps(to_data(trace), indent=indent, ensure_ascii=False, allow_nan=False)


def load(text_or_path):
    """Rebuild a Trace from JSON text or a path to a .json file."""
    from .trace import Trace
    if isinstance(text_or_path, Path) or (isinstance(text_or_path, str)
                                          and not text_or_path.lstrip().startswith("{")):
        path = Path(text_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise GradtraceError(f"cannot read trace JSON {path}: {e.strerror}") from None
    else:
        text = text_or_path
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise GradtraceError(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") \
            from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GradtraceError("this JSON is not a gradtrace trace (no \"format\": "
                             f"\"{FORMAT}\" field); write one with Trace.to_json()")
    if data.get("version") != VERSION:
        raise GradtraceError(f"gradtrace trace JSON version {data.get('version')} is not "
                             f"supported (this gradtrace reads version {VERSION})")
    try:
        g = nx.MultiDiGraph()
        for d in data["nodes"]:
            if d["op"] is not None and d["op"] not in PRIMITIVES:
                raise ValueError(f"unknown op '{d['op']}'")
            attrs = {"kind": d["kind"], "op": d["op"], "name": d["name"],
                     "value": decode_value(d["value"]), "shape": tuple(d["shape"]),
                     "scope": tuple(d["scope"]),
                     "params": None if d["params"] is None else
                     {k: decode_param(v) for k, v in d["params"].items()},
                     "requires_grad": bool(d["requires_grad"])}
            if "grad" in d:
                attrs["grad"] = decode_value(d["grad"])
            g.add_node(int(d["id"]), **attrs)
        for d in data["edges"]:
            attrs = {"local": decode_value(d["local"]), "formula": d["formula"]}
            if "contribution" in d:
                attrs["contribution"] = decode_value(d["contribution"])
            g.add_edge(int(d["source"]), int(d["target"]), key=int(d["key"]), **attrs)
        t = Trace(g, int(data["output"]), {k: int(v) for k, v in data["inputs"].items()},
                  list(data["wrt"]), name=data["name"])
    except (KeyError, TypeError, ValueError) as e:
        raise GradtraceError(f"malformed gradtrace trace JSON: {e}") from None
    t._formulas_done = True
    return t
