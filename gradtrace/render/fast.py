"""The fast path for big graphs: gradtrace lays out every node *and every edge label*
(``layout.place``) and either writes SVG itself or hands Graphviz pinned positions.

SVG is written straight from the placement, streamed in chunks: no Graphviz run,
so a 200,000-node diagram takes seconds and memory proportional to the graph,
not to Graphviz's.  Other formats go through ``neato -n2`` with the same
positions (each label box becomes a plain-text node on its edge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.graph import nodes_of
from . import chips, layout
from .labels import clean, esc
from .legend import legend_rows, swatch_look
from .route import Router, Trunks
from .view import box_id

CHAR_W = {10: 6.0, 11: 6.6, 12: 7.2}     # average glyph advance per font size (points)
LINE_H = 13.0
PAD = 4.0
ARROW = 5.0       # an arrowhead's length in the pinned DOT (arrowsize 0.5)


@dataclass
class Scene:
    """The fast drawing of one view: where each box is.  What each box says is asked
    of the painter again while writing, so a 200,000-node scene holds arrays, not text."""

    graph: Any
    view: Any                # render.view.View
    painter: Any             # render.painter.Painter
    nodes: list              # view node ids; node i is box i of the placement
    edges: list              # view edges (u, v, key, attrs)
    placement: Any           # layout.Placement, once placed
    style: dict
    src: list = field(default_factory=list)    # edge i runs from box src[i] ...
    dst: list = field(default_factory=list)    # ... to box dst[i]

    def rows(self, v) -> list:
        """Rows of (text, colour, size or None, bold) pieces for node ``v``."""
        if isinstance(v, str):
            return self.painter.group_rows(*self.view.groups[v])
        if isinstance(v, chips.Chip):
            return chips.rows(self.painter, v)
        return self.painter.node_rows(v)

    def look(self, v) -> tuple:
        s = self.style
        if isinstance(v, str):
            return s["cluster"], s["border"], 1
        if isinstance(v, chips.Chip):
            return (*chips.look(self.painter, v), 1)
        a = nodes_of(self.graph)[v]
        fill, border, per = self.painter.look(v, a)
        return (s["const"], s["dim"], per) if a["kind"] == "const" else (fill, border, per)

    def edge(self, i: int) -> tuple:
        """(label lines [(text, colour)], colour, width) of edge i."""
        u, v, _, e = self.edges[i]
        if e is None:
            return [], self.style["edge"], 1.0
        return self.painter.edge_look(chips.home(u), v, e)


def text_width(row) -> float:
    return sum(len(t) * CHAR_W.get(size or 12 if bold else size or 11, 6.6) for t, _, size, bold
               in row) + 4.0 * (len(row) - 1)


def label_size(lines) -> tuple[float, float]:
    if not lines:
        return 0.0, 0.0
    return max(len(t) for t, _ in lines) * CHAR_W[10] + 2 * PAD, LINE_H * len(lines) + PAD


@dataclass
class Measures:
    """The sizes the layout needs, measured once per drawing: box i is view node i, edge
    i runs from box src[i] to box dst[i] with a label of label_w[i] x label_h[i] (0: none)."""

    src: list
    dst: list
    node_w: list
    node_h: list
    label_w: list
    label_h: list

    def sizes(self) -> tuple[list, list, list, list, list, list]:
        """The arguments ``layout.place`` and ``layout.orientation`` take after ``n``."""
        return self.src, self.dst, self.node_w, self.node_h, self.label_w, self.label_h


def measure(graph, view, painter) -> Measures:
    """Every box's and every edge label's size, from what the painter says in them."""
    sc = Scene(graph, view, painter, list(view.nodes), list(view.edges), None, painter.style)
    m = Measures([], [], [], [], [], [])
    for v in sc.nodes:
        rows = sc.rows(v)
        m.node_w.append(max(text_width(row) for row in rows) + 2 * PAD + 4)
        m.node_h.append(LINE_H * len(rows) + 2 * PAD)
    index = {v: i for i, v in enumerate(sc.nodes)}
    for i, (u, v, _, _) in enumerate(sc.edges):
        m.src.append(index[u])
        m.dst.append(index[v])
        lw, lh = label_size(sc.edge(i)[0])
        m.label_w.append(lw)
        m.label_h.append(lh)
    return m


def scene(graph, view, painter, measured: Measures, rankdir: str | None) -> Scene:
    """Place every box and label of ``view``; ``rankdir`` None: the squarer orientation."""
    sc = Scene(graph, view, painter, list(view.nodes), list(view.edges), None, painter.style)
    sc.placement = layout.place(len(sc.nodes), *measured.sizes(), rankdir=rankdir)
    sc.src, sc.dst = measured.src, measured.dst
    return sc


# ---------------------------------------------------------------- SVG, written directly
def _x(text: str) -> str:
    """Text for SVG/XML: escaped, control characters and lone surrogates made visible."""
    return (clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class _Classes(dict):
    """CSS class names handed out on first use (k0, k1 ... for one kind of property)."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key):
        name = self[key] = f"{self.prefix}{len(self)}"
        return name


class _ClassTables:
    """The three class tables one SVG hands out: text fill, edge stroke, box look."""

    def __init__(self):
        self.fill, self.stroke, self.box = _Classes("k"), _Classes("s"), _Classes("b")


def write_svg(sc: Scene, write, chunk: int = 4000) -> None:
    """Stream the SVG of ``sc`` through ``write(str)``.  Colours are CSS classes, so each
    element carries only its geometry and text; the style sheet comes at the end
    (CSS applies to the whole document wherever it stands)."""
    p = sc.placement
    s = sc.style
    margin = 8.0
    key = legend_rows(sc.painter) if sc.painter.opts.legend else []
    key_w = max((len(t) for t, _, _ in key), default=0) * CHAR_W[10] + 30
    w = max(p.width, key_w) + 2 * margin
    h = p.height + 2 * margin + (LINE_H * len(key) + 2 * PAD + 8 if key else 0)
    classes = _ClassTables()
    write(f'<?xml version="1.0" encoding="UTF-8"?>\n'
          f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}pt" height="{h:.0f}pt" '
          f'viewBox="{-margin:.1f} {-margin:.1f} {w:.1f} {h:.1f}" '
          f'font-family="{_x(s["font"])}" font-size="11" class="gradtrace fast">\n'
          f'<rect x="{-margin:.1f}" y="{-margin:.1f}" width="{w:.1f}" height="{h:.1f}" '
          f'fill="{s["bg"]}"/>\n')
    buf: list[str] = []
    for piece in _svg_edges(sc, classes):
        buf.append(piece)
        if len(buf) >= chunk:
            write("".join(buf))
            buf.clear()
    for piece in _svg_nodes(sc, classes):
        buf.append(piece)
        if len(buf) >= chunk:
            write("".join(buf))
            buf.clear()
    if key:
        buf.append(_legend_svg(key, p.height + 8, classes.fill, s))
    buf.append(_svg_styles(s, classes))
    write("".join(buf))


def _svg_edges(sc: Scene, classes: _ClassTables):
    """Each edge: its line (``route``: through its waypoints, around every box), and its
    label box with text lines when it has one."""
    p = sc.placement
    fill, stroke = classes.fill, classes.stroke
    X, Y, W, H = p.x.tolist(), p.y.tolist(), p.w.tolist(), p.h.tolist()
    label_box = p.label_box.tolist()
    router = Router(p, sc.src, sc.dst)
    trunks = Trunks(router)
    ids = sc.painter.opts.element_ids
    for i in range(len(sc.edges)):
        lines, color, width = sc.edge(i)
        extra = f' stroke-width="{width:.2f}"' if width != 1.0 else ""
        d = _path(trunks.first(i, (color, width))) + _path(router.second(i))
        edge = f'<path class="e {stroke[color]}" d="{d}"{extra}/>'
        if not lines:
            yield edge + "\n"
            continue
        k = label_box[i]
        lx, ly, lw, lh = X[k], Y[k], W[k], H[k]
        top = ly - lh / 2 + PAD / 2 + 10
        texts = "".join(f'<text x="{lx:.1f}" y="{top + LINE_H * j:.1f}" '
                        f'class="{fill[c]}">{_x(t)}</text>' for j, (t, c) in enumerate(lines))
        eu, ev, ek, _ = sc.edges[i]
        edge_id = f' id="e{chips.home(eu)}_{ev}_{ek}"' if ids else ""
        yield (f'{edge}<g class="l" data-edge="{i}"{edge_id}><rect x="{lx - lw / 2:.1f}" '
               f'y="{ly - lh / 2:.1f}" width="{lw:.1f}" height="{lh:.1f}"/>{texts}</g>\n')


def _path(points) -> str:
    """SVG path data of a polyline (empty for no points)."""
    if not points:
        return ""
    (x, y), rest = points[0], points[1:]
    return f"M{x:.1f},{y:.1f}" + "".join([f"L{px:.1f},{py:.1f}" for px, py in rest])


def _svg_nodes(sc: Scene, classes: _ClassTables):
    """Each box: its rectangle, its rows of text, and a tooltip with the source line."""
    p = sc.placement
    fill, box = classes.fill, classes.box
    X, Y, W, H = p.x.tolist(), p.y.tolist(), p.w.tolist(), p.h.tolist()
    for i, v in enumerate(sc.nodes):
        x, y, bw, bh = X[i], Y[i], W[i], H[i]
        f, b, per = sc.look(v)
        rows = sc.rows(v)
        nid = box_id(v)
        thick = " p" if per > 1 else " d" if isinstance(v, chips.Chip) else ""
        top = y - bh / 2 + PAD + 10.5
        texts = "".join(
            f'<text x="{x:.1f}" y="{top + LINE_H * k:.1f}">' + "".join(
                f'<tspan class="{fill[c]}{_cls(size, bold)}">{_x(t)} </tspan>'
                for t, c, size, bold in row) + "</text>"
            for k, row in enumerate(rows))
        title = rows[0][0][0] if isinstance(v, str) else \
            chips.hover(sc.painter, v) if isinstance(v, chips.Chip) else sc.painter.hover(v)
        yield (f'<g class="n" id="{nid}"><title>{_x(title)}</title>'
               f'<rect x="{x - bw / 2:.1f}" y="{y - bh / 2:.1f}" width="{bw:.1f}" '
               f'height="{bh:.1f}" rx="4" class="{box[(f, b)]}{thick}"/>{texts}</g>\n')


def _svg_styles(s: dict, classes: _ClassTables) -> str:
    """The style sheet and arrow markers for every class handed out, and the end."""
    fill, stroke, box = classes.fill, classes.stroke, classes.box
    css = [f".e{{fill:none}}.l text{{font-size:10px;text-anchor:middle}}"
           f".l rect{{fill:{s['bg']};fill-opacity:.85}}.n text{{text-anchor:middle}}"
           f".t{{font-weight:bold}}.m{{font-size:10px}}.p{{stroke-width:2.5}}"
           f".d{{stroke-dasharray:4 2}}"]
    css += [f".{k}{{fill:{c}}}" for c, k in sorted(fill.items())]
    css += [f".{k}{{stroke:{c};marker-end:url(#a{k})}}" for c, k in sorted(stroke.items())]
    css += [f".{k}{{fill:{f};stroke:{b}}}" for (f, b), k in sorted(box.items())]
    markers = "".join(f'<marker id="a{k}" viewBox="0 0 10 10" refX="10" refY="5" '
                      f'markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" '
                      f'orient="auto-start-reverse">'
                      f'<path d="M0,0L10,5L0,10z" fill="{c}"/></marker>'
                      for c, k in sorted(stroke.items()))
    return f'<defs>{markers}</defs>\n<style>{"".join(css)}</style>\n</svg>\n'


def _legend_svg(key, top: float, fill, s) -> str:
    """The legend below the drawing: a swatch (or none) and a line of text per row."""
    parts = [f'<g class="legend"><rect x="0" y="{top:.1f}" '
             f'width="{max(len(t) for t, _, _ in key) * CHAR_W[10] + 30:.1f}" '
             f'height="{LINE_H * len(key) + 2 * PAD:.1f}" rx="4" fill="none" '
             f'stroke="{s["dim"]}"/>']
    for i, (text, colour, swatch) in enumerate(key):
        y = top + PAD + LINE_H * i
        if swatch:
            inside, border, thick = swatch_look(swatch, s)
            parts.append(f'<rect x="6" y="{y + 2:.1f}" width="14" height="9" '
                         f'fill="{inside}" stroke="{border}" stroke-width="{thick}"/>')
        parts.append(f'<text x="26" y="{y + 10:.1f}" class="{fill[colour]} m">{_x(text)}'
                     f'</text>')
    return "".join(parts) + "</g>\n"


def _point(size) -> str:
    return f' POINT-SIZE="{size}"' if size else ""


def _b(text: str, bold: bool) -> str:
    return f"<B>{text}</B>" if bold else text


def _cls(size, bold) -> str:
    return (" m" if size == 10 else "") + (" t" if bold else "")


# ---------------------------------------------------------------- pinned DOT for neato -n2
def dot_text(sc: Scene, dpi: int | None = None) -> str:
    """The same drawing as DOT with fixed positions (y flipped: DOT's y grows upward), for
    ``neato -n2``; ``dpi``: the bitmap resolution."""
    p = sc.placement
    s = sc.style
    top = p.height

    def pos(k):
        x, y, w, h = p.box(k)
        return f'pos="{x:.1f},{top - y:.1f}!", width={w / 72:.3f}, height={h / 72:.3f}'
    out = [
        "digraph gradtrace {",
        *([f"  graph [dpi={dpi}];"] if dpi else []),
        f'  graph [bgcolor="{s["bg"]}", splines=false, outputorder=edgesfirst, '
        f'fontname="{s["font"]}"];',
        f'  node [shape=box, style="rounded,filled", fontname="{s["font"]}", fontsize=11, '
        f'fontcolor="{s["fg"]}", fixedsize=true, margin=0];',
        f'  edge [color="{s["edge"]}", arrowsize=0.5];',
    ]
    for i, v in enumerate(sc.nodes):
        fill, border, per = sc.look(v)
        label = "<BR/>".join(" ".join(f'<FONT COLOR="{c}"{_point(size)}>{_b(esc(t), bold)}</FONT>'
                                      for t, c, size, bold in row) for row in sc.rows(v))
        dashed = ', style="rounded,dashed,filled"' if isinstance(v, chips.Chip) else ""
        out.append(f'  {box_id(v)} [{pos(i)}, label=<{label}>, fillcolor="{fill}", '
                   f'color="{border}", peripheries={per}{dashed}];')
    router = Router(p, sc.src, sc.dst)
    trunks = Trunks(router)
    for i, (u, v, _, _) in enumerate(sc.edges):
        lines, color, width = sc.edge(i)
        su, sv = box_id(u), box_id(v)
        pen = f", penwidth={width:.2f}" if width != 1.0 else ""
        first = trunks.first(i, (color, width))
        if lines:
            label = "<BR/>".join(f'<FONT COLOR="{c}" POINT-SIZE="10">{esc(t)}</FONT>'
                                 for t, c in lines)
            out.append(f'  l{i} [{pos(int(p.label_box[i]))}, shape=plaintext, style="", '
                       f'label=<{label}>];')
            out.append(f'  {su} -> l{i} [color="{color}", arrowhead=none{pen}, '
                       f'pos="{_spline(first, top, False)}"];')
            out.append(f'  l{i} -> {sv} [color="{color}"{pen}, '
                       f'pos="{_spline(router.second(i), top, True)}"];')
        else:
            out.append(f'  {su} -> {sv} [color="{color}"{pen}, pos="{_spline(first, top, True)}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _spline(points, top: float, arrow: bool) -> str:
    """A polyline as Graphviz's edge ``pos`` (a B-spline whose control points sit on its
    straight pieces; y flipped); with ``arrow`` the spline stops an arrow's length short
    of the last point, where the arrowhead ends."""
    pts = [(x, top - y) for x, y in points]
    head = ""
    if arrow:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
        back = min(ARROW, length / 2) / length
        head = f"e,{x1:.1f},{y1:.1f} "
        pts[-1] = (x1 - (x1 - x0) * back, y1 - (y1 - y0) * back)
    spline = [pts[0]] + [q for a, b in zip(pts, pts[1:]) for q in (a, b, b)]
    return head + " ".join(f"{x:.1f},{y:.1f}" for x, y in spline)
