"""DOT text for a trace: nodes in id order, clusters per scope, collapsed calls.

The output is a pure function of the graph and the options: nodes in id order,
edges in (consumer, argument) order, numbers formatted with fixed digits, so the
same trace gives byte-identical DOT on every run and machine.
"""

from __future__ import annotations

from ..core.graph import nodes_of
from . import chips
from . import fast as fast_draw
from .drawing import Drawing, make_drawing
from .labels import esc
from .legend import legend_dot
from .lesson import LessonTrace
from .view import box_id

MAX_ORDERED_FAN_OUT = 3     # the lesson view pins argument order up to this many uses of a value
SPINE_WEIGHT = 10           # how much straighter dot keeps a loop's h₁ → h₂ than other edges


def to_dot(trace, frame=None, **options) -> str:
    """The diagram of ``trace`` as DOT text (see ``dot_text``)."""
    return dot_text(make_drawing(trace, **options), frame)


def dot_text(drawing: Drawing, frame=None, dpi: int | None = None) -> str:
    """The drawing as DOT text (deterministic); ``frame``: one moment of the animation,
    drawn with the same geometry as every other (hidden lines keep their place);
    ``dpi``: the bitmap resolution Graphviz draws at."""
    if drawing.fast:
        return fast_draw.dot_text(drawing.scene, dpi)
    painter, view = drawing.painter, drawing.view
    s = painter.style
    rankdir, width, height = drawing.shape
    stagger = {}
    ordered = _ordered(painter, view)
    if drawing.options.rankdir == "auto" and max(width, height) > 2 * min(width, height) \
            and not ordered:
        stagger = _staggered_leaves(view)
    lines = [
        "digraph gradtrace {",
        *([f"  graph [dpi={dpi}];"] if dpi else []),
        f'  graph [rankdir={rankdir}, bgcolor="{s["bg"]}", fontname="{s["font"]}", '
        f'fontcolor="{s["fg"]}", nodesep=0.25, ranksep=0.45, newrank=true'
        f'{", ordering=in" if ordered else ""}];',
        f'  node [fontname="{s["font"]}", fontsize=12, fontcolor="{s["fg"]}"];',
        f'  edge [fontname="{s["font"]}", fontsize=10, fontcolor="{s["fg"]}", '
        f'color="{s["edge"]}", arrowsize=0.7];',
    ]
    node_lines: dict = {}
    for v in view.nodes:
        if isinstance(v, str):
            scope, members = view.groups[v]
            node_lines[v] = f"  {v} [{painter.group_attrs(v, scope, members)}];"
        elif isinstance(v, chips.Chip):
            node_lines[v] = f"  {v.id} [{chips.dot_attrs(painter, v, frame)}];"
        else:
            node_lines[v] = f"  n{v} [{painter.node_attrs(v, frame)}];"
    if drawing.options.clusters:
        lines.extend(_clustered(drawing.trace.graph, view, node_lines, painter))
    else:
        lines.extend(node_lines[v] for v in view.nodes)
    spine = _spine(drawing.trace.graph, view)
    for u, v, k, e in view.edges:
        su, sv = box_id(u), box_id(v)
        attrs = painter.edge_attrs(chips.home(u), v, e, k, frame) if e is not None \
            else f'color="{s["edge"]}"'
        if u in stagger:
            attrs += f", minlen={stagger[u]}"
        if (u, v) in spine:
            attrs += f", weight={SPINE_WEIGHT}"
        lines.append(f"  {su} -> {sv} [{attrs}];")
    if drawing.options.legend:
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
    if not isinstance(painter.trace, LessonTrace) or view.groups or view.shared:
        return False
    uses: dict = {}
    for u, v, _, _ in view.edges:
        uses.setdefault(u, set()).add(v)
    return max((len(vs) for vs in uses.values()), default=0) <= MAX_ORDERED_FAN_OUT


def _spine(graph, view) -> set:
    """In a drawing with chips (a loop unrolled), the edges from one binding of a variable
    to the next (h₁ → h₂, loss₁ → loss₂): dot keeps them straight, so the steps stack
    instead of drifting sideways one step after another."""
    if not view.shared:
        return set()
    nodes = nodes_of(graph)
    return {(u, v) for u, v, _, _ in view.edges if isinstance(u, int) and isinstance(v, int)
            and nodes[u].get("var") is not None and nodes[u].get("var") == nodes[v].get("var")}


def _staggered_leaves(view, levels: int = 3) -> dict:
    """Edge lengths 1, 2, 3, 1 ... for the inputs and constants in id order, so a wide
    first rank folds into a few (what Graphviz's ``unflatten -l 3`` does); a chip stays
    next to its use."""
    fed = {v for _, v, _, _ in view.edges}
    leaves = [v for v in view.nodes if v not in fed and not isinstance(v, chips.Chip)]
    return {v: 1 + i % levels for i, v in enumerate(leaves)}


def _clustered(graph, view, node_lines, painter) -> list[str]:
    """Nodes nested in one cluster per scope (functions and gt.scope blocks)."""
    s = painter.style
    tree: dict[tuple, list] = {(): []}
    for v in view.nodes:
        if isinstance(v, str):
            scope = view.groups[v][0][:-1]
        else:       # a chip sits in its use's cluster
            scope = nodes_of(graph)[v.use if isinstance(v, chips.Chip) else v]["scope"]
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
