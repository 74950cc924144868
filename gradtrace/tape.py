"""The tape: a trace as it is recorded, one compact record per node.

Tracing appends one tuple per node and backward runs over the tuples: no dict
per node or edge, so recording costs a few hundred bytes per scalar node where
networkx's adjacency dicts cost well over a thousand.  The ``MultiDiGraph``
every view reads is built from the tape the first time it is asked for
(``to_graph``), with exactly the schema ``gradtrace.graph`` states; a graph that
arrives without a tape (a loaded JSON trace) gets one from ``from_graph``.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from .graph import argument_ids, nodes_of, preds_of, succs_of
from .ops import PRIMITIVES

# One record per node id, a tuple (fields never change once recorded):
KIND = 0     # "input" | "const" | "op"
OP = 1       # the op-table row (a Primitive), None for inputs and constants
VALUE = 2    # a float (0-d) or a read-only numpy array
ARGS = 3     # argument node ids by position; () for inputs and constants
LOCS = 4     # local derivative per argument position (None at a position: use the VJP),
             # or None: every position uses the VJP
REQ = 5      # requires_grad: some input in wrt reaches this node
SCOPE = 6    # the enclosing calls and gt.scope blocks (an interned tuple)
PARAMS = 7   # the op's parameters (a dict) or None


class Tape:
    """Per-node records and the columns that change after recording.

    ``names`` is separate from the records because a name can be settled later
    than its node (``s = sum(...)`` names only the last add; ``gt.label``);
    ``grads`` and ``contribs`` are filled by backward: the gradient of each node
    that needs one, and per op the contribution along each argument position.
    """

    __slots__ = ("records", "names", "sites", "grads", "contribs", "guards", "hooks")

    def __init__(self) -> None:
        self.records: list[tuple] = []
        self.names: list[str | None] = []
        self.sites: list = []            # (file, line) of the code that made each node, or None
        self.grads: list | None = None
        self.contribs: list | None = None
        # comparisons of traced values the code branched on:
        # (op, node id, other node id or None, constant or None, result, (file, line))
        self.guards: list[tuple] = []
        self.hooks: dict | None = None   # node -> a function backward applies to its gradient

    def __len__(self) -> int:
        return len(self.records)

    def edge_count(self) -> int:
        return sum([len(r[ARGS]) for r in self.records])

    def value(self, v: int):
        return self.records[v][VALUE]


def _shape(value) -> tuple:
    return () if type(value) is float else value.shape


def to_graph(tape: Tape) -> nx.MultiDiGraph:
    """The networkx graph of a tape, gradients included once backward has run.

    Writes networkx's adjacency dicts directly, in the layout ``add_edge`` builds
    (a test checks it): for a million nodes ``add_edge`` costs more than the rest.
    """
    g = nx.MultiDiGraph()
    node, succ, pred = nodes_of(g), succs_of(g), preds_of(g)
    names, sites, grads, contribs = tape.names, tape.sites, tape.grads, tape.contribs
    for v, (kind, prim, value, args, locs, req, scope, params) in enumerate(tape.records):
        attrs: dict[str, Any] = {
            "kind": kind, "op": None if prim is None else prim.name, "name": names[v],
            "value": value, "shape": _shape(value), "scope": scope, "params": params,
            "requires_grad": req}
        if grads is not None and req:
            attrs["grad"] = grads[v]
        site = sites[v] if v < len(sites) else None
        if site is not None:
            attrs["file"], attrs["line"] = site
        node[v] = attrs   # type: ignore[assignment]
        succ[v] = {}
        mine: dict = {}
        pred[v] = mine
        cs = contribs[v] if contribs is not None else None
        for k, u in enumerate(args):
            e = {"local": locs[k] if locs is not None else None, "formula": None}
            if cs is not None:
                e["contribution"] = cs[k]
            keyed = mine.get(u)
            if keyed is None:
                keyed = mine[u] = {}
                succ[u][v] = keyed
            keyed[k] = e
    return g


def from_graph(g) -> Tape:
    """The tape of a graph that has none (a trace loaded from JSON): same ids, values,
    locals, names, gradients and contributions."""
    tape = Tape()
    nodes, pred = nodes_of(g), preds_of(g)
    has_grads = False
    grads: list = []
    contribs: list = []
    for v, a in nodes.items():
        if v != len(tape.records):
            raise ValueError("a trace's node ids are 0, 1, 2 ... in creation order")
        args = tuple(argument_ids(pred[v]))
        keyed = [pred[v][u][k] for k, u in enumerate(args)]
        locs = tuple(e["local"] for e in keyed) if args else None
        prim = PRIMITIVES[a["op"]] if a["op"] is not None else None
        tape.records.append((a["kind"], prim, a["value"], args, locs, a["requires_grad"],
                             a["scope"], a["params"]))
        tape.names.append(a["name"])
        tape.sites.append((a["file"], a["line"]) if "file" in a else None)
        grads.append(a.get("grad"))
        has_grads = has_grads or "grad" in a
        contribs.append(tuple(e["contribution"] for e in keyed)
                        if keyed and all("contribution" in e for e in keyed) else None)
    if has_grads:
        tape.grads, tape.contribs = grads, contribs
    return tape


def write_gradients(tape: Tape, g) -> None:
    """Copy backward's results from the tape onto a graph built earlier."""
    grads, contribs = tape.grads, tape.contribs
    if grads is None or contribs is None:
        return
    pred = preds_of(g)
    for v, attrs in nodes_of(g).items():
        if not attrs["requires_grad"]:
            attrs.pop("grad", None)
            continue
        attrs["grad"] = grads[v]
        cs = contribs[v]
        if cs is None:
            continue
        for k, u in enumerate(tape.records[v][ARGS]):
            pred[v][u][k]["contribution"] = cs[k]
