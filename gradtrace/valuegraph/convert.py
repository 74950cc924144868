"""``gt.from_micrograd(root)``: a micrograd-style Value graph as a gradtrace ``Trace``.

The graph is replayed through gradtrace's own tracer, one op per Value, so the result
is an ordinary trace: gradtrace's backward, local derivatives, fan-out sums, explain,
every diagram and the step-through page work on it unchanged.  The leaves are the
inputs (micrograd gives every leaf a gradient, constants from ``x * 2`` included).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import GradtraceWarning
from ..functions import label, relu, sigmoid, tanh
from ..names.naming import versioned
from ..record.traced import Traced
from ..trace import Trace
from ..tracing import trace
from .checking import ValueCheckReport, value_check
from .grading import GradeReport, grade_trace
from .names import names_for, own_name
from .walk import Step, read

_APPLY: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b, "relu": relu, "tanh": tanh, "sigmoid": sigmoid,
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "neg": lambda a: -a,
}


class MicrogradTrace(Trace):
    """A trace read from a Value graph; remembers which node each Value became, so the
    student's ``.grad`` can be graded against it."""

    steps: list[Step]
    node_of: list[int]

    def grade(self) -> GradeReport:
        """Compare the student's ``.grad`` on every Value with this trace's gradients."""
        return grade_trace(self)

    def check(self, **options) -> ValueCheckReport:
        """Central finite differences of the replayed forward pass, compared with
        gradtrace's chain rule and with your engine's ``.grad`` on every leaf."""
        return value_check(self, super().check(**options))


def _input_names(steps: list[Step], names: list[str]) -> dict[int, str]:
    """Leaf step -> a unique input name (two leaves labelled ``w`` become w₁, w₂)."""
    leaves = [i for i, s in enumerate(steps) if s.op is None]
    counts: dict[str, int] = {}
    for i in leaves:
        counts[names[i]] = counts.get(names[i], 0) + 1
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    for i in leaves:
        n = names[i]
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            n = versioned(n, seen[n])
        out[i] = n
    return out


def from_micrograd(root, name: str | None = None, title: str | None = None) -> MicrogradTrace:
    """Read the graph under ``root`` (any object with ``data``, ``grad``, ``_prev``,
    ``_op``, and ``label`` when present), replay it, and run gradtrace's backward.
    ``name`` renames the root; ``title`` is what the page's heading and messages call
    the graph (the CLI passes your function's name; default: the root's own name)."""
    steps = read(root)
    names = names_for(steps)
    if name:
        names[-1] = name
    title = title or name or own_name(root) or "Value graph"
    leaf_names = _input_names(steps, names)
    node_of: list[int] = []      # filled by the traced run; re-runs (check) pass floats

    def replay(**leaves):
        held: list = [None] * len(steps)
        for i, s in enumerate(steps):
            if s.op is None:
                held[i] = leaves[leaf_names[i]]
            elif s.op == "pow":
                held[i] = held[s.args[0]] ** s.exponent
            else:
                held[i] = _APPLY[s.op](*(held[k] for k in s.args))
            if s.op is not None:
                held[i] = label(held[i], names[i])
        if not node_of and all(isinstance(h, Traced) for h in held):
            node_of.extend(h._id for h in held)
        return held[-1]

    replay.__name__ = replay.__qualname__ = title
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradtraceWarning)      # NaN data is the student's
        t = trace(replay, **{leaf_names[i]: steps[i].data for i in leaf_names})
    t.__class__ = MicrogradTrace
    assert isinstance(t, MicrogradTrace)
    t.steps = steps
    t.node_of = node_of
    t.backward()
    return t


def grade(root, name: str | None = None, title: str | None = None) -> GradeReport:
    """Grade the ``.grad`` values a student's ``backward()`` left on the graph under
    ``root``: ``.ok``, ``.mismatches`` (backward order), ``.first`` and ``.text``."""
    return from_micrograd(root, name=name, title=title).grade()
