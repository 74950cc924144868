"""The update step the step-through page ends on: gradient descent moves the model's
parameters, never its data.

Which inputs are parameters is ``calculus.params.split``'s one rule (shared with the
what-if's descend button).  The moved values are put back into the function, which is traced again,
so the page can show every value of the new forward pass, not only the new cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..calculus.params import split
from ..calculus.rerun import kept, rerun_kept, weighted
from ..core.graph import nodes_of
from ..core.tape import ARGS, KIND, OP, VALUE
from ..errors import GradtraceError


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
