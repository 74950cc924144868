"""The lesson view: one box per quantity the code names, as the lesson draws it.

Every unnamed intermediate (a product ``w·a``, a difference ``a − y``, a partial sum)
folds into the named value that consumes it.  The folded edge from a named value u to
a named value v carries ∂v/∂u by the chain rule inside the fold (the product of the
local derivatives along each path, summed over paths) as a number and as a formula in
the user's names, and the contribution that flowed back along it: the sum of what
crossed into the fold from u, so every gradient and every fan-out sum is the every-op
view's.  A fold never crosses a named value; an unnamed value feeding two named ones
is folded into each (two edges), its contributions split by the chain rule.

The folded graph has the trace graph's node and edge schema, with the kept nodes' ids,
so the painter, the DOT writer, the fast layout and the step-through read it as they
read the trace's own graph.
"""

from __future__ import annotations

import re
import weakref

import networkx as nx
import numpy as np

from ..backward import edge_contribution
from ..formulas import ATOM, expression, node_texts
from ..graph import argument_ids, nodes_of, preds_of
from ..notation import MINUS, factor, number_text
from ..ops import PRIMITIVES

VIEWS = ("lesson", "ops")
MAX_TERMS = 4          # a composite formula with more terms reads "Σ of N paths"
MAX_FACTORS = 8        # ... and a term with more factors "product of N factors"
MAX_EXPR = 60          # a folded node's expression longer than this is not spelled out

Terms = list[tuple[float, tuple[str, ...]]] | None     # Σ coefficient·factors; None: too long
_ONE: list[tuple[float, tuple[str, ...]]] = [(1.0, ())]


class LessonTrace:
    """A trace seen through the lesson view: ``graph`` is the folded graph, everything
    else (inputs, output, gradients, re-running) is the trace's own."""

    def __init__(self, trace, graph: nx.MultiDiGraph):
        self.base = trace
        self.graph = graph

    def __getattr__(self, name):
        return getattr(self.base, name)


_FOLDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_view(trace, view: str):
    """The trace as ``view`` draws it: folded ('lesson') or as recorded ('ops')."""
    if view == "ops" or isinstance(trace, LessonTrace):
        return trace
    graph = trace.graph
    token = (trace.tape.grads if trace.has_grads else None, id(graph))
    cached = _FOLDS.get(trace)
    if cached is not None and cached[0][0] is token[0] and cached[0][1] == token[1]:
        return cached[1]
    folded = fold(graph, trace.output)
    seen = trace if folded is None else LessonTrace(trace, folded)
    _FOLDS[trace] = (token, seen)
    return seen


def kept_nodes(graph, output: int) -> set[int]:
    """The boxes of the lesson view: inputs, named values and the output."""
    return {v for v, a in nodes_of(graph).items()
            if v == output or a["kind"] == "input" or a["name"] is not None}


def fold(graph, output: int) -> nx.MultiDiGraph | None:
    """The folded graph, or None when there is nothing to fold (no value between the
    inputs and the output is named, or every op is named)."""
    nodes = nodes_of(graph)
    kept = kept_nodes(graph, output)
    if not any(nodes[v]["kind"] == "op" and v != output for v in kept) or \
            all(a["kind"] != "op" or v in kept for v, a in nodes.items()):
        return None
    pred = preds_of(graph)
    regions = {v: _region(v, pred, nodes, kept) for v in sorted(kept)
               if nodes[v]["kind"] == "op"}
    owners: dict[int, int] = {}
    for members, _ in regions.values():
        for r in members:
            owners[r] = owners.get(r, 0) + 1
    texts = node_texts(graph)
    out = nx.MultiDiGraph()
    for v in sorted(kept):
        out.add_node(v, **nodes[v])
    for v, (members, order) in regions.items():
        if members:
            shared = any(owners[r] > 1 for r in members)
            _fold_into(out, graph, v, members, order, kept, shared)
            expr = _expression(v, members, pred, nodes, texts, kept)
            out.nodes[v]["folded"] = len(members)
            if expr is not None:
                out.nodes[v]["expr"] = expr
        else:
            _copy_edges(out, pred, v, kept)
    return out


def _copy_edges(out, pred, v: int, kept: set[int]) -> None:
    """A value with nothing folded into it keeps its edges (``x * x`` stays two); the
    slots of unnamed constants are left out and the rest renumbered in order."""
    slots = sorted((p, u) for u, keyed in pred[v].items() for p in keyed)
    position = 0
    for p, u in slots:
        if u in kept:
            out.add_edge(u, v, key=position, **pred[v][u][p])
            position += 1


def _region(v: int, pred, nodes, kept: set[int]) -> tuple[set[int], list[int]]:
    """The unnamed ops that reach ``v`` without passing a named value, and the named
    values feeding them in reading order (arguments in order, depth first: w, a, b
    for ``w·a + b``)."""
    members: set[int] = set()
    boundary: list[int] = []
    seen: set[int] = set()
    stack = [iter(argument_ids(pred[v]))]
    while stack:
        u = next(stack[-1], None)
        if u is None:
            stack.pop()
        elif u in kept:
            if u not in seen:
                seen.add(u)
                boundary.append(u)
        elif nodes[u]["kind"] == "op" and u not in members:
            members.add(u)
            stack.append(iter(argument_ids(pred[u])))
    return members, boundary


def _fold_into(out, graph, v: int, members: set[int], boundary: list[int], kept: set[int],
               shared: bool) -> None:
    """One edge u -> v per named value u feeding ``v``'s fold: ∂v/∂u composed inside the
    fold (number and formula) and the contribution that crossed into it from u."""
    nodes, pred = nodes_of(graph), preds_of(graph)
    adj_f: dict[int, Terms] = {v: _ONE}
    adj_n: dict[int, object] = {v: 1.0}
    acc_f: dict[int, Terms] = {}
    acc_n: dict[int, object] = {}
    acc_c: dict[int, object] = {}
    upstream: dict[int, object] = {v: nodes[v].get("grad")} if shared else {}
    for c in [v] + sorted(members, reverse=True):
        fc, nc = adj_f[c], adj_n[c]
        shape_c = nodes[c]["shape"]
        for u, keyed in pred[c].items():
            inside = u in members
            if not inside and u not in kept:
                continue
            for k, e in keyed.items():
                f = _times(fc, e.get("formula") or "")
                n = _product(nc, e.get("local"), nodes[u]["shape"] == shape_c)
                into_f, into_n = (adj_f, adj_n) if inside else (acc_f, acc_n)
                if u in into_f:
                    into_f[u], into_n[u] = _plus(into_f[u], f), _sum(into_n[u], n)
                else:
                    into_f[u], into_n[u] = f, n
                contribution = e.get("contribution")
                if shared and contribution is not None:
                    contribution = _partial_contribution(graph, c, u, k, upstream.get(c))
                    if inside:
                        upstream[u] = _sum_c(upstream.get(u), contribution)
                if not inside:
                    acc_c[u] = _sum_c(acc_c.get(u), contribution) if u in acc_c else \
                        contribution
    for position, u in enumerate(boundary):
        out.add_edge(u, v, key=position, local=acc_n[u], formula=formula_text(acc_f[u]),
                     contribution=acc_c[u])


def _partial_contribution(graph, c: int, u: int, k: int, g):
    """What flows from c to u when ∂C/∂c is only this fold's share ``g``."""
    if g is None:
        return None
    return edge_contribution(graph, c, u, k, g)


def _sum_c(a, b):
    if a is None:
        return b
    return a if b is None else a + b


def _product(a, local, same_shape: bool):
    """A composite local derivative times one more local (None: not elementwise)."""
    if a is None or local is None or not same_shape:
        return None
    if isinstance(local, float) and local == 1.0:
        return a
    return a * local


def _sum(a, b):
    return None if a is None or b is None else a + b


# ---------------------------------------------------------------- formulas
def _times(terms: Terms, formula: str) -> Terms:
    """A composite formula times one more local derivative's formula: ``· 1`` dropped,
    a leading minus folded into the sign."""
    if terms is None:
        return None
    text = formula.strip()
    sign = 1.0
    if text.startswith(MINUS) and factor(text[1:]) == text[1:]:
        sign, text = -1.0, text[1:]
    if text == "1":
        extra: tuple[str, ...] = ()
    else:
        extra = (factor(text),)
    out = [(c * sign, fs + extra) for c, fs in terms]
    if any(len(fs) > MAX_FACTORS for _, fs in out):
        return None
    return out


def _plus(a: Terms, b: Terms) -> Terms:
    """Sum of two composite formulas, like terms merged (``x + x`` is ``2x``)."""
    if a is None or b is None:
        return None
    merged: dict[tuple[str, ...], float] = {}
    for c, fs in a + b:
        merged[fs] = merged.get(fs, 0.0) + c
    out = [(c, fs) for fs, c in merged.items() if c != 0.0]
    return out if len(out) <= MAX_TERMS else None


_COEFFICIENT_DOT = re.compile(r"(?<![\w)\].'′])(\d+(?:\.\d+)?)·\(")


def formula_text(terms: Terms) -> str:
    """A composite formula as the lesson writes it: ``2(a(L) − y)``, ``−2(a(L) − y)``."""
    if terms is None:
        return "the chain rule through the fold"
    if not terms:
        return "0"
    parts = []
    for i, (c, fs) in enumerate(terms):
        size = abs(c)
        body = "·".join(fs)
        if not fs:
            body = number_text(size)
        elif size != 1.0:
            body = f"{number_text(size)}·{body}"
        if i == 0:
            parts.append(MINUS + body if c < 0 else body)
        else:
            parts.append(f" {MINUS if c < 0 else '+'} {body}")
    return _COEFFICIENT_DOT.sub(r"\1(", "".join(parts))


def _expression(v: int, members: set[int], pred, nodes, texts, kept) -> str | None:
    """``w(L)·a(L−1) + b(L)``: what a folded value computes from the named values
    feeding it (None when it would not fit on a line)."""
    ranked: dict[int, tuple[str, int]] = {}
    for x in sorted(members) + [v]:
        operands = []
        for u in argument_ids(pred[x]):
            if u in kept or u not in members:
                operands.append((texts[u][0], ATOM))
            else:
                operands.append(ranked[u])
        prim = PRIMITIVES[nodes[x]["op"]]
        text = expression(prim, operands, nodes[x]["params"])
        if len(text) > MAX_EXPR:
            return None
        ranked[x] = (text, prim.prec)
    return ranked[v][0]
