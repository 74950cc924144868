"""The line of every edge of the fast layout, through the waypoints ``layout`` placed.

A line leaves its source's far side, runs along the flow through its own slot in
each column it passes (a waypoint of its source's trunk) and bends only in the gaps
between columns, where no box or label stands; so it crosses no box and no label.
The lines into one box arrive at ports spread along its near side, in the order of
where they come from, so two arrows into a box stay apart and do not cross there.

Points are (x, y) in the drawing's units.  The edges out of one node share their
trunk: ``Trunks`` remembers how far each node's trunk has been drawn in a colour, and
each edge draws only what is not drawn yet, so a weight used by 1,000 steps draws its
trunk once, not 1,000 times.
"""

from __future__ import annotations

import numpy as np

LEAD = 8.0          # an arrow's last stretch runs straight along the flow
PORT_STEP = 10.0    # between the ports on one side of a box (at most)


class Router:
    """Line points of edge e (``src[e]`` -> ``dst[e]``) placed by ``layout.place``."""

    def __init__(self, p, src, dst):
        lr = p.rankdir == "LR"
        self.lr = lr
        along, cross = (p.x, p.y) if lr else (p.y, p.x)
        half = (p.w if lr else p.h) / 2
        self.cross = cross.tolist()
        self.far = np.round(along + half, 1).tolist()
        self.near = np.round(along - half, 1).tolist()
        self.band_start = p.start[p.col].tolist()
        self.band_end = np.round(p.start + p.thick, 1)[p.col].tolist()
        self.src, self.dst = list(src), list(dst)
        self.trunk, self.need = p.trunk.tolist(), p.need.tolist()
        self.arrival, self.label_box = p.arrival.tolist(), p.label_box.tolist()
        self.port = _ports(p, np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
                           cross, (p.h if lr else p.w)).tolist()

    def need_of(self, e: int) -> int:
        """How many waypoints of its source's trunk edge e runs through."""
        return self.need[e]

    def first(self, e: int, drawn: int = 0) -> list[tuple[float, float]]:
        """From the source (or, when ``drawn`` waypoints of the trunk are drawn already,
        from the last of them that this edge needs) to the label box or the target."""
        u, a, k = self.src[e], self.arrival[e], self.need[e]
        cross, band_start, band_end = self.cross, self.band_start, self.band_end
        if band_start[a] <= band_end[u]:          # an edge against the flow: straight
            return self._points([(self.far[u], cross[u]), self._enter(e, a)])
        skip = min(drawn, k)
        if skip:
            w = self.trunk[u] + skip - 1
            pts = [(band_end[w], cross[w])]
        else:
            pts = [(self.far[u], cross[u]), (band_end[u], cross[u])]
        for w in range(self.trunk[u] + skip, self.trunk[u] + k):
            pts += [(band_start[w], cross[w]), (band_end[w], cross[w])]
        if a == self.dst[e]:
            pts.append((band_start[a] - LEAD, self.port[e]))
        else:
            pts.append((band_start[a], cross[a]))
        pts.append(self._enter(e, a))
        return self._points(pts)

    def second(self, e: int) -> list[tuple[float, float]]:
        """From edge e's label box to its target (empty when it has no label)."""
        k, v = self.label_box[e], self.dst[e]
        if k < 0:
            return []
        return self._points([(self.far[k], self.cross[k]), (self.band_end[k], self.cross[k]),
                             (self.band_start[v] - LEAD, self.port[e]), self._enter(e, v)])

    def _enter(self, e: int, a: int) -> tuple[float, float]:
        return self.near[a], (self.cross[a] if a != self.dst[e] else self.port[e])

    def _points(self, pts) -> list[tuple[float, float]]:
        """(x, y) points, without repeats and without a middle point of a straight run
        (the coordinates are rounded to 0.1 already, so equal means equal)."""
        out = [pts[0]]
        for p in pts[1:]:
            last = out[-1]
            if last == p:
                continue
            if len(out) >= 2 and (out[-2][1] == last[1] == p[1] or out[-2][0] == last[0] == p[0]):
                out[-1] = p
            else:
                out.append(p)
        return out if self.lr else [(y, x) for x, y in out]


def _ports(p, src, dst, cross, span) -> np.ndarray:
    """Per edge: where across the flow it enters its target, spread over the middle of
    the target's near side in the order of the boxes the edges come from."""
    if not len(dst):
        return np.zeros(0)
    before = np.where(p.label_box >= 0, p.label_box,
                      np.where(p.need > 0, p.trunk[src] + p.need - 1, src))
    order = np.lexsort((np.arange(len(dst)), cross[before], dst))
    sorted_dst = dst[order]
    first = np.searchsorted(sorted_dst, sorted_dst, side="left")
    count = np.bincount(dst, minlength=len(cross))[dst]
    rank = np.empty(len(dst))
    rank[order] = np.arange(len(dst)) - first
    step = np.minimum(PORT_STEP, 0.6 * span[dst] / np.maximum(count - 1, 1))
    return np.round(cross[dst] + (rank - (count - 1) / 2) * step, 1)


class Trunks:
    """How far each (source, colour, width) trunk is drawn: an edge draws only the part
    of its line that an earlier edge of the same look has not drawn."""

    def __init__(self, router: Router):
        self.router = router
        self.drawn: dict[tuple, int] = {}

    def first(self, e: int, look: tuple) -> list[tuple[float, float]]:
        key = (self.router.src[e], *look)
        drawn = self.drawn.get(key, 0)
        self.drawn[key] = max(drawn, self.router.need_of(e))
        return self.router.first(e, drawn)
