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

from ..notation import MINUS, number_text, power_text
from .core import (
    CALL,
    INFIX,
    JS,
    POSTFIX,
    PREFIX,
    Primitive,
    indicator,
    nan_at,
    register,
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
          guard=False, method=(), numpy=None, js=None):
    """A row for a one-argument ufunc (``np.arctan``): forward, derivative, text."""
    return register(Primitive(
        name, 1, expr, CALL, 90, (formula,), array=ufunc, scalar=scalar,
        dscalar=dscalar or (_floats(darray) if scalar is not None else None),
        darray=darray, symbol=symbol or name, guard=guard,
        numpy=(ufunc,) if numpy is None else numpy, method=method, js=js))


def binary(name, ufunc, expr, formulas, darray, *, form=CALL, prec=90, scalar=None,
           dscalar=None, symbol=None, guard=False, numpy=None, js=None):
    """A row for a two-argument ufunc (``np.hypot``)."""
    return register(Primitive(
        name, 2, expr, form, prec, formulas, array=ufunc, scalar=scalar,
        dscalar=dscalar or (_floats(darray) if scalar is not None else None),
        darray=darray, symbol=symbol or name, guard=guard,
        numpy=(ufunc,) if numpy is None else numpy, js=js))


def _zero(out, *vals, **params):
    return (0.0,) * len(vals)


# ---------------------------------------------------------------- arithmetic
ADD = register(Primitive(
    "add", 2, "{0} + {1}", INFIX, 50, ("1", "1"),
    js=JS("x + y", ("1", "1")),
    array=np.add, scalar=lambda x, y: x + y,
    local=lambda out, x, y: (1.0, 1.0), symbol="+", numpy=(np.add,)))

SUB = register(Primitive(
    "sub", 2, "{0} − {1}", INFIX, 50, ("1", "−1"),
    js=JS("x - y", ("1", "-1")),
    array=np.subtract, scalar=lambda x, y: x - y,
    local=lambda out, x, y: (1.0, -1.0), symbol="−", numpy=(np.subtract,)))

MUL = register(Primitive(
    "mul", 2, "{0}·{1}", INFIX, 60, ("{1}", "{0}"),
    js=JS("x * y", ("y", "x")),
    array=np.multiply, scalar=lambda x, y: x * y,
    local=lambda out, x, y: (y, x), symbol="×", numpy=(np.multiply,)))

DIV = register(Primitive(
    "div", 2, "{0}/{1}", INFIX, 60, ("1/{1}", "−{0}/{1}²"),
    js=JS("x / y", ("1 / y", "-o / y")),
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
    js=JS("R.pow(x, y)",
          ("y === 0 ? 0 : y * R.pow(x, y - 1)", "x > 0 ? o * Math.log(x) : (x === 0 ? 0 : NaN)")),
    array=np.power, scalar=_pow_scalar, dscalar=_dpow_scalar, darray=_dpow_array, symbol="^",
    guard=True, numpy=(np.power,)))


def _powc_formula(ops, p, shapes):
    e = p["p"]
    if e == 2:
        return f"2·{ops[0]}"
    return f"{number_text(e).replace('-', MINUS)}·{ops[0]}{power_text(e - 1)}"


def _dpowc_array(out, x, p):
    if p == 0:
        return (0.0,)
    return (p * np.power(x, p - 1),)


POW_CONST = register(Primitive(
    "powc", 1, "{0}{psup}", POSTFIX, 80, (_powc_formula,),
    js=JS("R.pow(x, p.p)", ("p.p === 0 ? 0 : p.p * R.pow(x, p.p - 1)",)),
    array=lambda x, p: np.power(x, p), scalar=lambda x, p: _pow_scalar(x, p),
    dscalar=lambda out, x, p: (0.0 if p == 0 else p * _pow_scalar(x, p - 1),),
    darray=_dpowc_array, symbol="^", guard=True))

NEG = register(Primitive(
    "neg", 1, "−{0}", PREFIX, 70, ("−1",),
    js=JS("-x", ("-1",)),
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
    js=JS("Math.exp(x)", ("o",)),
    array=np.exp, scalar=math.exp,
    local=lambda out, x: (out,), symbol="exp", numpy=(np.exp,)))

LOG = register(Primitive(
    "log", 1, "ln({0})", CALL, 90, ("1/{0}",),
    js=JS("Math.log(x)", ("1 / x",)),
    array=np.log, scalar=math.log,
    local=lambda out, x: (1.0 / x,), symbol="ln", guard=True, numpy=(np.log,)))

LOG1P = register(Primitive(
    "log1p", 1, "ln(1 + {0})", CALL, 90, ("1/(1 + {0})",),
    js=JS("Math.log1p(x)", ("1 / (1 + x)",)),
    array=np.log1p, scalar=math.log1p,
    local=lambda out, x: (1.0 / (1.0 + x),), symbol="log1p", guard=True,
    numpy=(np.log1p,)))

EXPM1 = register(Primitive(
    "expm1", 1, "exp({0}) − 1", CALL, 90, ("exp({0})",),
    js=JS("Math.expm1(x)", ("o + 1",)),
    array=np.expm1, scalar=math.expm1,
    local=lambda out, x: (out + 1.0,), symbol="expm1", numpy=(np.expm1,)))

SQRT = register(Primitive(
    "sqrt", 1, "√{0}", PREFIX, 90, ("1/(2√{0})",),
    js=JS("Math.sqrt(x)", ("0.5 / o",)),
    array=np.sqrt, scalar=math.sqrt,
    local=lambda out, x: (0.5 / out,), symbol="√", guard=True, numpy=(np.sqrt,)))

EXP2 = unary("exp2", np.exp2, "2^{0}", "2^{0}·ln 2", lambda out, x: (out * _LN2,),
             scalar=lambda x: float(np.exp2(x)),
             js=JS("Math.pow(2, x)", ("o * Math.LN2",)))
LOG2 = unary("log2", np.log2, "log₂({0})", "1/({0}·ln 2)", lambda out, x: (1.0 / (x * _LN2),),
             scalar=math.log2, guard=True,
             js=JS("Math.log2(x)", ("1 / (x * Math.LN2)",)))
LOG10 = unary("log10", np.log10, "log₁₀({0})", "1/({0}·ln 10)",
              lambda out, x: (1.0 / (x * _LN10),), scalar=math.log10, guard=True,
              js=JS("Math.log10(x)", ("1 / (x * Math.LN10)",)))
RECIPROCAL = unary("reciprocal", np.reciprocal, "1/{0}", "−1/{0}²",
                   lambda out, x: (-out * out,), scalar=lambda x: 1.0 / x, guard=True,
                   js=JS("1 / x", ("-o * o",)))
CBRT = unary("cbrt", np.cbrt, "∛{0}", "1/(3∛{0}²)", lambda out, x: (1.0 / (3.0 * out * out),),
             scalar=lambda x: float(np.cbrt(x)), guard=True,
             js=JS("Math.cbrt(x)", ("1 / (3 * o * o)",)))


def _square_local(out, x):
    return (2.0 * x,)


SQUARE = register(Primitive(
    "square", 1, "{0}²", POSTFIX, 80, ("2·{0}",),
    js=JS("x * x", ("2 * x",)),
    array=np.square, scalar=lambda x: x * x,
    dscalar=lambda out, x: (2.0 * x,), darray=_square_local, symbol="²", numpy=(np.square,)))

LOGADDEXP = binary("logaddexp", np.logaddexp, "logaddexp({0}, {1})",
                   ("exp({0} − out)", "exp({1} − out)"),
                   lambda out, x, y: (np.exp(x - out), np.exp(y - out)),
                   scalar=lambda x, y: float(np.logaddexp(x, y)),
                   js=JS("R.logaddexp(x, y)", ("Math.exp(x - o)", "Math.exp(y - o)")))
LOGADDEXP2 = binary("logaddexp2", np.logaddexp2, "logaddexp2({0}, {1})",
                    ("2^({0} − out)", "2^({1} − out)"),
                    lambda out, x, y: (np.exp2(x - out), np.exp2(y - out)),
                    scalar=lambda x, y: float(np.logaddexp2(x, y)))

# ---------------------------------------------------------------- trigonometric, hyperbolic
SIN = register(Primitive(
    "sin", 1, "sin({0})", CALL, 90, ("cos({0})",),
    js=JS("Math.sin(x)", ("Math.cos(x)",)),
    array=np.sin, scalar=math.sin,
    dscalar=lambda out, x: (math.cos(x),), darray=lambda out, x: (np.cos(x),), symbol="sin",
    numpy=(np.sin,)))

COS = register(Primitive(
    "cos", 1, "cos({0})", CALL, 90, ("−sin({0})",),
    js=JS("Math.cos(x)", ("-Math.sin(x)",)),
    array=np.cos, scalar=math.cos,
    dscalar=lambda out, x: (-math.sin(x),), darray=lambda out, x: (-np.sin(x),), symbol="cos",
    numpy=(np.cos,)))

TAN = unary("tan", np.tan, "tan({0})", "1 + tan²({0})", lambda out, x: (1.0 + out * out,),
            scalar=math.tan,
            js=JS("Math.tan(x)", ("1 + o * o",)))
ARCSIN = unary("arcsin", np.arcsin, "arcsin({0})", "1/√(1 − {0}²)",
               lambda out, x: (1.0 / np.sqrt(1.0 - x * x),), scalar=lambda x: float(np.arcsin(x)),
               guard=True,
               js=JS("Math.asin(x)", ("1 / Math.sqrt(1 - x * x)",)))
ARCCOS = unary("arccos", np.arccos, "arccos({0})", "−1/√(1 − {0}²)",
               lambda out, x: (-1.0 / np.sqrt(1.0 - x * x),),
               scalar=lambda x: float(np.arccos(x)), guard=True,
               js=JS("Math.acos(x)", ("-1 / Math.sqrt(1 - x * x)",)))
ARCTAN = unary("arctan", np.arctan, "arctan({0})", "1/(1 + {0}²)",
               lambda out, x: (1.0 / (1.0 + x * x),), scalar=math.atan,
               js=JS("Math.atan(x)", ("1 / (1 + x * x)",)))
SINH = unary("sinh", np.sinh, "sinh({0})", "cosh({0})", lambda out, x: (np.cosh(x),),
             scalar=lambda x: float(np.sinh(x)),
             js=JS("Math.sinh(x)", ("Math.cosh(x)",)))
COSH = unary("cosh", np.cosh, "cosh({0})", "sinh({0})", lambda out, x: (np.sinh(x),),
             scalar=lambda x: float(np.cosh(x)),
             js=JS("Math.cosh(x)", ("Math.sinh(x)",)))
ARCSINH = unary("arcsinh", np.arcsinh, "arsinh({0})", "1/√({0}² + 1)",
                lambda out, x: (1.0 / np.sqrt(x * x + 1.0),), scalar=math.asinh,
                js=JS("Math.asinh(x)", ("1 / Math.sqrt(x * x + 1)",)))
ARCCOSH = unary("arccosh", np.arccosh, "arcosh({0})", "1/√({0}² − 1)",
                lambda out, x: (1.0 / np.sqrt(x * x - 1.0),),
                scalar=lambda x: float(np.arccosh(x)), guard=True,
                js=JS("Math.acosh(x)", ("1 / Math.sqrt(x * x - 1)",)))
ARCTANH = unary("arctanh", np.arctanh, "artanh({0})", "1/(1 − {0}²)",
                lambda out, x: (1.0 / (1.0 - x * x),), scalar=lambda x: float(np.arctanh(x)),
                guard=True,
                js=JS("Math.atanh(x)", ("1 / (1 - x * x)",)))
DEG2RAD = unary("deg2rad", np.deg2rad, "rad({0})", "π/180", lambda out, x: (math.pi / 180.0,),
                scalar=lambda x: x * (math.pi / 180.0), numpy=(np.deg2rad, np.radians),
                js=JS("x * (Math.PI / 180)", ("Math.PI / 180",)))
RAD2DEG = unary("rad2deg", np.rad2deg, "deg({0})", "180/π", lambda out, x: (180.0 / math.pi,),
                scalar=lambda x: x * (180.0 / math.pi), numpy=(np.rad2deg, np.degrees),
                js=JS("x * (180 / Math.PI)", ("180 / Math.PI",)))


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
                 scalar=math.atan2, guard=True,
                 js=JS("Math.atan2(x, y)", ("y / (y * y + x * x)", "-x / (y * y + x * x)")))
HYPOT = binary("hypot", np.hypot, "hypot({0}, {1})", ("{0}/hypot", "{1}/hypot"),
               lambda out, x, y: (x / out, y / out), scalar=math.hypot, guard=True,
               js=JS("Math.hypot(x, y)", ("x / o", "y / o")))


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
    js=JS("Math.tanh(x)", ("1 - o * o",)),
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
    js=JS("x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))", ("o * (1 - o)",)),
    array=_sigmoid_array, scalar=_sigmoid_scalar,
    dscalar=lambda out, x: (out * (1.0 - out),), darray=lambda out, x: (_times_one_minus(out),),
    symbol="σ"))

RELU = register(Primitive(
    "relu", 1, "ReLU({0})", CALL, 90, ("[{0} > 0]",),
    js=JS("x > 0 || x !== x ? x : 0", ("x > 0 ? 1 : (x === x ? 0 : x)",)),
    array=lambda x: np.maximum(x, 0.0), scalar=lambda x: x if x > 0.0 or x != x else 0.0,
    dscalar=lambda out, x: (1.0 if x > 0.0 else 0.0 if x == x else math.nan,),
    darray=lambda out, x: (nan_at(indicator(x > 0), x),), symbol="ReLU"))

ABS = register(Primitive(
    "abs", 1, "|{0}|", CALL, 90, ("sign({0})",),
    js=JS("Math.abs(x)", ("x > 0 ? 1 : (x < 0 ? -1 : (x === 0 ? 0 : x))",)),
    array=np.abs, scalar=abs,
    dscalar=lambda out, x: (float(np.sign(x)),), darray=lambda out, x: (np.sign(x),),
    symbol="|·|", numpy=(np.absolute, np.fabs)))
