"""A fast layered layout for graphs too big for Graphviz ``dot``.

``dot`` spends almost all its time minimising crossings and is unusable past a few
thousand nodes.  Computation graphs are DAGs with a natural left-to-right flow,
so a plain Sugiyama-style layout does well: layers by longest path from the
inputs, a few barycentric sweeps to reduce crossings, then coordinates.
Graphviz only draws (``neato -n2``), it does not lay out.
"""

from __future__ import annotations

SWEEPS = 4


def layers_of(nodes: list[int], preds: dict[int, list[int]],
              succs: dict[int, list[int]]) -> dict[int, int]:
    """Longest-path layering (``nodes`` in a topological order), then each leaf
    (input, constant) moves right next to its first consumer instead of sending a
    long edge across the whole drawing."""
    layer: dict[int, int] = {}
    for v in nodes:
        ps = preds.get(v)
        layer[v] = 1 + max(layer[u] for u in ps) if ps else 0
    for v in nodes:
        if not preds.get(v) and succs.get(v):
            layer[v] = min(layer[w] for w in succs[v]) - 1
    return layer


def order_layers(nodes: list[int], preds: dict[int, list[int]], succs: dict[int, list[int]],
                 layer: dict[int, int], sweeps: int = SWEEPS) -> list[list[int]]:
    """Nodes of each layer in an order with few crossings (barycentre heuristic)."""
    count = max(layer.values(), default=-1) + 1
    rows: list[list[int]] = [[] for _ in range(count)]
    for v in nodes:
        rows[layer[v]].append(v)
    pos = {v: i for row in rows for i, v in enumerate(row)}
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        order = range(1, count) if downward else range(count - 2, -1, -1)
        neighbours = preds if downward else succs
        for li in order:
            row = rows[li]
            keyed = []
            for v in row:
                ns = neighbours.get(v)
                key = sum(pos[u] for u in ns) / len(ns) if ns else pos[v]
                keyed.append((key, pos[v], v))
            keyed.sort()
            rows[li] = row = [v for _, _, v in keyed]
            for i, v in enumerate(row):
                pos[v] = i
    return rows


def positions(nodes: list[int], edges: list[tuple[int, int]], sizes: dict[int, tuple[float, float]],
              gap_x: float = 60.0, gap_y: float = 14.0) -> dict[int, tuple[float, float]]:
    """(x, y) in points for each node, inputs on the left, the output on the right."""
    preds: dict[int, list[int]] = {}
    succs: dict[int, list[int]] = {}
    for u, v in edges:
        preds.setdefault(v, []).append(u)
        succs.setdefault(u, []).append(v)
    layer = layers_of(nodes, preds, succs)
    rows = order_layers(nodes, preds, succs, layer)
    heights = [sum(sizes[v][1] for v in row) + gap_y * max(len(row) - 1, 0) for row in rows]
    tallest = max(heights, default=0.0)
    pos: dict[int, tuple[float, float]] = {}
    x = 0.0
    for row, height in zip(rows, heights):
        width = max((sizes[v][0] for v in row), default=0.0)
        y = (tallest + height) / 2
        for v in row:
            h = sizes[v][1]
            pos[v] = (round(x + width / 2, 1), round(y - h / 2, 1))
            y -= h + gap_y
        x += width + gap_x
    return pos
