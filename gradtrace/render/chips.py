"""Reference chips: a shared input drawn once, and a small chip beside each later use.

A weight that every step of an unrolled loop uses would send one long edge per step
across the picture, through the boxes in between.  When the uses of an input (or a
named constant) lie more than ``SPAN`` ranks apart, its box stays where it is first
used and every use on a later rank gets a chip: a small dashed box with the input's
name and no value, whose edge carries the usual label (local derivative and
contribution).  Chips are drawing only: the graph, gradients and contributions are
unchanged, the home box's gradient is still the sum over every use, and the edge
keeps the home's SVG id (``e<home>_<use>_<k>``), so the page and the what-if find
its lines as before.  ``share="edges"`` draws the long edges instead.
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.graph import nodes_of, succs_of
from . import layout
from .labels import esc
from .view import View

# an input whose uses lie more than this many ranks apart is drawn once, at its first
# use, with chips beside the others: an edge from its box then never runs past more
# than SPAN ranks of boxes (a weight of a two- or three-step loop keeps its edges)
SPAN = 2


class Chip(NamedTuple):
    """The reference to input ``home`` drawn beside its use ``use`` (both node ids)."""

    home: int
    use: int

    @property
    def id(self) -> str:
        return f"r{self.home}_{self.use}"


def home(v):
    """The node a view node stands for: a chip's home, else the node itself."""
    return v.home if isinstance(v, Chip) else v


def share(view: View) -> View:
    """``view`` with a chip for every use of a shared input past its first rank (see
    SPAN); the same view when no input is shared that widely."""
    chipped = _chipped_edges(view)
    if not chipped:
        return view
    chips_of: dict = {}         # use -> its chips, in home order
    edges = []
    for u, v, k, e in view.edges:
        if (u, v) in chipped:
            chip = Chip(u, v)
            if chip not in chips_of.setdefault(v, []):
                chips_of[v].append(chip)
            u = chip
        edges.append((u, v, k, e))
    nodes: list = []
    shared: dict = {}
    for v in view.nodes:
        for chip in sorted(chips_of.get(v, ())):   # just before its use: a chip is a leaf
            nodes.append(chip)                     # the layout places next to its consumer
            shared.setdefault(chip.home, []).append(chip)
        nodes.append(v)
    return View(nodes, edges, view.groups, view.member_of, shared)


def _chipped_edges(view: View) -> set:
    """The (input, use) pairs drawn with a chip: uses on a later rank than the input's
    first, for an input whose uses lie more than SPAN ranks apart.  Ranks are the
    layered layout's (longest path from the inputs), which is how dot ranks them too."""
    index = {v: i for i, v in enumerate(view.nodes)}
    src = [index[u] for u, _, _, _ in view.edges]
    dst = [index[v] for _, v, _, _ in view.edges]
    layer = _ranks(len(view.nodes), src, dst)
    fed = set(dst)
    uses: dict = {}             # a leaf (input or constant) -> the layers of its uses
    for (u, v, _, e), i, j in zip(view.edges, src, dst):
        if i not in fed and e is not None and isinstance(u, int) and isinstance(v, int):
            uses.setdefault(u, {})[v] = layer[j]
    chipped: set = set()
    for u, at in uses.items():
        first = min(at.values())
        if max(at.values()) - first > SPAN:
            chipped.update((u, v) for v, rank in at.items() if rank > first)
    return chipped


def _ranks(n: int, src: list, dst: list) -> list:
    """The layered layout's ranks, with every op of inputs and constants alone (``x[t] @ W``
    in the every-op view) moved down next to its first use, as dot places it: otherwise
    all of a loop's ``x[t] @ W`` would share the first rank and their weight would look
    used in one place.  (Only such ops: a whole computation from inputs, one sample of a
    batch loop, stays where the layered layout puts it.)"""
    layer = layout.layers_of(n, src, dst)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in zip(src, dst):
        if u < v:
            preds[v].append(u)
            succs[u].append(v)
    for v in reversed(range(n)):
        if preds[v] and succs[v] and all(not preds[u] for u in preds[v]):
            layer[v] = min(layer[w] for w in succs[v]) - 1
    return layer


# ---------------------------------------------------------------- how a chip looks
def rows(painter, chip: Chip) -> list[list[tuple]]:
    """A chip says only its input's name, small: no value, no gradient."""
    fade = painter.faded(chip.home)
    return [[(painter.texts[chip.home], painter.ink("fg", fade), 10, False)]]


def look(painter, chip: Chip) -> tuple[str, str]:
    """(fill, border): the home box's fill, so the chip reads as the same input."""
    a = nodes_of(painter.graph)[chip.home]
    fade = painter.faded(chip.home)
    if a["kind"] == "const":
        return painter.style["const"], painter.ink("dim", fade)
    fill, border, _ = painter.look(chip.home, a)
    return fill, painter.style["faded"] if fade else border


def hover(painter, chip: Chip) -> str:
    """What the pointer shows on a chip: which box it refers to, and that the gradient
    is the sum over all uses there (the same for every chip of one input: said once)."""
    said = painter.chip_hovers.get(chip.home)
    if said is None:
        said = painter.chip_hovers[chip.home] = _hover(painter, chip)
    return said


def _hover(painter, chip: Chip) -> str:
    name = painter.texts[chip.home]
    where = painter.where(chip.home)
    uses = sum(len(keyed) for keyed in succs_of(painter.graph)[chip.home].values())
    text = (f"{name}: a reference to the box {where}, drawn once where it is first used; "
            f"this edge is one of its {uses} uses")
    a = nodes_of(painter.graph)[chip.home]
    if painter.has_grads and "grad" in a:
        text += (f". Its gradient, at that box, is the sum over all of them: "
                 f"{painter.grad_text(chip.home, False)}")
    return text


def home_note(painter, v: int) -> str:
    """A home box's hover adds where its chips are."""
    chips = painter.shared.get(v)
    if not chips:
        return ""
    names = [painter.texts[c.use] for c in chips[:6]] + (["…"] if len(chips) > 6 else [])
    return (f"drawn once; the dashed chips {painter.texts[v]} beside "
            f"{', '.join(names)} refer to this box")


def dot_attrs(painter, chip: Chip, frame=None) -> str:
    """DOT attributes of a chip: a small rounded, dashed box; ``frame``: a GIF frame."""
    (text, colour, size, _), = rows(painter, chip)[0]
    fill, border = look(painter, chip)
    pen = ""
    if frame is not None and chip.id in frame.now:
        border, pen = frame.highlight, ", penwidth=2.5"
    return (f'label=<{painter.font(esc(text), colour, size)}>, shape=box, '
            f'style="rounded,dashed,filled", fillcolor="{fill}", color="{border}", '
            f'margin="0.06,0.02", height=0.2, width=0.2{pen}, '
            f'tooltip="{esc(hover(painter, chip))}"{painter.element_id(chip.id)}')


def light(steps, view: View) -> None:
    """A step that lights an edge drawn from a chip lights the chip too (the step
    already lights the home box, where the contribution is summed)."""
    if not view.shared:
        return
    ids = {(c.home, c.use): c.id for chips in view.shared.values() for c in chips}
    for step in steps:
        for lit in step.now:
            if lit[0] != "e":
                continue
            u, v, _ = lit[1:].split("_")
            chip_id = ids.get((int(u), int(v)))
            if chip_id is not None and chip_id not in step.also:
                step.also.append(chip_id)
