"""Rendering options: every keyword ``render`` / ``to_dot`` / ``show`` accept, checked
once, with the behaviours a style turns on (``palette.STYLES``)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import RenderError
from ..notation import DIGITS
from .lesson import VIEWS
from .palette import PALETTES, STYLES


@dataclass
class Options:
    """Rendering options (all keyword arguments of ``to_dot`` / ``render``)."""

    style: str = "default"          # default | 3b1b | compact | heat: a palette and presets
    values: bool = True             # show each node's value
    grads: bool = True              # show gradients (when backward has run)
    locals: bool = True             # show local derivatives on edges
    digits: int = DIGITS            # significant digits
    rankdir: str | None = "auto"    # auto (the squarer of LR and TB), LR, TB, RL, BT
    collapse: object = None         # True (every top-level scope) or scope names
    depth: int | None = None        # fold every call deeper than this many levels
    highlight: str | None = None    # emphasise the paths from this node to the output
    layout: str = "auto"            # auto | dot | fast
    fast_threshold: int = 800       # auto: past this many nodes use the fast layout
    clusters: bool = True           # draw scopes as clusters
    products: bool = False          # write scalar contributions as upstream · local = product
    element_ids: bool = False       # SVG ids n<v> / e<u>_<v>_<k> (the HTML view finds them)
    terse: bool = False             # short labels: values and ∇ only, no edge text
    heat: bool = False              # edge colour and width follow |contribution|
    view: str = "lesson"            # lesson: one box per named value; ops: one per operation
    legend: bool = False            # say what fills, colours, ←, ‖·‖ and VJP mean

    def __post_init__(self):
        self._check_types()
        if self.style not in STYLES:
            raise RenderError(f"unknown style '{self.style}'; choose one of "
                              f"{', '.join(sorted(STYLES))}")
        for behaviour in STYLES[self.style]:      # compact is terse, heat is heat
            setattr(self, behaviour, True)
        if self.layout not in ("auto", "dot", "fast"):
            raise RenderError(f"unknown layout '{self.layout}'; choose auto, dot or fast")
        if self.view not in VIEWS:
            raise RenderError(f"unknown view '{self.view}'; choose lesson (one box per value "
                              "your code names) or ops (one box per operation)")
        if self.rankdir is None:
            self.rankdir = "auto"
        if self.rankdir not in ("auto", "LR", "TB", "RL", "BT"):
            raise RenderError(f"unknown rankdir '{self.rankdir}'; choose auto, LR, TB, RL or BT")
        if not _whole(self.digits) or not 1 <= self.digits <= 17:
            raise RenderError(f"digits must be a whole number from 1 to 17, not {self.digits!r}")

    def _check_types(self) -> None:
        """Options of the wrong type are named here, not met as a TypeError deep inside."""
        for name in ("style", "layout"):
            if not isinstance(getattr(self, name), str):
                raise RenderError(f"{name} must be a string, not {getattr(self, name)!r}")
        if self.rankdir is not None and not isinstance(self.rankdir, str):
            raise RenderError(f"rankdir must be a string, not {self.rankdir!r}")
        if self.highlight is not None and not isinstance(self.highlight, str):
            raise RenderError(f"highlight must be a node name (a string), not {self.highlight!r}")
        c = self.collapse
        if not (c is None or isinstance(c, (bool, str)) or (
                isinstance(c, (list, tuple, set, frozenset)) and all(isinstance(x, str)
                                                                     for x in c))):
            raise RenderError(f"collapse must be True, a scope name or a list of scope names, "
                              f"not {c!r}")
        if self.depth is not None and not (_whole(self.depth) and self.depth >= 0):
            raise RenderError(f"depth must be a whole number ≥ 0, not {self.depth!r}")
        if not (_whole(self.fast_threshold) and self.fast_threshold >= 0):
            raise RenderError(f"fast_threshold must be a whole number ≥ 0, not "
                              f"{self.fast_threshold!r}")

    @property
    def palette(self) -> dict[str, str]:
        return PALETTES[self.style]


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def make_options(**options) -> Options:
    names = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise RenderError(f"unknown rendering option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    return Options(**options)
