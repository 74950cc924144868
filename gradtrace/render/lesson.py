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

import math
import re
import weakref
from typing import NamedTuple

import networkx as nx

from ..calculus.backward import edge_contribution
from ..core.formulas import expression, node_texts
from ..core.graph import argument_ids, enumerate_paths, nodes_of, preds_of, succs_of
from ..names.versions import partial_of
from ..notation import (
    DIGITS,
    MINUS,
    factor,
    is_atom,
    number_text,
    partial,
    signed_term,
    value_text,
)
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


class Fold(NamedTuple):
    """How a folded value's edges were composed from the trace's edges (the what-if
    replays them): ``steps`` are the trace's edges (c, u, argument k, u inside the
    fold) in the order the composite locals and contributions were summed; ``shared``:
    some folded op also feeds another named value, so contributions are this fold's share."""

    steps: tuple[tuple[int, int, int, bool], ...]
    shared: bool


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


def forget(trace) -> None:
    """Drop the fold kept for ``trace`` (the benchmark times the fold itself)."""
    _FOLDS.pop(trace, None)


def kept_nodes(graph, output: int) -> set[int]:
    """The boxes of the lesson view: inputs, named values and the output."""
    return {v for v, a in nodes_of(graph).items()
            if v == output or a["kind"] == "input" or
            a["name"] is not None and partial_of(a["name"]) is None}   # partial sums fold


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
                _in_own_name(out, v, expr, texts[v][0])
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
            out.add_edge(u, v, key=position, **pred[v][u][p], arg=p)
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
    steps: list[tuple[int, int, int, bool]] = []     # the fold's edges, in the order used
    for c in [v] + sorted(members, reverse=True):
        fc, nc = adj_f[c], adj_n[c]
        shape_c = nodes[c]["shape"]
        for u, keyed in pred[c].items():
            inside = u in members
            if not inside and u not in kept:
                continue
            for k, e in keyed.items():
                steps.append((c, u, k, inside))
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
                        upstream[u] = add_contributions(upstream.get(u), contribution)
                if not inside:
                    acc_c[u] = add_contributions(acc_c.get(u), contribution) if u in acc_c else \
                        contribution
    out.nodes[v]["fold"] = Fold(tuple(steps), shared)
    for position, u in enumerate(boundary):
        out.add_edge(u, v, key=position, local=acc_n[u], formula=formula_text(acc_f[u]),
                     contribution=acc_c[u])


def _in_own_name(out, v: int, expr: str, name: str) -> None:
    """A folded value's own expression inside its edges' formulas reads as its name:
    1 − tanh²(x[1] @ Wx + h₁ @ Wh) is 1 − h₂² when h₂ is that tanh."""
    call = re.fullmatch(r"(\w+)\((.*)\)", expr)
    short = name if is_atom(name) else f"({name})"
    for keyed in preds_of(out)[v].values():
        for e in keyed.values():
            text = e["formula"]
            if call:
                text = text.replace(f"{call.group(1)}²({call.group(2)})", f"{short}²")
            e["formula"] = text.replace(expr, short)


def _partial_contribution(graph, c: int, u: int, k: int, g):
    """What flows from c to u when ∂C/∂c is only this fold's share ``g``."""
    if g is None:
        return None
    return edge_contribution(graph, c, u, k, g)


def add_contributions(a, b):
    """a + b, where None (no contribution: the value needs no gradient) adds nothing."""
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
                operands.append(texts[u])
            else:
                operands.append(ranked[u])
        prim = PRIMITIVES[nodes[x]["op"]]
        text = expression(prim, operands, nodes[x]["params"])
        if len(text) > MAX_EXPR:
            return None
        ranked[x] = (text, prim.prec)
    return ranked[v][0]


# ---------------------------------------------------------------- the why line
MAX_WHY_PATHS = 8       # more paths than this: the why line names their count
MAX_WHY_FACTORS = 12    # a longer path reads as its count of factors
_INDEX = re.compile(r"(\d+|\[[\d, ]+\]|[₀-₉]+)$")   # a trailing index: 0, [1], ₂


class WhyLines:
    """The lesson's product for a gradient: along each path of the lesson view from the
    node to the output, its local derivatives in order (the node's first), as formulas
    and numbers, summed over paths (``Σj``).  ``drawn``: the trace as a view draws it
    (``for_view``), whose edges the products follow.  Path counts and lengths are found
    in one pass, so asking for every node of a big graph costs one walk per node asked."""

    def __init__(self, drawn):
        self.view = drawn
        self.g = self.view.graph
        self.out = self.view.output
        self.texts = {v: t for v, (t, _) in node_texts(self.g).items()}
        self.ways: dict[int, int] = {self.out: 1}
        self.length: dict[int, int] = {self.out: 0}
        for v in reversed(list(nodes_of(self.g))):
            if v == self.out:
                continue
            succ = [(w, len(keyed)) for w, keyed in succs_of(self.g)[v].items()
                    if w in self.ways]
            if succ:
                self.ways[v] = sum(self.ways[w] * n for w, n in succ)
                self.length[v] = 1 + max(self.length[w] for w, _ in succ)

    def line(self, v: int, digits: int = DIGITS) -> str:
        """``∂C0/∂w(L) = a(L−1) · σ'(z(L)) · 2(a(L) − y) = 0.422 · 0.243 · (−0.835) =
        −0.0857`` ("" when ``v`` has no gradient or is the output)."""
        attrs = nodes_of(self.g).get(v)
        if attrs is None or "grad" not in attrs or v == self.out or v not in self.ways:
            return ""
        head = partial(self.texts[self.out], self.texts[v])
        grad = value_text(attrs["grad"], digits)
        n = self.ways[v]
        if n > MAX_WHY_PATHS or self.length[v] > MAX_WHY_FACTORS:
            return f"{head} = Σ over {n:,} path{'s' if n != 1 else ''} = {grad}"
        paths = enumerate_paths(self.g, v, self.out, set(self.ways))
        products = [self._product(path, digits) for path in paths]
        if any(x is None for _, x, _ in products):      # arrays: a chain of VJPs, no product
            return f"{head} = {self._vjp_chain(paths)} = {grad}"
        formulas = " + ".join(f for f, _, _ in products)
        if n > 1 and self._over_an_index(paths):
            formulas = f"Σj {formulas}"       # the lesson's sum over the neurons j it feeds
        numbers = [x or "" for _, x, _ in products]
        if n == 1:
            return f"{head} = {formulas}" + (f" = {numbers[0]}" if " · " in numbers[0]
                                             else "") + f" = {grad}"
        terms = " + ".join(signed_term(c, digits) for _, _, c in products)
        if not any(" · " in x for x in numbers if x):
            return f"{head} = {formulas} = {terms} = {grad}"
        shown = " + ".join(f"({x})" if " · " in x else x for x in numbers if x)
        return f"{head} = {formulas} = {shown} = {terms} = {grad}"

    def _over_an_index(self, paths) -> bool:
        """Do the paths leave through values that differ only in an index (``z(L)0``,
        ``z(L)1``: the lesson's neurons j)?  Then the sum is the lesson's ``Σj``."""
        firsts = [self.texts.get(path[0][1], "") for path in paths]
        stems = {_INDEX.sub("", t) for t in firsts}
        return len(set(firsts)) == len(firsts) and len(stems) == 1 and "" not in stems

    def _vjp_chain(self, paths) -> str:
        """An array gradient in words: the named values it flows back through, one
        vector-Jacobian product at each (a product of matrices written as factors would
        read in the wrong order)."""
        path = min(paths, key=len)
        names = [self.texts[self.out]] + [self.texts[u] for u, _, _ in reversed(path)]
        chain = " → ".join(names)
        if len(paths) == 1:
            return f"the VJPs back along {chain}"
        return f"Σ over {len(paths)} paths of the VJPs back along each, e.g. {chain}"

    def _product(self, path, digits) -> tuple[str, str | None, float]:
        """One path's factors, the node's first: (formula, numbers or None if a factor
        is not a number, their product); factors that are exactly 1 are left out."""
        edges = [preds_of(self.g)[w][u][k] for u, w, k in path]
        kept = [e for e in edges if not (e.get("formula") == "1" and e.get("local") == 1.0)]
        kept = kept or edges[:1]
        formula = " · ".join(factor(e.get("formula") or "?") for e in kept)
        seed = nodes_of(self.g)[self.out]["grad"]
        locals_ = [e.get("local") for e in kept]
        if not all(isinstance(x, float) for x in locals_) or not isinstance(seed, float):
            return formula, None, 0.0
        factors = [signed_term(x, digits) for x in locals_]
        if seed != 1.0:
            factors.append(signed_term(seed, digits))
        return formula, " · ".join(factors), math.prod(float(x or 0.0) for x in locals_) * seed


def why_line(trace, name: str, digits: int = DIGITS) -> str:
    """The lesson's product for ∂output/∂name (see ``WhyLines``)."""
    return WhyLines(for_view(trace, "lesson")).line(trace.resolve(name)[0], digits)
