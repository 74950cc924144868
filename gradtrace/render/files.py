"""Every output file a trace can be written to, chosen by suffix or ``format=``:
drawings (svg, png, pdf, dot) through ``output``, the step-through page (html)
through ``page``, the animated backward pass (gif) through ``gif``, and JSON.
The options are checked once, here, into the one ``Drawing`` the writer draws."""

from __future__ import annotations

from pathlib import Path

from ..errors import RenderError
from .drawing import Drawing, make_drawing
from .gif import write_gif
from .options import make_options
from .output import format_for, write_atomic, write_drawing
from .page import DEFAULT_LR, page_of


def render(trace, path, format: str | None = None, timeout: float | None = None,
           lr: float | None = None, params=None, data=None, **options) -> Path:
    """Write ``trace`` to ``path``; ``lr`` is the learning rate of the HTML page's
    update step (default 0.1), ``params`` / ``data`` which inputs it moves / holds;
    ``whatif=False`` leaves the page's what-if out."""
    path = Path(path)
    fmt = format_for(path, format)
    if options.get("whatif") is not None and fmt != "html":
        raise RenderError("whatif= switches the HTML page's what-if; it only applies when "
                          "writing .html")
    given = [k for k, v in (("lr", lr), ("params", params), ("data", data)) if v is not None]
    if given and fmt == "gif":
        raise RenderError(f"{given[0]}= sets the update step of the HTML page; a GIF "
                          "shows the backward pass only")
    if given and fmt != "html":
        raise RenderError(f"{given[0]}= sets the update step of the HTML step-through page; "
                          "it only applies when writing .html")
    if fmt == "json":
        make_options(**options)          # checked all the same: a typo is never ignored
        write_atomic(path, trace.to_json(indent=1).encode("utf-8"))
        return path
    return write(make_drawing(trace, fmt, **options), path, fmt, timeout, lr, params, data)


def write(drawing: Drawing, path: Path, fmt: str, timeout: float | None = None,
          lr: float | None = None, params=None, data=None) -> Path:
    """Write ``drawing`` to ``path`` in ``fmt`` (any format but json)."""
    if fmt == "gif":
        return write_gif(drawing, path, timeout=timeout)
    if fmt == "html":
        text = page_of(drawing, DEFAULT_LR if lr is None else lr, timeout, params, data)
        write_atomic(path, text.encode("utf-8"))
        return path
    return write_drawing(drawing, path, fmt, timeout)
