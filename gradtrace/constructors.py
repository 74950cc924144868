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

import functools
import threading

import numpy as np

from . import ops
from .dispatch import record
from .errors import TraceError
from .ops.core import is_traced
from .recorder import ACTIVE

_STACK = ops.PRIMITIVES["stack"]
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


_ARRAY_LIKE = ("array", "asarray", "asanyarray", "ascontiguousarray", "asfarray")
_LIST_FIRST = ("sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std", "cumsum",
               "cumprod", "average", "linalg.norm", "ravel", "reshape", "transpose", "diff")


def _target(path):
    mod = np
    *parents, name = path.split(".")
    for p in parents:
        mod = getattr(mod, p)
    return mod, name


_TARGETS: list[tuple[str, object, str]] = []   # (path, module, name), found once


def _targets() -> list[tuple[str, object, str]]:
    if not _TARGETS:
        for path in _ARRAY_LIKE + _LIST_FIRST:
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
                made = _wrappers[path] = (original, _array_like(original)
                                          if path in _ARRAY_LIKE else _list_first(original))
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
