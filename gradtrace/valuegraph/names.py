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

from ..core.formulas import short_expression, text_precedence
from ..errors import TraceError
from ..notation import MINUS, number_text
from ..ops import PRIMITIVES
from .walk import Step

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


def _last_attribute(path: str) -> str:
    """``model.layers[0].w[2]`` -> ``w[2]``: a watched path's tail after its last
    attribute dot (dots inside brackets, such as a dict key's, stay)."""
    depth, cut = 0, 0
    for i, ch in enumerate(path):
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "." and depth == 0 and path[i + 1:i + 2].isidentifier():
            cut = i + 1
    return path[cut:]


def _negated(operand: tuple[str, int]) -> tuple[str, int] | None:
    """``x`` for an operand reading ``−x`` (a negative number, or micrograd's ``x * -1``),
    when dropping the minus leaves no loose + or − behind (``−a + b`` is not −(a + b))."""
    text = operand[0]
    if not text.startswith(MINUS):
        return None
    rest = text[1:]
    prec = text_precedence(rest)
    return (rest, prec) if prec > PRIMITIVES["add"].prec else None


def _expression(step: Step, ranked: list[tuple[str, int]]) -> tuple[str, int]:
    """An op over its arguments' names with the numpy path's brackets and elision
    (``(−2)·1.5``, ``2·(n − 1)``, ``tanh(…)``), and the lecture's own idioms read back:
    ``n + (−1)`` as ``n − 1``, ``x·(−1)`` as ``−x``."""
    operands = [ranked[k] for k in step.args]
    row, params = str(step.op), None
    negated = _negated(operands[-1])
    if row == "pow":
        row, params = "powc", {"p": step.exponent}
    elif row == "mul" and any(t == MINUS + "1" for t, _ in operands):
        row, operands = "neg", [operands[1] if operands[0][0] == MINUS + "1" else operands[0]]
    elif row == "add" and negated is not None:
        row, operands = "sub", [operands[0], negated]
    return short_expression(PRIMITIVES[row], operands, params)


def own_name(v) -> str:
    """The name a Value was given: its ``label``, else the variable a watch saw holding
    it ("" when neither)."""
    label = getattr(v, "label", "")
    if isinstance(label, str) and label.strip():
        return label.strip()
    watched = watched_names(v)
    return sorted(watched, key=lambda t: (-t[0], t[1]))[0][2] if watched else ""


def names_for(steps: list[Step]) -> list[str]:
    """One name per step: label, else the watched variable, else an expression (a leaf
    with neither reads as its number)."""
    names: list[str] = []
    ranked: list[tuple[str, int]] = []        # each step as an operand: (text, precedence)
    for s in steps:
        name = own_name(s.value)
        if name:
            labelled = str(getattr(s.value, "label", "") or "").strip() == name
            short = name if labelled else _last_attribute(name)
        elif s.op is None:
            name = short = number_text(s.data).replace("-", MINUS)
        else:
            expr = _expression(s, ranked)
            names.append(expr[0])
            ranked.append(expr)
            continue
        names.append(name)
        ranked.append((short, text_precedence(short)))
    return names
