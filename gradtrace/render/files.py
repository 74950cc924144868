"""Every output file a trace can be written to, chosen by suffix or ``format=``:
drawings (svg, png, pdf, dot) and JSON through ``output``, the step-through page
(html) through ``page``, the animated backward pass (gif) through ``gif``."""

from __future__ import annotations

from pathlib import Path

from ..errors import RenderError
from .gif import write_gif
from .output import format_for, write_atomic
from .output import render as draw
from .page import DEFAULT_LR, page


def render(trace, path, format: str | None = None, timeout: float | None = None,
           lr: float | None = None, whatif: bool | None = None, params=None, data=None,
           **options) -> Path:
    """Write ``trace`` to ``path``; ``lr`` is the learning rate of the HTML page's
    update step (default 0.1), ``params`` / ``data`` which inputs it moves / holds;
    ``whatif=False`` leaves the page's what-if out."""
    path = Path(path)
    fmt = format_for(path, format)
    if whatif is not None and fmt != "html":
        raise RenderError("whatif= switches the HTML page's what-if; it only applies when "
                          "writing .html")
    given = [k for k, v in (("lr", lr), ("params", params), ("data", data)) if v is not None]
    if fmt == "gif":
        if given:
            raise RenderError(f"{given[0]}= sets the update step of the HTML page; a GIF "
                              "shows the backward pass only")
        return write_gif(trace, path, timeout=timeout, **options)
    if fmt == "html":
        text = page(trace, lr=DEFAULT_LR if lr is None else lr, timeout=timeout, whatif=whatif,
                    params=params, data=data, **options)
        write_atomic(path, text.encode("utf-8"))
        return path
    if given:
        raise RenderError(f"{given[0]}= sets the update step of the HTML step-through page; "
                          "it only applies when writing .html")
    return draw(trace, path, format=format, timeout=timeout, **options)
