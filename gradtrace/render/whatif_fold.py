"""The lesson view's folded edges as quantities of the trace (the what-if's check).

A folded edge u -> v of the lesson view (``lesson.Fold``) stands for trace edges: its
composite local is Σ over the paths from u to v inside the fold of the product of their
locals, and its contribution is the sum of what crossed into the fold from u (or, when
the fold shares an op with another named value, this fold's share of it, pushed back
from ∂C/∂v edge by edge).  ``FoldNumbers`` computes both from the tape the way the
fold did, so a template's ``L``/``C`` slots filled with the traced numbers give the
drawn text; ``whatif.js`` (``foldNumbers``) does the same from a replay.
"""

from __future__ import annotations

from ..calculus.backward import edge_contribution
from ..core.graph import nodes_of
from ..core.tape import LOCS
from .lesson import add_contributions


class FoldNumbers:
    """Composite locals (``local(v, u)``) and contributions (``contribution(v, u)``)
    of the drawn graph ``drawn``'s folded edges, from ``trace``'s tape and graph."""

    def __init__(self, trace, drawn):
        self.trace, self.drawn = trace, drawn
        self.locals: dict[int, dict] = {}
        self.crossed: dict[int, dict] = {}

    def fold(self, v: int):
        return nodes_of(self.drawn)[v]["fold"]

    def local(self, v: int, u: int):
        if v not in self.locals:
            adj: dict = {v: 1.0}
            acc: dict = {}
            for c, w, k, inside in self.fold(v).steps:
                locs = self.trace.tape.records[c][LOCS]
                local = None if locs is None else locs[k]
                n = None if adj.get(c) is None or local is None else adj[c] * local
                into = adj if inside else acc
                if w in into:
                    into[w] = None if into[w] is None or n is None else into[w] + n
                else:
                    into[w] = n
            self.locals[v] = acc
        return self.locals[v][u]

    def contribution(self, v: int, u: int):
        if v not in self.crossed:
            self.crossed[v] = self._crossed(v)
        return self.crossed[v][u]

    def _crossed(self, v: int) -> dict:
        tape, fold = self.trace.tape, self.fold(v)
        up: dict = {v: tape.grads[v]}
        acc: dict = {}
        for c, w, k, inside in fold.steps:
            if fold.shared:
                g = up.get(c)
                x = None if g is None or tape.contribs[c][k] is None else \
                    edge_contribution(self.trace.graph, c, w, k, g)
            else:
                x = tape.contribs[c][k]
            into = up if inside else acc
            into[w] = add_contributions(into.get(w), x)
        return acc
