"""The step-through page: one self-contained HTML file that plays backpropagation.

The diagram is the SVG that ``render`` draws (Graphviz, or the fast layout for big
graphs), drawn once, so geometry never moves between steps.  A pass over that SVG
gives each value line, gradient line, local-derivative line and contribution line
an id (``story`` names them); the steps travel as JSON beside it, and a small script
of our own (``page.js``, no library) shows and hides those lines.  Nothing is loaded
from anywhere: the page works offline from ``file://``.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources

from ..errors import RenderError
from . import whatif as what_if
from .drawing import Drawing, make_drawing
from .labels import clean
from .output import svg_of
from .story import line_ids, story

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MAX_NODES = 20_000      # past this a page is tens of megabytes: fold scopes first
DEFAULT_LR = 0.1


def page(trace, lr: float = DEFAULT_LR, timeout: float | None = None, **options) -> str:
    """The HTML text of the step-through page (render options as for ``render``)."""
    return page_of(make_drawing(trace, "html", **options), lr, timeout)


def page_and_svg(trace, lr: float = DEFAULT_LR, timeout: float | None = None,
                 **options) -> tuple[str, str]:
    """The page and the plain SVG it was made from (the notebook's fallback picture)."""
    drawing = make_drawing(trace, "html", **options)
    return _page(drawing, lr, timeout)


def page_of(drawing: Drawing, lr: float = DEFAULT_LR, timeout: float | None = None) -> str:
    """The page of a drawing made for it (``make_drawing(trace, "html", ...)``)."""
    return _page(drawing, lr, timeout)[0]


def _page(drawing: Drawing, lr: float, timeout: float | None) -> tuple[str, str]:
    view, painter = drawing.view, drawing.painter
    if len(view.nodes) > MAX_NODES:
        raise RenderError(f"the graph has {len(view.nodes):,} boxes to draw, too many for a "
                          f"step-through page (at most {MAX_NODES:,}); fold calls with "
                          "--collapse-all or --depth 1, or render .svg instead")
    data = _steps_data(drawing.trace, painter, lr)
    drawn = svg_of(drawing, timeout)
    svg, marked = mark(drawn, painter, view)
    extra = ("", "")
    if drawing.options.whatif is not False:
        program = what_if.program(drawing.recorded, painter, view, marked, lr)
        extra = what_if.section(program, _json_for_script(program))
    return assemble(painter, svg, data, marked, extra), drawn


def _steps_data(trace, painter, lr: float) -> dict:
    return {"output": painter.out_name, "lr": lr,
            "steps": [st.to_data() for st in story(trace, painter, lr=lr)]}


def steps_data(trace, lr: float = DEFAULT_LR, **options) -> dict:
    """What the page's script plays, without drawing (the gallery check compares it)."""
    drawing = make_drawing(trace, "html", **options)
    return _steps_data(drawing.trace, drawing.painter, lr)


def page_data(path) -> dict:
    """The steps a written page carries."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="gt-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1)) if m else {}


def mark(svg: str, painter, view) -> tuple[str, list[str]]:
    """Give the lines the steps name their ids (``v17``, ``g17``, ``l3_17_0``,
    ``c3_17_0``) and the class ``gt-x``; returns the SVG for inline use (no XML
    declaration, doctype or namespace URLs) and the ids marked."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(svg.encode("utf-8"))
    groups = {el.get("id"): el for el in root.iter() if el.get("id")}
    wanted: list[tuple[str, str, str]] = []          # (group id, line id, text)
    for v in view.nodes:
        if isinstance(v, str):
            continue
        for line_id, row in zip(line_ids(painter, v), painter.node_rows(v)):
            if line_id is not None:
                wanted.append((f"n{v}", line_id, row[0][0]))
    for u, v, k, e in view.edges:
        if e is None:
            continue
        lines = painter.edge_look(u, v, e)[0]
        for kind, (text, _) in zip("lc", lines):
            wanted.append((f"e{u}_{v}_{k}", f"{kind}{u}_{v}_{k}", text))
    marked = []
    for gid, line_id, text in wanted:
        group = groups.get(gid)
        el = _line(group, clean(text).strip()) if group is not None else None
        if el is None:
            raise RenderError(f"internal: the line '{text}' of {gid} was not found in the SVG")
        el.set("id", line_id)
        el.set("class", (el.get("class", "") + " gt-x").strip())
        marked.append(line_id)
    out = ET.tostring(root, encoding="unicode")
    out = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", out, count=2)
    return out, marked


def _line(group, text: str):
    """The text element of ``group`` that says ``text`` (its only tspan, if it has one,
    so replacing the text keeps the tspan's colour)."""
    for el in group.iter(f"{{{SVG_NS}}}text"):
        if "".join(el.itertext()).strip() == text and el.get("id") is None:
            spans = list(el)
            return spans[0] if len(spans) == 1 else el
    return None


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def script_and_styles() -> tuple[str, str]:
    """The page's own script and style sheet (the page weighs these plus the SVG)."""
    return _asset("page.js"), _asset("page.css")


def _json_for_script(data) -> str:
    """JSON that cannot end its <script> element early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def assemble(painter, svg: str, data: dict, marked: list[str],
             extra: tuple[str, str] = ("", "")) -> str:
    """The page; ``extra`` is (a panel section, what runs it): the what-if."""
    s = painter.style
    js, css = script_and_styles()
    steps = data["steps"]
    colours = (f"--bg:{s['bg']};--fg:{s['fg']};--dim:{s['dim']};--grad:{s['grad']};"
               f"--value:{s['value']};--hi:{s['highlight']}")
    title = html.escape(clean(f"gradtrace — {painter.out_name}"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style></head>
<body style="{colours}">
<main id="gt">
<div id="gt-view" tabindex="0" aria-label="diagram: drag to pan, wheel to zoom">{svg}</div>
<aside id="gt-panel" aria-live="polite"><h1 id="gt-title"></h1><ol id="gt-lines"></ol>
<p id="gt-help">→ / ← step · space play · drag pans · wheel zooms · F fits ·
link: #step=N</p>{extra[0]}</aside>
</main>
<nav id="gt-bar">
<button id="gt-prev" type="button" aria-label="previous step">◀ Prev</button>
<button id="gt-play" type="button" aria-label="play">▶ Play</button>
<button id="gt-next" type="button" aria-label="next step">Next ▶</button>
<input id="gt-slider" type="range" min="0" max="{len(steps) - 1}" value="0" aria-label="step">
<span id="gt-count"></span>
<button id="gt-fit" type="button" aria-label="fit to window">Fit</button>
</nav>
<script type="application/json" id="gt-data">{_json_for_script(data)}</script>
<script>{js}</script>{extra[1]}
</body></html>
"""
