"""Elementwise ops: each gives a local derivative per argument (HIPS autograd's
``defvjp`` rows, written as derivatives because they are per element).

Conventions at non-differentiable points follow PyTorch: relu'(0) = 0,
abs'(0) = 0, maximum/minimum ties split 0.5/0.5, clip passes the gradient on the
closed interval [lo, hi], ``where`` routes the gradient only to the branch taken,
piecewise-constant functions (floor, sign, round, ``//`` ...) have gradient 0.
A local derivative with no finite value where the function is still continuous
(sqrt and std at 0, ``x**0`` at 0) is taken as its limit or as 0, never NaN.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TraceError
from ..notation import number_text
from .core import (
    CALL,
    INFIX,
    NO_VALUE,
    POSTFIX,
    PREFIX,
    Composite,
    Primitive,
    indicator,
    is_traced,
    refuse,
    register,
    value_of,
)

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _pow_scalar(x, y):
    r = x ** y
    if type(r) is complex:  # negative base, fractional exponent: numpy gives nan
        return math.nan
    return r


def _floats(darray):
    """Local derivatives on floats from the array rule (for rarely used ops)."""
    def dscalar(out, *vals, **params):
        return tuple(float(d) for d in darray(out, *vals, **params))
    return dscalar


def unary(name, ufunc, expr, formula, darray, *, scalar=None, dscalar=None, symbol=None,
          guard=False, method=(), numpy=None):
    """A row for a one-argument ufunc (``np.arctan``): forward, derivative, text."""
    return register(Primitive(
        name, 1, expr, CALL, 90, (formula,), array=ufunc, scalar=scalar,
        dscalar=dscalar or (_floats(darray) if scalar is not None else None),
        darray=darray, symbol=symbol or name, guard=guard,
        numpy=(ufunc,) if numpy is None else numpy, method=method))


def binary(name, ufunc, expr, formulas, darray, *, form=CALL, prec=90, scalar=None,
           dscalar=None, symbol=None, guard=False, numpy=None):
    """A row for a two-argument ufunc (``np.hypot``)."""
    return register(Primitive(
        name, 2, expr, form, prec, formulas, array=ufunc, scalar=scalar,
        dscalar=dscalar or (_floats(darray) if scalar is not None else None),
        darray=darray, symbol=symbol or name, guard=guard,
        numpy=(ufunc,) if numpy is None else numpy))


def _zero(out, *vals, **params):
    return (0.0,) * len(vals)


# ---------------------------------------------------------------- arithmetic
ADD = register(Primitive(
    "add", 2, "{0} + {1}", INFIX, 50, ("1", "1"),
    array=np.add, scalar=lambda x, y: x + y,
    local=lambda out, x, y: (1.0, 1.0), symbol="+", numpy=(np.add,)))

SUB = register(Primitive(
    "sub", 2, "{0} − {1}", INFIX, 50, ("1", "−1"),
    array=np.subtract, scalar=lambda x, y: x - y,
    local=lambda out, x, y: (1.0, -1.0), symbol="−", numpy=(np.subtract,)))

MUL = register(Primitive(
    "mul", 2, "{0}·{1}", INFIX, 60, ("{1}", "{0}"),
    array=np.multiply, scalar=lambda x, y: x * y,
    local=lambda out, x, y: (y, x), symbol="×", numpy=(np.multiply,)))

DIV = register(Primitive(
    "div", 2, "{0}/{1}", INFIX, 60, ("1/{1}", "−{0}/{1}²"),
    array=np.true_divide, scalar=lambda x, y: x / y,
    local=lambda out, x, y: (1.0 / y, -out / y), symbol="÷", guard=True,
    numpy=(np.true_divide,)))


def _dpow_scalar(out, x, y):
    # d/dy x^y is taken as 0 at x = 0 and nan for x < 0; d/dx at y = 0 is 0 (x^0 = 1)
    dy = out * math.log(x) if x > 0 else (0.0 if x == 0 else math.nan)
    dx = 0.0 if y == 0 else y * _pow_scalar(x, y - 1)
    return (dx, dy)


def _dpow_array(out, x, y):
    positive = x > 0
    dy = np.where(positive, out * np.log(np.where(positive, x, 1.0)), np.where(x == 0, 0.0, np.nan))
    dx = np.where(y == 0, 0.0, y * np.power(x, y - 1))
    return (dx, dy)


POW = register(Primitive(
    "pow", 2, "{0}^{1}", INFIX, 80, ("{1}·{0}^({1}−1)", "{0}^{1}·ln {0}"),
    array=np.power, scalar=_pow_scalar, dscalar=_dpow_scalar, darray=_dpow_array, symbol="^",
    guard=True, numpy=(np.power,)))


def _powc_formula(ops, p, shapes):
    e = p["p"]
    if e == 2:
        return f"2·{ops[0]}"
    return f"{number_text(e)}·{ops[0]}^{number_text(e - 1)}"


def _dpowc_array(out, x, p):
    if p == 0:
        return (0.0,)
    return (p * np.power(x, p - 1),)


POW_CONST = register(Primitive(
    "powc", 1, "{0}{psup}", POSTFIX, 80, (_powc_formula,),
    array=lambda x, p: np.power(x, p), scalar=lambda x, p: _pow_scalar(x, p),
    dscalar=lambda out, x, p: (0.0 if p == 0 else p * _pow_scalar(x, p - 1),),
    darray=_dpowc_array, symbol="^", guard=True))

NEG = register(Primitive(
    "neg", 1, "−{0}", PREFIX, 70, ("−1",),
    array=np.negative, scalar=lambda x: -x,
    local=lambda out, x: (-1.0,), symbol="−", numpy=(np.negative,)))


def _mod_dy(out, x, y):
    return (1.0, -np.floor_divide(x, y))


MOD = binary("mod", np.remainder, "{0} mod {1}", ("1", "−⌊{0}/{1}⌋"), _mod_dy,
             form=INFIX, prec=60, scalar=lambda x, y: float(np.remainder(x, y)), symbol="mod")
FMOD = binary("fmod", np.fmod, "fmod({0}, {1})", ("1", "−trunc({0}/{1})"),
              lambda out, x, y: (1.0, -np.trunc(np.true_divide(x, y))), guard=True)
FLOOR_DIVIDE = binary("floordiv", np.floor_divide, "{0} // {1}", ("0", "0"), _zero,
                      form=INFIX, prec=60, symbol="//")

# ---------------------------------------------------------------- exp, log, powers
EXP = register(Primitive(
    "exp", 1, "exp({0})", CALL, 90, ("exp({0})",),
    array=np.exp, scalar=math.exp,
    local=lambda out, x: (out,), symbol="exp", numpy=(np.exp,)))

LOG = register(Primitive(
    "log", 1, "ln({0})", CALL, 90, ("1/{0}",),
    array=np.log, scalar=math.log,
    local=lambda out, x: (1.0 / x,), symbol="ln", guard=True, numpy=(np.log,)))

LOG1P = register(Primitive(
    "log1p", 1, "ln(1 + {0})", CALL, 90, ("1/(1 + {0})",),
    array=np.log1p, scalar=math.log1p,
    local=lambda out, x: (1.0 / (1.0 + x),), symbol="log1p", guard=True,
    numpy=(np.log1p,)))

EXPM1 = register(Primitive(
    "expm1", 1, "exp({0}) − 1", CALL, 90, ("exp({0})",),
    array=np.expm1, scalar=math.expm1,
    local=lambda out, x: (out + 1.0,), symbol="expm1", numpy=(np.expm1,)))

SQRT = register(Primitive(
    "sqrt", 1, "√{0}", CALL, 90, ("1/(2√{0})",),
    array=np.sqrt, scalar=math.sqrt,
    local=lambda out, x: (0.5 / out,), symbol="√", guard=True, numpy=(np.sqrt,)))

EXP2 = unary("exp2", np.exp2, "2^{0}", "2^{0}·ln 2", lambda out, x: (out * _LN2,),
             scalar=lambda x: float(np.exp2(x)))
LOG2 = unary("log2", np.log2, "log₂({0})", "1/({0}·ln 2)", lambda out, x: (1.0 / (x * _LN2),),
             scalar=math.log2, guard=True)
LOG10 = unary("log10", np.log10, "log₁₀({0})", "1/({0}·ln 10)",
              lambda out, x: (1.0 / (x * _LN10),), scalar=math.log10, guard=True)
RECIPROCAL = unary("reciprocal", np.reciprocal, "1/{0}", "−1/{0}²",
                   lambda out, x: (-out * out,), scalar=lambda x: 1.0 / x, guard=True)
CBRT = unary("cbrt", np.cbrt, "∛{0}", "1/(3∛{0}²)", lambda out, x: (1.0 / (3.0 * out * out),),
             scalar=lambda x: float(np.cbrt(x)), guard=True)


def _square_local(out, x):
    return (2.0 * x,)


SQUARE = register(Primitive(
    "square", 1, "{0}²", POSTFIX, 80, ("2·{0}",),
    array=np.square, scalar=lambda x: x * x,
    dscalar=lambda out, x: (2.0 * x,), darray=_square_local, symbol="²", numpy=(np.square,)))

LOGADDEXP = binary("logaddexp", np.logaddexp, "logaddexp({0}, {1})",
                   ("exp({0} − out)", "exp({1} − out)"),
                   lambda out, x, y: (np.exp(x - out), np.exp(y - out)),
                   scalar=lambda x, y: float(np.logaddexp(x, y)))
LOGADDEXP2 = binary("logaddexp2", np.logaddexp2, "logaddexp2({0}, {1})",
                    ("2^({0} − out)", "2^({1} − out)"),
                    lambda out, x, y: (np.exp2(x - out), np.exp2(y - out)),
                    scalar=lambda x, y: float(np.logaddexp2(x, y)))

# ---------------------------------------------------------------- trigonometric, hyperbolic
SIN = register(Primitive(
    "sin", 1, "sin({0})", CALL, 90, ("cos({0})",),
    array=np.sin, scalar=math.sin,
    dscalar=lambda out, x: (math.cos(x),), darray=lambda out, x: (np.cos(x),), symbol="sin",
    numpy=(np.sin,)))

COS = register(Primitive(
    "cos", 1, "cos({0})", CALL, 90, ("−sin({0})",),
    array=np.cos, scalar=math.cos,
    dscalar=lambda out, x: (-math.sin(x),), darray=lambda out, x: (-np.sin(x),), symbol="cos",
    numpy=(np.cos,)))

TAN = unary("tan", np.tan, "tan({0})", "1 + tan²({0})", lambda out, x: (1.0 + out * out,),
            scalar=math.tan)
ARCSIN = unary("arcsin", np.arcsin, "arcsin({0})", "1/√(1 − {0}²)",
               lambda out, x: (1.0 / np.sqrt(1.0 - x * x),), scalar=lambda x: float(np.arcsin(x)),
               guard=True)
ARCCOS = unary("arccos", np.arccos, "arccos({0})", "−1/√(1 − {0}²)",
               lambda out, x: (-1.0 / np.sqrt(1.0 - x * x),),
               scalar=lambda x: float(np.arccos(x)), guard=True)
ARCTAN = unary("arctan", np.arctan, "arctan({0})", "1/(1 + {0}²)",
               lambda out, x: (1.0 / (1.0 + x * x),), scalar=math.atan)
SINH = unary("sinh", np.sinh, "sinh({0})", "cosh({0})", lambda out, x: (np.cosh(x),),
             scalar=lambda x: float(np.sinh(x)))
COSH = unary("cosh", np.cosh, "cosh({0})", "sinh({0})", lambda out, x: (np.sinh(x),),
             scalar=lambda x: float(np.cosh(x)))
ARCSINH = unary("arcsinh", np.arcsinh, "arsinh({0})", "1/√({0}² + 1)",
                lambda out, x: (1.0 / np.sqrt(x * x + 1.0),), scalar=math.asinh)
ARCCOSH = unary("arccosh", np.arccosh, "arcosh({0})", "1/√({0}² − 1)",
                lambda out, x: (1.0 / np.sqrt(x * x - 1.0),),
                scalar=lambda x: float(np.arccosh(x)), guard=True)
ARCTANH = unary("arctanh", np.arctanh, "artanh({0})", "1/(1 − {0}²)",
                lambda out, x: (1.0 / (1.0 - x * x),), scalar=lambda x: float(np.arctanh(x)),
                guard=True)
DEG2RAD = unary("deg2rad", np.deg2rad, "rad({0})", "π/180", lambda out, x: (math.pi / 180.0,),
                scalar=lambda x: x * (math.pi / 180.0), numpy=(np.deg2rad, np.radians))
RAD2DEG = unary("rad2deg", np.rad2deg, "deg({0})", "180/π", lambda out, x: (180.0 / math.pi,),
                scalar=lambda x: x * (180.0 / math.pi), numpy=(np.rad2deg, np.degrees))


def _dsinc(out, x):
    # sinc(x) = sin(πx)/(πx); its derivative (cos(πx) − sinc(x))/x tends to 0 at x = 0
    x = np.asarray(x, dtype=np.float64)
    safe = np.where(x == 0, 1.0, x)
    return (np.where(x == 0, 0.0, (np.cos(np.pi * x) - out) / safe),)


SINC = unary("sinc", np.sinc, "sinc({0})", "(cos(π{0}) − sinc({0}))/{0}", _dsinc,
             scalar=lambda x: float(np.sinc(x)))


def _darctan2(out, y, x):
    r = x * x + y * y
    return (x / r, -y / r)


ARCTAN2 = binary("arctan2", np.arctan2, "arctan2({0}, {1})",
                 ("{1}/({0}² + {1}²)", "−{0}/({0}² + {1}²)"), _darctan2,
                 scalar=math.atan2, guard=True)
HYPOT = binary("hypot", np.hypot, "hypot({0}, {1})", ("{0}/hypot", "{1}/hypot"),
               lambda out, x, y: (x / out, y / out), scalar=math.hypot, guard=True)


def _one_minus_square(t):
    """1 − t² with one new array, not two (these locals are kept, so memory counts)."""
    r = np.multiply(t, t)
    return np.subtract(1.0, r, out=r)


def _times_one_minus(s):
    """s(1 − s) with one new array."""
    r = np.subtract(1.0, s)
    return np.multiply(r, s, out=r)


TANH = register(Primitive(
    "tanh", 1, "tanh({0})", CALL, 90, ("1 − tanh²({0})",),
    array=np.tanh, scalar=math.tanh,
    dscalar=lambda out, x: (1.0 - out * out,), darray=lambda out, x: (_one_minus_square(out),),
    symbol="tanh", numpy=(np.tanh,)))


def _sigmoid_scalar(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x):
    # 0.5·(1 + tanh(x/2)) is the logistic function without overflow for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# σ'(z) = σ(z)(1 − σ(z))
SIGMOID = register(Primitive(
    "sigmoid", 1, "σ({0})", CALL, 90, ("σ'({0})",),
    array=_sigmoid_array, scalar=_sigmoid_scalar,
    dscalar=lambda out, x: (out * (1.0 - out),), darray=lambda out, x: (_times_one_minus(out),),
    symbol="σ"))

RELU = register(Primitive(
    "relu", 1, "ReLU({0})", CALL, 90, ("[{0} > 0]",),
    array=lambda x: np.maximum(x, 0.0), scalar=lambda x: x if x > 0.0 else 0.0,
    dscalar=lambda out, x: (1.0 if x > 0.0 else 0.0,),
    darray=lambda out, x: (indicator(x > 0),), symbol="ReLU"))

ABS = register(Primitive(
    "abs", 1, "|{0}|", CALL, 90, ("sign({0})",),
    array=np.abs, scalar=abs,
    dscalar=lambda out, x: (float((x > 0) - (x < 0)),), darray=lambda out, x: (np.sign(x),),
    symbol="|·|", numpy=(np.absolute, np.fabs)))

# ---------------------------------------------------------------- max/min, selection
def _dmax(out, x, y):
    return (np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)),
            np.where(y > x, 1.0, np.where(x == y, 0.5, 0.0)))


def _dmax_scalar(out, x, y):
    if x == y:
        return (0.5, 0.5)
    return (1.0, 0.0) if x > y else (0.0, 1.0)


MAXIMUM = register(Primitive(
    "maximum", 2, "max({0}, {1})", CALL, 90, ("[{0} ≥ {1}]", "[{1} ≥ {0}]"),
    array=np.maximum, scalar=lambda x, y: x if x >= y else y,
    dscalar=_dmax_scalar, darray=_dmax, symbol="max", numpy=(np.maximum,)))

MINIMUM = register(Primitive(
    "minimum", 2, "min({0}, {1})", CALL, 90, ("[{0} ≤ {1}]", "[{1} ≤ {0}]"),
    array=np.minimum, scalar=lambda x, y: x if x <= y else y,
    # min(x, y) = −max(−x, −y): x wins where y > x, which is _dmax with the operands swapped
    dscalar=lambda out, x, y: _dmax_scalar(out, y, x),
    darray=lambda out, x, y: _dmax(out, y, x), symbol="min", numpy=(np.minimum,)))


def _dfmax(out, x, y):
    # like maximum, but a NaN operand loses: the other one gets the whole gradient
    dx, dy = _dmax(out, x, y)
    xn, yn = np.isnan(x), np.isnan(y)
    return (np.where(yn & ~xn, 1.0, np.where(xn, 0.0, dx)),
            np.where(xn & ~yn, 1.0, np.where(yn, 0.0, dy)))


FMAX = binary("fmax", np.fmax, "fmax({0}, {1})", ("[{0} ≥ {1}]", "[{1} ≥ {0}]"), _dfmax,
              scalar=lambda x, y: float(np.fmax(x, y)))
FMIN = binary("fmin", np.fmin, "fmin({0}, {1})", ("[{0} ≤ {1}]", "[{1} ≤ {0}]"),
              lambda out, x, y: _dfmax(out, -np.asarray(x), -np.asarray(y)),
              scalar=lambda x, y: float(np.fmin(x, y)))

WHERE = register(Primitive(
    "where", 2, "where(cond, {0}, {1})", CALL, 90, ("[cond]", "[not cond]"),
    array=lambda x, y, cond: np.where(cond, x, y),
    darray=lambda out, x, y, cond: (indicator(cond), indicator(~cond)),
    symbol="where"))

CLIP = register(Primitive(
    "clip", 1, "clip({0}, {lo}, {hi})", CALL, 90, ("[{lo} ≤ {0} ≤ {hi}]",),
    array=lambda x, lo, hi: np.clip(x, lo, hi),
    darray=lambda out, x, lo, hi: (indicator((x >= lo) & (x <= hi)),),
    symbol="clip"))


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _bind_nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return (x,), {"nan": float(nan), "posinf": None if posinf is None else float(posinf),
                  "neginf": None if neginf is None else float(neginf)}


NAN_TO_NUM = register(Primitive(
    "nan_to_num", 1, "nan_to_num({0})", CALL, 90, ("[{0} finite]",),
    array=_nan_to_num,
    darray=lambda out, x, **p: (indicator(np.isfinite(x)),),
    symbol="nan_to_num", numpy=(np.nan_to_num,), bind=_bind_nan_to_num))

# ---------------------------------------------------------------- piecewise constant: gradient 0
for _name, _ufunc in [("sign", np.sign), ("floor", np.floor), ("ceil", np.ceil),
                      ("rint", np.rint), ("trunc", np.trunc)]:
    unary(_name, _ufunc, f"{_name}({{0}})", "0", _zero, scalar=lambda x, f=_ufunc: float(f(x)))

FIX = unary("fix", np.fix, "fix({0})", "0", _zero, numpy=(np.fix,))


def _bind_round(a, decimals=0, out=None):
    refuse("np.round", out=(out, None))
    return (a,), {"decimals": int(decimals)}


ROUND = register(Primitive(
    "round", 1, "round({0})", CALL, 90, ("0",),
    array=lambda x, decimals: np.round(x, decimals), darray=_zero, symbol="round",
    numpy=(np.round, np.around), method=("round",), bind=_bind_round))


# ---------------------------------------------------------------- where and clip (numpy entries)
def _where(record, condition, x=NO_VALUE, y=NO_VALUE):
    if x is NO_VALUE and y is NO_VALUE:      # np.where(cond) is np.nonzero: indices, constant
        return np.nonzero(np.asarray(value_of(condition)))
    if x is NO_VALUE or y is NO_VALUE:
        raise TraceError("np.where needs both x and y, or neither")
    cond = np.asarray(value_of(condition)).astype(bool)
    return record(WHERE, (x, y), {"cond": cond})


def _clip(record, a, a_min=NO_VALUE, a_max=NO_VALUE, out=None, *, min=NO_VALUE, max=NO_VALUE,
          **kwargs):
    refuse("np.clip", out=(out, None))
    if kwargs:
        refuse("np.clip", **{k: (v, None) for k, v in kwargs.items()})
    lo = min if a_min is NO_VALUE else a_min
    hi = max if a_max is NO_VALUE else a_max
    lo = None if lo is NO_VALUE else lo
    hi = None if hi is NO_VALUE else hi
    if is_traced(lo) or is_traced(hi):   # traced bounds: clip is max(min(a, hi), lo)
        result = a
        if lo is not None:
            result = record(MAXIMUM, (result, lo), None)
        if hi is not None:
            result = record(MINIMUM, (result, hi), None)
        return result
    return record(CLIP, (a,), {"lo": -np.inf if lo is None else lo,
                               "hi": np.inf if hi is None else hi})


register(Composite("where", _where, numpy=(np.where,)))
register(Composite("clip", _clip, numpy=(np.clip,), method=("clip",)))
