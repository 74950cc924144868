"""The what-if's line templates: each numbered line of the diagram as fixed text and
slots, built the way ``Painter`` writes that line (``node_rows``, ``grad_text``,
``local_text``, ``edge_look``).

A slot is ``["v", node, fmt]`` (a value), ``["g", node, fmt]`` (a gradient),
``["l", node, position, fmt]`` (a local derivative), ``["c", node, position, fmt]``
(a contribution), or on a folded edge of the lesson view ``["L", node, u, fmt]`` (the
composite local ∂node/∂u through the fold) and ``["C", node, u, fmt]`` (the contribution
that crossed into the fold from u), both derived from the trace's own edges
(``lesson.Fold``); ``fmt`` is ``n`` (num), ``s`` (signed term), ``m`` (the norm, num),
``t`` (value_text), ``r`` (value_text, a matrix one row per line, as a box shows it)
or ``e`` (value_text as an edge's label writes it: up to 6 values).
Only numbers move under a what-if: names, formulas, shapes and the number of paths are
fixed by the trace.
"""

from __future__ import annotations

import numpy as np

from ..core.graph import nodes_of, succs_of
from ..notation import num, partial
from .story import main_line


def _is_float(x) -> bool:
    return isinstance(x, (float, np.floating))


def edge_slot(g, kind: str, u: int, v: int, k: int, fmt: str) -> list:
    """The slot of edge u -> v (key k) of the drawn graph: its local (``kind`` "l") or
    contribution ("c"); a folded edge's are composed from the trace's edges, a kept
    edge of the lesson view names its argument position in the trace (``arg``)."""
    if nodes_of(g)[v].get("fold") is not None:
        return [kind.upper(), v, u, fmt]
    return [kind, v, g.pred[v][u][k].get("arg", k), fmt]


def value_template(painter, v: int) -> list:
    slot = ["v", v, "r"]
    return [slot] if painter.opts.terse else ["= ", slot]


def grad_template(painter, v: int) -> list:
    g = painter.graph
    if painter.opts.terse:
        return ["∇ ", ["g", v, "r"]]
    label = partial(painter.out_name, painter.texts[v])
    terms = [(w, k, e["contribution"]) for w, keyed in sorted(succs_of(g)[v].items())
             for k, e in sorted(keyed.items()) if e.get("contribution") is not None]
    if painter.counted(v, [c for _, _, c in terms]):
        return [f"{label} = Σ of {len(terms):,} paths = ", ["g", v, "r"]]
    if len(terms) <= 1:
        return [f"{label} = ", ["g", v, "r"]]
    out: list = [f"{label} = "]
    if all(_is_float(c) for _, _, c in terms):
        fmt, total, sep = "s", "n", " + "
    elif all(np.size(c) <= 3 for _, _, c in terms):
        fmt, total, sep = "t", "t", " + "
    else:
        out.append(f"Σ of {len(terms)} paths (‖·‖ ")
        fmt, total, sep = "m", "t", ", "
    for i, (w, k, _) in enumerate(terms):
        out += ([sep] if i else []) + [edge_slot(g, "c", v, w, k, fmt)]
    out.append(") = " if fmt == "m" else " = ")
    out.append(["g", v, total])
    return out


def local_template(painter, kind: str, u: int, v: int, k: int) -> list:
    """The local-derivative line (kind ``l``) or the contribution line (``c``) of an edge."""
    g = painter.graph
    e = g.pred[v][u][k]
    local = e.get("local")
    if kind == "c":
        grad = nodes_of(g)[v].get("grad")
        if _is_float(grad) and _is_float(local) and (
                painter.path_nodes is not None or painter.opts.products):
            return [["g", v, "n"], " · ", edge_slot(g, "l", u, v, k, "s"), " = ",
                    edge_slot(g, "c", u, v, k, "n")]
        return ["← ", edge_slot(g, "c", u, v, k, "e")]
    head = partial(painter.texts[v], painter.texts[u])
    formula = e.get("formula") or ""
    if local is None:
        return [painter.local_text(u, v, e)]
    if _is_float(local):
        rhs = num(local, painter.opts.digits)
        if formula == rhs:
            return [painter.local_text(u, v, e)]      # a constant: it never moves
        slot = edge_slot(g, "l", u, v, k, "n")
        return [f"{head} = ", slot] if formula == "" else [f"{head} = {formula} = ", slot]
    if np.size(local) <= 3:
        return [f"{head} = {formula} = ", edge_slot(g, "l", u, v, k, "t")]
    return [painter.local_text(u, v, e)]



def drawn_text(painter, line_id: str) -> str:
    """The text the painter writes for a marked line (what its template must give)."""
    kind, rest = line_id[0], line_id[1:]
    if kind in "vg":       # with a matrix's further rows, one per line
        return "\n".join(row[0][0] for i, row in painter.node_lines(int(rest))
                         if i is not None and main_line(i) == line_id)
    u, v, k = (int(x) for x in rest.split("_"))
    lines = painter.edge_look(u, v, painter.graph.pred[v][u][k])[0]
    return lines[0 if kind == "l" else 1][0]
