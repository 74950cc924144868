"""What each node and edge says and how it looks, for one set of options: label rows
(text, colour, size, bold), edge lines, fills and borders, the heat scale.  The DOT
writer and the fast SVG writer both ask the painter, so the two drawings agree."""

from __future__ import annotations

import math
import os

import numpy as np

from ..core.formulas import node_texts
from ..core.graph import nodes_of, paths_to_output, preds_of, succs_of
from ..notation import (
    SHOWN_ON_EDGE,
    magnitude,
    num,
    partial,
    shape_text,
    signed_term,
    sum_rule_text,
    value_text,
)
from ..ops import PRIMITIVES
from .chips import home_note
from .labels import esc
from .lesson import WhyLines
from .options import Options
from .palette import HEAT_BAD, HEAT_BANDS, heat_band, heat_fills

MAX_BOX_EXPR = 32     # a folded value's expression is shown in its box up to this length
MAX_TERMS = 8          # a fan-out sum with more terms is shown as its count (explain has all)


class Painter:
    """Turns graph attributes into label rows and DOT attributes for one set of options:
    ``trace`` and its ``graph``, the checked ``opts``, the palette ``style``, and
    ``texts`` (each node's display name; ``ranked`` keeps its precedence too) and
    ``shared`` (each input drawn once with reference chips -> its chips)."""

    def __init__(self, trace, opts: Options, shared: dict | None = None):
        self.trace = trace
        self.graph = trace.graph
        self.opts = opts
        self.style = opts.palette
        self.shared = shared or {}
        self.chip_hovers: dict[int, str] = {}     # a shared input's chip tooltip, once
        self.ranked = node_texts(self.graph)
        self.texts = {v: t for v, (t, _) in self.ranked.items()}
        self.out_name = self.texts[trace.output]
        self.has_grads = "grad" in nodes_of(self.graph)[trace.output] and opts.grads
        self.path_nodes = None
        self.factor_nodes: set = set()
        if opts.highlight is not None:
            self.path_nodes = paths_to_output(trace, opts.highlight)
            self.factor_nodes = _factors(self.graph, self.path_nodes, self.texts)
        self.heat: HeatScale | None = HeatScale(self.graph, self.style) if opts.heat else None
        self._why: WhyLines | None = None

    def font(self, text: str, color: str, size: int | None = None, bold=False) -> str:
        body = f"<B>{text}</B>" if bold else text
        size_attr = f' POINT-SIZE="{size}"' if size else ""
        return f'<FONT COLOR="{color}"{size_attr}>{body}</FONT>'

    def faded(self, v) -> bool:
        """Off the highlighted paths, and not a factor of their formulas (a(L−1) in
        ∂z(L)/∂w(L) = a(L−1) stays legible)."""
        return self.path_nodes is not None and v not in self.path_nodes and \
            v not in self.factor_nodes

    def ink(self, key: str, fade: bool) -> str:
        """Palette colour ``key``, or the faded grey off the highlighted paths."""
        return self.style["faded"] if fade else self.style[key]

    def node_rows(self, v: int) -> list[list[tuple]]:
        """What a node box says: rows of (text, colour, size or None, bold) pieces."""
        return [row for _, row in self.node_lines(v)]

    def node_lines(self, v: int) -> list[tuple[str | None, list[tuple]]]:
        """The box's rows with the page's id of each: ``v17`` (value), ``g17`` (gradient),
        ``v17r1``… (a matrix's further rows), None (the name row, a student's .grad)."""
        rows: list[tuple[str | None, list[tuple]]] = []
        for line_id, row in self._labelled_rows(v):
            text, *look = row[0]
            for i, part in enumerate(text.split("\n") if line_id else [text]):
                rows.append((f"{line_id}r{i}" if i else line_id, [(part, *look), *row[1:]]))
        return rows

    def _labelled_rows(self, v: int) -> list[tuple[str | None, list[tuple]]]:
        a = nodes_of(self.graph)[v]
        d = self.opts.digits
        fade = self.faded(v)
        fg, dim = self.ink("fg", fade), self.ink("dim", fade)
        name = self.texts[v]
        if a["kind"] == "const":
            return [(None, [(name, dim, 10, False)])]
        head: list[tuple] = [(name, fg, None, True)]
        if a["kind"] == "op":       # a folded value says what it computes: w(L)·a(L−1) + b(L)
            expr = a.get("expr") or ""
            expr = expr if len(expr) <= MAX_BOX_EXPR else ""
            head.append((expr or PRIMITIVES[a["op"]].symbol or
                         (a["params"] or {}).get("fn") or a["op"], dim, 10, False))
        if a["shape"]:
            head.append((shape_text(a["shape"]), dim, 10, False))
        rows: list[tuple[str | None, list[tuple]]] = [(None, head)]
        terse = self.opts.terse
        if self.opts.values:
            val = value_text(a["value"], d, rows=True)
            rows.append((f"v{v}", [(val if terse else f"= {val}", self.ink("value", fade),
                                    None, False)]))
        if self.has_grads and "grad" in a:
            rows.append((f"g{v}", [(self.grad_text(v, terse), self.ink("grad", fade), None,
                                    False)]))
            if a.get("student") is not None:     # gt.grade: the student's differing .grad
                rows.append((None, [(f"✗ your .grad = {num(a['student'], d)}",
                                     self.ink("wrong", fade), None, True)]))
        return rows

    def node_attrs(self, v: int, frame=None) -> str:
        """DOT attributes of node ``v``; ``frame``: one moment of the animation (gif.Frame)."""
        a = nodes_of(self.graph)[v]
        s = self.style
        fade = self.faded(v)
        rows = self.node_rows(v)
        if a["kind"] == "const":
            text, color, size, _ = rows[0][0]
            return (f'label=<{self.font(esc(text), color, size)}>, '
                    f'shape=box, style="rounded,filled", fillcolor="{s["const"]}", '
                    f'color="{self.ink("dim", fade)}", margin="0.04,0.02", '
                    f'height=0.2, width=0.2')
        fill, border, peripheries = self.look(v, a)
        pen = ""
        if frame is not None:
            rows = frame.node_rows(v, rows, fill)
            if f"n{v}" in frame.now:
                border, pen = frame.highlight, ", penwidth=3"
        html = [" ".join(self.font(esc(t), c, size, bold) for t, c, size, bold in row)
                for row in rows]
        table = "".join(f"<TR><TD>{r}</TD></TR>" for r in html)
        return (f'label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                f'{table}</TABLE>>, shape=box, style="rounded,filled", fillcolor="{fill}", '
                f'color="{s["faded"] if fade else border}", peripheries={peripheries}'
                f'{pen}{self.tooltip(v)}{self.element_id(f"n{v}")}')

    def element_id(self, name: str) -> str:
        return f', id="{name}"' if self.opts.element_ids else ""

    def where(self, v: int) -> str:
        """``name — model.py:12``: the whole name and the line that made the node."""
        a = nodes_of(self.graph)[v]
        name = a["name"] or self.texts[v]
        if a.get("line"):
            return f"{name} — {os.path.basename(a.get('file') or '')}:{a['line']}"
        return name

    def hover(self, v: int) -> str:
        """What the pointer shows on a box: the whole name and source line, and once
        backward has run the lesson's product for its gradient (the why line)."""
        lines = [self.where(v), self.why(v), home_note(self, v)]
        return "\n".join(line for line in lines if line)

    def why(self, v: int) -> str:
        if not self.has_grads:
            return ""
        if self._why is None:
            self._why = WhyLines(self.trace)
        return self._why.line(v, self.opts.digits)

    def tooltip(self, v: int) -> str:
        text = self.hover(v)
        if text == self.texts[v]:
            return ""
        return f', tooltip="{esc(text).replace("<BR/>", "&#10;")}"'

    def look(self, v, a):
        """(fill, border, peripheries) of a box; with heat, a box with a gradient is
        filled by its |gradient| on the fixed scale (the output keeps its own fill)."""
        s = self.style
        if v == self.trace.output:
            return s["out"], s["border"], 2
        if self.heat is not None and self.has_grads and "grad" in a:
            return self.heat.fill(a["grad"]), s["border"], 1
        if a["kind"] == "input":
            return (s["param"], s["border"], 1) if a["requires_grad"] else \
                (s["data"], s["dim"], 1)
        return s["op"], s["border"], 1

    def grad_text(self, v: int, terse: bool) -> str:
        a = nodes_of(self.graph)[v]
        d = self.opts.digits
        if terse:
            return f"∇ {value_text(a['grad'], d, rows=True)}"
        label = partial(self.out_name, self.texts[v])
        terms = [e.get("contribution") for _, keyed in sorted(succs_of(self.graph)[v].items())
                 for _, e in sorted(keyed.items())]
        terms = [c for c in terms if c is not None]
        if self.counted(v, terms):   # a weight used in every step: the count, not 2,500 terms
            return f"{label} = Σ of {len(terms):,} paths = {value_text(a['grad'], d, rows=True)}"
        if len(terms) > 1:
            return f"{label} = {sum_rule_text(a['grad'], terms, d)}"
        return f"{label} = {value_text(a['grad'], d, rows=True)}"

    def counted(self, v: int, terms: list) -> bool:
        """Is node ``v``'s fan-out sum of ``terms`` written as its count?  Past MAX_TERMS
        terms, and for an input drawn with chips when its terms are arrays: each is on
        its chip's edge, and the box stays narrow (the page's panel lists them all)."""
        return len(terms) > MAX_TERMS or (v in self.shared and len(terms) > 1 and not all(
            isinstance(t, float) for t in terms))

    def edge_look(self, u: int, v: int, e: dict) -> tuple[list[tuple], str, float]:
        """An edge's label lines [(text, colour)] (empty when it shows none), colour, width."""
        s, o = self.style, self.opts
        src = nodes_of(self.graph)[u]
        fade = self.path_nodes is not None and not (u in self.path_nodes and v in self.path_nodes)
        color = self.ink("edge", fade)
        width = 1.0
        contribution = e.get("contribution") if self.has_grads else None
        if self.heat is not None and contribution is not None:
            color, width = self.heat.edge(contribution)
        if self.path_nodes is not None and not fade:
            width = 2.5
            color = s["grad"]
        lines: list[tuple] = []
        if not o.terse and o.locals and src["requires_grad"] and not fade:
            lines.append((self.local_text(u, v, e), s["fg"]))
            if contribution is not None:
                g = nodes_of(self.graph)[v].get("grad")
                local = e.get("local")
                if (self.path_nodes is not None or o.products) and isinstance(g, float) \
                        and isinstance(local, float):
                    # the chain rule on this edge: what arrives times the local derivative
                    lines.append((f"{num(g, o.digits)} · {signed_term(local, o.digits)} = "
                                  f"{num(contribution, o.digits)}", s["grad"]))
                else:
                    lines.append((f"← {value_text(contribution, o.digits, whole=SHOWN_ON_EDGE)}",
                                  s["grad"]))
        return lines, color, width

    def edge_attrs(self, u: int, v: int, e: dict, k: int = 0, frame=None) -> str:
        lines, color, width = self.edge_look(u, v, e)
        if frame is not None:
            lines, color, width = frame.edge_look(f"{u}_{v}_{k}", lines, color, width,
                                                       self.style["bg"])
        parts = []
        if lines:
            html = "<BR/>".join(self.font(esc(text), c, 10) for text, c in lines)
            # padded, so the text keeps clear of its line; a thick heat edge must not
            # run through its own label
            fill = f' BGCOLOR="{self.style["bg"]}"' if self.heat is not None else ""
            html = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4"{fill}>'
                    f'<TR><TD>{html}</TD></TR></TABLE>')
            parts.append(f"label=<{html}>")
        parts.append(f'color="{color}"')
        if self.opts.element_ids:
            parts.append(f'id="e{u}_{v}_{k}"')
        if width != 1.0:
            parts.append(f"penwidth={width:.2f}")
        return ", ".join(parts)

    def local_text(self, u: int, v: int, e: dict) -> str:
        d = self.opts.digits
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
        s, d = self.style, self.opts.digits
        g = self.graph
        inside = set(members)
        ops = sum(1 for m in members if nodes_of(g)[m]["kind"] == "op")
        count = f"{ops} op" + ("" if ops == 1 else "s")
        rows = [[("/".join(scope), s["fg"], None, True), (count, s["dim"], 10, False)]]
        feeds = sorted({u for m in members for u in preds_of(g)[m] if u not in inside
                        and nodes_of(g)[u]["kind"] != "const"})
        if feeds:
            names = [self.texts[u] for u in feeds[:4]] + (["…"] if len(feeds) > 4 else [])
            rows.append([(f"in: {', '.join(names)}", s["dim"], 10, False)])
        outs = [m for m in members if any(w not in inside for w in succs_of(g)[m])]
        for m in outs[:2]:
            rows.append([(f"out: {self.texts[m]} = {value_text(nodes_of(g)[m]['value'], d)}",
                          s["value"], 10, False)])
            if self.has_grads and "grad" in nodes_of(g)[m]:
                rows.append([(f"{partial(self.out_name, self.texts[m])} = "
                              f"{value_text(nodes_of(g)[m]['grad'], d)}", s["grad"], 10, False)])
        if len(outs) > 2:
            rows.append([(f"… {len(outs) - 2} more outputs", s["dim"], 10, False)])
        return rows

    def group_attrs(self, gid: str, scope: tuple, members: list[int]) -> str:
        s = self.style
        html = [" ".join(self.font(esc(t), c, size, bold) for t, c, size, bold in row)
                for row in self.group_rows(scope, members)]
        table = "".join(f"<TR><TD>{r}</TD></TR>" for r in html)
        return (f'label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                f'{table}</TABLE>>, shape=box3d, style="filled", fillcolor="{s["cluster"]}", '
                f'color="{s["border"]}"')


def _factors(graph, path_nodes: set, texts: dict) -> set:
    """The values named in the local derivatives along the highlighted paths: operands
    of the path's values, or their operands (y in 2·(a − y) on the edge into C0)."""
    found = set()
    pred = preds_of(graph)
    for v in path_nodes:
        formulas = [e.get("formula") or "" for u in pred[v] if u in path_nodes
                    for e in pred[v][u].values()]
        near = {w for u in pred[v] for w in (u, *pred[u]) if w not in path_nodes}
        found |= {u for u in near if any(_mentions(f, texts[u]) for f in formulas)}
    return found


def _mentions(formula: str, name: str) -> bool:
    """``name`` appears in ``formula`` as a whole name (a2 is not in a20)."""
    at = formula.find(name)
    while at >= 0:
        end = at + len(name)
        before = formula[at - 1] if at else " "
        after = formula[end] if end < len(formula) else " "
        if not (before.isalnum() or before in "_[") and not (after.isalnum() or after in "_"):
            return True
        at = formula.find(name, at + 1)
    return False


class HeatScale:
    """Heat's colours on the fixed log scale (``palette.heat_band``): the same magnitude
    gets the same colour in every diagram.  ``span``: the smallest and largest finite,
    nonzero |contribution| in this graph (the legend says where this diagram lies)."""

    def __init__(self, graph, palette: dict[str, str]):
        self.fills, self.ramp, self.bad_fill = heat_fills(palette)
        mags = [m for _, _, e in graph.edges(data=True) if e.get("contribution") is not None
                for m in (magnitude(e["contribution"]),) if math.isfinite(m) and m > 0]
        self.span = (min(mags), max(mags)) if mags else None

    def edge(self, contribution) -> tuple[str, float]:
        """(colour, width) of an edge that carried ``contribution``; NaN or ∞ in red."""
        band = heat_band(magnitude(contribution))
        if band is None:
            return HEAT_BAD, 3.0
        return self.ramp[band], 0.5 + 4.5 * band / (HEAT_BANDS - 1)

    def fill(self, grad) -> str:
        """A box's fill for its gradient ``grad``."""
        band = heat_band(magnitude(grad))
        return self.bad_fill if band is None else self.fills[band]
