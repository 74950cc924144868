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
import inspect
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources

import numpy as np

from ..calculus.params import split
from ..core.graph import nodes_of
from ..errors import RenderError
from ..notation import num
from . import chips
from . import whatif as what_if
from .drawing import Drawing, make_drawing
from .labels import clean
from .output import svg_of
from .palette import is_dark
from .story import main_line, story

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MAX_NODES = 20_000      # past this a page is tens of megabytes: fold scopes first
DEFAULT_LR = 0.1
CULL_BOXES = 1_000      # past this the page lays out only the texts near the view (page.js)


def page(trace, lr: float = DEFAULT_LR, timeout: float | None = None, params=None,
         data=None, **options) -> str:
    """The HTML text of the step-through page (render options as for ``render``; ``lr``,
    ``params`` and ``data`` shape its update step, see ``update``)."""
    return page_of(make_drawing(trace, "html", **options), lr, timeout, params, data)


def page_and_svg(trace, lr: float = DEFAULT_LR, timeout: float | None = None, params=None,
                 data=None, **options) -> tuple[str, str]:
    """The page and the plain SVG it was made from (the notebook's fallback picture)."""
    return _page(make_drawing(trace, "html", **options), lr, timeout, params, data)


def page_of(drawing: Drawing, lr: float = DEFAULT_LR, timeout: float | None = None,
            params=None, data=None) -> str:
    """The page of a drawing made for it (``make_drawing(trace, "html", ...)``)."""
    return _page(drawing, lr, timeout, params, data)[0]


def _page(drawing: Drawing, lr: float, timeout: float | None, params=None,
          data=None) -> tuple[str, str]:
    view, painter = drawing.view, drawing.painter
    if len(view.nodes) > MAX_NODES:
        raise RenderError(f"the graph has {len(view.nodes):,} boxes to draw, too many for a "
                          f"step-through page (at most {MAX_NODES:,}); fold calls with "
                          "--collapse-all or --depth 1, or render .svg instead")
    steps = _steps_data(drawing.trace, painter, lr, params, data, view)
    drawn = svg_of(drawing, timeout)
    svg, marked = mark(drawn, painter, view, set(steps["steps"][0]["show"]))
    extra = ("", "")
    if drawing.options.whatif is not False:
        moves = split(drawing.recorded, params, data)[0]   # the update step's parameters
        program = what_if.program(drawing.recorded, painter, view, marked, lr, moves)
        extra = what_if.section(program, _json_for_script(program))
    return assemble(painter, svg, steps, marked, extra, drawing.recorded), drawn


def _steps_data(trace, painter, lr: float, params=None, data=None, view=None) -> dict:
    told = story(trace, painter, lr=lr, params=params, data=data)
    if view is not None:
        chips.light(told, view)
    return {"output": painter.out_name, "lr": lr, "steps": [st.to_data() for st in told],
            "nodes": node_info(trace, painter)}


INSPECT_LIMIT = 1000     # elements of a value or gradient the panel shows on a click


def node_info(trace, painter) -> dict:
    """Per drawn node: [name, shape, value, gradient] as text, the first 1,000 elements
    (what a click on the node, or the find box, shows in the panel)."""
    def text(x):
        if x is None:
            return None
        a = np.ravel(np.asarray(x, dtype=float))
        shown = ", ".join(num(e, 4) for e in a[:INSPECT_LIMIT])
        more = f", … ({a.size - INSPECT_LIMIT:,} more)" if a.size > INSPECT_LIMIT else ""
        return shown + more if np.ndim(x) else num(float(x), 6)
    out = {}
    for v, a in nodes_of(trace.graph).items():
        if v not in painter.texts:
            continue
        shape = "×".join(map(str, np.shape(a["value"])))
        out[str(v)] = [painter.texts[v], shape, text(a["value"]), text(a.get("grad"))]
    return out


def steps_data(trace, lr: float = DEFAULT_LR, params=None, data=None, **options) -> dict:
    """What the page's script plays, without drawing (the gallery check compares it)."""
    drawing = make_drawing(trace, "html", **options)
    return _steps_data(drawing.trace, drawing.painter, lr, params, data, drawing.view)


def page_data(path) -> dict:
    """The steps a written page carries."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="gt-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1)) if m else {}


def mark(svg: str, painter, view, shown: set | None = None) -> tuple[str, list[str]]:
    """Give the lines the steps name their ids (``v17``, ``g17``, ``l3_17_0``,
    ``c3_17_0``) and the class ``gt-x`` (a matrix's further rows ``v17r1``…: ``gt-xr``),
    and ``gt-hidden`` to those not in ``shown`` (the
    first step's lines: the page opens without restyling thousands of them); returns the
    SVG for inline use (no XML declaration, doctype or namespace URLs) and the ids marked."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(svg.encode("utf-8"))
    groups = {el.get("id"): el for el in root.iter() if el.get("id")}
    wanted: list[tuple[str, str, str]] = []          # (group id, line id, text)
    for v in view.nodes:
        if not isinstance(v, int):      # a collapsed call, a chip: no lines to step
            continue
        for line_id, row in painter.node_lines(v):
            if line_id is not None:
                wanted.append((f"n{v}", line_id, row[0][0]))
    for u, v, k, e in view.edges:
        if e is None:
            continue
        u = chips.home(u)       # a chip's edge keeps its home's id
        lines = painter.edge_look(u, v, e)[0]
        for kind, (text, _) in zip("lc", lines):
            wanted.append((f"e{u}_{v}_{k}", f"{kind}{u}_{v}_{k}", text))
    marked = []
    for gid, line_id, text in wanted:
        group = groups.get(gid)
        el = _line(group, " ".join(clean(text).split())) if group is not None else None
        if el is None:
            raise RenderError(f"internal: the line '{text}' of {gid} was not found in the SVG")
        el.set("id", line_id)
        hidden = " gt-hidden" if shown is not None and main_line(line_id) not in shown else ""
        kind = " gt-x" if main_line(line_id) == line_id else " gt-xr"    # a matrix's next row
        el.set("class", (el.get("class", "") + kind + hidden).strip())
        if kind == " gt-x":
            marked.append(line_id)
    out = ET.tostring(root, encoding="unicode")
    out = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", out, count=2)
    return out, marked


def _line(group, text: str):
    """The text element of ``group`` that says ``text`` (its only tspan, if it has one,
    so replacing the text keeps the tspan's colour)."""
    for el in group.iter(f"{{{SVG_NS}}}text"):
        if " ".join("".join(el.itertext()).split()) == text and el.get("id") is None:
            spans = list(el)
            return spans[0] if len(spans) == 1 else el
    return None


def _graded(painter) -> bool:
    return any(a.get("student") is not None for a in nodes_of(painter.graph).values())


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def script_and_styles() -> tuple[str, str]:
    """The page's own script and style sheet (the page weighs these plus the SVG)."""
    return _asset("page.js"), _asset("page.css")


def _json_for_script(data) -> str:
    """JSON that cannot end its <script> element early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # a lone surrogate (a name from a mis-decoded file) cannot be UTF-8: a JSON escape
    text = re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


HELP = ("→ / ← step · Home / End · space plays · + / − zoom · drag or Shift+arrows pan · "
        "F fits (again: follow the step) · P presenter mode · link: #step=N")


def caption(trace, out_name: str) -> str:
    """The page's heading: the model's name and the first line of its docstring."""
    fn = trace.function
    name = getattr(fn, "__name__", None) or type(fn).__name__ if fn is not None else out_name
    doc = (getattr(fn, "__doc__", None) or "").strip().split("\n\n")[0]
    doc = " ".join(doc.split()) if inspect.isfunction(fn) or inspect.ismethod(fn) else ""
    text = f"<b>{html.escape(clean(str(name)))}</b>"
    return text + (f" — {html.escape(clean(doc))}" if doc and len(doc) < 300 else "")


def _headline(trace) -> str:
    """A finding stated above the steps (``gt.grade``'s verdict on a student's engine)."""
    text = getattr(trace, "headline", "") if trace is not None else ""
    return f'<p id="gt-headline"><b>{html.escape(clean(text))}</b></p>' if text else ""


def legend(s: dict, graded: bool = False, chips: bool = False) -> str:
    """What the page's fills, colours, outlines and marks mean (never colour alone);
    ``graded``: a student's wrong .grad values are marked; ``chips``: the drawing has
    reference chips of shared inputs."""
    def sw(fill, text="", colour=None, style="solid"):
        col = f"color:{colour};" if colour else ""
        return (f'<span class="sw" style="background:{fill};{col}border-style:{style}">'
                f"{text}</span>")
    rows = [
        (sw(s["param"]), "an input with a gradient (in wrt)"),
        (sw(s["data"], "", None, "solid; border-color:" + s["dim"]),
         "an input without one (not in wrt)"),
        (sw(s["op"]), "an operation, named after your variable"),
        (sw(s["out"]), "the output: the cost the chain rule starts from"),
        (sw(s["bg"], "0.42", s["value"]), "= … a value (forward pass)"),
        (sw(s["bg"], "∂", s["grad"]), "∂C/∂… a gradient: how much the cost moves per unit"),
        (sw(s["bg"], "", None, "solid; border-width:3px; border-color:" + s["highlight"]),
         "thick outline: the step's node, its gradient complete"),
        (sw(s["bg"], "", None, "dashed; border-width:2px; border-color:" + s["highlight"]),
         "dashed outline: receives something this step (a contribution, a new value)"),
        (sw(s["bg"], "…"), "a sum still growing (k of n paths)"),
        (sw(s["bg"], "‖·‖"), "an array's norm (its range shown beside)"),
        (sw(s["bg"], "←"), "on an edge: what flows back along it; in the update: "
                           "w ← w − η·∂C/∂w"),
    ]
    if graded:
        rows.append((sw(s["bg"], "✗", s["wrong"]), "your .grad where it differs from the chain "
                     "rule (gt.grade); the step that completes that gradient says why"))
    if chips:
        rows.append((sw(s["param"], "w", None, "dashed"),
                     "a chip: an input used by many steps, drawn once where first used; "
                     "it lights with its box, whose gradient sums every use"))
    items = "".join(f"<li>{a}<span>{b}</span></li>" for a, b in rows)
    return (f'<details id="gt-legend" open><summary>Legend</summary><ul>{items}</ul>'
            "</details>")


def assemble(painter, svg: str, data: dict, marked: list[str],
             extra: tuple[str, str] = ("", ""), trace=None) -> str:
    """The page; ``extra`` is (a panel section, what runs it): the what-if."""
    s = painter.style
    js, css = script_and_styles()
    steps = data["steps"]
    colours = (f"--bg:{s['bg']};--fg:{s['fg']};--dim:{s['dim']};--grad:{s['grad']};"
               f"--value:{s['value']};--hi:{s['highlight']}")
    title = html.escape(clean(f"gradtrace — {painter.out_name}"))
    head = caption(trace, painter.out_name) if trace is not None else title
    names = "".join(f'<option value="{html.escape(clean(d[0]), quote=True)}">'
                    for d in data.get("nodes", {}).values())
    dark = ' class="gt-dark"' if is_dark(s["bg"]) else ""
    cull = ' class="gt-cull"' if len(data.get("nodes", {})) > CULL_BOXES else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
<noscript><style>#gt-view svg{{display:block!important}}</style></noscript></head>
<body style="{colours}"{dark}>
<main id="gt">
<div id="gt-view"{cull} tabindex="0" aria-label="diagram: drag to pan, wheel to zoom">{svg}</div>
<aside id="gt-panel"><p id="gt-caption">{head}</p>{_headline(trace)}
<div aria-live="polite"><h1 id="gt-title"></h1><ol id="gt-lines"></ol>
<p id="gt-off"></p></div><div id="gt-node" hidden></div>
{extra[0]}<p id="gt-help">{HELP}</p>{legend(s, _graded(painter), bool(painter.shared))}</aside>
</main>
<nav id="gt-bar">
<button id="gt-prev" type="button" aria-label="previous step">◀ Prev</button>
<button id="gt-play" type="button" aria-label="play">▶ Play</button>
<button id="gt-next" type="button" aria-label="next step">Next ▶</button>
<input id="gt-slider" type="range" min="0" max="{len(steps) - 1}" value="0" aria-label="step">
<span id="gt-count"></span>
<input id="gt-find" list="gt-names" placeholder="/ find a node" aria-label="find a node by name">
<datalist id="gt-names">{names}</datalist>
<select id="gt-speed" aria-label="play speed"><option value="1800">0.5×</option>
<option value="900" selected>1×</option><option value="450">2×</option>
<option value="200">4×</option></select>
<button id="gt-fit" type="button" aria-label="fit to window">Fit</button>
</nav>
<script type="application/json" id="gt-data">{_json_for_script(data)}</script>
<script>{js}</script>{extra[1]}
</body></html>
"""
