"""Module functions wrapped while a trace runs: the one place gradtrace patches
numpy and ``math`` (process-wide switches, installed by the first running trace and
removed by the last one; a thread that is not tracing passes straight through).

* ``np.array([...])`` and ``np.sum([...])`` of lists holding traced values: numpy
  offers no protocol for these (``np.array`` is not dispatched, and a reduction
  converts a Python list before any traced value is asked), so such a list becomes
  one ``stack`` node.
* Array constructors the user's code calls by name (``np.zeros``, ``np.full_like``,
  ``np.array`` of numbers ...): a float result is a buffer the function may write
  traced values into (``gradtrace.record.inplace``); a traced fill value is broadcast.
* ``math.exp`` and the other differentiable ``math`` functions on traced floats
  record their numpy op.

Everything else goes to numpy and math unchanged.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from .. import ops
from ..errors import TraceError
from ..names.usercode import MATH_NAMES, NUMPY_NAME, called_from_user
from ..ops.core import is_traced, value_of
from . import dispatch
from .dispatch import nested_to_traced, record
from .recorder import ACTIVE

_BROADCAST_TO = ops.PRIMITIVES["broadcast_to"]
_COPY = ops.PRIMITIVES["copy"]
_lock = threading.Lock()
_active = 0
_originals: dict[str, object] = {}
_wrappers: dict[str, tuple] = {}     # path -> (numpy's function, its wrapper)


def _holds_traced(obj) -> bool:
    if is_traced(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_holds_traced(x) for x in obj)
    return False


def _array_like(original):
    @functools.wraps(original)
    def array(obj, *args, **kwargs):
        if ACTIVE.get() is None or not _holds_traced(obj):
            return original(obj, *args, **kwargs)
        dtype = kwargs.get("dtype", args[0] if args else None)
        if dtype is not None and np.dtype(dtype).kind != "f":
            return original(np.asarray(_plain_tree(obj)), *args, **kwargs)
        t = nested_to_traced(obj)
        if dtype is not None and np.dtype(dtype) != t.dtype:
            return t.astype(dtype)
        return t
    return array


def _plain_tree(obj):
    if is_traced(obj):
        return obj._leave("np.array(..., dtype=int)")
    if isinstance(obj, (list, tuple)):
        return [_plain_tree(x) for x in obj]
    return obj


def _list_first(original):
    @functools.wraps(original)
    def reduction(a, *args, **kwargs):
        if ACTIVE.get() is not None and isinstance(a, (list, tuple)) and _holds_traced(a):
            a = nested_to_traced(a)
        return original(a, *args, **kwargs)
    return reduction


def _buffer(rec, made):
    """A float array made by a constructor becomes a buffer the function may write into."""
    if isinstance(made, np.ndarray) and type(made) is np.ndarray and made.dtype.kind == "f" \
            and made.ndim > 0:
        return rec.buffer(made)
    return made


def _fill_shape(original, fill, shape_or_like, args, kwargs):
    """np.full / np.full_like with a traced fill value: the fill broadcast to the shape
    (its gradient is the sum over the filled places), as a buffer of its own."""
    shaped = original(value_of(shape_or_like), 0.0, *args, **kwargs)
    if np.dtype(shaped.dtype).kind != "f":
        raise TraceError(f"np.{original.__name__} with a traced fill value and the {shaped.dtype} "
                         "dtype would drop the fill's gradient; use a float dtype")
    filled = dispatch.FUNCTIONS[np.broadcast_to](fill, shaped.shape)
    if filled.dtype != shaped.dtype:
        filled = filled.astype(shaped.dtype)
    return record(_COPY, (filled,), None)


def _constructor(original, fill_at=None):
    """np.zeros, np.ones_like ...: while a trace runs, float results are writable buffers."""
    @functools.wraps(original)
    def construct(*args, **kwargs):
        rec = ACTIVE.get()
        if rec is None or not called_from_user(original.__name__):
            return original(*args, **kwargs)
        if fill_at is not None and len(args) > fill_at and is_traced(args[fill_at]):
            return _fill_shape(original, args[fill_at], args[0], args[fill_at + 1:], kwargs)
        if fill_at is not None and is_traced(kwargs.get("fill_value")):
            fill = kwargs.pop("fill_value")
            return _fill_shape(original, fill, args[0], args[1:], kwargs)
        made = original(*[a.value if is_traced(a) else a for a in args], **kwargs)
        if original.__name__ in ("empty", "empty_like") and isinstance(made, np.ndarray):
            made.fill(0)           # deterministic values in the drawing; numpy leaves them open
        return _buffer(rec, made)
    return construct


def _array_buffer(original):
    """np.array of plain numbers is a buffer too (``x = np.array([1.0, 2.0]); x[0] = w``)."""
    wrapped = _array_like(original)

    @functools.wraps(original)
    def array(obj, *args, **kwargs):
        made = wrapped(obj, *args, **kwargs)
        rec = ACTIVE.get()
        if rec is None or not called_from_user("array"):
            return made
        if is_traced(made):
            return record(_COPY, (made,), None) if made is obj and kwargs.get("copy", True) \
                else made
        if kwargs.get("copy", True) is False:
            return made
        if isinstance(obj, np.ndarray) and made is obj:
            return made
        return _buffer(rec, made)
    return array


def _math_function(original):
    """math.exp(z) on a traced float records np.exp (the same op); plain numbers pass."""
    name = original.__name__
    np_name = NUMPY_NAME.get(name, name)

    @functools.wraps(original)
    def call(*args):
        if ACTIVE.get() is None or not any(is_traced(a) for a in args):
            return original(*args)
        if name == "log":
            return np.log(args[0]) if len(args) == 1 else np.log(args[0]) / np.log(args[1])
        if name == "pow":
            return args[0] ** args[1]
        return getattr(np, np_name)(*args)
    return call


_ARRAY_LIKE = ("asarray", "asanyarray", "ascontiguousarray", "asfarray")
_CONSTRUCTORS = {"zeros": None, "ones": None, "empty": None, "zeros_like": None,
                 "ones_like": None, "empty_like": None, "full": 1, "full_like": 1,
                 "eye": None, "identity": None}
_LIST_FIRST = ("sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std", "cumsum",
               "cumprod", "average", "linalg.norm", "ravel", "reshape", "transpose", "diff")


def _factory(path: str):
    if path.startswith("math."):
        return _math_function
    if path == "array":
        return _array_buffer
    if path in _ARRAY_LIKE:
        return _array_like
    if path in _CONSTRUCTORS:
        return functools.partial(_constructor, fill_at=_CONSTRUCTORS[path])
    return _list_first


def _target(path):
    mod = math if path.startswith("math.") else np
    *parents, name = path.split(".")
    for p in parents[1 if mod is math else 0:]:
        mod = getattr(mod, p)
    return mod, name


_TARGETS: list[tuple[str, object, str]] = []   # (path, module, name), found once


def _targets() -> list[tuple[str, object, str]]:
    if not _TARGETS:
        paths = ("array", *_ARRAY_LIKE, *_CONSTRUCTORS, *_LIST_FIRST,
                 *(f"math.{n}" for n in MATH_NAMES))
        for path in paths:
            mod, name = _target(path)
            if hasattr(mod, name):
                _TARGETS.append((path, mod, name))
    return _TARGETS


def enter() -> None:
    """A trace starts: install the wrappers (once for all running traces)."""
    global _active
    with _lock:
        _active += 1
        if _active > 1:
            return
        for path, mod, name in _targets():
            original = getattr(mod, name)
            _originals[path] = original
            made = _wrappers.get(path)
            if made is None or made[0] is not original:    # made once per numpy function
                made = _wrappers[path] = (original, _factory(path)(original))
            setattr(mod, name, made[1])


def leave() -> None:
    """A trace ends: the last one out puts numpy back as it was."""
    global _active
    with _lock:
        _active -= 1
        if _active:
            return
        for path, mod, name in _targets():
            if path in _originals:
                setattr(mod, name, _originals[path])
        _originals.clear()
