"""Inline display in Jupyter: ``t.show(...)`` and what a bare ``t`` in a cell shows.

Interactive (the default): the step-through page in an ``<iframe srcdoc>``, plus the
static diagram as an ``<img>`` that a one-line script removes.  A trusted notebook
runs the script and shows the page; an untrusted one (or a viewer that strips
scripts) keeps the picture: JupyterLab's sanitizer drops the script and the
iframe's ``srcdoc`` but keeps ``<img src="data:…">``.

Static (``interactive=False``): the SVG, kept at its natural size in points but
shrinking to the cell's width (``max-width: 100%``).  Display runs with
layout='auto''s time budget: a graph Graphviz would stall on is drawn with the fast
layout instead.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import secrets

from ..errors import RenderError
from .output import svg_text
from .page import DEFAULT_LR, page_and_svg

_DISPLAYS = itertools.count(1)
FRAME_MAX_HEIGHT = 720      # px; taller diagrams are panned and zoomed inside the frame
BAR_AND_MARGIN = 70


SHRINK_LIMIT_PX = 2400     # wider than this, shrinking to a cell makes text illegible: scroll


def natural_width(svg: str) -> float:
    """The drawing's own width in CSS px (0 when it does not say)."""
    m = re.search(r'<svg[^>]*\swidth="([\d.]+)(pt|px)?"', svg)
    return float(m.group(1)) * (4 / 3 if m.group(2) in (None, "pt") else 1) if m else 0.0


def scrolling(svg_or_img: str, width: float) -> str:
    """Big drawings keep their size in a scrolling box instead of shrinking to the cell."""
    if width <= SHRINK_LIMIT_PX:
        return svg_or_img
    return svg_or_img.replace("max-width:100%;height:auto", "max-width:none", 1)


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
        return (f'<div class="gradtrace" style="max-width:100%;max-height:{FRAME_MAX_HEIGHT}px;'
                f'overflow:auto">{scrolling(self.svg, natural_width(self.svg))}</div>')

    def __repr__(self) -> str:
        return f"<gradtrace Diagram, {len(self.svg):,} characters of SVG>"


class Stepper:
    """The step-through page for a notebook cell, with the static diagram as fallback."""

    def __init__(self, page_html: str, svg: str):
        self.page = page_html
        self.svg = svg

    def height(self) -> int:
        """The frame's height in px: the diagram's own height, at most FRAME_MAX_HEIGHT."""
        m = re.search(r'<svg[^>]*\sheight="([\d.]+)pt"', self.svg)
        natural = float(m.group(1)) * 4 / 3 if m else FRAME_MAX_HEIGHT
        return int(min(max(natural, 240), FRAME_MAX_HEIGHT) + BAR_AND_MARGIN)

    def _repr_html_(self) -> str:
        # one id per display: the same trace shown in two cells must not share it
        uid = f"gradtrace-{next(_DISPLAYS)}-{secrets.token_hex(4)}"
        picture = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        img = scrolling('style="max-width:100%;height:auto"', natural_width(self.svg))
        return (f'<div id="{uid}" class="gradtrace" style="max-width:100%;overflow:auto;'
                f'max-height:{FRAME_MAX_HEIGHT + BAR_AND_MARGIN}px">'
                f'<img src="data:image/svg+xml;base64,{picture}" alt="gradtrace diagram" '
                f'{img}>'
                f'<iframe srcdoc="{html.escape(self.page, quote=True)}" title="gradtrace '
                f'step-through" style="display:none;width:100%;height:{self.height()}px;'
                f'border:1px solid #ccc"></iframe>'
                f'<script>(function(){{var d=document.getElementById("{uid}");if(!d)return;'
                f'var f=d.querySelector("iframe"),i=d.querySelector("img");'
                f'if(f)f.style.display="block";if(i)i.remove();}})();</script></div>')

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/html": self._repr_html_(), "image/svg+xml": fit_to_cell(self.svg),
                "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<gradtrace step-through, {len(self.page):,} characters of HTML>"


def show(trace, interactive: bool = True, lr: float = DEFAULT_LR, params=None, data=None,
         **options):
    """A displayable view of ``trace``: the step-through (default) or the static SVG."""
    if not interactive:
        return Diagram(svg_text(trace, **options))
    return Stepper(*page_and_svg(trace, lr=lr, params=params, data=data, **options))


def mimebundle(trace) -> dict:
    """What a bare trace shows in a notebook: the step-through with the static diagram as
    fallback, the diagram alone if the page cannot be made, or text if drawing fails."""
    try:
        return show(trace)._repr_mimebundle_()
    except RenderError:
        pass
    try:
        d = show(trace, interactive=False)
    except RenderError:
        return {"text/plain": repr(trace)}
    return {"image/svg+xml": d.svg, "text/html": d._repr_html_(), "text/plain": repr(trace)}
