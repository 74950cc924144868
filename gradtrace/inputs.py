"""Naming, validating and rebuilding a function's inputs.

``fn(params={"W1": W, "b1": b}, xs=[x0, x1])`` has leaves ``params.W1``,
``params.b1``, ``xs[0]``, ``xs[1]``.  The tracer replaces each floating leaf by a
traced stand-in; the finite-difference check replaces one leaf by a nudged copy.
Both go through ``rebuild``.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import GradtraceWarning, TraceError

_SIGNATURES: weakref.WeakKeyDictionary[Callable, inspect.Signature] = weakref.WeakKeyDictionary()


def signature(fn: Callable) -> inspect.Signature:
    """``inspect.signature``, remembered while ``fn`` lives: it costs more than tracing a
    small model.  Held weakly, so a traced closure and what it closes over are freed."""
    try:
        sig = _SIGNATURES.get(fn)
    except TypeError:            # not weak-referenceable (a builtin): no cache
        return inspect.signature(fn)
    if sig is None:
        sig = _SIGNATURES[fn] = inspect.signature(fn)
    return sig


def bind(fn: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The function's arguments by parameter name, defaults filled in."""
    if not callable(fn):
        raise TraceError(f"gt.trace needs a function to trace, got a {type(fn).__name__}")
    try:
        sig = signature(fn)
    except (TypeError, ValueError):
        return {f"args[{i}]": a for i, a in enumerate(args)} | dict(kwargs)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TraceError(f"cannot call {getattr(fn, '__name__', 'the function')} with the "
                         f"given inputs: {e}") from None
    bound.apply_defaults()
    named: dict[str, Any] = {}
    for pname, val in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            for i, v in enumerate(val):
                named[f"{pname}[{i}]"] = v
        elif kind is inspect.Parameter.VAR_KEYWORD:
            named.update(val)
        else:
            named[pname] = val
    return named


def call(fn: Callable, named: dict[str, Any], template: dict[str, Any]):
    """Call ``fn`` with arguments laid out as ``bind`` found them."""
    try:
        sig = signature(fn)
    except (TypeError, ValueError):
        pos = [named[k] for k in template if k.startswith("args[")]
        return fn(*pos, **{k: v for k, v in named.items() if not k.startswith("args[")})
    args: list = []
    kwargs: dict = {}
    for pname, param in sig.parameters.items():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            i = 0
            while f"{pname}[{i}]" in named:
                args.append(named[f"{pname}[{i}]"])
                i += 1
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update({k: v for k, v in named.items()
                           if k not in sig.parameters and not k.startswith(f"{param.name}[")})
        elif param.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[pname] = named[pname]
        elif pname in named:
            args.append(named[pname])
    return fn(*args, **kwargs)


def classify(name: str, value) -> str:
    """'float' (traced), 'array' (traced), 'const' (passed through) or raises."""
    if isinstance(value, bool) or value is None:
        return "const"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, (int, np.integer, np.bool_)):
        return "const"
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return "float" if value.ndim == 0 else "array"
        if kind in "biu":
            return "const"
        raise TraceError(
            f"input '{name}' is a numpy array of dtype {value.dtype}; gradtrace traces float "
            "arrays (convert with np.asarray(x, dtype=float)); integer and bool arrays are "
            "passed through as constants")
    if isinstance(value, (str, bytes)):
        return "const"      # a setting such as einsum subscripts or an activation's name
    if isinstance(value, complex):
        raise TraceError(f"input '{name}' is complex; gradtrace differentiates real floats only")
    if not callable(value) and not isinstance(value, (type, range, slice)):
        warnings.warn(f"input '{name}' is a {type(value).__name__}, which gradtrace does not "
                      "trace: it is passed through as a constant and gets no gradient (pass "
                      "floats or float arrays, or dicts/lists/tuples of them, to trace them)",
                      GradtraceWarning, stacklevel=5)
    return "const"


def rebuild(value, path: str, leaf: Callable[[str, Any], Any]):
    """Copy a nested input, replacing each leaf by ``leaf(path, value)``."""
    if isinstance(value, dict):
        return {k: rebuild(v, _child(path, k), leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [rebuild(v, f"{path}[{i}]", leaf) for i, v in enumerate(value)]
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    return leaf(path, value)


def _child(path: str, key) -> str:
    return f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"


def wanted(wrt) -> Callable[[str], bool]:
    """Does a leaf name fall under ``wrt`` (names or prefixes such as ``params``)?"""
    if wrt is None:
        return lambda name: True
    prefixes = [wrt] if isinstance(wrt, str) else list(wrt)
    exact = set(prefixes)
    return lambda name: name in exact or any(
        name.startswith(w + ".") or name.startswith(w + "[") for w in prefixes)


def check_wrt(wrt, names: list[str]) -> None:
    """Every name in ``wrt`` must match at least one floating input."""
    if wrt is None:
        return
    for w in [wrt] if isinstance(wrt, str) else wrt:
        if not any(wanted([w])(n) for n in names):
            raise TraceError(f"wrt names '{w}', which is not a floating input; the floating "
                             f"inputs are: {', '.join(names) or '(none)'}")
