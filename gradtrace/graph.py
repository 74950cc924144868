"""Small read-only helpers over a traced graph (networkx MultiDiGraph)."""

from __future__ import annotations


def argument_ids(pred_v) -> list[int]:
    """A node's arguments in position order (the edge key is the argument position)."""
    by_pos = {k: u for u, keyed in pred_v.items() for k in keyed}
    return [by_pos[k] for k in range(len(by_pos))]


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
