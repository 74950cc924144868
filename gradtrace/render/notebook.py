"""Inline display in Jupyter: ``t.show(...)`` and what a bare ``t`` in a cell shows.

The SVG keeps its natural size in points but may shrink to the cell's width
(``max-width: 100%``), so a diagram is never wider than it needs to be and never
wider than the cell.  Display runs with layout='auto''s time budget: a graph
Graphviz would stall on is drawn with the fast layout instead.
"""

from __future__ import annotations

import re

from ..errors import RenderError
from .output import svg_text

def fit_to_cell(svg: str) -> str:
    """The SVG root gets ``max-width:100%; height:auto``: it scales down, never up."""
    return re.sub(r"<svg\b", '<svg style="max-width:100%;height:auto"', svg, count=1)


class Diagram:
    """A rendered diagram that Jupyter displays inline (``t.show(style="3b1b")``)."""

    def __init__(self, svg: str):
        self.svg = fit_to_cell(svg)

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return f'<div class="gradtrace" style="max-width:100%;overflow-x:auto">{self.svg}</div>'

    def __repr__(self) -> str:
        return f"<gradtrace Diagram, {len(self.svg):,} characters of SVG>"


def show(trace, **options) -> Diagram:
    return Diagram(svg_text(trace, **options))


def mimebundle(trace) -> dict:
    """What a bare trace shows in a notebook: the diagram, or its text if drawing fails."""
    try:
        d = show(trace)
    except RenderError:
        return {"text/plain": repr(trace)}
    return {"image/svg+xml": d.svg, "text/html": d._repr_html_(), "text/plain": repr(trace)}
