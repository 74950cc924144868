"""The update step the step-through page ends on: gradient descent moves the model's
parameters, never its data.

Which inputs are parameters: ``params=`` when given; else ``wrt`` when the trace was
made with one; else a torch trace's ``nn.Parameter``s; else every input except the
data, where data means an argument named like data (``x``, ``y``, ``targets`` ...,
``DATA_NAMES``) or named in ``data=`` (or in the function's ``gradtrace_data``
attribute).  The moved values are put back into the function, which is traced again,
so the page can show every value of the new forward pass, not only the new cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..calculus.rerun import kept, rerun_kept, weighted
from ..core.graph import nodes_of
from ..core.tape import ARGS, KIND, OP, VALUE
from ..errors import GradtraceError, RenderError
from ..record import inputs as _inputs

DATA_NAMES = frozenset({"x", "X", "xs", "y", "Y", "ys", "target", "targets", "label",
                        "labels", "data", "inputs", "batch"})


@dataclass
class Update:
    """One gradient-descent step and what it did to the forward pass."""

    lr: float
    moved: dict = field(default_factory=dict)          # input name -> its new value
    held: list = field(default_factory=list)           # (input name, why it stayed)
    before: float = 0.0                                # the cost before the step
    cost: float | None = None                          # ... and after (None: not re-run)
    values: dict | None = None                         # node id -> value after the step
    why_not: str = ""                                  # why cost or values are missing


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
    hit = _inputs.wanted(given)
    for g in given:
        if not any(_inputs.wanted([g])(n) for n in names):
            raise RenderError(f"{what}= names '{g}', which is not a floating input; the "
                              f"floating inputs are: {', '.join(names) or '(none)'}")
    return {n for n in names if hit(n)}


def split(trace, params=None, data=None) -> tuple[list[str], list[tuple[str, str]]]:
    """(the inputs the update moves, [(input held fixed, why)]) by the rule above."""
    names = list(trace.inputs)
    declared = _names(getattr(trace.function, "gradtrace_data", None), "gradtrace_data")
    is_data = _matching(names, _names(data, "data"), "data") | \
        {n for n in names if named_like_data(n)} | \
        {n for n in names if declared and _inputs.wanted(declared)(n)}
    if params is not None:
        chosen = _matching(names, _names(params, "params"), "params")
        both = sorted(chosen & _matching(names, _names(data, "data"), "data"))
        if both:
            raise RenderError(f"{', '.join(both)} named both in params= and in data=")
        lacking = sorted(chosen - set(trace.wrt))
        if lacking:
            raise RenderError(f"params= names {', '.join(lacking)}, which has no gradient (not "
                              "in wrt); trace with it in wrt, or leave it out of params")
        other = "not in params"
    elif getattr(trace, "wrt_given", False):
        chosen, other = set(trace.wrt), "not in wrt"
    elif trace.runner is not None:
        chosen, other = set(trace.parameter_names() or ()) - is_data, "not a parameter"
    else:
        chosen, other = set(names) - is_data, ""
    moved = [n for n in names if n in chosen and n in trace.wrt]
    held = [(n, "data" if n in is_data and n not in chosen else other or "no gradient")
            for n in names if n not in moved]
    return moved, held


def held_line(held: list[tuple[str, str]], texts: dict, inputs: dict) -> str:
    """``held fixed: x, y (data); a (not in params)``."""
    groups: dict[str, list[str]] = {}
    for name, why in held:
        groups.setdefault(why, []).append(texts.get(inputs[name], name))
    parts = [f"{', '.join(ns[:12])}{' …' if len(ns) > 12 else ''} ({why})"
             for why, ns in groups.items()]
    return "held fixed: " + "; ".join(parts)


def step(trace, lr: float, params=None, data=None) -> Update:
    """Move every parameter by −η·∂C/∂w and run the function again on the result."""
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise GradtraceError(f"the learning rate must be a positive number, not {lr!r}")
    moved, held = split(trace, params, data)
    nodes = nodes_of(trace.graph)
    up = Update(lr, held=held, before=weighted(trace, trace.value))
    for name in moved:
        node = nodes[trace.inputs[name]]        # numpy, whatever t.grads hands out
        up.moved[name] = node["value"] - lr * node["grad"]
    try:
        up.values = _traced_again(trace, up.moved)
        up.cost = weighted(trace, up.values[trace.output]) if up.values is not None \
            else weighted(trace, rerun_kept(trace, up.moved))
    except GradtraceError as e:
        up.values, up.cost, up.why_not = None, None, str(e)
    return up


def _traced_again(trace, moved: dict) -> dict | None:
    """Every node's value with the moved inputs (None when the function, run again,
    records a different graph: a branch went the other way)."""
    with kept(trace):          # the caller's random state and module buffers stay as they were
        again = trace.traced_again(moved)
    old, new = trace.tape.records, again.tape.records
    if len(old) != len(new) or any(a[KIND] != b[KIND] or a[OP] is not b[OP] or a[ARGS] != b[ARGS]
                                   for a, b in zip(old, new)):
        return None
    return {v: r[VALUE] for v, r in enumerate(new)}
