"""Elementwise ops whose derivative is piecewise: max/min, where, clip, nan_to_num,
and the piecewise-constant functions (floor, sign, round ...) whose gradient is 0.

Rows like those in ``elementwise`` (a local derivative per argument); listed with them.
Ties follow PyTorch: maximum/minimum split 0.5/0.5, clip passes the gradient on the
closed interval [lo, hi], ``where`` routes the gradient only to the branch taken.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TraceError
from .core import (
    CALL,
    JS,
    NO_VALUE,
    Composite,
    Primitive,
    indicator,
    is_traced,
    nan_at,
    refuse,
    register,
    value_of,
)
from .elementwise import _zero, binary, unary


# ---------------------------------------------------------------- max/min, selection
def _dmax(out, x, y):
    return (nan_at(np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)), x, y),
            nan_at(np.where(y > x, 1.0, np.where(x == y, 0.5, 0.0)), x, y))


def _dmax_scalar(out, x, y):
    if x == y:
        return (0.5, 0.5)
    return (1.0, 0.0) if x > y else (0.0, 1.0) if y > x else (math.nan, math.nan)   # (NaN)


_NAN_JS = "x !== x || y !== y ? NaN : "   # a NaN operand: NaN local derivatives


MAXIMUM = register(Primitive(
    "maximum", 2, "max({0}, {1})", CALL, 90, ("[{0} ≥ {1}]", "[{1} ≥ {0}]"),
    js=JS("x >= y || x !== x ? x : y",
          (_NAN_JS + "x > y ? 1 : (x === y ? 0.5 : 0)",
           _NAN_JS + "y > x ? 1 : (x === y ? 0.5 : 0)")),
    array=np.maximum, scalar=lambda x, y: x if x >= y or x != x else y,   # NaN wins
    dscalar=_dmax_scalar, darray=_dmax, symbol="max", numpy=(np.maximum,)))

MINIMUM = register(Primitive(
    "minimum", 2, "min({0}, {1})", CALL, 90, ("[{0} ≤ {1}]", "[{1} ≤ {0}]"),
    js=JS("x <= y || x !== x ? x : y",
          (_NAN_JS + "y > x ? 1 : (x === y ? 0.5 : 0)",
           _NAN_JS + "x > y ? 1 : (x === y ? 0.5 : 0)")),
    array=np.minimum, scalar=lambda x, y: x if x <= y or x != x else y,
    # min(x, y) = −max(−x, −y): x wins where y > x, which is _dmax with the operands swapped
    dscalar=lambda out, x, y: _dmax_scalar(out, y, x),
    darray=lambda out, x, y: _dmax(out, y, x), symbol="min", numpy=(np.minimum,)))


def _dfmax(out, x, y):
    # like maximum, but a NaN operand loses: the other one gets the whole gradient
    dx, dy = _dmax(out, x, y)
    xn, yn = np.isnan(x), np.isnan(y)
    return (np.where(xn & ~yn, 0.0, np.where(yn & ~xn, 1.0, dx)),
            np.where(yn & ~xn, 0.0, np.where(xn & ~yn, 1.0, dy)))


FMAX = binary("fmax", np.fmax, "fmax({0}, {1})", ("[{0} ≥ {1}]", "[{1} ≥ {0}]"), _dfmax,
              scalar=lambda x, y: float(np.fmax(x, y)),
              js=JS("x !== x ? y : (y !== y || x >= y ? x : y)",
                 ("y !== y && x === x ? 1 : (x !== x ? 0 : (x > y ? 1 : (x === y ? 0.5 : 0)))",
                  "x !== x && y === y ? 1 : (y !== y ? 0 : (y > x ? 1 : (x === y ? 0.5 : 0)))")))
FMIN = binary("fmin", np.fmin, "fmin({0}, {1})", ("[{0} ≤ {1}]", "[{1} ≤ {0}]"),
              lambda out, x, y: _dfmax(out, -np.asarray(x), -np.asarray(y)),
              scalar=lambda x, y: float(np.fmin(x, y)),
              js=JS("x !== x ? y : (y !== y || x <= y ? x : y)",
                 ("y !== y && x === x ? 1 : (x !== x ? 0 : (x < y ? 1 : (x === y ? 0.5 : 0)))",
                  "x !== x && y === y ? 1 : (y !== y ? 0 : (y < x ? 1 : (x === y ? 0.5 : 0)))")))

WHERE = register(Primitive(
    "where", 2, "where(cond, {0}, {1})", CALL, 90, ("[cond]", "[not cond]"),
    array=lambda x, y, cond: np.where(cond, x, y),
    darray=lambda out, x, y, cond: (indicator(cond), indicator(~cond)),
    symbol="where"))

CLIP = register(Primitive(
    "clip", 1, "clip({0}, {lo}, {hi})", CALL, 90, ("[{lo} ≤ {0} ≤ {hi}]",),
    js=JS("x < p.lo ? p.lo : (x > p.hi ? p.hi : x)",
          ("x >= p.lo && x <= p.hi ? 1 : (x === x ? 0 : x)",)),
    array=lambda x, lo, hi: np.clip(x, lo, hi),
    darray=lambda out, x, lo, hi: (nan_at(indicator((x >= lo) & (x <= hi)), x),),
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
for _name, _ufunc, _js in [("sign", np.sign, "x > 0 ? 1 : (x < 0 ? -1 : x)"),
                           ("floor", np.floor, "Math.floor(x)"), ("ceil", np.ceil, "Math.ceil(x)"),
                           ("rint", np.rint, "R.round(x, 0)"),
                           ("trunc", np.trunc, "Math.trunc(x)")]:
    unary(_name, _ufunc, f"{_name}({{0}})", "0", _zero, scalar=lambda x, f=_ufunc: float(f(x)),
          js=JS(_js, ("0",)))

FIX = unary("fix", np.fix, "fix({0})", "0", _zero, numpy=(np.fix,),
            js=JS("Math.trunc(x)", ("0",)))


def _bind_round(a, decimals=0, out=None):
    refuse("np.round", out=(out, None))
    return (a,), {"decimals": int(decimals)}


ROUND = register(Primitive(
    "round", 1, "round({0})", CALL, 90, ("0",),
    js=JS("R.round(x, p.decimals)", ("0",)),
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
