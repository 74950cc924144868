"""The tape: a trace as it is recorded, one compact record per node.

Tracing appends one tuple per node and backward runs over the tuples: no dict
per node or edge, so recording costs a few hundred bytes per scalar node where
networkx's adjacency dicts cost well over a thousand.  The ``MultiDiGraph``
every view reads is built from the tape the first time it is asked for
(``to_graph``), with exactly the schema ``gradtrace.core.graph`` states; a graph that
arrives without a tape (a loaded JSON trace) gets one from ``from_graph``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import networkx as nx

from ..ops import PRIMITIVES
from .graph import GraphWriter, argument_ids, nodes_of, preds_of


class Record(NamedTuple):
    """One node as recorded (fields never change once recorded).

    The tape stores each record as a plain tuple in exactly this field order: the
    recorder builds one per traced op, and a tuple display costs 0.40 µs where
    ``Record(...)`` costs 1.6 µs (measured on this machine), about 40% of a scalar
    node's whole recording time.  Read a record by name with ``Tape.record(v)``, or
    by the field positions below (``KIND`` ... ``PARAMS``), which come from this class.
    """

    kind: str        # "input" | "const" | "op"
    prim: Any        # the op-table row (a Primitive), None for inputs and constants
    value: Any       # a float (0-d) or a read-only numpy array
    args: tuple      # argument node ids by position; () for inputs and constants
    locs: Any        # local derivative per argument position (None at a position: use
                     # the VJP), or None: every position uses the VJP
    req: bool        # requires_grad: some input in wrt reaches this node
    scope: tuple     # the enclosing calls and gt.scope blocks (an interned tuple)
    params: Any      # the op's parameters (a dict) or None


KIND, OP, VALUE, ARGS, LOCS, REQ, SCOPE, PARAMS = range(len(Record._fields))


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

    def record(self, v: int) -> Record:
        """Node ``v``'s record, its fields by name."""
        return Record._make(self.records[v])


def _shape(value) -> tuple:
    return () if type(value) is float else value.shape


def to_graph(tape: Tape) -> nx.MultiDiGraph:
    """The networkx graph of a tape, gradients included once backward has run.

    Written through ``graph.GraphWriter`` (networkx's adjacency dicts directly: for a
    million nodes ``add_edge`` costs more than the rest).
    """
    g = nx.MultiDiGraph()
    add_node = GraphWriter(g).add_node
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
        add_node(v, attrs, args, locs, contribs[v] if contribs is not None else None)
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
