"""Names for the Values of a micrograd-style graph, from the user's code when we can.

A Value's ``label`` wins.  Else, when the graph was built inside ``with gt.watch(Value):``,
the variable (or container slot, or attribute path) that held it in the user's code:
``h``, ``xs[2]``, ``model.layers[0].neurons[1].w[2]``.  Else an expression of its
arguments' names, ``w1·x1 + b``, shortened with ``…`` when it grows long.  Never a
machine number.
"""

from __future__ import annotations

import sys
import weakref
from types import FrameType, FunctionType, ModuleType
from typing import Any

from ..errors import TraceError
from ..notation import MINUS, number_text
from .walk import Step

_MAX_EXPR = 28          # characters before an expression name refers to a long part as (…)
_MAX_DEPTH = 6          # attribute/container levels walked below a local variable

# Values named by a watch: value -> [(priority, order, name)], held weakly where possible
_WATCHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_WATCHED_BY_ID: dict[int, tuple[Any, list]] = {}      # for Values that refuse weak refs


def watched_names(v) -> list:
    try:
        return _WATCHED.get(v, [])
    except TypeError:
        entry = _WATCHED_BY_ID.get(id(v))
        return entry[1] if entry and entry[0] is v else []


def _remember(v, priority: int, order: int, name: str) -> None:
    try:
        names = _WATCHED.setdefault(v, [])
    except TypeError:
        names = _WATCHED_BY_ID.setdefault(id(v), (v, []))[1]
    for k, (p, o, n) in enumerate(names):
        if n == name:
            names[k] = (max(p, priority), o, n)
            return
    names.append((priority, order, name))


class watch:
    """``with gt.watch(Value): ...`` remembers which variable of your code holds each
    ``Value`` made inside the block, so ``gt.from_micrograd`` can name nodes as you
    wrote them.  ``Value`` is your engine's class; it is restored when the block ends."""

    def __init__(self, cls):
        if not isinstance(cls, type):
            raise TraceError(f"gt.watch needs your Value class, got a {type(cls).__name__}")
        self.cls = cls
        self._engine_code: set = set()
        self._seen = 0
        self._made_in: dict[int, Any] = {}     # id(Value) -> the user frame that made it
        self._keep: list = []                  # holds those Values so their ids stay theirs

    def __enter__(self):
        cls = self.cls
        self._frame = sys._getframe(1)
        self._engine_code = _codes_of(cls)
        self._original = cls.__dict__.get("__init__")
        original_init = cls.__init__                 # type: ignore[misc]
        me = self

        def __init__(value, *args, **kwargs):
            original_init(value, *args, **kwargs)
            me._created(value, sys._getframe(1))

        __init__.__wrapped__ = original_init       # type: ignore[attr-defined]
        cls.__init__ = __init__                      # type: ignore[misc]
        return self

    def __exit__(self, *exc):
        if self._original is None:
            del self.cls.__init__                    # type: ignore[misc]
        else:
            self.cls.__init__ = self._original       # type: ignore[misc]
        self._scan(self._frame, priority=2, depth=_MAX_DEPTH)   # the block's variables, as left
        self._frame = None                           # type: ignore[assignment]
        self._made_in.clear()
        self._keep.clear()
        return False

    def _created(self, value, frame: FrameType | None) -> None:
        """A Value was made: name what the user's frames hold so far."""
        while frame is not None and frame.f_code in self._engine_code:
            frame = frame.f_back
        if frame is None:
            return
        self._made_in[id(value)] = frame
        self._keep.append(value)
        # one container level here (a loop's h, xs[i]); objects are walked at the end
        self._scan(frame, priority=2 if frame is self._frame else 1, depth=1)

    def _scan(self, frame: FrameType, priority: int, depth: int) -> None:
        own = None if frame is self._frame else frame     # a helper names only its own Values
        for var, obj in list(frame.f_locals.items()):
            if not var.startswith("__"):
                self._walk(obj, var, priority, _MAX_DEPTH - depth, set(), own)

    def _walk(self, obj, path: str, priority: int, depth: int, seen: set, own=None) -> None:
        if isinstance(obj, self.cls):
            if own is None or self._made_in.get(id(obj)) is own:
                self._seen += 1
                _remember(obj, priority, self._seen, path)
            return
        if depth >= _MAX_DEPTH or id(obj) in seen or _opaque(obj):
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            for i, x in enumerate(obj[:4096]):
                self._walk(x, f"{path}[{i}]", priority, depth + 1, seen, own)
        elif isinstance(obj, dict):
            for k, x in list(obj.items())[:4096]:
                if isinstance(k, (str, int)):
                    self._walk(x, f"{path}[{k!r}]", priority, depth + 1, seen, own)
        else:
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                for k, x in list(attrs.items()):
                    if not k.startswith("_"):
                        self._walk(x, f"{path}.{k}", priority, depth + 1, seen, own)


def _opaque(obj) -> bool:
    return isinstance(obj, (str, bytes, int, float, complex, type, ModuleType, FunctionType,
                            FrameType)) or obj is None or callable(obj) and not hasattr(
                                obj, "__dict__")


def _codes_of(cls) -> set:
    """The code objects of the engine's own methods (and closures made in them), whose
    frames are not the user's code."""
    codes: set = set()
    for klass in cls.__mro__:
        for f in vars(klass).values():
            f = getattr(f, "__func__", f)
            code = getattr(f, "__code__", None)
            stack = [code] if code is not None else []
            while stack:
                c = stack.pop()
                codes.add(c)
                stack.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return codes


_SYMBOL = {"add": " + ", "mul": "·", "sub": " − ", "div": "/"}
_FUNCTION = {"relu": "ReLU", "tanh": "tanh", "exp": "exp", "log": "log", "sigmoid": "σ",
             "sqrt": "sqrt", "sin": "sin", "cos": "cos"}


def _expression(step: Step, names: list[str]) -> str:
    parts = [names[k].rsplit(".", 1)[-1] for k in step.args]    # w[0] of model...w[0]
    while sum(map(len, parts)) > _MAX_EXPR and any(p != "…" for p in parts):
        longest = max(range(len(parts)), key=lambda k: len(parts[k]))
        parts[longest] = "…"
    return _combine(step, parts)


def _combine(step: Step, parts: list[str]) -> str:
    op = step.op
    if op in _SYMBOL:
        a, b = parts
        if op != "add":
            a, b = (f"({x})" if (" " in x or x.startswith(MINUS)) and not x.startswith("(")
                    else x for x in (a, b))
        return f"{a}{_SYMBOL[op]}{b}"
    x = parts[0]
    if op == "pow":
        base = f"({x})" if any(c in x for c in " ·/") else x
        return f"{base}^{number_text(step.exponent)}"
    if op == "neg":
        return f"−({x})" if " " in x else f"−{x}"
    return f"{_FUNCTION[op]}({x})"              # type: ignore[index]


def names_for(steps: list[Step]) -> list[str]:
    """One name per step: label, else the watched variable, else an expression (a leaf
    with neither reads as its number)."""
    names: list[str] = []
    for s in steps:
        label = getattr(s.value, "label", "")
        if isinstance(label, str) and label.strip():
            names.append(label.strip())
            continue
        watched = watched_names(s.value)
        if watched:
            names.append(sorted(watched, key=lambda t: (-t[0], t[1]))[0][2])
        elif s.op is None:
            names.append(number_text(s.data).replace("-", MINUS))
        else:
            names.append(_expression(s, names))
    return names
