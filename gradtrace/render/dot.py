"""DOT text for a trace: what each node and edge shows, styles, clusters, collapsing.

The output is a pure function of the graph and the options: nodes in id order,
edges in (consumer, argument) order, numbers formatted with fixed digits, so the
same trace gives byte-identical DOT on every run and machine.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np

from ..errors import RenderError
from ..formulas import node_texts
from ..graph import paths_to_output
from ..ops import PRIMITIVES
from . import fast as fast_draw
from . import layout
from .labels import esc, magnitude, num, partial, shape_text, signed_term, sum_rule_text, value_text

STYLES = {
    "default": dict(bg="white", fg="#1b1b1b", dim="#8a8a8a", value="#1f4e79", grad="#a33a1e",
                    edge="#6b6b6b", param="#e3eefa", data="#eef3e6", const="#f4f4f4",
                    op="#ffffff", out="#fff1c9", border="#4a4a4a", font="Helvetica",
                    cluster="#f7f7f2", faded="#d0d0d0"),
    "3b1b": dict(bg="#0e0e0e", fg="#ece6e2", dim="#8f8f8f", value="#58c4dd", grad="#fcd34d",
                 edge="#a8a8a8", param="#1c3b4a", data="#1f3322", const="#1b1b1b",
                 op="#161616", out="#4a3a10", border="#d0d0d0", font="CMU Serif,Times,serif",
                 cluster="#171717", faded="#3a3a3a"),
}
STYLES["compact"] = STYLES["default"]
STYLES["heat"] = STYLES["default"]
MAX_TERMS = 8          # a fan-out sum with more terms is shown as its count (explain has all)
HEAT_RAMP = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
HEAT_BAD = "#e41a1c"


@dataclass
class Options:
    """Rendering options (all keyword arguments of ``to_dot`` / ``render``)."""

    style: str = "default"          # default | 3b1b | compact | heat
    values: bool = True             # show each node's value
    grads: bool = True              # show gradients (when backward has run)
    locals: bool = True             # show local derivatives on edges
    digits: int = 3                 # significant digits
    rankdir: str | None = "auto"    # auto (the squarer of LR and TB), LR, TB, RL, BT
    collapse: object = None         # True (every top-level scope) or scope names
    depth: int | None = None        # fold every call deeper than this many levels
    highlight: str | None = None    # emphasise the paths from this node to the output
    layout: str = "auto"            # auto | dot | fast
    fast_threshold: int = 800       # auto: past this many nodes use the fast layout
    clusters: bool = True           # draw scopes as clusters
    products: bool = False          # write scalar contributions as upstream · local = product
    element_ids: bool = False       # SVG ids n<v> / e<u>_<v>_<k> (the HTML view finds them)

    def __post_init__(self):
        if self.style not in STYLES:
            raise RenderError(f"unknown style '{self.style}'; choose one of "
                              f"{', '.join(sorted(STYLES))}")
        if self.layout not in ("auto", "dot", "fast"):
            raise RenderError(f"unknown layout '{self.layout}'; choose auto, dot or fast")
        if self.rankdir is None:
            self.rankdir = "auto"
        if self.rankdir not in ("auto", "LR", "TB", "RL", "BT"):
            raise RenderError(f"unknown rankdir '{self.rankdir}'; choose auto, LR, TB, RL or BT")
        if not isinstance(self.digits, int) or not 1 <= self.digits <= 17:
            raise RenderError("digits must be a whole number from 1 to 17")


def make_options(**options) -> Options:
    names = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise RenderError(f"unknown rendering option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    return Options(**options)


# ---------------------------------------------------------------- the view graph
@dataclass
class View:
    """What is drawn: nodes (ids, or 'g<k>' for collapsed groups) and edges."""

    nodes: list
    edges: list            # (u, v, key, attrs) with u, v view ids
    groups: dict           # group id -> (scope tuple, member ids)
    member_of: dict        # node id -> group id


def _collapsed_scope(scope: tuple, collapse, depth: int | None = None) -> tuple | None:
    """The scope instance a node folds into: a call matched by name (every instance of
    ``dense`` folds into its own box, so the folded graph keeps the model's data flow),
    or anything deeper than ``depth`` calls."""
    if not scope:
        return None
    if depth is not None and len(scope) > depth:
        return scope[: depth + 1]
    if collapse is None or collapse is False:
        return None
    if collapse is True:
        return scope[:1]
    names = [collapse] if isinstance(collapse, str) else list(collapse)
    for i in range(len(scope)):
        if scope[i] in names or scope[i].split("#")[0] in names or \
                "/".join(scope[: i + 1]) in names:
            return scope[: i + 1]
    return None


def check_collapse(graph, collapse) -> None:
    """A scope name given to collapse that matches nothing is an error listing the scopes."""
    if collapse is None or isinstance(collapse, bool):
        return
    names = [collapse] if isinstance(collapse, str) else list(collapse)
    scopes = {a["scope"] for a in graph._node.values() if a["scope"]}
    known = {p for s in scopes for i in range(len(s)) for p in
             (s[i], s[i].split("#")[0], "/".join(s[: i + 1]))}
    missing = [n for n in names if n not in known]
    if missing:
        listed = sorted({s[i].split("#")[0] for s in scopes for i in range(len(s))})
        raise RenderError(f"collapse: no scope named {', '.join(map(repr, missing))}; the "
                          f"scopes are: {', '.join(listed) or '(none: the model has no calls '}"
                          f"{'' if listed else 'or gt.scope blocks)'}")


def build_view(graph, collapse, depth: int | None = None) -> View:
    check_collapse(graph, collapse)
    nodes = graph._node
    member_of: dict[int, str] = {}
    groups: dict[str, tuple[tuple, list[int]]] = {}
    group_of_scope: dict[tuple, str] = {}
    for v, a in nodes.items():
        cs = _collapsed_scope(a["scope"], collapse, depth)
        if cs is None:
            continue
        gid = group_of_scope.get(cs)
        if gid is None:
            gid = group_of_scope[cs] = f"g{len(group_of_scope)}"
            groups[gid] = (cs, [])
        groups[gid][1].append(v)
        member_of[v] = gid
    view_nodes: list = []
    seen_groups = set()
    for v in nodes:
        gid = member_of.get(v)
        if gid is None:
            view_nodes.append(v)
        elif gid not in seen_groups:
            seen_groups.add(gid)
            view_nodes.append(gid)
    edges = []
    merged: dict[tuple, int] = {}
    for v in nodes:
        for u, keyed in graph._pred[v].items():
            for k, e in keyed.items():
                uu, vv = member_of.get(u, u), member_of.get(v, v)
                if uu == vv and isinstance(uu, str):
                    continue
                if isinstance(uu, str) or isinstance(vv, str):
                    key = (uu, vv)
                    if key in merged:
                        continue
                    merged[key] = 1
                    edges.append((uu, vv, 0, None))
                else:
                    edges.append((u, v, k, e))
    return View(view_nodes, edges, groups, member_of)


# ---------------------------------------------------------------- node and edge text
class Painter:
    """Turns graph attributes into label HTML for one set of options."""

    def __init__(self, trace, opts: Options):
        self.t = trace
        self.g = trace.graph
        self.o = opts
        self.s = STYLES[opts.style]
        self.texts = {v: t for v, (t, _) in node_texts(self.g).items()}
        self.out_name = self.texts[trace.output]
        self.has_grads = "grad" in self.g._node[trace.output] and opts.grads
        self.path_nodes = None
        if opts.highlight is not None:
            self.path_nodes = paths_to_output(trace, opts.highlight)
        self.heat = None
        if opts.style == "heat":
            self.heat = _heat_scale(self.g)
        self.frame = None        # a Frame: one moment of the step-through (animation)

    def font(self, text: str, color: str, size: int | None = None, bold=False) -> str:
        body = f"<B>{text}</B>" if bold else text
        size_attr = f' POINT-SIZE="{size}"' if size else ""
        return f'<FONT COLOR="{color}"{size_attr}>{body}</FONT>'

    def faded(self, v) -> bool:
        return self.path_nodes is not None and v not in self.path_nodes

    def node_rows(self, v: int) -> list[list[tuple]]:
        """What a node box says: rows of (text, colour, size or None, bold) pieces."""
        a = self.g._node[v]
        s, d = self.s, self.o.digits
        fade = self.faded(v)
        fg = s["faded"] if fade else s["fg"]
        dim = s["faded"] if fade else s["dim"]
        name = self.texts[v]
        if a["kind"] == "const":
            return [[(name, dim, 10, False)]]
        head: list[tuple] = [(name, fg, None, True)]
        if a["kind"] == "op":
            head.append((PRIMITIVES[a["op"]].symbol or (a["params"] or {}).get("fn") or a["op"],
                         dim, 10, False))
        if a["shape"]:
            head.append((shape_text(a["shape"]), dim, 10, False))
        rows = [head]
        compact = self.o.style == "compact"
        if self.o.values:
            val = value_text(a["value"], d)
            rows.append([(val if compact else f"= {val}", s["faded"] if fade else s["value"],
                          None, False)])
        if self.has_grads and "grad" in a:
            rows.append([(self.grad_text(v, compact), s["faded"] if fade else s["grad"], None,
                          False)])
        return rows

    def node_attrs(self, v: int) -> str:
        a = self.g._node[v]
        s = self.s
        fade = self.faded(v)
        rows = self.node_rows(v)
        if a["kind"] == "const":
            text, color, size, _ = rows[0][0]
            return (f'label=<{self.font(esc(text), color, size)}>, '
                    f'shape=box, style="rounded,filled", fillcolor="{s["const"]}", '
                    f'color="{self.s["faded"] if fade else s["dim"]}", margin="0.04,0.02", '
                    f'height=0.2, width=0.2')
        fill, border, peripheries = self.look(v, a)
        pen = ""
        if self.frame is not None:
            rows = self.frame.node_rows(v, rows, fill)
            if f"n{v}" in self.frame.now:
                border, pen = self.frame.highlight, ", penwidth=3"
        html = [" ".join(self.font(esc(t), c, size, bold) for t, c, size, bold in row)
                for row in rows]
        table = "".join(f"<TR><TD>{r}</TD></TR>" for r in html)
        return (f'label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                f'{table}</TABLE>>, shape=box, style="rounded,filled", fillcolor="{fill}", '
                f'color="{self.s["faded"] if fade else border}", peripheries={peripheries}'
                f'{pen}{self.tooltip(v)}{self.element_id(f"n{v}")}')

    def element_id(self, name: str) -> str:
        return f', id="{name}"' if self.o.element_ids else ""

    def where(self, v: int) -> str:
        """``name — model.py:12``: the whole name and the line that made the node."""
        a = self.g._node[v]
        name = a["name"] or self.texts[v]
        if a.get("line"):
            return f"{name} — {os.path.basename(a.get('file') or '')}:{a['line']}"
        return name

    def tooltip(self, v: int) -> str:
        """The whole name and source line, shown when the pointer rests on the box."""
        text = self.where(v)
        if text == self.texts[v]:
            return ""
        return f', tooltip="{esc(text).replace("<BR/>", " ")}"'

    def look(self, v, a):
        s = self.s
        if v == self.t.output:
            return s["out"], s["border"], 2
        if a["kind"] == "input":
            return (s["param"], s["border"], 1) if a["requires_grad"] else \
                (s["data"], s["dim"], 1)
        return s["op"], s["border"], 1

    def grad_text(self, v: int, compact: bool) -> str:
        a = self.g._node[v]
        d = self.o.digits
        if compact:
            return f"∇ {value_text(a['grad'], d)}"
        label = partial(self.out_name, self.texts[v])
        terms = [e.get("contribution") for _, keyed in sorted(self.g._succ[v].items())
                 for _, e in sorted(keyed.items())]
        terms = [c for c in terms if c is not None]
        if len(terms) > MAX_TERMS:   # a weight used in every step: the count, not 2,500 terms
            return f"{label} = Σ of {len(terms):,} paths = {value_text(a['grad'], d)}"
        if len(terms) > 1:
            return f"{label} = {sum_rule_text(a['grad'], terms, d)}"
        return f"{label} = {value_text(a['grad'], d)}"

    def edge_look(self, u: int, v: int, e: dict) -> tuple[list[tuple], str, float]:
        """An edge's label lines [(text, colour)] (empty when it shows none), colour, width."""
        s, o = self.s, self.o
        src = self.g._node[u]
        fade = self.path_nodes is not None and not (u in self.path_nodes and v in self.path_nodes)
        color = self.s["faded"] if fade else s["edge"]
        width = 1.0
        contribution = e.get("contribution") if self.has_grads else None
        if self.heat is not None and contribution is not None:
            color, width = self.heat(contribution)
        if self.path_nodes is not None and not fade:
            width = 2.5
            color = s["grad"]
        lines: list[tuple] = []
        if o.style != "compact" and o.locals and src["requires_grad"] and not fade:
            lines.append((self.local_text(u, v, e), s["fg"]))
            if contribution is not None:
                g = self.g._node[v].get("grad")
                local = e.get("local")
                if (self.path_nodes is not None or o.products) and isinstance(g, float) \
                        and isinstance(local, float):
                    # the chain rule on this edge: what arrives times the local derivative
                    lines.append((f"{num(g, o.digits)} · {signed_term(local, o.digits)} = "
                                  f"{num(contribution, o.digits)}", s["grad"]))
                else:
                    lines.append((f"← {value_text(contribution, o.digits)}", s["grad"]))
        return lines, color, width

    def edge_attrs(self, u: int, v: int, e: dict, k: int = 0) -> str:
        lines, color, width = self.edge_look(u, v, e)
        if self.frame is not None:
            lines, color, width = self.frame.edge_look(f"{u}_{v}_{k}", lines, color, width,
                                                       self.s["bg"])
        parts = []
        if lines:
            html = "<BR/>".join(self.font(esc(text), c, 10) for text, c in lines)
            if self.heat is not None:   # a thick edge must not run through its own label
                html = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1" '
                        f'BGCOLOR="{self.s["bg"]}"><TR><TD>{html}</TD></TR></TABLE>')
            parts.append(f"label=<{html}>")
        parts.append(f'color="{color}"')
        if self.o.element_ids:
            parts.append(f'id="e{u}_{v}_{k}"')
        if width != 1.0:
            parts.append(f"penwidth={width:.2f}")
        return ", ".join(parts)

    def local_text(self, u: int, v: int, e: dict) -> str:
        d = self.o.digits
        head = partial(self.texts[v], self.texts[u])
        formula = e.get("formula") or ""
        local = e.get("local")
        if local is None:
            return f"{head}: {formula} (VJP)" if formula else f"{head} (VJP)"
        if isinstance(local, float):
            rhs = num(local, d)
            return f"{head} = {rhs}" if formula in ("", rhs) else f"{head} = {formula} = {rhs}"
        if np.size(local) <= 3:
            return f"{head} = {formula} = {value_text(local, d)}"
        return f"{head} = {formula} (elementwise)"

    def group_rows(self, scope: tuple, members: list[int]) -> list[list[tuple]]:
        """A collapsed call: its name, what flows in, and each output with its gradient."""
        s, d = self.s, self.o.digits
        g = self.g
        inside = set(members)
        ops = sum(1 for m in members if g._node[m]["kind"] == "op")
        rows = [[("/".join(scope), s["fg"], None, True), (f"{ops} ops", s["dim"], 10, False)]]
        feeds = sorted({u for m in members for u in g._pred[m] if u not in inside
                        and g._node[u]["kind"] != "const"})
        if feeds:
            names = [self.texts[u] for u in feeds[:4]] + (["…"] if len(feeds) > 4 else [])
            rows.append([(f"in: {', '.join(names)}", s["dim"], 10, False)])
        outs = [m for m in members if any(w not in inside for w in g._succ[m])]
        for m in outs[:2]:
            rows.append([(f"out: {self.texts[m]} = {value_text(g._node[m]['value'], d)}",
                          s["value"], 10, False)])
            if self.has_grads and "grad" in g._node[m]:
                rows.append([(f"{partial(self.out_name, self.texts[m])} = "
                              f"{value_text(g._node[m]['grad'], d)}", s["grad"], 10, False)])
        if len(outs) > 2:
            rows.append([(f"… {len(outs) - 2} more outputs", s["dim"], 10, False)])
        return rows

    def group_attrs(self, gid: str, scope: tuple, members: list[int]) -> str:
        s = self.s
        html = [" ".join(self.font(esc(t), c, size, bold) for t, c, size, bold in row)
                for row in self.group_rows(scope, members)]
        table = "".join(f"<TR><TD>{r}</TD></TR>" for r in html)
        return (f'label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                f'{table}</TABLE>>, shape=box3d, style="filled", fillcolor="{s["cluster"]}", '
                f'color="{s["border"]}"')


def _heat_scale(graph):
    """Edge colour and width from |contribution| on a log scale; NaN/inf in red."""
    mags = []
    for _, _, e in graph.edges(data=True):
        c = e.get("contribution")
        if c is not None:
            m = magnitude(c)
            if math.isfinite(m) and m > 0:
                mags.append(math.log10(m))
    lo, hi = (min(mags), max(mags)) if mags else (0.0, 1.0)
    span = max(hi - lo, 1e-12)

    def scale(c):
        m = magnitude(c)
        if not math.isfinite(m):
            return HEAT_BAD, 3.0
        if m == 0:
            return HEAT_RAMP[0], 0.5
        f = (math.log10(m) - lo) / span
        return HEAT_RAMP[min(int(f * len(HEAT_RAMP)), len(HEAT_RAMP) - 1)], 0.5 + 4.5 * f
    return scale


# ---------------------------------------------------------------- DOT text
def _prepare(trace, options: dict, frame=None):
    opts = make_options(**options)
    view = build_view(trace.graph, opts.collapse, opts.depth)
    fast = opts.layout == "fast" or (opts.layout == "auto" and (
        len(view.nodes) > opts.fast_threshold or dot_would_stall(view)))
    painter = Painter(trace, opts)
    painter.frame = frame
    return opts, view, painter, fast


def dot_would_stall(view) -> bool:
    """Predict dot's cost from the graph's shape.  dot is slow when labelled edges span
    many ranks: a weight or constant shared by every step of a loop (an unrolled RNN)
    sends one long edge per step.  The measure is the summed rank span of the edges
    against the node count (a chain of 50 shared steps took dot 80 s; it scores 25x)."""
    index = {v: i for i, v in enumerate(view.nodes)}
    src = [index[u] for u, _, _, _ in view.edges]
    dst = [index[v] for _, v, _, _ in view.edges]
    layer = layout.layers_of(len(view.nodes), src, dst)
    span = sum(abs(layer[v] - layer[u]) for u, v in zip(src, dst))
    return span > 6 * len(view.nodes) + 200


def fast_scene(trace, **options):
    """The fast layout's scene when these options use it (else None: Graphviz lays out)."""
    opts, view, painter, fast = _prepare(trace, options)
    return fast_draw.scene(trace, view, painter, opts, _fixed(opts)) if fast else None


def _fixed(opts) -> str | None:
    """The orientation asked for, or None to let the layout choose."""
    return None if opts.rankdir == "auto" else opts.rankdir


def to_dot(trace, frame=None, **options) -> str:
    """The diagram as DOT text (deterministic); ``frame``: one moment of the step-through,
    drawn with the same geometry as every other (hidden lines keep their place)."""
    opts, view, painter, fast = _prepare(trace, options, frame)
    graph = trace.graph
    if fast:
        return fast_draw.dot_text(fast_draw.scene(trace, view, painter, opts, _fixed(opts)))
    s = painter.s
    rankdir = _fixed(opts)
    stagger = {}
    if rankdir is None:   # dot's drawing will have about the shape of the fast layout's
        placed = fast_draw.scene(trace, view, painter, opts, None).placement
        rankdir = placed.rankdir
        if max(placed.width, placed.height) > 2 * min(placed.width, placed.height):
            stagger = _staggered_leaves(view)
    lines = [
        "digraph gradtrace {",
        f'  graph [rankdir={rankdir}, bgcolor="{s["bg"]}", fontname="{s["font"]}", '
        f'fontcolor="{s["fg"]}", nodesep=0.25, ranksep=0.45, newrank=true];',
        f'  node [fontname="{s["font"]}", fontsize=12, fontcolor="{s["fg"]}"];',
        f'  edge [fontname="{s["font"]}", fontsize=10, fontcolor="{s["fg"]}", '
        f'color="{s["edge"]}", arrowsize=0.7];',
    ]
    node_lines = {}
    for v in view.nodes:
        if isinstance(v, str):
            scope, members = view.groups[v]
            node_lines[v] = f"  {v} [{painter.group_attrs(v, scope, members)}];"
        else:
            node_lines[v] = f"  n{v} [{painter.node_attrs(v)}];"
    if opts.clusters:
        lines.extend(_clustered(graph, view, node_lines, painter))
    else:
        lines.extend(node_lines[v] for v in view.nodes)
    for u, v, k, e in view.edges:
        su = u if isinstance(u, str) else f"n{u}"
        sv = v if isinstance(v, str) else f"n{v}"
        attrs = painter.edge_attrs(u, v, e, k) if e is not None else f'color="{s["edge"]}"'
        if u in stagger:
            attrs += f", minlen={stagger[u]}"
        lines.append(f"  {su} -> {sv} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _staggered_leaves(view, levels: int = 3) -> dict:
    """Edge lengths 1, 2, 3, 1 ... for the inputs and constants in id order, so a wide
    first rank folds into a few (what Graphviz's ``unflatten -l 3`` does)."""
    fed = {v for _, v, _, _ in view.edges}
    leaves = [v for v in view.nodes if v not in fed]
    return {v: 1 + i % levels for i, v in enumerate(leaves)}


def _clustered(graph, view, node_lines, painter) -> list[str]:
    """Nodes nested in one cluster per scope (functions and gt.scope blocks)."""
    s = painter.s
    tree: dict[tuple, list] = {(): []}
    for v in view.nodes:
        scope = () if isinstance(v, str) else graph._node[v]["scope"]
        if isinstance(v, str):
            scope = view.groups[v][0][:-1]
        for i in range(1, len(scope) + 1):
            if scope[:i] not in tree:
                tree[scope[:i]] = []
                tree[scope[:i - 1]].append(("scope", scope[:i]))
        tree[scope].append(("node", v))
    out: list[str] = []
    counter = [0]

    def emit(scope, indent):
        for kind, item in tree[scope]:
            if kind == "node":
                out.append(" " * (indent - 2) + node_lines[item])
            else:
                counter[0] += 1
                pad = " " * indent
                out.append(f"{pad}subgraph cluster_{counter[0]} {{")
                title = painter.font(esc(item[-1]), s["dim"], 11, bold=True)
                out.append(f'{pad}  label=<{title}>; '
                           f'style="rounded,filled"; fillcolor="{s["cluster"]}"; '
                           f'color="{s["dim"]}"; labeljust=l;')
                emit(item, indent + 2)
                out.append(f"{pad}}}")
    emit((), 2)
    return out


def uses_fast_layout(dot_text: str) -> bool:
    return "splines=false, outputorder=edgesfirst" in dot_text.split("\n", 2)[1]
