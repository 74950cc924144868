"""gradtrace's own functions for use inside a traced function.

Each works on plain floats and arrays too (computing without recording), so the
same model code runs traced, untraced, and under the finite-difference check.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np

from . import ops
from .errors import TraceError
from .ops.core import normalize_axes
from .record.dispatch import record
from .record.recorder import ACTIVE
from .record.traced import Traced


def _plain(prim, x, params=None):
    """Compute a primitive on a plain value: floats stay floats."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and prim.scalar is not None:
        try:
            return prim.scalar(float(x), **(params or {}))
        except (ArithmeticError, ValueError):
            return ops.scalar_fallback(prim, (float(x),), params)
    return prim.array(np.asarray(x, dtype=float), **(params or {}))


def _unary(prim, x, params=None):
    if type(x) is Traced:
        return record(prim, (x,), params)
    return _plain(prim, x, params)


def sigmoid(x):
    """The logistic function σ(x) = 1 / (1 + e^−x), computed without overflow."""
    return _unary(ops.SIGMOID, x)


def relu(x):
    """max(x, 0), with relu'(0) = 0."""
    return _unary(ops.RELU, x)


def tanh(x):
    """Hyperbolic tangent (the same op as np.tanh)."""
    return _unary(ops.TANH, x)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis``, shifted by the max for stability."""
    return _unary(ops.SOFTMAX, x, softmax_params(x, axis))


def softmax_params(x, axis) -> dict:
    return {"axis": normalize_axes(axis, np.ndim(value(x)), "gt.softmax")}


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x) along ``axis``, shifted by the max for stability."""
    return _unary(ops.LOGSUMEXP, x, {"axis": normalize_axes(axis, np.ndim(value(x)),
                                                            "gt.logsumexp"),
                                     "keepdims": bool(keepdims)})


def label(x, name: str):
    """Give a traced value a display name, e.g. ``gt.label(w * a + b, "z(L)")``.

    Returns ``x`` so it can wrap an expression.  Outside a trace it does nothing.
    """
    if not isinstance(name, str):
        raise TraceError(f"gt.label needs a string name, got {type(name).__name__}")
    if not name.strip():
        raise TraceError("gt.label needs a name with at least one visible character")
    if type(x) is Traced:
        if x._rec.finished:
            raise TraceError(f"gt.label({name!r}): this value belongs to a trace that has "
                             "finished, and a finished trace is not renamed; call gt.label "
                             "inside the traced function")
        x._rec.set_name(x._id, name)
    return x


def value(x):
    """The plain value behind a traced value (or ``x`` itself when not traced)."""
    return x.value if type(x) is Traced else x


@contextmanager
def scope(name: str):
    """Group the ops recorded inside the ``with`` block under ``name``.

    Scopes nest with each other and with function calls; a diagram draws each as
    a cluster.  Outside a trace it does nothing.
    """
    if not isinstance(name, str):
        raise TraceError(f"gt.scope needs a string name, got {type(name).__name__}")
    if not name.strip():
        raise TraceError("gt.scope needs a name with at least one visible character")
    rec = ACTIVE.get()
    if rec is None:
        yield
        return
    entry = (rec.scope_depth(sys._getframe(2)), rec.instance_label(name))
    rec.scopes.append(entry)
    rec.scope_version += 1
    try:
        yield
    finally:
        rec.scopes.remove(entry)
        rec.scope_version += 1
