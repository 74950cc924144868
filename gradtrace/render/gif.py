"""An animated GIF of the backward pass, for READMEs and slides where a page cannot go.

Each frame is one step of the step-through (``story``) drawn by Graphviz from the same
DOT: a line that has not happened yet keeps its place but takes its box's colour, and
the node being processed is outlined.  Only colours change between frames, so the
geometry never jumps.  A gradient is shown once its sum is complete (a still frame
cannot grow text in place).  Pillow assembles the frames (the ``gif`` extra): GIF
needs palette quantisation and LZW, which are not worth writing again here.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import RenderError
from . import chips
from .dot import dot_text
from .drawing import Drawing
from .output import DEFAULT_TIMEOUT, graphviz_program, run_graphviz, write_atomic
from .story import line_ids, main_line, story

DPI = 80     # 10 pt edge labels come out 11 px high; the seed chain's frames are 716 px wide
FRAME_MS = 1100
LAST_FRAME_MS = 3500


class Frame:
    """One moment: which lines are visible and which boxes and edges are lit."""

    def __init__(self, visible: set[str], now: set[str], highlight: str, painter):
        self.visible, self.now, self.highlight = visible, now, highlight
        self.painter = painter

    def node_rows(self, v: int, rows: list, fill: str) -> list:
        out = []
        for line_id, row in zip(line_ids(self.painter, v), rows):
            hidden = line_id is not None and main_line(line_id) not in self.visible
            out.append([(t, fill if hidden else c, size, bold) for t, c, size, bold in row])
        return out

    def edge_look(self, eid: str, lines, color, width, bg):
        kinds = "lc"
        lines = [(t, c if f"{kinds[i]}{eid}" in self.visible else bg)
                 for i, (t, c) in enumerate(lines)]
        if f"e{eid}" in self.now:
            return lines, self.highlight, 2.5
        return lines, color, width


def frames(trace, painter, steps) -> list[Frame]:
    """From the end of the forward pass to the end of the backward pass."""
    shown: set[str] = set()
    said: dict[str, str] = {}
    out = []
    hi = painter.style["highlight"]
    for s in steps:
        if s.kind == "update":
            break
        shown.update(s.show)
        said.update(s.text)
        if s.kind != "backward" and s is not _last_forward(steps):
            continue
        final = {i for i in shown if i[0] != "g" or i not in said or
                 said[i] == painter.grad_text(int(i[1:]), painter.opts.terse)}
        out.append(Frame(final, set(s.now) | set(s.also), hi, painter))
    return out


def _last_forward(steps):
    return [s for s in steps if s.kind in ("inputs", "forward")][-1]


def write_gif(drawing: Drawing, path, timeout: float | None = None) -> Path:
    """Write the animation of the drawing's backward pass to ``path`` (a drawing made
    for it: ``make_drawing(trace, "gif", ...)``)."""
    try:
        from PIL import Image
    except ImportError:
        raise RenderError("writing a GIF needs Pillow: pip install 'gradtrace[gif]'") from None
    if drawing.fast:
        raise RenderError(f"the graph has {len(drawing.view.nodes):,} boxes: too big to "
                          "animate legibly; fold calls (--collapse-all, --depth 1) or write "
                          ".html")
    graphviz_program("dot", "writing GIF", "write .html, the step-through page")
    trace, painter = drawing.trace, drawing.painter
    images = []
    steps = story(trace, painter)
    chips.light(steps, drawing.view)          # a chip lights with the edge it sends
    for frame in frames(trace, painter, steps):
        png = run_graphviz(dot_text(drawing, frame, dpi=DPI), "png",
                           DEFAULT_TIMEOUT if timeout is None else timeout, purpose="gif")
        images.append(Image.open(io.BytesIO(png)).convert("RGB"))
    sizes = {im.size for im in images}
    if len(sizes) != 1:
        raise RenderError(f"internal: the frames came out in {len(sizes)} sizes")
    buf = io.BytesIO()
    durations = [FRAME_MS] * (len(images) - 1) + [LAST_FRAME_MS]
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0)
    write_atomic(Path(path), buf.getvalue())
    return Path(path)
