"""Read a rendered diagram back: node and edge texts from Graphviz's SVG."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

SVG = "{http://www.w3.org/2000/svg}"


def _norm(s: str) -> str:
    return " ".join(s.replace("\u00a0", " ").split())


def read_svg(svg_text: str):
    """{node id: [text lines]}, {(u, v): [[text lines] per edge]} from an SVG."""
    root = ET.fromstring(svg_text)
    nodes, edges = {}, {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class")
        title = g.find(f"{SVG}title")
        if title is None or cls not in ("node", "edge"):
            continue
        texts = [_norm("".join(t.itertext())) for t in g.iter(f"{SVG}text")]
        if cls == "node":
            nodes[title.text] = texts
        else:
            u, v = re.split(r"->", title.text)
            edges.setdefault((u.split(":")[0], v.split(":")[0]), []).append(texts)
    return nodes, edges


def all_text(svg_text: str) -> str:
    root = ET.fromstring(svg_text)
    return "\n".join(_norm("".join(t.itertext())) for t in root.iter(f"{SVG}text"))


def read_fast_svg(svg_text: str):
    """gradtrace's own fast-layout SVG: {node id: (box, [text lines])}, [(box, [lines])]
    for edge labels; a box is (x0, y0, x1, y1)."""
    root = ET.fromstring(svg_text)
    nodes, labels = {}, []

    def box(rect):
        x, y = float(rect.get("x")), float(rect.get("y"))
        return (x, y, x + float(rect.get("width")), y + float(rect.get("height")))
    for g in root.iter(f"{SVG}g"):
        rect = g.find(f"{SVG}rect")
        texts = [_norm("".join(t.itertext())) for t in g.iter(f"{SVG}text")]
        if g.get("class") == "n":
            nodes[g.get("id")] = (box(rect), texts)
        elif g.get("class") == "l":
            labels.append((box(rect), texts))
    return nodes, labels


def overlapping(boxes) -> list:
    """Pairs of boxes that overlap (a sweep over x; touching edges do not count)."""
    boxes = sorted(boxes)
    active, bad = [], []
    for b in boxes:
        active = [a for a in active if a[2] > b[0]]
        bad.extend((a, b) for a in active if a[1] < b[3] and b[1] < a[3])
        active.append(b)
    return bad


# ---------------------------------------------------------------- geometry
# Run in a browser on a page holding one diagram's SVG (Graphviz's or the fast layout's):
# every edge label line's glyph box as the browser draws it, every node box and points
# 1.5 units apart along every edge line, all in the SVG's own units; returns the labels
# a node box covers or an edge line runs through.
LABEL_COLLISIONS_JS = (Path(__file__).parent / "label_geometry.js").read_text(encoding="utf-8")
EDGE_GEOMETRY_JS = (Path(__file__).parent / "edge_geometry.js").read_text(encoding="utf-8")


def rows_passed(svg_text: str) -> dict:
    """Graphviz's SVG: {edge title: how many rows of boxes lie strictly between its two
    ends} (a row: the boxes whose centres share one y, a rank of a top-to-bottom drawing)."""
    root = ET.fromstring(svg_text)
    centre = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            shape = next(e for e in g.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon"))
            ys = [float(y) for y in re.findall(r"-?[\d.]+", shape.get("d") or
                                               shape.get("points"))[1::2]]
            centre[g.find(f"{SVG}title").text] = round((min(ys) + max(ys)) / 2)
    row = {y: i for i, y in enumerate(sorted(set(centre.values())))}
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            title = g.find(f"{SVG}title").text
            u, v = title.split("->")
            out[title] = abs(row[centre[u]] - row[centre[v]]) - 1
    return out
