"""Reading a micrograd-style graph: its Values in creation order and what each op was.

A micrograd ``Value`` keeps ``data``, ``grad``, ``_prev`` (the set of its children) and
``_op`` (a short string: ``+``, ``*``, ``**2``, ``ReLU``, ``tanh`` ...).  ``_prev`` is a
set, so ``x * x`` has one child, and the order of ``a - b`` is lost; the order is read
back from the ``_backward`` closure (the lecture's ``self``/``other``) when it is there,
else from which order reproduces ``data``.  Nothing here imports micrograd.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import TraceError

# _op spellings -> (canonical op, arity).  Arity 1 ops take one child; the binary ones
# take two, or one child used twice (x * x has _prev == {x}).
_UNARY = {"relu": "relu", "tanh": "tanh", "exp": "exp", "log": "log", "sigmoid": "sigmoid",
          "neg": "neg", "-neg": "neg", "sqrt": "sqrt", "sin": "sin", "cos": "cos"}
_BINARY = {"+": "add", "add": "add", "*": "mul", "mul": "mul", "-": "sub", "sub": "sub",
           "/": "div", "div": "div", "truediv": "div"}
_POWER = re.compile(r"^\*\*\s*\(?\s*([-+]?[0-9.eE+-]+)\s*\)?$|^pow\s*\(?\s*([-+]?[0-9.eE+-]+)\)?$")
_COMMUTATIVE = {"add", "mul"}
KNOWN_OPS = ("+", "*", "-", "/", "**k", "ReLU", "tanh", "exp", "log", "sigmoid", "neg")


@dataclass
class Step:
    """One Value of the graph: a leaf, or an op over earlier steps."""

    value: Any                      # the student's Value object
    data: float
    op: str | None = None           # canonical op (None for a leaf)
    spelled: str = ""               # the _op string as the student's engine wrote it
    args: list[int] = field(default_factory=list)    # indices of earlier steps, in order
    exponent: float | None = None   # for "pow"


def _check_value(v, where: str) -> None:
    for attr in ("data", "grad", "_prev", "_op"):
        if not hasattr(v, attr):
            raise TraceError(
                f"{where} has no '{attr}' attribute; gt.from_micrograd needs micrograd-style "
                "Values (data, grad, _prev, _op), e.g. the root Value your code computed")


def _kind(obj) -> str:
    if obj is None:
        return "None"
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def check_root(root, who: str = "gt.from_micrograd got", reader: str = "it reads") -> None:
    """Refuse an output that is not a Value, saying what it was: ``cost returned a float,
    not a Value (grade reads a micrograd-style Value graph: ...)``."""
    missing = [a for a in ("data", "grad", "_prev", "_op") if not hasattr(root, a)]
    if not missing:
        return
    what = _kind(root)
    if len(missing) < 4 and not isinstance(root, (int, float, tuple, list, dict)):
        what += f" without {', '.join(repr(a) for a in missing)}"
    hint = "; return the output Value itself" if isinstance(root, (tuple, list, dict)) else ""
    raise TraceError(f"{who} {what}, not a Value ({reader} a micrograd-style Value graph: an "
                     f"object with data, grad, _prev, _op){hint}")


def _data(v, where: str) -> float:
    try:
        x = float(v.data)
    except (TypeError, ValueError):
        raise TraceError(f"{where}.data is {type(v.data).__name__} {v.data!r:.40}; a "
                         "micrograd Value holds one number") from None
    return x


def topological(root) -> list:
    """Every Value reachable from ``root``, children before parents (iterative: a long
    chain must not hit Python's recursion limit)."""
    check_root(root)
    order: list = []
    state: dict[int, int] = {}          # id -> 1 (open) or 2 (done)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        key = id(v)
        if expanded:
            if state.get(key) != 2:
                state[key] = 2
                order.append(v)
            continue
        if state.get(key) == 2:
            continue
        if state.get(key) == 1:
            raise TraceError("the Value graph has a cycle; a forward pass never makes one")
        _check_value(v, "a Value in the graph")
        state[key] = 1
        stack.append((v, True))
        for c in reversed(_children(v)):      # first argument explored first
            if state.get(id(c)) == 1:
                raise TraceError("the Value graph has a cycle; a forward pass never makes one")
            if state.get(id(c)) != 2:
                stack.append((c, False))
    return order


def _children(v) -> list:
    prev = v._prev
    try:
        kids = list(prev)
    except TypeError:
        raise TraceError(f"_prev of a Value is a {type(prev).__name__}; micrograd keeps the "
                         "children in a set or tuple") from None
    return _closure_order(v, kids)


def _closure_order(v, kids: list) -> list:
    """The children in the order the op saw them, read from ``_backward``'s closure
    (``self`` then ``other``) when the engine follows the lecture; else as given."""
    fn = getattr(v, "_backward", None)
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None)
    if code is None or not cells or len(kids) != 2:
        return kids
    free = dict(zip(code.co_freevars, cells))
    try:
        first, second = free["self"].cell_contents, free["other"].cell_contents
    except (KeyError, ValueError):
        return kids
    if any(first is k for k in kids) and any(second is k for k in kids) and first is not second:
        return [first, second]
    return kids


def parse_op(spelled) -> tuple[str | None, float | None]:
    """(canonical op, exponent) for an _op string; (None, None) for a leaf's ''."""
    s = str(spelled or "").strip()
    if not s:
        return None, None
    m = _POWER.match(s)
    if m:
        try:
            return "pow", float(m.group(1) or m.group(2))
        except ValueError:
            pass
    low = s.lower()
    if low in _UNARY:
        return _UNARY[low], None
    if s in _BINARY or low in _BINARY:
        return _BINARY.get(s) or _BINARY[low], None
    raise TraceError(f"a Value has _op {s!r}, which gradtrace does not know; it knows "
                     f"{', '.join(KNOWN_OPS)} (the lecture's spellings), so it cannot tell "
                     "that node's local derivative")


def apply_float(op: str, xs: list[float], exponent: float | None) -> float:
    """The op on plain floats: how a step's data is checked and its argument order found."""
    try:
        if op == "add":
            return xs[0] + xs[1]
        if op == "mul":
            return xs[0] * xs[1]
        if op == "sub":
            return xs[0] - xs[1]
        if op == "div":
            return xs[0] / xs[1]
        if op == "pow":
            return xs[0] ** exponent       # type: ignore[operator]
        x = xs[0]
        return {"relu": lambda: max(x, 0.0), "tanh": lambda: math.tanh(x),
                "exp": lambda: math.exp(x), "log": lambda: math.log(x),
                "sigmoid": lambda: 1 / (1 + math.exp(-x)), "neg": lambda: -x,
                "sqrt": lambda: math.sqrt(x), "sin": lambda: math.sin(x),
                "cos": lambda: math.cos(x)}[op]()
    except (ArithmeticError, ValueError, TypeError):
        return math.nan


def _close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (
        math.isnan(a) and math.isnan(b))


def _arity(op: str) -> int:
    return 2 if op in ("add", "mul", "sub", "div") else 1


def _order_args(step: Step, kids: list[int], steps: list[Step], what: str) -> list[int]:
    """The argument indices of a step, the way its data was computed."""
    op = step.op
    assert op is not None
    need = _arity(op)
    if len(kids) == 1 and need == 2:
        kids = kids * 2                      # x * x, x + x: one child, used twice
    if len(kids) != need:
        raise TraceError(f"{what} has _op {step.spelled!r} but {len(kids)} children; that op "
                         f"takes {need}")
    xs = [steps[k].data for k in kids]
    got = apply_float(op, xs, step.exponent)
    if _close(got, step.data):
        return kids
    if need == 2 and op not in _COMMUTATIVE:
        flipped = kids[::-1]
        if _close(apply_float(op, [steps[k].data for k in flipped], step.exponent), step.data):
            return flipped
    raise TraceError(f"{what} has data {step.data:.6g}, but {step.spelled!r} of its children "
                     f"gives {got:.6g}; gradtrace replays the forward pass, so the engine's "
                     "forward must compute what its _op says")


def read(root) -> list[Step]:
    """The graph as steps in creation order (a topological order), arguments resolved."""
    order = topological(root)
    index = {id(v): i for i, v in enumerate(order)}
    steps: list[Step] = []
    for i, v in enumerate(order):
        what = f"Value #{i} ({_label(v) or 'unlabelled'})"
        op, exponent = parse_op(v._op)
        kids = [index[id(c)] for c in _children(v)]
        step = Step(value=v, data=_data(v, what), op=op, spelled=str(v._op or ""),
                    exponent=exponent)
        if op is None:
            if kids:
                raise TraceError(f"{what} has children but no _op; gradtrace cannot tell how "
                                 "it was computed")
        else:
            step.args = _order_args(step, kids, steps, what)
        steps.append(step)
    return steps


def _label(v) -> str:
    lab = getattr(v, "label", "")
    return lab if isinstance(lab, str) else ""


def student_grad(v) -> float:
    """The .grad the student's backward left on a Value (NaN when it is not a number)."""
    try:
        return float(v.grad)
    except (TypeError, ValueError):
        return math.nan
