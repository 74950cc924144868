"""Rendering options: every keyword ``render`` / ``to_dot`` / ``show`` / ``drawing``
accept, checked once where a drawing is made, with the behaviours a style turns on
(``palette.STYLES``).  The choices are defined here once; the CLI's options use them."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import RenderError
from ..notation import DIGITS
from .lesson import VIEWS as VIEWS  # the CLI offers these
from .palette import PALETTES, STYLES, heat_palette

STYLE_NAMES = tuple(sorted(STYLES))
RANKDIRS = ("auto", "LR", "TB", "RL", "BT")
LAYOUTS = ("auto", "dot", "fast")
# how an input used across many steps is drawn (render/chips.py): once, with a reference
# chip beside each later use, or with an edge to every use
SHARES = ("chips", "edges")
SHARE_HELP = ("chips: an input used across many steps (a loop's weight) is drawn once, with a "
              "small dashed chip beside each later use; edges: an edge to every use.")
DIGITS_RANGE = (1, 17)
# output formats by file suffix (what ``format=`` and ``--format`` accept are the values)
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
           ".json": "json", ".html": "html", ".htm": "html", ".gif": "gif"}
FORMAT_NAMES = ("svg", "png", "pdf", "dot", "json", "html", "gif")


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
    heat: bool = False              # box fill by |gradient|, edges by |contribution|
    view: str = "lesson"            # lesson: one box per named value; ops: one per operation
    legend: bool = False            # say what fills, colours, ←, ‖·‖ and VJP mean
    whatif: bool | None = None      # the page's live what-if (None: on; False leaves it out)
    share: str = "chips"            # chips | edges: how an input shared by many steps is drawn

    def __post_init__(self):
        self._check_types()
        if self.style not in STYLES:
            raise RenderError(f"unknown style '{self.style}'; choose one of "
                              f"{', '.join(STYLE_NAMES)}")
        for behaviour in STYLES[self.style]:      # compact is terse, heat is heat
            setattr(self, behaviour, True)
        if self.layout not in LAYOUTS:
            raise RenderError(f"unknown layout '{self.layout}'; choose {_either(LAYOUTS)}")
        if self.view not in VIEWS:
            raise RenderError(f"unknown view '{self.view}'; choose lesson (one box per value "
                              "your code names) or ops (one box per operation)")
        if self.share not in SHARES:
            raise RenderError(f"unknown share '{self.share}'; {SHARE_HELP}")
        if self.whatif is not None and not isinstance(self.whatif, bool):
            raise RenderError(f"whatif must be True or False, not {self.whatif!r}")
        if self.rankdir is None:
            self.rankdir = "auto"
        if self.rankdir not in RANKDIRS:
            raise RenderError(f"unknown rankdir '{self.rankdir}'; choose {_either(RANKDIRS)}")
        low, high = DIGITS_RANGE
        if not _whole(self.digits) or not low <= self.digits <= high:
            raise RenderError(f"digits must be a whole number from {low} to {high}, "
                              f"not {self.digits!r}")

    def _check_types(self) -> None:
        """Options of the wrong type are named here, not met as a TypeError deep inside."""
        for name in ("style", "layout", "share"):
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
        """The style's colours; with heat, text inks that stay legible on heat's fills."""
        return heat_palette(PALETTES[self.style]) if self.heat else PALETTES[self.style]


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _either(choices) -> str:
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def make_options(**options) -> Options:
    """The options, checked: an unknown keyword or value is a RenderError naming it."""
    names = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise RenderError(f"unknown rendering option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    return Options(**options)
