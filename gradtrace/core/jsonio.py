"""A trace as plain JSON and back: graph, values, gradients, formulas, op parameters.

Non-finite numbers are written as the strings "nan", "inf", "-inf" so the file is
standard JSON.  Loading only reads data: no code runs, no pickle.
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..errors import GradtraceError
from .graph import nodes_of, preds_of

FORMAT = "gradtrace-trace"
VERSION = 2
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
        return _num(float(v))
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
        return {"float": _num(float(p))}
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
    """The trace as plain data (format version 2): each op node lists its arguments in
    position order as [source id, local, formula] (+ contribution after backward)."""
    g = trace.graph
    pred = preds_of(g)
    nodes = []
    for nid, a in nodes_of(g).items():
        d = {"id": nid, "kind": a["kind"], "value": encode_value(a["value"]),
             "shape": list(a["shape"]), "requires_grad": a["requires_grad"]}
        # fields at their defaults (no op, no name, no scope, no params) are left out
        if a["op"] is not None:
            d["op"] = a["op"]
        if a["name"] is not None:
            d["name"] = a["name"]
        if a["scope"]:
            d["scope"] = list(a["scope"])
        if a["params"] is not None:
            d["params"] = {k: encode_param(v) for k, v in a["params"].items()
                           if not k.startswith("_")}     # runtime handles stay out
        for key in ("var", "file", "line"):       # where it came from, when known
            if a.get(key) is not None:
                d[key] = a[key]
        if "grad" in a:
            d["grad"] = encode_value(a["grad"])
        if a["kind"] == "op":
            by_pos = sorted((k, u, e) for u, keyed in pred[nid].items() for k, e in keyed.items())
            d["args"] = [[u, encode_value(e["local"]), e["formula"]] +
                         ([encode_value(e["contribution"])] if "contribution" in e else [])
                         for _, u, e in by_pos]
        nodes.append(d)
    return {"format": FORMAT, "version": VERSION, "name": trace.name, "output": trace.output,
            "inputs": trace.inputs, "wrt": trace.wrt, "nodes": nodes}


def dumps(trace, indent: int | None = None) -> str:
    # ensure_ascii: a lone surrogate in a name is written as \udXXX, which reads back exactly
    return json.dumps(to_data(trace), indent=indent, ensure_ascii=True, allow_nan=False)
