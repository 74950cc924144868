"""``np.array([...])`` and ``np.sum([...])`` of lists that hold traced values.

numpy offers no protocol for these: ``np.array`` is not dispatched, and a
reduction of a Python list converts the list before any traced value is asked.
So while at least one trace is running, a few numpy module functions are wrapped:
a list or tuple (nested) holding traced values becomes one ``stack`` node, and
everything else goes to numpy unchanged.  The wrappers are installed when the
first trace starts and removed when the last one ends; outside a trace numpy is
untouched, and on a thread that is not tracing they pass straight through.
"""

from __future__ import annotations

import dis
import functools
import math
import os
import sys
import sysconfig
import threading

import numpy as np

from . import dispatch, ops
from .dispatch import record
from .errors import TraceError
from .ops.core import is_traced, value_of
from .recorder import ACTIVE

_STACK = ops.PRIMITIVES["stack"]
_BROADCAST_TO = ops.PRIMITIVES["broadcast_to"]
_COPY = ops.PRIMITIVES["copy"]
_lock = threading.Lock()
_active = 0
_originals: dict[str, object] = {}
_wrappers: dict[str, tuple] = {}     # path -> (numpy's function, its wrapper)


def nested_to_traced(obj):
    """A list/tuple tree of traced values and numbers as one traced array."""
    if is_traced(obj):
        return obj
    if isinstance(obj, (list, tuple)):
        if not obj:
            return np.asarray(obj, dtype=np.float64)
        parts = [nested_to_traced(x) for x in obj]
        if not any(is_traced(p) for p in parts):
            return np.asarray(parts, dtype=np.float64)
        shapes = {tuple(np.shape(p.value if is_traced(p) else p)) for p in parts}
        if len(shapes) != 1:
            raise TraceError(f"np.array of a list whose items have different shapes "
                             f"{sorted(shapes)}: numpy would make a ragged object array")
        return record(_STACK, tuple(parts), {"axis": 0})
    return obj


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


_LIBRARY_DIRS = tuple({os.path.dirname(os.path.abspath(__file__)) + os.sep,
                       *(os.path.abspath(p) + os.sep for p in (
                           sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")))})
_user_file: dict[str, bool] = {}
_line_names: dict[tuple, frozenset] = {}


def is_user_file(filename: str) -> bool:
    """Code the user wrote (not gradtrace's, numpy's or another installed library's)."""
    mine = _user_file.get(filename)
    if mine is None:
        mine = _user_file[filename] = not os.path.abspath(filename).startswith(_LIBRARY_DIRS)
    return mine


def called_from_user(fname: str, depth: int = 2) -> bool:
    """Did the user's code (not numpy's, not ours, not a compiled module such as
    numpy.random calling ``np.empty``) call the constructor ``fname`` by that name?"""
    frame = sys._getframe(depth)
    code = frame.f_code
    if not is_user_file(code.co_filename):
        return False
    return fname in _names_on_line(code, frame.f_lineno)


def _names_on_line(code, line: int) -> frozenset:
    key = (code, line)
    names = _line_names.get(key)
    if names is None:
        if len(_line_names) > 4096:
            _line_names.clear()
        names = _line_names[key] = frozenset(
            i.argval for i in dis.get_instructions(code)
            if i.positions is not None and i.positions.lineno == line
            and i.opname.startswith("LOAD_") and isinstance(i.argval, str))
    return names


def user_frame(frame):
    while frame is not None and not is_user_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def storing_subscript(frame) -> bool:
    """Is the user's code at ``arr[i] = ...`` (numpy converting a value it writes)?"""
    frame = user_frame(frame)
    if frame is None:
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == frame.f_lasti:
            return ins.opname == "STORE_SUBSCR"
    return False


def math_culprit(frame) -> str | None:
    """``from math import tanh; tanh(z)``: the math function named on the user's line
    (bound before the trace, so it could not be intercepted), as 'tanh'."""
    frame = user_frame(frame)
    if frame is None:
        return None
    scope = {**frame.f_globals, **frame.f_locals}
    for name in sorted(_names_on_line(frame.f_code, frame.f_lineno)):
        obj = scope.get(name)
        if callable(obj) and getattr(obj, "__module__", None) == "math":
            return getattr(obj, "__name__", name)
    return None


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


_MATH = {name: name for name in (
    "exp", "expm1", "log1p", "log10", "log2", "sqrt", "sin", "cos", "tan", "sinh", "cosh",
    "tanh", "fabs", "hypot", "degrees", "radians", "atan2", "cbrt", "exp2")} | {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh"}


def _math_function(original):
    """math.exp(z) on a traced float records np.exp (the same op); plain numbers pass."""
    name = original.__name__
    np_name = _MATH.get(name, name)

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


MATH_NAMES = ("log", "pow", *_MATH)
NUMPY_NAME = {**_MATH, "log": "log", "pow": "power"}
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
