"""Shape and assembly: transpose, reshape, indexing, concatenate/stack, copies and
casts (the selections, flip/roll/tile/sort/pad ..., are in ``selection``)."""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from .core import (
    CALL,
    GATHER_JS,
    JOIN_JS,
    JS,
    NO_VALUE,
    POSTFIX,
    Composite,
    Primitive,
    dummy,
    float_dtype,
    ndim_of,
    normalize_axes,
    plain_only,
    refuse,
    register,
    shape_of,
)


# ---------------------------------------------------------------- transpose and reshape
def _inverse_perm(axes, ndim):
    return tuple(np.argsort(axes)) if axes is not None else tuple(range(ndim))[::-1]


def _bind_transpose(a, axes=None):
    ndim = ndim_of(a)
    if axes is not None:
        axes = tuple(int(i) for i in axes)
        if sorted(i % ndim if -ndim <= i < ndim else -1 for i in axes) != list(range(ndim)):
            raise TraceError(f"np.transpose: axes {axes} are not a permutation of the "
                             f"{ndim} axes")
        axes = tuple(i % ndim for i in axes)
    return (a,), {"axes": axes}


TRANSPOSE = register(Primitive(
    "transpose", 1, "{0}ᵀ", POSTFIX, 95, ("transpose back",),
    js=GATHER_JS,
    array=lambda x, axes=None: np.transpose(x, axes),
    vjp=lambda k, g, out, v, p: np.transpose(g, _inverse_perm(p["axes"], v[0].ndim)),
    symbol="ᵀ", numpy=(np.transpose,), bind=_bind_transpose, view=True))


def _bind_reshape(a, shape=NO_VALUE, order="C", *, newshape=NO_VALUE, copy=None):
    if shape is NO_VALUE:
        shape = newshape
    if shape is NO_VALUE:
        raise TraceError("np.reshape needs a shape")
    if order not in ("C", "F", "A"):
        raise TraceError(f"np.reshape: order={order!r} is not supported; use 'C' or 'F'")
    plain_only("np.reshape", shape=shape)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    shape = np.reshape(dummy(shape_of(a)), shape).shape if -1 in shape else shape
    p = {"shape": shape}
    if order == "F":
        p["order"] = "F"
    return (a,), p


RESHAPE = register(Primitive(
    "reshape", 1, "reshape({0})", CALL, 90, ("reshape back",),
    js=GATHER_JS,
    array=lambda x, shape, order="C": np.reshape(x, shape, order=order),
    vjp=lambda k, g, out, v, p: np.reshape(g, v[0].shape, order=p.get("order", "C")),
    symbol="reshape", numpy=(np.reshape,), bind=_bind_reshape, view=True))


def reshaped(record, a, shape):
    """``a`` in a new shape (itself when the shape is unchanged)."""
    shape = tuple(shape)
    if tuple(shape_of(a)) == shape:
        return a
    return record(RESHAPE, (a,), {"shape": shape})


def _shape_by(fn):
    """A composite that reshapes as ``fn`` would (squeeze, expand_dims, ravel ...)."""
    def impl(record, a, *args, **kwargs):
        plain_only(fn.__name__, args=list(args), kwargs=list(kwargs.values()))
        return reshaped(record, a, np.shape(fn(dummy(shape_of(a)), *args, **kwargs)))
    return impl


def _atleast(fn):
    def impl(record, *arys):
        out = [reshaped(record, a, fn(dummy(shape_of(a))).shape) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    return impl


def _permute_by(fn):
    """A composite that permutes axes as ``fn`` would (swapaxes, moveaxis, rollaxis)."""
    def impl(record, a, *args, **kwargs):
        plain_only(fn.__name__, args=list(args))
        nd = ndim_of(a)
        probe = np.broadcast_to(np.empty((), dtype=bool), tuple(range(2, nd + 2)))
        perm = tuple(s - 2 for s in fn(probe, *args, **kwargs).shape)
        if perm == tuple(range(nd)):
            return a
        return record(TRANSPOSE, (a,), {"axes": perm})
    return impl


def _ravel(record, a, order="C"):
    if order not in ("C", "A", "K"):
        raise TraceError(f"ravel/flatten: order={order!r} is not supported; use 'C'")
    return reshaped(record, a, (int(np.prod(shape_of(a))),))


for _row in [
        Composite("squeeze", _shape_by(np.squeeze), numpy=(np.squeeze,), method=("squeeze",)),
        Composite("expand_dims", _shape_by(np.expand_dims), numpy=(np.expand_dims,)),
        Composite("ravel", _ravel, numpy=(np.ravel,), method=("ravel", "flatten")),
        Composite("atleast_1d", _atleast(np.atleast_1d), numpy=(np.atleast_1d,)),
        Composite("atleast_2d", _atleast(np.atleast_2d), numpy=(np.atleast_2d,)),
        Composite("atleast_3d", _atleast(np.atleast_3d), numpy=(np.atleast_3d,)),
        Composite("swapaxes", _permute_by(np.swapaxes), numpy=(np.swapaxes,),
                  method=("swapaxes",)),
        Composite("moveaxis", _permute_by(np.moveaxis), numpy=(np.moveaxis,)),
        Composite("rollaxis", _permute_by(np.rollaxis), numpy=(np.rollaxis,)),
        Composite("matrix_transpose", _permute_by(lambda x: np.swapaxes(x, -1, -2)),
                  numpy=tuple(f for f in [getattr(np, "matrix_transpose", None)] if f))]:
    register(_row)


# ---------------------------------------------------------------- indexing
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


GETITEM = register(Primitive(
    "getitem", 1, "{0}[{index}]", POSTFIX, 95, ("ḡ into {0}[{index}]",),
    js=GATHER_JS,
    array=lambda x, index: x[index], vjp=_getitem_vjp, symbol="[·]", view=True))


def getitem_params(index) -> dict:
    """Normalise an index the user wrote (lists become arrays; traced indices refused)."""
    if not isinstance(index, tuple):
        index = (index,)
    plain_only("indexing", index=list(index))
    index = tuple(np.array(i) if isinstance(i, (list, np.ndarray)) else   # a copy: the
                  (int(i) if isinstance(i, np.integer) else i)
                  for i in index)  # the caller may reuse it
    for i in index:
        if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
            raise TraceError(f"an index array must hold ints or bools, not {i.dtype}")
    return {"index": index}


# ---------------------------------------------------------------- concatenate, stack
_last_offsets: tuple = (None, None, None)   # (argument list, axis, offsets): backward asks
                                            # for every argument of one node in turn


def _concat_vjp(k, g, out, v, p):
    global _last_offsets
    axis = p["axis"]
    seen, seen_axis, offsets = _last_offsets
    if seen is not v or seen_axis != axis:     # once per node, so n parts cost O(n)
        offsets = np.cumsum([0] + [a.shape[axis] for a in v])
        _last_offsets = (v, axis, offsets)
    sl = [slice(None)] * out.ndim
    sl[axis] = slice(int(offsets[k]), int(offsets[k + 1]))
    return g[tuple(sl)]


def _sequence(fname, arrays, out, dtype) -> list:
    refuse(fname, out=(out, None))
    float_dtype(fname, dtype)
    arrays = list(arrays)
    if not arrays:
        raise TraceError(f"{fname} needs at least one array")
    return arrays


def _bind_concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    arrays = _sequence("np.concatenate", arrays, out, dtype)
    if axis is None:
        arrays = [np.reshape(a, (-1,)) for a in arrays]
        axis = 0
    nd = ndim_of(arrays[0])
    if nd == 0:
        raise TraceError("np.concatenate: zero-dimensional arrays cannot be concatenated")
    return tuple(arrays), {"axis": normalize_axes(axis, nd, "np.concatenate")[0]}


CONCATENATE = register(Primitive(
    "concatenate", -1, "concat({args})", CALL, 90, ("part {k} of ḡ",),
    js=JOIN_JS,
    array=lambda *xs, axis: np.concatenate(xs, axis=axis), vjp=_concat_vjp,
    symbol="concat", numpy=(np.concatenate,), bind=_bind_concatenate))


def _bind_stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    arrays = _sequence("np.stack", arrays, out, dtype)
    nd = ndim_of(arrays[0]) + 1
    return tuple(arrays), {"axis": normalize_axes(axis, nd, "np.stack")[0]}


STACK = register(Primitive(
    "stack", -1, "stack({args})", CALL, 90, ("slice {k} of ḡ",),
    js=JOIN_JS,
    array=lambda *xs, axis: np.stack(xs, axis=axis),
    vjp=lambda k, g, out, v, p: np.take(g, k, axis=p["axis"]),
    symbol="stack", numpy=(np.stack,), bind=_bind_stack))


def _stack_with(atleast, axis_for):
    def impl(record, tup, *, dtype=None, casting="same_kind"):
        float_dtype("stacking", dtype)
        arrs = [atleast(record, a) for a in tup]
        return record(CONCATENATE, tuple(arrs), {"axis": axis_for(arrs)})
    return impl


def _column(record, a):
    return reshaped(record, a, (shape_of(a)[0], 1)) if ndim_of(a) == 1 else \
        _atleast(np.atleast_2d)(record, a)


def _append(record, arr, values, axis=None):
    if axis is None:
        return record(CONCATENATE, (np.reshape(arr, (-1,)), np.reshape(values, (-1,))),
                      {"axis": 0})
    return np.concatenate([arr, values], axis=axis)


def _diff(record, a, n=1, axis=-1, prepend=NO_VALUE, append=NO_VALUE):
    if n < 0:
        raise TraceError(f"np.diff: order must be non-negative, got {n}")
    nd = ndim_of(a)
    if nd == 0:
        raise TraceError("np.diff needs at least a 1-D array")
    axis = normalize_axes(axis, nd, "np.diff")[0]
    parts = []
    for extra in (prepend, append):
        if extra is not NO_VALUE:
            if ndim_of(extra) == 0:
                shape = list(shape_of(a))
                shape[axis] = 1
                extra = np.broadcast_to(extra, shape)
            parts.append(extra)
        else:
            parts.append(None)
    pieces = [p for p in (parts[0], a, parts[1]) if p is not None]
    if len(pieces) > 1:
        a = np.concatenate(pieces, axis=axis)
    for _ in range(n):
        length = shape_of(a)[axis]
        hi = [slice(None)] * nd
        lo = [slice(None)] * nd
        hi[axis] = slice(1, length)
        lo[axis] = slice(0, length - 1)
        a = a[tuple(hi)] - a[tuple(lo)]
    return a


for _row in [
        Composite("hstack", _stack_with(_atleast(np.atleast_1d),
                                        lambda arrs: 0 if ndim_of(arrs[0]) == 1 else 1),
                  numpy=(np.hstack,)),
        Composite("vstack", _stack_with(_atleast(np.atleast_2d), lambda arrs: 0),
                  numpy=tuple(f for f in [np.vstack, getattr(np, "row_stack", None)] if f)),
        Composite("dstack", _stack_with(_atleast(np.atleast_3d), lambda arrs: 2),
                  numpy=(np.dstack,)),
        Composite("column_stack", lambda record, tup: record(
            CONCATENATE, tuple(_column(record, a) for a in tup), {"axis": 1}),
                  numpy=(np.column_stack,)),
        Composite("append", _append, numpy=(np.append,)),
        Composite("diff", _diff, numpy=(np.diff,))]:
    register(_row)


# ---------------------------------------------------------------- copies and casts
COPY = register(Primitive(
    "copy", 1, "copy({0})", CALL, 90, ("1",),
    js=JS("x", ("1",)),
    array=lambda x: np.array(x, copy=True) if isinstance(x, np.ndarray) else x,
    darray=lambda out, x: (1.0,), symbol="copy"))


def _copy(record, a, order="K", subok=False):
    return record(COPY, (a,), None)


register(Composite("copy", _copy, numpy=(np.copy,), method=("copy",)))
# real values: the real part is the value itself (a float has no imaginary part)
register(Composite("real", lambda record, val: val, numpy=(np.real,)))
register(Composite("real_if_close", lambda record, a, tol=100: a, numpy=(np.real_if_close,)))

CAST = register(Primitive(
    "astype", 1, "{0}", CALL, 90, ("1",),
    array=lambda x, dtype: np.asarray(x).astype(dtype),
    darray=lambda out, x, dtype: (1.0,), symbol="astype"))
