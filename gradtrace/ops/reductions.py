"""Reductions, scans and statistics: sum, mean, max, prod, var, std, cumsum, norm ...

Each gives a vector-Jacobian product.  max/min (and the inf-norms) split the
gradient evenly between ties; std and norms at 0 give gradient 0 (the limit of
the subgradient, like abs'(0) = 0), never NaN.
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
    axes_js,
    expand_to,
    float_dtype,
    ndim_of,
    normalize_axes,
    reduced_count,
    refuse,
    register,
    shape_of,
)


def _params(fname, a, axis, keepdims):
    return {"axis": normalize_axes(axis, ndim_of(a), fname), "keepdims": bool(keepdims)}


def _no_where(fname, where):
    if where is not NO_VALUE and where is not True:
        refuse(fname, where=(where, NO_VALUE))


def _spread(g, x, p):
    return np.broadcast_to(expand_to(g, x.shape, p["axis"], p["keepdims"]), x.shape)


# ---------------------------------------------------------------- sum, mean
def _bind_folding(fname):
    """sum and prod: axis, keepdims and initial implemented; out and where refused."""
    def bind(a, axis=None, dtype=None, out=None, keepdims=False, initial=NO_VALUE,
             where=NO_VALUE):
        refuse(fname, out=(out, None))
        _no_where(fname, where)
        float_dtype(fname, dtype)
        p = _params(fname, a, axis, keepdims)
        if initial is not NO_VALUE:
            p["initial"] = float(initial)
        return (a,), p
    return bind


SUM = register(Primitive(
    "sum", 1, "Σ{0}", CALL, 90, ("1",),
    js=JS("R.sum(a[0], p)", vjp="R.spread(g, a[0], p)", prep=axes_js),
    array=lambda x, axis=None, keepdims=False, initial=0.0: np.sum(
        x, axis=axis, keepdims=keepdims, initial=initial),
    vjp=lambda k, g, out, v, p: _spread(g, v[0], p),
    symbol="Σ", numpy=(np.sum,), method=("sum",), bind=_bind_folding("np.sum")))


def _bind_mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=NO_VALUE):
    refuse("np.mean", out=(out, None))
    _no_where("np.mean", where)
    float_dtype("np.mean", dtype)
    return (a,), _params("np.mean", a, axis, keepdims)


MEAN = register(Primitive(
    "mean", 1, "mean({0})", CALL, 90,
    (lambda ops, p, shapes: f"1/{reduced_count(shapes[0], p['axis'])}",),
    js=JS("R.mean(a[0], p)", vjp="R.spread(g, a[0], p, true)", prep=axes_js),
    array=lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
    vjp=lambda k, g, out, v, p: _spread(g, v[0], p) / reduced_count(v[0].shape, p["axis"]),
    symbol="mean", numpy=(np.mean,), method=("mean",), bind=_bind_mean))


# ---------------------------------------------------------------- max, min
def _extreme_vjp(k, g, out, v, p):
    x = v[0]
    mask = x == expand_to(out, x.shape, p["axis"], p["keepdims"])
    ties = np.sum(mask, axis=p["axis"], keepdims=True)
    return expand_to(g, x.shape, p["axis"], p["keepdims"]) * mask / np.maximum(ties, 1)


def _bind_extreme(fname):
    def bind(a, axis=None, out=None, keepdims=False, initial=NO_VALUE, where=NO_VALUE):
        refuse(fname, out=(out, None))
        _no_where(fname, where)
        p = _params(fname, a, axis, keepdims)
        if initial is not NO_VALUE:
            p["initial"] = float(initial)
        return (a,), p
    return bind


def _extreme(np_fn):
    def array(x, axis=None, keepdims=False, initial=NO_VALUE):
        if initial is NO_VALUE:
            return np_fn(x, axis=axis, keepdims=keepdims)
        return np_fn(x, axis=axis, keepdims=keepdims, initial=initial)
    return array


MAX = register(Primitive(
    "max", 1, "max({0})", CALL, 90, ("[{0} = max] / ties",),
    js=JS("R.extreme(a[0], p, 1)", vjp="R.extremeVjp(g, o, a[0], p)", prep=axes_js),
    array=_extreme(np.max), vjp=_extreme_vjp, symbol="max",
    numpy=(np.max, np.amax), method=("max",), bind=_bind_extreme("np.max")))

MIN = register(Primitive(
    "min", 1, "min({0})", CALL, 90, ("[{0} = min] / ties",),
    js=JS("R.extreme(a[0], p, -1)", vjp="R.extremeVjp(g, o, a[0], p)", prep=axes_js),
    array=_extreme(np.min), vjp=_extreme_vjp, symbol="min",
    numpy=(np.min, np.amin), method=("min",), bind=_bind_extreme("np.min")))


# ---------------------------------------------------------------- prod
def _to_last(x, axes):
    """Move ``axes`` to the end and merge them into one: (kept..., n)."""
    axes = tuple(range(x.ndim)) if axes is None else axes
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = kept + list(axes)
    moved = np.transpose(x, perm)
    return moved.reshape(moved.shape[:len(kept)] + (-1,)), perm, moved.shape


def _exclusive_products(x):
    """For each element along the last axis, the product of the others (zeros allowed)."""
    ones = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def _prod_vjp(k, g, out, v, p):
    x = v[0]
    scale = p.get("initial", 1.0)
    if x.ndim == 0:
        return g * scale
    flat, perm, moved_shape = _to_last(x, p["axis"])
    others = _exclusive_products(flat) * scale
    ge = expand_to(g, x.shape, p["axis"], p["keepdims"])
    ge = np.broadcast_to(ge, x.shape)
    ge_flat, _, _ = _to_last(np.ascontiguousarray(ge), p["axis"])
    grad = (others * ge_flat).reshape(moved_shape)
    return np.transpose(grad, np.argsort(perm))


PROD = register(Primitive(
    "prod", 1, "Π{0}", CALL, 90, ("Π of the others",),
    array=lambda x, axis=None, keepdims=False, initial=1.0: np.prod(
        x, axis=axis, keepdims=keepdims, initial=initial),
    vjp=_prod_vjp, symbol="Π", numpy=(np.prod,), method=("prod",), bind=_bind_folding("np.prod")))


# ---------------------------------------------------------------- var, std
def _bind_moment(fname):
    def bind(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=NO_VALUE,
             mean=NO_VALUE, correction=NO_VALUE):
        refuse(fname, out=(out, None), mean=(mean, NO_VALUE))
        _no_where(fname, where)
        float_dtype(fname, dtype)
        if correction is not NO_VALUE:
            if ddof != 0:
                raise TraceError(f"{fname}: ddof and correction cannot both be given")
            ddof = correction
        p = _params(fname, a, axis, keepdims)
        p["ddof"] = float(ddof)
        return (a,), p
    return bind


def _centred(x, p):
    return x - np.mean(x, axis=p["axis"], keepdims=True)


def _var_vjp(k, g, out, v, p):
    x = v[0]
    n = reduced_count(x.shape, p["axis"]) - p["ddof"]
    scale = 2.0 / n if n > 0 else math.nan   # no degrees of freedom: var is NaN, and so is this
    return expand_to(g, x.shape, p["axis"], p["keepdims"]) * scale * _centred(x, p)


def _std_vjp(k, g, out, v, p):
    x = v[0]
    n = reduced_count(x.shape, p["axis"]) - p["ddof"]
    s = expand_to(out, x.shape, p["axis"], p["keepdims"])
    with np.errstate(all="ignore"):
        local = np.where(s == 0, 0.0, _centred(x, p) / (n * np.where(s == 0, 1.0, s)))
    return expand_to(g, x.shape, p["axis"], p["keepdims"]) * local


VAR = register(Primitive(
    "var", 1, "var({0})", CALL, 90, ("2({0} − mean)/(n − ddof)",),
    array=lambda x, axis=None, keepdims=False, ddof=0.0: np.var(
        x, axis=axis, keepdims=keepdims, ddof=ddof),
    vjp=_var_vjp, symbol="var", numpy=(np.var,), method=("var",), bind=_bind_moment("np.var")))

STD = register(Primitive(
    "std", 1, "std({0})", CALL, 90, ("({0} − mean)/((n − ddof)·std)",),
    array=lambda x, axis=None, keepdims=False, ddof=0.0: np.std(
        x, axis=axis, keepdims=keepdims, ddof=ddof),
    vjp=_std_vjp, symbol="std", numpy=(np.std,), method=("std",), bind=_bind_moment("np.std")))


# ---------------------------------------------------------------- cumsum, cumprod
def _bind_scan(fname):
    def bind(a, axis=None, dtype=None, out=None):
        refuse(fname, out=(out, None))
        float_dtype(fname, dtype)
        if axis is not None:
            axis = normalize_axes(axis, max(ndim_of(a), 1), fname)[0]
        return (a,), {"axis": axis}
    return bind


def _scan_axis(x, p):
    """(x as the scan sees it, the axis): axis None scans the flattened array."""
    if p["axis"] is None or x.ndim == 0:
        return x.reshape(-1), 0
    return x, p["axis"]


def _cumsum_vjp(k, g, out, v, p):
    x = v[0]
    _, axis = _scan_axis(x, p)
    g = np.asarray(g)
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis).reshape(x.shape)


def _cumprod_vjp(k, g, out, v, p):
    x = v[0]
    xs, axis = _scan_axis(x, p)
    g = np.asarray(g).reshape(xs.shape)
    out = np.asarray(out).reshape(xs.shape)
    if np.all(xs != 0):
        r = np.flip(np.cumsum(np.flip(g * out, axis), axis), axis) / xs
        return r.reshape(x.shape)
    # zeros: d out_j / d x_k = Π_{i ≤ j, i ≠ k} x_i, summed over j ≥ k (O(n²) along the axis)
    xm = np.moveaxis(xs, axis, -1)
    gm = np.moveaxis(g, axis, -1)
    n = xm.shape[-1]
    rep = np.repeat(xm[..., None, :], n, axis=-2)          # [..., k, i]
    idx = np.arange(n)
    rep[..., idx, idx] = 1.0
    partial = np.cumprod(rep, axis=-1)                      # [..., k, j]
    upper = idx[None, :] >= idx[:, None]                    # j ≥ k
    r = np.sum(partial * upper * gm[..., None, :], axis=-1)
    return np.moveaxis(r, -1, axis).reshape(x.shape)


CUMSUM = register(Primitive(
    "cumsum", 1, "cumsum({0})", CALL, 90, ("reverse cumsum of ḡ",),
    array=lambda x, axis=None: np.cumsum(x, axis=axis), vjp=_cumsum_vjp, symbol="cumsum",
    numpy=(np.cumsum,), method=("cumsum",), bind=_bind_scan("np.cumsum")))

CUMPROD = register(Primitive(
    "cumprod", 1, "cumprod({0})", CALL, 90, ("reverse cumsum of ḡ·out / {0}",),
    array=lambda x, axis=None: np.cumprod(x, axis=axis), vjp=_cumprod_vjp, symbol="cumprod",
    numpy=(np.cumprod,), method=("cumprod",), bind=_bind_scan("np.cumprod")))


# ---------------------------------------------------------------- softmax, logsumexp
def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


SOFTMAX = register(Primitive(
    "softmax", 1, "softmax({0})", CALL, 90, ("s(ḡ − Σ ḡ·s)",),
    js=JS("R.softmax(a[0], p)", vjp="R.softmaxVjp(g, o, p)", prep=axes_js),
    array=_softmax,
    vjp=lambda k, g, out, v, p: out * (g - np.sum(g * out, axis=p["axis"], keepdims=True)),
    symbol="softmax"))


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    r = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return r if keepdims else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))


LOGSUMEXP = register(Primitive(
    "logsumexp", 1, "logsumexp({0})", CALL, 90, ("softmax({0})",),
    js=JS("R.logsumexp(a[0], p)", vjp="R.logsumexpVjp(g, o, a[0], p)", prep=axes_js),
    array=_logsumexp,
    vjp=lambda k, g, out, v, p: expand_to(g, v[0].shape, p["axis"], p["keepdims"]) * np.exp(
        v[0] - expand_to(out, v[0].shape, p["axis"], p["keepdims"])),
    symbol="logsumexp"))


# ---------------------------------------------------------------- norm
def _bind_norm(x, ord=None, axis=None, keepdims=False):
    ndim = ndim_of(x)
    if axis is not None:
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        if len(axes) not in (1, 2) or any(not -ndim <= int(a) < ndim for a in axes):
            raise TraceError(f"np.linalg.norm: invalid axis {axis!r} for an array of "
                             f"dimension {ndim}")
        axes = tuple(int(a) % ndim for a in axes)
        if len(set(axes)) != len(axes):
            raise TraceError(f"np.linalg.norm: repeated axis in {axis!r}")
    elif ord is not None and ndim not in (1, 2):
        raise TraceError("np.linalg.norm: an ord needs a 1-D or 2-D array, or axis=")
    else:
        axes = None
    if isinstance(ord, str) and ord not in ("fro", "nuc"):
        raise TraceError(f"np.linalg.norm: invalid norm order {ord!r}")
    if ord is not None and not isinstance(ord, str):
        ord = float(ord)
    return (x,), {"ord": ord, "axis": axes, "keepdims": bool(keepdims)}


def _norm_array(x, ord=None, axis=None, keepdims=False):
    return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def _svd_vjp(x, rows, cols, pick):
    """Gradient of a singular-value norm over axes (rows, cols): Σ picked u_i v_iᵀ."""
    m = np.moveaxis(x, (rows, cols), (-2, -1))
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    if pick == "all":
        grad = u @ vh
    else:
        i = 0 if pick == "max" else -1
        grad = u[..., :, i, None] * vh[..., i, None, :]
    return np.moveaxis(grad, (-2, -1), (rows, cols))


def _norm_vjp(k, g, out, v, p):
    x = v[0]
    ordp, axes = p["ord"], p["axis"]
    whole = axes is None
    if whole:
        axes = tuple(range(x.ndim))
    sorted_axes = None if whole else tuple(sorted(axes))
    ge = expand_to(g, x.shape, sorted_axes, p["keepdims"])
    oe = expand_to(out, x.shape, sorted_axes, p["keepdims"])
    matrix = len(axes) == 2 and not (whole and ordp is None)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        if ordp in (None, 2.0, "fro") and not (matrix and ordp == 2.0):
            local = np.where(oe == 0, 0.0, x / np.where(oe == 0, 1.0, oe))
        elif matrix and ordp in ("nuc", 2.0, -2.0):
            pick = {"nuc": "all", 2.0: "max", -2.0: "min"}[ordp]
            local = _svd_vjp(x, axes[0], axes[1], pick)
        elif matrix:     # 1, -1 (column sums), inf, -inf (row sums)
            summed = axes[0] if abs(ordp) == 1.0 else axes[1]
            sums = np.sum(ax, axis=summed, keepdims=True)
            mask = sums == oe
            ties = np.sum(mask, axis=axes, keepdims=True)
            local = np.sign(x) * mask / np.maximum(ties, 1)
        elif ordp in (np.inf, -np.inf):
            mask = ax == oe
            ties = np.sum(mask, axis=axes, keepdims=True)
            local = np.sign(x) * mask / np.maximum(ties, 1)
        elif ordp == 0.0:
            local = np.zeros(x.shape)
        elif ordp == 1.0:
            local = np.sign(x)
        else:
            local = np.where(oe == 0, 0.0, np.sign(x) * (ax / np.where(oe == 0, 1.0, oe))
                             ** (ordp - 1.0))
    return ge * local


NORM = register(Primitive(
    "norm", 1, "‖{0}‖", CALL, 90, ("∂‖{0}‖/∂{0}",),
    array=_norm_array, vjp=_norm_vjp, symbol="‖·‖", numpy=(np.linalg.norm,), bind=_bind_norm))


# ---------------------------------------------------------------- average (composite)
def _average(record, a, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        if returned:
            count = np.size(a) if axis is None else np.prod(
                [shape_of(a)[i] for i in normalize_axes(axis, ndim_of(a), "np.average")])
            return avg, np.broadcast_to(np.asarray(float(count)), np.shape(avg)).copy()
        return avg
    wshape, ashape = shape_of(weights), shape_of(a)
    if wshape != ashape:
        if axis is None or len(wshape) != 1:
            raise TraceError("np.average: weights of a different shape need axis= and must be 1-D")
        ax = normalize_axes(axis, len(ashape), "np.average")[0]
        shape = [1] * len(ashape)
        shape[ax] = wshape[0]
        weights = np.reshape(weights, shape)
        weights = weights * np.ones(ashape)
    wsum = np.sum(weights, axis=axis, keepdims=keepdims)
    avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / wsum
    return (avg, wsum) if returned else avg


AVERAGE = register(Composite("average", _average, numpy=(np.average,)))
