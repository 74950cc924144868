"""The chain-rule pass over a traced graph.

Nodes are numbered in creation order, which is a topological order, so walking
ids downward visits every consumer before what it consumes: no recursion, no
sort.  Each edge u -> v gets ``contribution`` = ∂C/∂v · ∂v/∂u (undone
broadcasting included), and each node's ``grad`` is the sum of the contributions
on its out-edges: the sum rule, visible edge by edge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BackwardError
from .graph import argument_ids, nodes_of, preds_of
from .ops import PRIMITIVES

_FLOAT = float
_NDARRAY = np.ndarray


def unbroadcast(c, target):
    """Sum a contribution back down to the shape of the value it flows into."""
    if type(target) is _FLOAT:
        return c if type(c) is _FLOAT else _FLOAT(np.sum(c))
    if type(c) is _FLOAT or c.shape != target.shape:
        c = np.asarray(c)
        extra = c.ndim - target.ndim
        if extra > 0:
            c = c.sum(axis=tuple(range(extra)))
        axes = tuple(i for i, n in enumerate(target.shape) if n == 1 and c.shape[i] != 1)
        if axes:
            c = c.sum(axis=axes, keepdims=True)
        if c.shape != target.shape:  # a scalar contribution spread over an array input
            c = np.broadcast_to(c, target.shape)
    return c


def _times(g, local, guard: bool = True):
    """g · local, where a zero factor wins over inf/nan (a branch not taken stays 0).

    Only ops whose local derivative can be infinite at finite inputs (``guard``:
    1/x, log, sqrt, ...) pay for the check on arrays.
    """
    if type(local) is _FLOAT and local == 1.0:
        return g
    c = g * local
    if type(c) is _FLOAT:
        if c != c and (g == 0.0 or local == 0.0):
            return 0.0
        return c
    if guard and not np.isfinite(c).all():
        c = np.where((np.asarray(g) == 0) | (np.asarray(local) == 0), 0.0, c)
    return c


def seed_for(value, seed):
    if seed is None:
        if type(value) is not _FLOAT:
            raise BackwardError(
                f"the output has shape {value.shape}, not a scalar; backward needs a scalar "
                "output (reduce it, e.g. with np.sum or np.mean) or seed= an array of that shape")
        return 1.0
    if type(value) is _FLOAT:
        s = np.asarray(seed, dtype=float)
        if s.shape != ():
            raise BackwardError(f"seed has shape {s.shape} but the output is a scalar")
        return float(s)
    s = np.array(seed, dtype=float)
    if s.shape != value.shape:
        raise BackwardError(f"seed has shape {s.shape} but the output has shape {value.shape}")
    return s


def backward(graph, output: int, seed=None) -> None:
    """Fill ``grad`` on every node that needs one and ``contribution`` on its in-edges."""
    nodes = nodes_of(graph)
    pred = preds_of(graph)
    grads: dict[int, Any] = {output: seed_for(nodes[output]["value"], seed)}
    for v in reversed(nodes):
        attrs = nodes[v]
        if not attrs["requires_grad"]:
            continue
        g = grads.pop(v, None)
        if g is None:  # does not reach the output: the sum over no paths
            val = attrs["value"]
            g = 0.0 if type(val) is _FLOAT else np.zeros(val.shape)
        elif type(g) is _NDARRAY and not g.flags.writeable:
            g = g.copy()
        attrs["grad"] = g
        op = attrs["op"]
        if op is None:
            continue
        in_edges = pred[v]
        argvals = None
        for u, keyed in in_edges.items():
            un = nodes[u]
            if not un["requires_grad"]:
                for e in keyed.values():
                    e["contribution"] = None
                continue
            uval = un["value"]
            scalar = type(g) is _FLOAT and type(uval) is _FLOAT
            for k, e in keyed.items():
                local = e["local"]
                if local is None:                      # a VJP
                    if argvals is None:
                        argvals = [nodes[a]["value"] for a in argument_ids(in_edges)]
                    c = edge_contribution(graph, v, u, k, g, argvals)
                elif scalar and type(local) is _FLOAT:  # the scalar fast path
                    c = g * local
                    if c != c and (g == 0.0 or local == 0.0):
                        c = 0.0
                else:                                  # elementwise on arrays
                    c = _times(g, local, PRIMITIVES[op].guard)
                    if type(uval) is _FLOAT or type(c) is _FLOAT or c.shape != uval.shape:
                        c = unbroadcast(c, uval)
                e["contribution"] = c
                acc = grads.get(u)
                grads[u] = c if acc is None else acc + c


def edge_contribution(graph, v: int, u: int, k: int, g, argvals=None):
    """What flows back along edge u -> v (argument ``k``) when ∂C/∂v = g.

    Elementwise ops multiply by the stored local derivative; other ops apply their
    VJP.  Either way broadcasting is undone to u's shape.
    """
    attrs = nodes_of(graph)[v]
    e = preds_of(graph)[v][u][k]
    local = e["local"]
    prim = PRIMITIVES[attrs["op"]]
    if local is None:
        if argvals is None:
            argvals = [nodes_of(graph)[a]["value"] for a in argument_ids(preds_of(graph)[v])]
        params = attrs["params"] or {}
        if prim.vjp is not None:
            c = _vjp(prim, k, g, attrs["value"], argvals, params)
        elif prim.darray is not None:
            with np.errstate(all="ignore"):
                local = prim.darray(attrs["value"], *argvals, **params)[k]
            c = _times(g, local, prim.guard)
        else:
            raise BackwardError(f"{prim.name} has neither a VJP nor local derivatives")
    else:
        c = _times(g, local, prim.guard)
    uval = nodes_of(graph)[u]["value"]
    if type(c) is not _FLOAT or type(uval) is not _FLOAT:
        c = unbroadcast(c, uval)
    return c


def _vjp(prim, k, g, out, argvals, params):
    """A VJP rule sees ndarrays only (0-d values are stored as Python floats)."""
    try:
        return prim.vjp(k, np.asarray(g), np.asarray(out), [np.asarray(a) for a in argvals],
                        params)
    except (ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError) as e:
        raise BackwardError(f"the chain rule through {prim.name} failed: {e}") from e
