"""The traced graph: its schema, stated once, and the read API every stage uses.

A trace is a ``networkx.MultiDiGraph``.  Node ids are integers in creation order,
which is a topological order: every argument has a smaller id than its consumer.
An edge ``u -> v`` with key ``k`` says "u is argument k of v"; an op that uses one
value twice (``x * x``) has two edges from it, keys 0 and 1.

Only ``GraphWriter`` writes networkx's adjacency dicts (the tape's ``to_graph`` and the
JSON loader build through it); every other module reads them through the functions
here (``nodes_of`` and friends hand out the dicts themselves, so a loop over a million
nodes pays no view).
"""

from __future__ import annotations

from typing import Any, TypedDict


class NodeAttrs(TypedDict, total=False):
    """What every node carries (``grad`` once backward has run, ``file``/``line`` once the
    trace's names are finished)."""

    kind: str               # "input" | "const" | "op"
    op: Any                 # str: the op-table row (``PRIMITIVES[op]``); None unless an op
    name: str | None        # the user's variable, input path or label; None if unnamed
    var: str                # the variable a versioned name came from (h for h₂)
    value: Any              # a float (0-d) or a read-only numpy array
    shape: tuple            # () for floats
    scope: tuple            # enclosing calls and gt.scope blocks, outermost first
    params: dict | None     # the op's parameters (axis=, index ...); keys starting "_" are
                            # runtime handles that never reach JSON
    requires_grad: bool     # some input in wrt reaches this node
    grad: Any               # ∂output/∂node, the node's shape
    student: float          # a graded engine's differing .grad (gt.grade marks it)
    graded: str             # ... and gt.grade's words for it (the page's panel says them)
    file: str               # where the node was made
    line: int
    folded: int             # the lesson view's graph only: how many unnamed ops folded in
    expr: str               # ... and what the value computes from the named values feeding it
    fold: Any               # ... and the trace's edges its edges stand for (``lesson.Fold``)


class EdgeAttrs(TypedDict, total=False):
    """What every edge carries (``contribution`` once backward has run)."""

    local: Any              # ∂v/∂u elementwise (float or array), or None: a VJP edge
    formula: Any            # str: the local derivative in operand names ("1 − tanh²(z)"),
                            # filled when the graph is first read
    contribution: Any       # what flows back along this edge: ∂C/∂v · ∂v/∂u (None if u
                            # needs no gradient)
    arg: int                # the lesson view's kept edges: the argument position in the
                            # trace (the key is renumbered when constants are left out)


class GraphWriter:
    """Builds a graph node by node in creation order, writing networkx's adjacency dicts in
    the layout ``add_node`` / ``add_edge`` make (a test checks it) at a fraction of
    their cost."""

    def __init__(self, g):
        self.node, self.succ, self.pred = g._node, g._succ, g._pred
        self.add_node = _node_adder(self.node, self.succ, self.pred)

    def add_arg(self, u: int, v: int, k: int, attrs: dict) -> bool:
        """The edge "u is argument k of v"; False (nothing written) if v already has an
        argument at position k from u."""
        keyed = self.pred[v].get(u)
        if keyed is None:
            keyed = self.pred[v][u] = self.succ[u][v] = {}
        elif k in keyed:
            return False
        keyed[k] = attrs
        return True


def _node_adder(node: dict, succ: dict, pred: dict):
    """``add_node(v, attrs, args=(), locs=None, contribs=None)``: node ``v`` (its
    arguments already added) and an edge from each of ``args`` by position, with that
    position's local derivative (``locs``; None: a VJP edge) and, once backward has run,
    its contribution (``contribs``).  A closure, one call per node: the first read of a
    million-node graph pays no call per edge and no attribute lookups."""
    def add_node(v: int, attrs: dict, args=(), locs=None, contribs=None) -> None:
        node[v] = attrs
        succ[v] = {}
        mine: dict[int, dict] = {}
        pred[v] = mine
        for k, u in enumerate(args):
            e = {"local": locs[k] if locs is not None else None, "formula": None}
            if contribs is not None:
                e["contribution"] = contribs[k]
            keyed = mine.get(u)
            if keyed is None:
                keyed = mine[u] = succ[u][v] = {}
            keyed[k] = e
    return add_node


def nodes_of(g) -> dict[int, NodeAttrs]:
    """Node id -> attributes, in creation order."""
    return g._node


def preds_of(g) -> dict[int, dict[int, dict[int, EdgeAttrs]]]:
    """v -> {argument u -> {argument position k -> edge attributes}}."""
    return g._pred


def succs_of(g) -> dict[int, dict[int, dict[int, EdgeAttrs]]]:
    """u -> {consumer v -> {argument position k -> edge attributes}} (the same edge dicts)."""
    return g._succ


def argument_ids(pred_v) -> list[int]:
    """A node's arguments in position order (the edge key is the argument position)."""
    ids: list[int] = []
    for u, keyed in pred_v.items():      # usually: distinct arguments, inserted in order
        if len(keyed) != 1 or len(ids) not in keyed:
            break
        ids.append(u)
    else:
        return ids
    by_pos = {k: u for u, keyed in pred_v.items() for k in keyed}
    return [by_pos[k] for k in range(len(by_pos))]


def args(g, v: int) -> list[int]:
    """The arguments of node ``v`` in position order."""
    return argument_ids(g._pred[v])


def consumers(g, u: int) -> list[tuple[int, int, EdgeAttrs]]:
    """Every use of ``u``: (consumer, argument position, edge), in (consumer, position)
    order, the order a fan-out sum lists its terms."""
    return [(v, k, e) for v, keyed in sorted(g._succ[u].items()) for k, e in sorted(keyed.items())]


def value(g, v: int):
    return g._node[v]["value"]


def paths_to_output(trace, name: str) -> set[int]:
    """Nodes on some path from ``name`` to the output (both ends included)."""
    src = trace.resolve(name)[0]
    g = trace.graph
    down = {src}
    for v in sorted(g._node):
        if v > src and any(u in down for u in g._pred[v]):
            down.add(v)
    up = {trace.output}
    for v in sorted(g._node, reverse=True):
        if v in up:
            up.update(g._pred[v])
    return down & up


def enumerate_paths(g, src: int, dst: int, on_path: set[int]) -> list[list[tuple[int, int, int]]]:
    """Every path src -> dst as its edges (u, v, key), in sorted order; iterative, so a
    100,000-deep chain needs no recursion."""
    if src == dst:
        return [[]]

    def out_edges(v):
        return iter([(v, w, k) for w, keyed in sorted(succs_of(g)[v].items()) if w in on_path
                     for k in sorted(keyed)])
    paths: list[list[tuple[int, int, int]]] = []
    edges: list[tuple[int, int, int]] = []
    stack = [out_edges(src)]
    while stack:
        edge = next(stack[-1], None)
        if edge is None:             # this node's edges are done: step back
            stack.pop()
            if edges:
                edges.pop()
            continue
        edges.append(edge)
        if edge[1] == dst:
            paths.append(list(edges))
            edges.pop()
        else:
            stack.append(out_edges(edge[1]))
    return paths
