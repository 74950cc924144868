"""Read a rendered diagram back: node and edge texts from Graphviz's SVG."""

import re
import xml.etree.ElementTree as ET

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
