"""Naming, validating and rebuilding a function's inputs.

``fn(params={"W1": W, "b1": b}, xs=[x0, x1])`` has leaves ``params.W1``,
``params.b1``, ``xs[0]``, ``xs[1]``.  The tracer replaces each floating leaf by a
traced stand-in; the finite-difference check replaces one leaf by a nudged copy.
Both go through ``rebuild``.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
import weakref
from collections import deque
from collections.abc import Callable
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

import numpy as np

from ..errors import TraceError, option
from ..names import spelling

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


def unbound(fn: Callable, args: tuple) -> tuple[Callable, tuple]:
    """A bound method of a plain object, or a plain object with ``__call__``, as its
    function with the object as the first argument: the object's float attributes are
    then inputs named by the method's first parameter (``self.W1``), as they are for
    ``gt.trace(Net.loss, net, x)``, instead of constants that silently get no gradient."""
    if isinstance(fn, MethodType):
        if walkable(fn.__self__) and isinstance(fn.__func__, FunctionType):
            return fn.__func__, (fn.__self__, *args)
        return fn, args
    method = inspect.getattr_static(type(fn), "__call__", None)
    if isinstance(method, FunctionType) and walkable(fn):
        return method, (fn, *args)
    return fn, args


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
    if isinstance(value, complex):
        raise TraceError(f"input '{name}' is complex; gradtrace differentiates real floats only")
    return "const"


def holds_floats(value) -> bool:
    """Might a value gradtrace passes through unwalked hold floats the user meant to
    differentiate (an array-like, a set of floats, a number type it does not know)?"""
    if isinstance(value, (str, bytes, bool, int, float, complex, range, slice, type, ModuleType,
                          np.ndarray, np.generic)) or value is None or callable(value):
        return False
    kind = type(value)
    if any(hasattr(kind, a) for a in ("__array__", "__array_interface__", "__float__")) or \
            _value_graph(value):
        return True
    if isinstance(value, (set, frozenset, deque, memoryview)):
        return any(isinstance(v, (float, np.floating, np.ndarray)) for v in value)
    return False


class ConstInt(int):
    """An int input standing in for itself while tracing: it is a constant (ints are
    loop counts and indices), but meeting a traced value in float arithmetic is worth a
    warning, since ``w=2`` was most likely meant as a parameter."""

    path: str
    reason: str

    def __reduce__(self):
        return int, (int(self),)


class ConstFloat(float):
    """A Python float argument of a torch trace: a constant, as torch has it, said once
    when it meets a traced tensor."""

    path: str
    reason: str

    def __reduce__(self):
        return float, (float(self),)


def marked(path: str, value: int | float, torch: bool = False) -> ConstInt | ConstFloat:
    """A stand-in for a number argument that stays a constant, carrying why (in a torch
    trace a Python float is a constant too, so the advice there is a tensor)."""
    m: ConstInt | ConstFloat
    if isinstance(value, int):
        m = ConstInt(value)
        fix = (f"a Python float is a constant in a torch trace too: pass "
               f"torch.tensor({float(value)!r}, dtype=torch.float64) (or make it an "
               "nn.Parameter) to get one" if torch else f"write {path}={float(value)!r}")
        m.reason = f"{path}={value} is an int, so it is a constant and gets no gradient; {fix}"
    else:
        m = ConstFloat(value)
        m.reason = (f"{path}={value!r} is a Python float in a torch trace, so it is a "
                    "constant and gets no gradient (as in torch); pass "
                    f"torch.tensor({value!r}, dtype=torch.float64) to get one")
    m.path = path
    return m


def opaque_reason(path: str, value) -> str:
    return (f"input '{path}' is of type {type(value).__name__}, which gradtrace cannot walk: it "
            "is passed through as a constant and gets no gradient (pass its floats as "
            "float arrays, or in a dict, list or plain object, to trace them)")


def walkable(value) -> bool:
    """A plain Python object whose attributes are walked like a dict's items: it has an
    instance ``__dict__`` or ``__slots__``; modules, classes, functions, array-likes,
    enums and torch/numpy objects are not walked."""
    kind = type(value)
    if isinstance(value, _NOT_WALKED) or _value_graph(value):
        return False
    if any(k.__module__.split(".")[0] in ("torch", "numpy") for k in kind.__mro__[:-1]) or \
            kind.__module__ == "builtins" or hasattr(kind, "__array__") or \
            hasattr(kind, "__array_interface__"):
        return False                   # an nn.Module subclass, a tensor, an array-like
    return hasattr(value, "__dict__") or bool(_slots(kind))


def _value_graph(value) -> bool:
    """A micrograd-style Value: an autodiff engine's own node, read with
    ``gt.from_micrograd``, never walked (its ``.grad`` is no parameter)."""
    return hasattr(value, "_prev") and hasattr(value, "_op")


_NOT_WALKED = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType,
               functools.partial, enum.Enum, Exception)


def _slots(kind) -> tuple[str, ...]:
    names: list[str] = []
    for k in kind.__mro__:
        own = k.__dict__.get("__slots__", ())
        for n in (own,) if isinstance(own, str) else own:
            if n not in ("__dict__", "__weakref__") and n not in names:
                names.append(n)
    return tuple(names)


def attributes(value) -> dict[str, Any]:
    """An object's attributes as stored: instance ``__dict__`` and slots, and plain class
    attributes it reads (``class Config: scale = 2.0``) when it has a ``__dict__`` to
    shadow them in; no property or other descriptor is called."""
    own = getattr(value, "__dict__", None)
    out = dict(own or {})
    if own is not None:
        for k in type(value).__mro__[:-1]:
            for n, v in vars(k).items():
                if n not in out and not n.startswith("__") and \
                        not hasattr(type(v), "__get__") and not isinstance(v, _NOT_WALKED):
                    out[n] = v
    for n in _slots(type(value)):
        try:
            out.setdefault(n, object.__getattribute__(value, n))
        except AttributeError:        # an empty slot
            pass
    return out


def rebuild(value, path: str, leaf: Callable[[str, Any], Any]):
    """Copy a nested input, replacing each leaf by ``leaf(path, value)``; objects are
    walked by attribute (``layer.W``) and copied only where a leaf changed."""
    return _rebuild(value, path, leaf, {}, set())


def _rebuild(value, path: str, leaf, done: dict, active: set):
    if isinstance(value, dict):
        return {k: _rebuild(v, _child(path, k), leaf, done, active) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_rebuild(v, f"{path}[{i}]", leaf, done, active) for i, v in enumerate(value)]
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, (float, int, str, np.ndarray)) or value is None or \
            not walkable(value):
        return leaf(path, value)
    key = id(value)
    if key in done:                    # met again by another path: the same copy
        return done[key]
    if key in active:                  # a cycle: not walked again
        return value
    active.add(key)
    try:
        attrs = attributes(value)
        new = {k: _rebuild(v, f"{path}.{k}", leaf, done, active) for k, v in attrs.items()}
    finally:
        active.discard(key)
    changed = {k: v for k, v in new.items() if v is not attrs[k]}
    done[key] = _copied(value, changed, path) if changed else value
    return done[key]


def _copied(value, changed: dict, path: str):
    """A shallow copy of an object with some attributes replaced (the user's object is
    never changed)."""
    try:
        twin = copy.copy(value)
        if twin is value:               # a __copy__ that returns self: copy by hand
            twin = object.__new__(type(value))
            for k, v in attributes(value).items():
                object.__setattr__(twin, k, v)
        own = getattr(twin, "__dict__", None)
        for k, v in changed.items():
            if own is not None and k in own:
                own[k] = v
            else:
                object.__setattr__(twin, k, v)
    except Exception as e:   # noqa: BLE001 - any failure of a user's __copy__ is theirs
        raise TraceError(f"input '{path}' (a {type(value).__name__}) holds floats gradtrace "
                         f"traces, but copying it to put traced values in failed ({e}); pass "
                         "its arrays in a dict instead") from None
    return twin


def _child(path: str, key) -> str:
    return f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"


def wanted(wrt) -> Callable[[str], bool]:
    """Does a leaf name fall under ``wrt`` (names or prefixes such as ``params``)?"""
    if wrt is None:
        return lambda name: True
    prefixes = [spelling.plain(w) for w in ([wrt] if isinstance(wrt, str) else wrt)]
    exact = set(prefixes)       # compared with look-alikes folded: 'w-1' means 'w−1'

    def match(name: str) -> bool:
        name = spelling.plain(name)
        return name in exact or any(
            name.startswith(w + ".") or name.startswith(w + "[") for w in prefixes)
    return match


def check_wrt(wrt, names: list[str]) -> None:
    """Every name in ``wrt`` must match at least one floating input."""
    if wrt is None:
        return
    for w in [wrt] if isinstance(wrt, str) else wrt:
        if not any(wanted([w])(n) for n in names):
            raise TraceError(f"{option('wrt', '--wrt')} names '{w}', which is not a floating "
                             f"input; the floating inputs are: {', '.join(names) or '(none)'}"
                             f"{spelling.differs(w, names)}")


def object_paths(args: dict[str, Any]) -> dict[int, str]:
    """id -> access path of every object the (rebuilt) arguments hold (``net``,
    ``net.layers[0]``), so a call on one (``layer(x)``) is drawn as the scope the user
    would write, not ``__call__``.  Objects only: containers are paths, not scopes."""
    out: dict[int, str] = {}
    stack = [(v, p) for p, v in reversed(list(args.items()))]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, _child(path, k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
        elif not isinstance(value, (float, int, str, np.ndarray)) and value is not None \
                and walkable(value) and id(value) not in out:
            out[id(value)] = path
            stack.extend((v, f"{path}.{k}")
                         for k, v in reversed(list(attributes(value).items())))
    return out
