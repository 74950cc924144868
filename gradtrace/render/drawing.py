"""The drawing object: one diagram of a trace, built once and handed to every writer.

``t.drawing(**options)`` checks the options, builds the view (what is drawn), makes
the layout choice and the painter (what every box and edge says, and how it looks)
once; DOT, the fast SVG, PNG/PDF, the HTML page and the GIF all draw from it, so
nothing is rebuilt per output or per frame.  It is also plain data to read: which
boxes and edges a diagram draws, with their texts.
"""

from __future__ import annotations

from functools import cached_property

from ..record import gcpause
from . import chips, layout
from . import fast as fast_draw
from .lesson import for_view
from .options import Options, make_options
from .painter import Painter
from .view import View, build_view

# what an output format always turns on: the page and the GIF show the chain rule per edge
# (upstream · local = product); the page finds lines by their SVG ids
PRESETS: dict[str, dict] = {"html": {"products": True, "element_ids": True},
                            "gif": {"products": True}}
# what an output format turns on unless asked otherwise (the page explains its colours in
# its own panel, #gt-legend; the diagram's legend would sit under that panel, so it is
# drawn only when asked, or with heat, whose scale only the diagram's legend shows)
DEFAULTS: dict[str, dict] = {}
HEAT_DEFAULTS: dict[str, dict] = {"html": {"legend": True}}


class Drawing:
    """One diagram of a trace for one set of options.

    Fields: ``trace`` (as the view draws it: folded to named values in the lesson
    view; ``recorded`` is the trace as recorded); ``options`` (checked ``Options``);
    ``view`` (``View``: the boxes and edges drawn, collapsed calls as one box each, a
    reference chip beside each later use of an input shared across many steps);
    ``layout`` ("dot": Graphviz lays it out, "fast": gradtrace's layered layout, for big
    graphs or ones dot would stall on); ``painter`` (texts, colours, label rows);
    ``texts`` (each node's display name); ``legend()`` (what the colours say);
    ``boxes()`` and ``edges()`` (what each says).
    Measured sizes, the fast placement and the orientation are worked out when first
    needed, once.
    """

    def __init__(self, trace, options: Options):
        self.recorded = trace
        self.trace = trace = for_view(trace, options.view)
        self.options = options
        with gcpause.paused():          # many small objects, none of them cyclic garbage
            view = build_view(trace.graph, options.collapse, options.depth)
            self.view: View = chips.share(view) if options.share == "chips" else view
            self.painter = Painter(trace, options, self.view.shared)
        self.layout = "fast" if options.layout == "fast" or (options.layout == "auto" and (
            len(self.view.nodes) > options.fast_threshold or dot_would_stall(self.view))) \
            else "dot"

    @property
    def texts(self) -> dict[int, str]:
        """Each node's display name (as boxes, formulas and the page say it)."""
        return self.painter.texts

    @property
    def fast(self) -> bool:
        return self.layout == "fast"

    @cached_property
    def measures(self) -> fast_draw.Measures:
        """Every box's and edge label's size (the layout's input)."""
        with gcpause.paused():
            return fast_draw.measure(self.trace.graph, self.view, self.painter)

    @cached_property
    def scene(self) -> fast_draw.Scene:
        """gradtrace's own placement of every box and label (the fast SVG and pinned DOT;
        also what SVG falls back to when Graphviz cannot draw it)."""
        fixed = None if self.options.rankdir == "auto" else self.options.rankdir
        measures = self.measures
        with gcpause.paused():
            return fast_draw.scene(self.trace.graph, self.view, self.painter, measures, fixed)

    @cached_property
    def shape(self) -> tuple[str, float, float]:
        """(rankdir, width, height): the orientation asked for, or with rankdir='auto' the
        squarer of LR and TB as the layered layout sees it (dot's drawing has about that
        shape); width and height are the layered layout's, in points."""
        if self.fast:
            p = self.scene.placement
            return p.rankdir, p.width, p.height
        if self.options.rankdir == "auto":
            return layout.orientation(len(self.view.nodes), *self.measures.sizes())
        return str(self.options.rankdir), 0.0, 0.0

    @property
    def rankdir(self) -> str:
        return self.shape[0]

    # ------------------------------------------------------------ reading it back
    def boxes(self) -> dict:
        """What each box says: view id (node id, 'g<k>' for a collapsed call, a
        ``chips.Chip``) -> its lines of text."""
        out = {}
        for v in self.view.nodes:
            rows = (self.painter.group_rows(*self.view.groups[v]) if isinstance(v, str)
                    else chips.rows(self.painter, v) if isinstance(v, chips.Chip)
                    else self.painter.node_rows(v))
            out[v] = [" ".join(t for t, _, _, _ in row) for row in rows]
        return out

    def edges(self) -> dict:
        """What each edge says: (source, target, argument slot) -> its label lines (none
        for an edge into or out of a collapsed call); a chip's edge says what its home's
        would."""
        return {(u, v, k): [t for t, _ in self.painter.edge_look(chips.home(u), v, e)[0]]
                if e is not None else [] for u, v, k, e in self.view.edges}

    def legend(self) -> list[tuple[str, str]]:
        """What the colours say: (meaning, colour) for the box fills and the text lines."""
        s = self.painter.style
        return [("input that gets a gradient", s["param"]), ("input without one", s["data"]),
                ("op", s["op"]), ("the output", s["out"]), ("constant", s["const"]),
                ("value", s["value"]), ("gradient", s["grad"])]

    def __repr__(self) -> str:
        return (f"<gradtrace Drawing: {len(self.view.nodes)} boxes, {len(self.view.edges)} "
                f"edges, layout {self.layout}, style {self.options.style}>")


def make_drawing(trace, fmt: str | None = None, **options) -> Drawing:
    """The drawing of ``trace`` for ``options`` (checked here), with what format ``fmt``
    always turns on (the page and the GIF play the backward pass: it runs if it has not)."""
    opts = make_options(**{**DEFAULTS.get(fmt or "", {}), **options,
                           **PRESETS.get(fmt or "", {})})
    if opts.heat and fmt in HEAT_DEFAULTS:
        opts = make_options(**{**HEAT_DEFAULTS[fmt], **options, **PRESETS.get(fmt or "", {})})
    if fmt in PRESETS and not trace.has_grads:
        trace.backward()
    return Drawing(trace, opts)


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
