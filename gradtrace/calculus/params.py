"""Which inputs a gradient-descent step moves: the parameters, never the data.

One rule for every view that takes a step (the page's update step, the what-if's
descend button, the panel's "held fixed" line): ``params=`` when given; else ``wrt``
when the trace was made with one; else a torch trace's ``nn.Parameter``s; else every
input except the data, where data means an argument named like data (``x``, ``y``,
``targets`` ..., ``DATA_NAMES``, also ``x1``, ``y_true``) or named in ``data=`` or in
the function's ``gradtrace_data`` attribute.  Only inputs that get a gradient move.
"""

from __future__ import annotations

import re

from ..errors import RenderError, option
from ..names import spelling
from ..record import inputs as _inputs

WRT = option("wrt", "--wrt")

DATA_NAMES = frozenset({"x", "X", "xs", "y", "Y", "ys", "target", "targets", "label",
                        "labels", "data", "inputs", "batch"})


def _names(value, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) and n for n in names):
        raise RenderError(f"{what}= takes input names (strings), not {value!r}")
    return names


def _argument(name: str) -> str:
    """The function argument an input comes from (``params.W1`` -> ``params``)."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def named_like_data(name: str) -> bool:
    """``x``, ``y``, ``targets`` ..., also with a number or a suffix: ``x1``, ``y_true``."""
    arg = _argument(name)
    return arg in DATA_NAMES or re.sub(r"(_\w*|\d+)$", "", arg) in DATA_NAMES


def _matching(names: list[str], given: list[str], what: str) -> set[str]:
    """The inputs ``given`` names (exactly, or as a prefix such as ``params``)."""
    given = [g if any(_inputs.wanted([g])(n) for n in names) else
             spelling.matching(g, names) or g for g in given]     # w-1 typed for w−1
    hit = _inputs.wanted(given)
    for g in given:
        if not any(_inputs.wanted([g])(n) for n in names):
            raise RenderError(f"{option(what + '=', '--' + what)} names '{g}', which is not a "
                              f"floating input; the floating inputs are: "
                              f"{', '.join(names) or '(none)'}{spelling.differs(g, names)}")
    return {n for n in names if hit(n)}


def split(trace, params=None, data=None) -> tuple[list[str], list[tuple[str, str]]]:
    """(the inputs a step moves, [(input held fixed, why)]), in the trace's input order."""
    names = list(trace.inputs)
    declared = _names(getattr(trace.function, "gradtrace_data", None), "gradtrace_data")
    is_data = _matching(names, _names(data, "data"), "data") | \
        {n for n in names if named_like_data(n)} | \
        {n for n in names if declared and _inputs.wanted(declared)(n)}
    if params is not None:
        chosen = _matching(names, _names(params, "params"), "params")
        both = sorted(chosen & _matching(names, _names(data, "data"), "data"))
        if both:
            raise RenderError(f"{', '.join(both)} named both in "
                              f"{option('params=', '--params')} and in {option('data=', '--data')}")
        lacking = sorted(chosen - set(trace.wrt))
        if lacking:
            raise RenderError(f"{option('params=', '--params')} names {', '.join(lacking)}, "
                              f"which has no gradient (not in {WRT}); trace with it in {WRT}, "
                              "or leave it out of params")
        other = "not in params"
    elif getattr(trace, "wrt_given", False):
        chosen, other = set(trace.wrt), "not in wrt"
    elif trace.runner is not None:
        chosen, other = set(trace.parameter_names() or ()) - is_data, "not a parameter"
    else:
        chosen, other = set(names) - is_data, ""
    wrt = set(trace.wrt)
    moved = [n for n in names if n in chosen and n in wrt]
    held = [(n, "data" if n in is_data and n not in chosen else other or "no gradient")
            for n in names if n not in moved]
    return moved, held


def update_targets(trace, params=None, data=None) -> list[str]:
    """The names of the inputs one descent step changes, in the trace's input order."""
    return split(trace, params, data)[0]
