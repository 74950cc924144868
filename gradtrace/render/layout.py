"""A fast layered layout with a slot for every edge label and every edge line, for
graphs too big for dot.

``dot`` spends almost all its time minimising crossings and is unusable past a few
thousand nodes.  Computation graphs are DAGs with a natural flow, so a plain
Sugiyama-style layout does well: layers by longest path from the inputs, a few
barycentric sweeps to reduce crossings, then coordinates.

Every edge that shows a label gets a label box of its own, placed in the column
just before its target's layer (as dot makes a label a small node of its own; a
label describes ∂target/∂source, so it sits by the target, and a node used in
many places does not crowd all its labels into one column), so labels are laid
out like nodes: boxes in one column are stacked with a gap and columns do not
overlap, hence no box can overlap another.

An edge that skips columns passes each column between its ends through a waypoint:
a zero-size box of its own in that column (Sugiyama's virtual node), so it runs
along the flow in a free slot of the column and bends only in the gaps between
columns, where nothing is drawn; it never crosses a box or a label.  The edges out
of one node share one run of waypoints (a trunk, as dot's ``concentrate`` does) that
reaches as far as its farthest edge, so a weight used by every step of a loop costs
one waypoint per column, not one per use.  ``route.py`` turns waypoints into lines.
The orientation (left-to-right or top-to-bottom) is the one whose drawing is
closer to square, unless one is asked for.

Everything past the layering works on numpy arrays over all boxes at once (the
sweeps update every column from the previous sweep's positions), so a 200,000-node
graph with 570,000 labelled edges lays out in seconds and little memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SWEEPS = 4
GAP_LAYER = 28.0     # between neighbouring columns (where the edges bend)
GAP_CROSS = 10.0     # between boxes stacked in one column
GAP_WAY = 6.0        # between two edge lines passing one column


def layers_of(n: int, src: list[int], dst: list[int]) -> list[int]:
    """Longest-path layering of nodes 0..n-1 (index order is creation order), then each
    leaf (input, constant) moves right next to its first consumer instead of sending a
    long edge across the whole drawing.  An edge against index order is ignored."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in zip(src, dst):
        if u < v:
            preds[v].append(u)
            succs[u].append(v)
    layer = [0] * n
    for v in range(n):
        ps = preds[v]
        if ps:
            layer[v] = 1 + max([layer[u] for u in ps])
    for v in range(n):
        if not preds[v] and succs[v]:
            layer[v] = min([layer[w] for w in succs[v]]) - 1
    return layer


@dataclass
class Boxes:
    """What is placed: every box's column and size, and how the edges use the boxes.

    Boxes 0..n-1 are the nodes, then one per label (``label_box[e]``, -1: no label), then
    (from box ``real`` on) the waypoints: node u's trunk is boxes ``trunk[u]`` ..
    ``trunk[u] + reach - 1``, one per column after u's.  Edge e runs along u's trunk for
    ``need[e]`` columns, then arrives at ``arrival[e]`` (its label box, or its target).
    The sweeps follow the edges a -> b."""

    col: np.ndarray
    w: np.ndarray
    h: np.ndarray
    real: int
    label_box: np.ndarray
    trunk: np.ndarray
    need: np.ndarray
    arrival: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def pad(self) -> np.ndarray:
        """Half the gap kept free on each side of each box across the flow."""
        return np.where(np.arange(len(self.col)) < self.real, GAP_CROSS / 2, GAP_WAY / 2)


@dataclass
class Placement:
    """Box centres and sizes (points) as arrays over all boxes (see ``Boxes`` for which box
    is which), each column's start and thickness along the flow, and how edges route."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    h: np.ndarray
    label_box: np.ndarray
    rankdir: str         # "LR" or "TB"
    width: float
    height: float
    col: np.ndarray      # each box's column
    start: np.ndarray    # each column's start along the flow
    thick: np.ndarray    # each column's thickness along the flow
    trunk: np.ndarray    # node u's first waypoint box (see Boxes)
    need: np.ndarray     # edge e's waypoints before its arrival
    arrival: np.ndarray  # edge e's label box, or its target

    def box(self, i: int) -> tuple[float, float, float, float]:
        return float(self.x[i]), float(self.y[i]), float(self.w[i]), float(self.h[i])


def place(n: int, src, dst, node_w, node_h, label_w, label_h,
          rankdir: str | None = None, sweeps: int = SWEEPS) -> Placement:
    """Lay out nodes 0..n-1 and edges src[e] -> dst[e].  ``label_w[e]`` > 0 gives edge e a
    label box of that size.  ``rankdir`` None chooses LR or TB, whichever is squarer."""
    bx = _boxes(n, src, dst, node_w, node_h, label_w, label_h)
    count = len(bx.col)
    pos = _ranks(bx.col, np.arange(count, dtype=float), np.arange(count))
    for sweep in range(sweeps):
        frm, to = (bx.a, bx.b) if sweep % 2 == 0 else (bx.b, bx.a)   # downward: predecessors
        total = np.bincount(to, weights=pos[frm], minlength=count)
        seen = np.bincount(to, minlength=count)
        key = np.where(seen > 0, total / np.maximum(seen, 1), pos)
        pos = _ranks(bx.col, key, pos)
    if rankdir is None:
        rankdir = _squarer(bx)
    return _coordinates(bx, pos, 1 if rankdir in ("LR", "RL") else 0)


def orientation(n: int, src, dst, node_w, node_h, label_w,
                label_h) -> tuple[str, float, float]:
    """(rankdir, width, height) that ``place`` would choose, without placing anything:
    the squarer of LR and TB depends only on the columns and the box sizes, not on the
    order within a column (what dot's drawing is oriented by, at a fraction of the cost)."""
    bx = _boxes(n, src, dst, node_w, node_h, label_w, label_h)
    rankdir = _squarer(bx)
    length, wide = _extent(bx, 1 if rankdir == "LR" else 0)
    return (rankdir, length, wide) if rankdir == "LR" else (rankdir, wide, length)


def _boxes(n: int, src, dst, node_w, node_h, label_w, label_h) -> Boxes:
    """Every box's column (nodes by layer, each label in a column just before its
    target's, columns without a box dropped), its size, and the waypoints of the trunks."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    label_w = np.asarray(label_w, dtype=float)
    layer = np.asarray(layers_of(n, src.tolist(), dst.tolist()), dtype=np.int64)
    labelled = np.nonzero(label_w > 0)[0]
    real = n + len(labelled)
    label_box = np.full(len(src), -1, dtype=np.int64)
    label_box[labelled] = np.arange(n, real)
    raw = np.concatenate([2 * layer, 2 * layer[dst[labelled]] - 1])
    col = np.unique(raw, return_inverse=True)[1].reshape(-1).astype(np.int64)
    arrival = np.where(label_box >= 0, label_box, dst)
    need = np.maximum(col[arrival] - col[src] - 1, 0)
    reach = np.zeros(n, dtype=np.int64)
    np.maximum.at(reach, src, need)
    trunk = real + np.cumsum(reach) - reach
    owner = np.repeat(np.arange(n), reach)
    way = real + np.arange(len(owner))
    step = way - trunk[owner]
    a = np.concatenate([np.where(step == 0, owner, way - 1),
                        np.where(need > 0, trunk[src] + need - 1, src), label_box[labelled]])
    b = np.concatenate([way, arrival, dst[labelled]])
    none = np.zeros(len(owner))
    w = np.concatenate([np.asarray(node_w, dtype=float), label_w[labelled], none])
    h = np.concatenate([np.asarray(node_h, dtype=float),
                        np.asarray(label_h, dtype=float)[labelled], none])
    return Boxes(np.concatenate([col, col[owner] + 1 + step]), w, h, real, label_box,
                 trunk, need, arrival, a, b)


def _ranks(col, key, tie) -> np.ndarray:
    """Each box's position within its column when sorted by (key, tie)."""
    order = np.lexsort((tie, key, col))
    sorted_col = col[order]
    starts = np.searchsorted(sorted_col, sorted_col, side="left")
    ranks = np.empty(len(col), dtype=float)
    ranks[order] = np.arange(len(col)) - starts
    return ranks


def _column_stats(bx: Boxes, across: int):
    """Each box's span across the flow and room (span and gaps), and per column: the
    summed room and the thickest box along the flow."""
    span, thick = (bx.h, bx.w) if across == 1 else (bx.w, bx.h)
    room = span + 2 * bx.pad()
    ncol = int(bx.col.max()) + 1 if len(bx.col) else 0
    total = np.bincount(bx.col, weights=room, minlength=ncol)
    thickest = np.zeros(ncol)
    np.maximum.at(thickest, bx.col, thick)
    return span, room, total, thickest


def _extent(bx: Boxes, across: int) -> tuple[float, float]:
    _, _, total, thickest = _column_stats(bx, across)
    length = float(np.sum(thickest + GAP_LAYER)) - GAP_LAYER if len(thickest) else 0.0
    return max(length, 0.0), float(total.max() - GAP_CROSS) if len(total) else 0.0


def _squarer(bx: Boxes) -> str:
    def off(length, wide):
        return abs(math.log(max(length, 1.0) / max(wide, 1.0)))
    return "LR" if off(*_extent(bx, 1)) <= off(*_extent(bx, 0)) else "TB"


def _coordinates(bx: Boxes, pos, across: int) -> Placement:
    """across=1: each layer is a column (LR); across=0: a row (TB)."""
    col = bx.col
    span, room, total, thickest = _column_stats(bx, across)
    start = np.concatenate([[0.0], np.cumsum(thickest + GAP_LAYER)[:-1]])
    mid = start[col] + thickest[col] / 2
    # stack each column's boxes in position order, centred across the flow
    order = np.lexsort((pos, col))
    sorted_col = col[order]
    sorted_room = room[order]
    before = np.cumsum(sorted_room) - sorted_room
    first = np.searchsorted(sorted_col, sorted_col, side="left")
    offset = np.empty(len(col))
    offset[order] = before - before[first]
    widest = float(total.max()) if len(total) else 0.0
    centre = (widest - total[col]) / 2 + offset + room / 2
    if len(col):       # the outermost box (or line) touches the edge of the drawing
        centre -= float(np.min(centre - span / 2))
    wide = float(np.max(centre + span / 2)) if len(col) else 0.0
    length = max(float(np.sum(thickest + GAP_LAYER)) - GAP_LAYER, 0.0)
    x, y = (mid, centre) if across == 1 else (centre, mid)
    rankdir, width, height = ("LR", length, wide) if across == 1 else ("TB", wide, length)
    return Placement(np.round(x, 1), np.round(y, 1), bx.w, bx.h, bx.label_box, rankdir,
                     width, height, col, np.round(start, 1), np.round(thickest, 1),
                     bx.trunk, bx.need, bx.arrival)
