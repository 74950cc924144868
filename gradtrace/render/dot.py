"""DOT text for a trace: nodes in id order, clusters per scope, collapsed calls.

The output is a pure function of the graph and the options: nodes in id order,
edges in (consumer, argument) order, numbers formatted with fixed digits, so the
same trace gives byte-identical DOT on every run and machine.
"""

from __future__ import annotations

from ..graph import nodes_of
from . import fast as fast_draw
from . import layout
from .labels import esc
from .legend import legend_dot
from .lesson import LessonTrace, for_view
from .options import make_options
from .painter import Painter
from .view import build_view

MAX_ORDERED_FAN_OUT = 3     # the lesson view pins argument order up to this many uses of a value


def _prepare(trace, options: dict, frame=None):
    opts = make_options(**options)
    trace = for_view(trace, opts.view)      # painter.t: the trace as this view draws it
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
    return fast_draw.scene(painter.t, view, painter, opts, _fixed(opts)) if fast else None


def _fixed(opts) -> str | None:
    """The orientation asked for, or None to let the layout choose."""
    return None if opts.rankdir == "auto" else opts.rankdir


def to_dot(trace, frame=None, **options) -> str:
    """The diagram as DOT text (deterministic); ``frame``: one moment of the step-through,
    drawn with the same geometry as every other (hidden lines keep their place)."""
    opts, view, painter, fast = _prepare(trace, options, frame)
    trace = painter.t
    graph = trace.graph
    if fast:
        return fast_draw.dot_text(fast_draw.scene(trace, view, painter, opts, _fixed(opts)))
    s = painter.s
    rankdir = _fixed(opts)
    stagger = {}
    ordered = _ordered(painter, view)
    if rankdir is None:   # dot's drawing will have about the shape of the fast layout's
        placed = fast_draw.scene(trace, view, painter, opts, None).placement
        rankdir = placed.rankdir
        if max(placed.width, placed.height) > 2 * min(placed.width, placed.height) and \
                not ordered:
            stagger = _staggered_leaves(view)
    lines = [
        "digraph gradtrace {",
        f'  graph [rankdir={rankdir}, bgcolor="{s["bg"]}", fontname="{s["font"]}", '
        f'fontcolor="{s["fg"]}", nodesep=0.25, ranksep=0.45, newrank=true'
        f'{", ordering=in" if ordered else ""}];',
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
    if opts.legend:
        lines.append(legend_dot(painter))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ordered(painter, view) -> bool:
    """A folded lesson view keeps each value's arguments in the order the code wrote
    them (w(L), a(L−1), b(L) above z(L); w(L)jk row by row), which also keeps a chain's
    spine straight; its inputs are then not staggered over ranks (that would cross
    the ordered edges through each other's labels).  Collapsed calls have no argument
    order to keep, and a value shared by many steps (a loop's weight) is better placed
    freely: pinned orders would run its edges through the steps' labels."""
    if not isinstance(painter.t, LessonTrace) or view.groups:
        return False
    uses: dict = {}
    for u, v, _, _ in view.edges:
        uses.setdefault(u, set()).add(v)
    return max((len(vs) for vs in uses.values()), default=0) <= MAX_ORDERED_FAN_OUT


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
        scope = () if isinstance(v, str) else nodes_of(graph)[v]["scope"]
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
