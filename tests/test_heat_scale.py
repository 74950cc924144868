"""Heat colours on one fixed log scale: the same |gradient| (or |contribution|) gets the
same colour in every diagram, so a model before and after an update, or two models,
compare by colour; the legend, read back from the SVG, lists the scale's decades."""

import math
import xml.etree.ElementTree as ET

import pytest

import gradtrace as gt
from gradtrace.render.output import svg_text
from gradtrace.render.palette import (
    HEAT_BANDS,
    HEAT_FILLS,
    HEAT_RAMP,
    PALETTES,
    heat_band,
    heat_band_text,
    heat_fills,
)

from .conftest import needs_dot
from .svgread import SVG, all_text


def looks(svg: str):
    """{first text of a box: its fill}, {(source text, target text): edge stroke}."""
    root = ET.fromstring(svg)
    names, fills, strokes = {}, {}, {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        shape = next((el for el in g.iter() if el.tag in (f"{SVG}path", f"{SVG}polygon")),
                     None)
        if title is None or shape is None:
            continue
        if g.get("class") == "node":
            text = "".join(next(g.iter(f"{SVG}text")).itertext()).strip()
            names[title.text] = text
            fills[text] = shape.get("fill")
        elif g.get("class") == "edge":
            strokes[title.text] = shape.get("stroke")
    edges = {}
    for title, stroke in strokes.items():
        u, v = title.split("->")
        edges[(names[u.split(":")[0]], names[v.split(":")[0]])] = stroke
    return fills, edges


def small(w=0.5, x=2.0):
    return w * x                      # ∂/∂w = 2, ∂/∂x = 0.5


def large(w=0.5, x=2.0, v=3000.0):
    return w * x + v * v              # ∂/∂w = 2 again; ∂/∂v = 6000 stretches the range


@needs_dot
@pytest.mark.parametrize("style", ["heat", "3b1b"])
def test_the_same_magnitude_gets_the_same_colour_in_two_traces(style):
    one, two = (gt.trace(f).backward() for f in (small, large))
    fills1, edges1 = looks(svg_text(one, style=style, heat=True, view="ops"))
    fills2, edges2 = looks(svg_text(two, style=style, heat=True, view="ops"))
    box_fills, ramp, _ = heat_fills(PALETTES[style])
    assert fills1["w"] == fills2["w"] == box_fills[heat_band(2.0)]
    assert fills1["x"] == fills2["x"] == box_fills[heat_band(0.5)] != fills1["w"]
    assert fills2["v"] == box_fills[HEAT_BANDS - 1]             # 6000: clipped at 10²
    into1 = {u: c for (u, _), c in edges1.items()}
    into2 = {u: c for (u, _), c in edges2.items()}
    assert into1["w"] == into2["w"] == ramp[heat_band(2.0)]    # ← 2 on the edge from w


def test_bands_are_decades_clipped_at_both_ends():
    assert [heat_band(m) for m in (0.0, 1e-12, 9.9e-5, 1e-4, 0.05, 0.1, 1.0, 99.0, 100.0,
                                   1e30)] == [0, 0, 0, 1, 3, 4, 5, 6, 7, 7]
    assert heat_band(math.nan) is None and heat_band(math.inf) is None
    assert len(HEAT_FILLS) == len(HEAT_RAMP) == HEAT_BANDS
    assert heat_band_text(2) == "10⁻³ ≤ |·| < 10⁻²"


@pytest.mark.parametrize("layout", [pytest.param("dot", marks=needs_dot), "fast"])
def test_the_legend_lists_the_scale(layout):
    t = gt.trace(large).backward()
    text = all_text(svg_text(t, style="heat", legend=True, layout=layout))
    for band in range(HEAT_BANDS):
        assert heat_band_text(band) in text
    assert "|·| < 10⁻⁴ (and 0): clipped, all alike" in text
    assert "|·| ≥ 10²: clipped, all alike" in text
    assert "on one log scale for every diagram" in text
    assert "an input that gets a gradient" not in text           # heat fills the boxes
