"""The table of primitives: the one place that knows calculus.

Each ``Primitive`` says how an op computes its value (for Python floats and for
numpy arrays), how it differentiates, and how it reads as text:

* elementwise ops give a *local derivative* per argument (``partials``): a number
  for floats, an array broadcastable to the output for arrays.  The backward pass
  multiplies the upstream gradient by it and undoes broadcasting.
* every other op gives a vector-Jacobian product per argument (``vjp``), as in
  HIPS autograd, because its Jacobian is not a per-element number.

Conventions at non-differentiable points follow PyTorch:
relu'(0) = 0, abs'(0) = 0, maximum/minimum ties split 0.5/0.5, max/min reductions
split ties evenly, clip passes the gradient on the closed interval [lo, hi],
``where`` routes the gradient only to the branch taken.  One more rule lives in
the backward pass: a zero factor on a path makes that path contribute exactly 0,
even through an infinite local derivative, so a branch not taken never leaks NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

# How an op's expression reads when its node has no name (used for formulas):
# 'infix' wraps operands of lower precedence, 'call' already delimits them,
# 'postfix'/'prefix' wrap anything that is not an atom.
INFIX, CALL, POSTFIX, PREFIX = "infix", "call", "postfix", "prefix"


@dataclass(frozen=True, slots=True)
class Primitive:
    """One differentiable operation."""

    name: str
    arity: int                      # -1: any number of arguments (concatenate, stack)
    expr: str                       # expression template, operands as {0}, {1}
    form: str                       # INFIX, CALL, POSTFIX or PREFIX
    prec: int                       # binding strength for parenthesising
    formulas: tuple                 # per argument: text template, or fn(operand_texts, params, shapes)
    array: Callable                 # forward on numpy values: array(*vals, **params)
    scalar: Callable | None = None  # forward on Python floats (fast path)
    dscalar: Callable | None = None  # local derivatives on floats: dscalar(out, *vals)
    darray: Callable | None = None  # local derivatives on arrays: darray(out, *vals, **params)
    vjp: Callable | None = None     # vjp(k, g, out, vals, params) -> contribution to arg k
    symbol: str = ""                # short label for diagrams ('+', '×', 'σ')
    guard: bool = False             # local derivative can be inf/nan at finite inputs
    note: str = ""                  # convention at kinks, shown in docs

    @property
    def elementwise(self) -> bool:
        return self.darray is not None


PRIMITIVES: dict[str, Primitive] = {}


def _register(p: Primitive) -> Primitive:
    PRIMITIVES[p.name] = p
    return p


def _f(x):
    return 1.0 if x else 0.0


def _ind(mask):
    """An indicator as float64 (also for the 0-d results of comparing floats)."""
    return np.asarray(mask, dtype=np.float64)


def number_text(x) -> str:
    """A number as it reads in a formula: 2 not 2.0, 0.5 not 0.5000."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.4g}"


# ---------------------------------------------------------------- scalar safety
def scalar_fallback(prim: Primitive, vals, params):
    """Forward on floats with numpy semantics (inf/nan instead of exceptions)."""
    with np.errstate(all="ignore"):
        out = prim.array(*[np.float64(v) for v in vals], **(params or {}))
    return float(out)


def _pow_scalar(x, y):
    r = x ** y
    if type(r) is complex:  # negative base, fractional exponent: numpy gives nan
        return math.nan
    return r


# ---------------------------------------------------------------- elementwise
ADD = _register(Primitive(
    "add", 2, "{0} + {1}", INFIX, 50, ("1", "1"),
    array=np.add, scalar=lambda x, y: x + y,
    dscalar=lambda out, x, y: (1.0, 1.0),
    darray=lambda out, x, y: (1.0, 1.0), symbol="+"))

SUB = _register(Primitive(
    "sub", 2, "{0} − {1}", INFIX, 50, ("1", "−1"),
    array=np.subtract, scalar=lambda x, y: x - y,
    dscalar=lambda out, x, y: (1.0, -1.0),
    darray=lambda out, x, y: (1.0, -1.0), symbol="−"))

MUL = _register(Primitive(
    "mul", 2, "{0}·{1}", INFIX, 60, ("{1}", "{0}"),
    array=np.multiply, scalar=lambda x, y: x * y,
    dscalar=lambda out, x, y: (y, x),
    darray=lambda out, x, y: (y, x), symbol="×"))

DIV = _register(Primitive(
    "div", 2, "{0}/{1}", INFIX, 60, ("1/{1}", "−{0}/{1}²"),
    array=np.true_divide, scalar=lambda x, y: x / y,
    dscalar=lambda out, x, y: (1.0 / y, -out / y),
    darray=lambda out, x, y: (1.0 / y, -out / y), symbol="÷", guard=True))


def _dpow_scalar(out, x, y):
    dy = out * math.log(x) if x > 0 else (0.0 if x == 0 else math.nan)
    return (y * _pow_scalar(x, y - 1), dy)


def _dpow_array(out, x, y):
    positive = x > 0
    dy = np.where(positive, out * np.log(np.where(positive, x, 1.0)), np.where(x == 0, 0.0, np.nan))
    return (y * np.power(x, y - 1), dy)


POW = _register(Primitive(
    "pow", 2, "{0}^{1}", INFIX, 80, ("{1}·{0}^({1}−1)", "{0}^{1}·ln {0}"),
    array=np.power, scalar=_pow_scalar, dscalar=_dpow_scalar, darray=_dpow_array, symbol="^",
    note="d/dy x^y is taken as 0 at x = 0 and nan for x < 0", guard=True))


def _powc_formula(ops, p, shapes):
    e = p["p"]
    if e == 2:
        return f"2·{ops[0]}"
    return f"{number_text(e)}·{ops[0]}^{number_text(e - 1)}"


POW_CONST = _register(Primitive(
    "powc", 1, "{0}{psup}", POSTFIX, 80, (_powc_formula,),
    array=lambda x, p: np.power(x, p), scalar=lambda x, p: _pow_scalar(x, p),
    dscalar=lambda out, x, p: (p * _pow_scalar(x, p - 1),),
    darray=lambda out, x, p: (p * np.power(x, p - 1),), symbol="^", guard=True))


NEG = _register(Primitive(
    "neg", 1, "−{0}", PREFIX, 70, ("−1",),
    array=np.negative, scalar=lambda x: -x,
    dscalar=lambda out, x: (-1.0,), darray=lambda out, x: (-1.0,), symbol="−"))

EXP = _register(Primitive(
    "exp", 1, "exp({0})", CALL, 90, ("exp({0})",),
    array=np.exp, scalar=math.exp,
    dscalar=lambda out, x: (out,), darray=lambda out, x: (out,), symbol="exp"))

LOG = _register(Primitive(
    "log", 1, "ln({0})", CALL, 90, ("1/{0}",),
    array=np.log, scalar=math.log,
    dscalar=lambda out, x: (1.0 / x,), darray=lambda out, x: (1.0 / x,), symbol="ln", guard=True))

LOG1P = _register(Primitive(
    "log1p", 1, "ln(1 + {0})", CALL, 90, ("1/(1 + {0})",),
    array=np.log1p, scalar=math.log1p,
    dscalar=lambda out, x: (1.0 / (1.0 + x),), darray=lambda out, x: (1.0 / (1.0 + x),),
    symbol="log1p", guard=True))

EXPM1 = _register(Primitive(
    "expm1", 1, "exp({0}) − 1", CALL, 90, ("exp({0})",),
    array=np.expm1, scalar=math.expm1,
    dscalar=lambda out, x: (out + 1.0,), darray=lambda out, x: (out + 1.0,), symbol="expm1"))

SQRT = _register(Primitive(
    "sqrt", 1, "√{0}", CALL, 90, ("1/(2√{0})",),
    array=np.sqrt, scalar=math.sqrt,
    dscalar=lambda out, x: (0.5 / out,), darray=lambda out, x: (0.5 / out,), symbol="√", guard=True))

SIN = _register(Primitive(
    "sin", 1, "sin({0})", CALL, 90, ("cos({0})",),
    array=np.sin, scalar=math.sin,
    dscalar=lambda out, x: (math.cos(x),), darray=lambda out, x: (np.cos(x),), symbol="sin"))

COS = _register(Primitive(
    "cos", 1, "cos({0})", CALL, 90, ("−sin({0})",),
    array=np.cos, scalar=math.cos,
    dscalar=lambda out, x: (-math.sin(x),), darray=lambda out, x: (-np.sin(x),), symbol="cos"))

def _one_minus_square(t):
    """1 − t² with one new array, not two (these locals are kept, so memory counts)."""
    r = np.multiply(t, t)
    return np.subtract(1.0, r, out=r)


def _times_one_minus(s):
    """s(1 − s) with one new array."""
    r = np.subtract(1.0, s)
    return np.multiply(r, s, out=r)


TANH = _register(Primitive(
    "tanh", 1, "tanh({0})", CALL, 90, ("1 − tanh²({0})",),
    array=np.tanh, scalar=math.tanh,
    dscalar=lambda out, x: (1.0 - out * out,), darray=lambda out, x: (_one_minus_square(out),),
    symbol="tanh"))


def _sigmoid_scalar(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x):
    # 0.5·(1 + tanh(x/2)) is the logistic function without overflow for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))


SIGMOID = _register(Primitive(
    "sigmoid", 1, "σ({0})", CALL, 90, ("σ'({0})",),
    array=_sigmoid_array, scalar=_sigmoid_scalar,
    dscalar=lambda out, x: (out * (1.0 - out),), darray=lambda out, x: (_times_one_minus(out),),
    symbol="σ", note="σ'(z) = σ(z)(1 − σ(z))"))

RELU = _register(Primitive(
    "relu", 1, "ReLU({0})", CALL, 90, ("[{0} > 0]",),
    array=lambda x: np.maximum(x, 0.0), scalar=lambda x: x if x > 0.0 else 0.0,
    dscalar=lambda out, x: (_f(x > 0.0),),
    darray=lambda out, x: (_ind(x > 0),),
    symbol="ReLU", note="relu'(0) = 0"))

ABS = _register(Primitive(
    "abs", 1, "|{0}|", CALL, 90, ("sign({0})",),
    array=np.abs, scalar=abs,
    dscalar=lambda out, x: (float((x > 0) - (x < 0)),), darray=lambda out, x: (np.sign(x),),
    symbol="|·|", note="abs'(0) = 0"))

SQUARE = _register(Primitive(
    "square", 1, "{0}²", POSTFIX, 80, ("2·{0}",),
    array=np.square, scalar=lambda x: x * x,
    dscalar=lambda out, x: (2.0 * x,), darray=lambda out, x: (2.0 * x,), symbol="²"))


def _dmax(out, x, y):
    return (np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)),
            np.where(y > x, 1.0, np.where(x == y, 0.5, 0.0)))


def _dmax_scalar(out, x, y):
    if x == y:
        return (0.5, 0.5)
    return (1.0, 0.0) if x > y else (0.0, 1.0)


MAXIMUM = _register(Primitive(
    "maximum", 2, "max({0}, {1})", CALL, 90, ("[{0} ≥ {1}]", "[{1} ≥ {0}]"),
    array=np.maximum, scalar=lambda x, y: x if x >= y else y,
    dscalar=_dmax_scalar, darray=_dmax, symbol="max", note="ties split 0.5 / 0.5"))

MINIMUM = _register(Primitive(
    "minimum", 2, "min({0}, {1})", CALL, 90, ("[{0} ≤ {1}]", "[{1} ≤ {0}]"),
    array=np.minimum, scalar=lambda x, y: x if x <= y else y,
    # min(x, y) = −max(−x, −y): x wins where y > x, which is _dmax with the operands swapped
    dscalar=lambda out, x, y: _dmax_scalar(out, y, x),
    darray=lambda out, x, y: _dmax(out, y, x), symbol="min",
    note="ties split 0.5 / 0.5"))

WHERE = _register(Primitive(
    "where", 2, "where(cond, {0}, {1})", CALL, 90, ("[cond]", "[not cond]"),
    array=lambda x, y, cond: np.where(cond, x, y),
    darray=lambda out, x, y, cond: (_ind(cond), _ind(~cond)),
    symbol="where", note="the gradient reaches only the branch taken"))

CLIP = _register(Primitive(
    "clip", 1, "clip({0}, {lo}, {hi})", CALL, 90, ("[{lo} ≤ {0} ≤ {hi}]",),
    array=lambda x, lo, hi: np.clip(x, lo, hi),
    darray=lambda out, x, lo, hi: (_ind((x >= lo) & (x <= hi)),),
    symbol="clip", note="gradient 1 on the closed interval [lo, hi]"))


# ---------------------------------------------------------------- reductions and shapes
def expand_to(g, shape, axis, keepdims):
    """Give a reduced gradient back the reduced axes so it broadcasts against the input."""
    g = np.asarray(g)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, _axes(axis, len(shape)))
    return g


def _axes(axis, ndim):
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in _axes(axis, len(shape)))


SUM = _register(Primitive(
    "sum", 1, "Σ{0}", CALL, 90, ("1",),
    array=lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    vjp=lambda k, g, out, v, p: np.broadcast_to(
        expand_to(g, v[0].shape, p["axis"], p["keepdims"]), v[0].shape),
    symbol="Σ"))

MEAN = _register(Primitive(
    "mean", 1, "mean({0})", CALL, 90, (lambda ops, p, shapes: f"1/{_count(shapes[0], p['axis'])}",),
    array=lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
    vjp=lambda k, g, out, v, p: np.broadcast_to(
        expand_to(g, v[0].shape, p["axis"], p["keepdims"]) / _count(v[0].shape, p["axis"]),
        v[0].shape),
    symbol="mean"))


def _extreme_vjp(k, g, out, v, p):
    x = v[0]
    mask = x == expand_to(out, x.shape, p["axis"], p["keepdims"])
    ties = np.sum(mask, axis=p["axis"], keepdims=True)
    return expand_to(g, x.shape, p["axis"], p["keepdims"]) * mask / ties


MAX = _register(Primitive(
    "max", 1, "max({0})", CALL, 90, ("[{0} = max] / ties",),
    array=lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
    vjp=_extreme_vjp, symbol="max", note="ties split the gradient evenly"))

MIN = _register(Primitive(
    "min", 1, "min({0})", CALL, 90, ("[{0} = min] / ties",),
    array=lambda x, axis=None, keepdims=False: np.min(x, axis=axis, keepdims=keepdims),
    vjp=_extreme_vjp, symbol="min", note="ties split the gradient evenly"))


def _mT(x):
    """Swap the last two axes (``.T`` for matrices, the cheap spelling)."""
    return x.T if x.ndim == 2 else np.swapaxes(x, -1, -2)


def _matmul_vjp(k, g, out, v, p):
    a, b = v
    if a.ndim == 1 and b.ndim == 1:
        return g * (b if k == 0 else a)
    if k == 0:
        if b.ndim == 1:
            return np.multiply.outer(g, b)
        if a.ndim == 1:
            return (b @ g[..., None])[..., 0]
        return g @ _mT(b)
    if a.ndim == 1:
        return a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return (_mT(a) @ g[..., None])[..., 0]
    return _mT(a) @ g


MATMUL = _register(Primitive(
    "matmul", 2, "{0} @ {1}", INFIX, 60, ("ḡ @ {1}ᵀ", "{0}ᵀ @ ḡ"),
    array=np.matmul, vjp=_matmul_vjp, symbol="@"))


def _dot_vjp(k, g, out, v, p):
    a, b = v
    if a.ndim == 0 or b.ndim == 0:
        return np.sum(g * b) if (k == 0 and a.ndim == 0) else (
            g * b if k == 0 else (np.sum(g * a) if b.ndim == 0 else g * a))
    return _matmul_vjp(k, g, out, v, p)


DOT = _register(Primitive(
    "dot", 2, "{0}·{1}", INFIX, 60, ("ḡ·{1}ᵀ", "{0}ᵀ·ḡ"),
    array=np.dot, vjp=_dot_vjp, symbol="dot"))


def _inverse_perm(axes, ndim):
    return tuple(np.argsort(axes)) if axes is not None else tuple(range(ndim))[::-1]


TRANSPOSE = _register(Primitive(
    "transpose", 1, "{0}ᵀ", POSTFIX, 95, ("transpose back",),
    array=lambda x, axes=None: np.transpose(x, axes),
    vjp=lambda k, g, out, v, p: np.transpose(g, _inverse_perm(p["axes"], v[0].ndim)),
    symbol="ᵀ"))

RESHAPE = _register(Primitive(
    "reshape", 1, "reshape({0})", CALL, 90, ("reshape back",),
    array=lambda x, shape: np.reshape(x, shape),
    vjp=lambda k, g, out, v, p: np.reshape(g, v[0].shape),
    symbol="reshape"))


def is_basic_index(index) -> bool:
    """True when ``x[index]`` is a view (ints, slices, None, Ellipsis only)."""
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) and not isinstance(i, bool)
               for i in index)


def _getitem_vjp(k, g, out, v, p):
    x, index = v[0], p["index"]
    grad = np.zeros(x.shape)
    if is_basic_index(index):
        grad[index] = g
    else:  # repeated indices must add up
        np.add.at(grad, index, g)
    return grad


GETITEM = _register(Primitive(
    "getitem", 1, "{0}[{index}]", POSTFIX, 95, ("ḡ into {0}[{index}]",),
    array=lambda x, index: x[index], vjp=_getitem_vjp, symbol="[·]"))


def _concat_vjp(k, g, out, v, p):
    axis = p["axis"] % out.ndim
    start = sum(a.shape[axis] for a in v[:k])
    sl = [slice(None)] * out.ndim
    sl[axis] = slice(start, start + v[k].shape[axis])
    return g[tuple(sl)]


CONCATENATE = _register(Primitive(
    "concatenate", -1, "concat({args})", CALL, 90, ("part {k} of ḡ",),
    array=lambda *xs, axis: np.concatenate(xs, axis=axis), vjp=_concat_vjp,
    symbol="concat"))

STACK = _register(Primitive(
    "stack", -1, "stack({args})", CALL, 90, ("slice {k} of ḡ",),
    array=lambda *xs, axis: np.stack(xs, axis=axis),
    vjp=lambda k, g, out, v, p: np.take(g, k, axis=p["axis"] % out.ndim),
    symbol="stack"))


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


SOFTMAX = _register(Primitive(
    "softmax", 1, "softmax({0})", CALL, 90, ("s(ḡ − Σ ḡ·s)",),
    array=_softmax,
    vjp=lambda k, g, out, v, p: out * (g - np.sum(g * out, axis=p["axis"], keepdims=True)),
    symbol="softmax"))


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    r = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return r if keepdims else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))


LOGSUMEXP = _register(Primitive(
    "logsumexp", 1, "logsumexp({0})", CALL, 90, ("softmax({0})",),
    array=_logsumexp,
    vjp=lambda k, g, out, v, p: expand_to(g, v[0].shape, p["axis"], p["keepdims"]) * np.exp(
        v[0] - expand_to(out, v[0].shape, p["axis"], p["keepdims"])),
    symbol="logsumexp"))
