"""The legend (``legend=True``; on by default in the HTML page): what the fills, the
colours, ``←``, ``…``/``‖·‖`` and ``(VJP)`` of this diagram mean.  Only what the
diagram shows is explained, in the painter's own colours."""

from __future__ import annotations

import numpy as np

from ..core.graph import nodes_of
from ..notation import num, partial
from .labels import esc
from .palette import HEAT_BAD, HEAT_BANDS, heat_band_text

Swatch = str | tuple[str, str] | None     # a fill, or (fill, border colour), or none


def legend_rows(painter) -> list[tuple[str, str, Swatch]]:
    """(text, text colour, swatch) for each line of the legend."""
    s, g = painter.style, painter.graph
    nodes = nodes_of(g).values()
    edges = [e for _, _, e in g.edges(data=True)]
    rows: list[tuple[str, str, Swatch]] = [("Legend", s["fg"], None)]
    heat = painter.heat is not None and painter.has_grads    # heat fills the boxes instead
    if any(a["kind"] == "input" and a["requires_grad"] for a in nodes) and not heat:
        rows.append(("an input that gets a gradient (a weight, a bias)", s["fg"], s["param"]))
    if any(a["kind"] == "input" and not a["requires_grad"] for a in nodes):
        rows.append(("data: an input without a gradient", s["fg"], s["data"]))
    if not heat:
        rows.append(("a value computed from them", s["fg"], s["op"]))
    rows.append(("the output, where backward starts", s["fg"], s["out"]))
    if painter.opts.values:
        rows.append(("= 0.42  the value, from the forward pass", s["value"], None))
    if painter.has_grads:
        rows.append((f"{partial(painter.out_name, 'v')} = …  the gradient, from the backward "
                     "pass; several terms: the sum over paths", s["grad"], None))
    if painter.opts.locals and not painter.opts.terse:
        rows.append(("∂v/∂u = … on an edge: its sensitivity (local derivative)", s["fg"], None))
        if painter.has_grads:
            rows.append(("← …  what flowed back along the edge", s["grad"], None))
    if any(np.size(a["value"]) > 6 for a in nodes):
        rows.append(("min … max, ‖·‖ n: an array's range and its length (norm)", s["dim"], None))
    if any(e.get("local") is None for e in edges):
        rows.append(("(VJP): an array op, its chain rule a vector-Jacobian product", s["dim"],
                     None))
    if painter.shared:
        rows.append(("dashed box: an input used by many steps, drawn once where first used; "
                     "its gradient there sums every use", s["fg"], None))
    if getattr(painter.trace, "base", None) is not None:
        rows.append(("unnamed steps are folded into the edges (view='ops' shows them)",
                     s["dim"], None))
    if painter.heat is not None:
        rows += heat_rows(painter.heat, s)
    return rows


def heat_rows(heat, s: dict) -> list[tuple[str, str, Swatch]]:
    """Heat's fixed scale: a swatch per band (the box fill, bordered in the edge colour),
    what clipping means, NaN, and where this diagram's edges lie on the scale."""
    rows: list[tuple[str, str, Swatch]] = [
        ("heat: box fill = |gradient|, edge colour and width = |←|, on one log scale "
         "for every diagram", s["fg"], None)]
    rows += [(heat_band_text(b), s["fg"], (heat.fills[b], heat.ramp[b]))
             for b in range(HEAT_BANDS)]
    rows.append(("NaN or ∞: a red edge, a pink box", s["fg"], (heat.bad_fill, HEAT_BAD)))
    if heat.span is not None:
        lo, hi = heat.span
        rows.append((f"this diagram's edges: |←| from {num(lo)} to {num(hi)}", s["dim"], None))
    return rows


def legend_dot(painter) -> str:
    """The legend as one DOT node (an HTML-like table)."""
    cells = []
    for text, colour, swatch in legend_rows(painter):
        fill, border, thick = swatch_look(swatch, painter.style)
        mark = (f'<TD BGCOLOR="{fill}" BORDER="{thick}" COLOR="{border}" '
                f'WIDTH="14" HEIGHT="10"></TD>'
                if swatch else '<TD WIDTH="14"></TD>')
        cells.append(f'<TR>{mark}<TD ALIGN="LEFT"><FONT COLOR="{colour}" POINT-SIZE="10">'
                     f'{esc(text)}</FONT></TD></TR>')
    return (f'  legend [shape=box, style="rounded", color="{painter.style["dim"]}", '
            f'label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">'
            f'{"".join(cells)}</TABLE>>];')


def swatch_look(swatch: Swatch, style: dict) -> tuple[str, str, int]:
    """(fill, border colour, border width) of a legend swatch."""
    if isinstance(swatch, tuple):
        return swatch[0], swatch[1], 2
    return swatch or style["bg"], style["border"], 1
