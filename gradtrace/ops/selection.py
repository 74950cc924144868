"""Selections: numpy functions that only pick input elements into a new layout,
perhaps filling some places with a constant (flip, roll, tile, repeat, take, sort,
pad, diag, tril, split, ...), and np.convolve built on one.

numpy's own function, run on an array of positions, says which element lands
where; the value is that gather, and the VJP scatters the gradient back (adding
where an element was picked more than once).  So each such numpy function is one
row that keeps numpy's exact meaning for every keyword.
"""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from .core import (
    CALL,
    SELECT_JS,
    Composite,
    Primitive,
    ndim_of,
    plain_only,
    positions,
    refuse,
    register,
    shape_of,
    value_of,
)


# ---------------------------------------------------------------- selections
def gather(x, index, fill=0.0):
    """x's elements laid out by ``index`` (flat positions; -1 takes ``fill``)."""
    flat = np.asarray(x).reshape(-1)
    if index.size and index.min() < 0:
        if flat.size == 0:
            return np.full(index.shape, fill, dtype=np.result_type(flat, np.float64))
        picked = flat[np.maximum(index, 0)]
        return np.where(index >= 0, picked, fill).astype(flat.dtype, copy=False)
    return flat[index]


def _scatter_vjp(k, g, out, v, p):
    x, index = v[0], p["index"]
    g = np.broadcast_to(np.asarray(g, dtype=np.float64), index.shape)
    valid = index >= 0
    if valid.all():
        idx, w = index.reshape(-1), g.reshape(-1)
    else:
        idx, w = index[valid], g[valid]
    return np.bincount(idx, weights=w, minlength=x.size).reshape(x.shape)


def _same_call(fn):
    """Index of a selection: numpy's function applied to the positions."""
    def index(a, *args, **kwargs):
        return np.asarray(fn(positions(shape_of(a)), *args, **kwargs))
    return index


def selection(name, fn, *, method=(), index=None, numpy=None, fill=None, view=False,
              replay=True):
    """A row for a numpy function that only selects (and maybe fills in) elements
    (``replay=False``: which elements depends on the values, as for sort, so the page
    cannot replay it with the traced choice)."""
    index = index or _same_call(fn)

    def bind(a, *args, **kwargs):
        plain_only(f"np.{name}", args=list(args), kwargs=list(kwargs.values()))
        p = {"index": index(a, *args, **kwargs) - 1}
        if fill is not None:
            p["fill"] = fill(a, *args, **kwargs)
        return (a,), p

    return register(Primitive(
        name, 1, f"{name}({{0}})", CALL, 90, (f"ḡ back through {name}",),
        array=gather, vjp=_scatter_vjp, symbol=name, js=SELECT_JS if replay else None,
        numpy=(fn,) if numpy is None and fn is not None else (numpy or ()), method=method,
        bind=bind, view=view))


def _sort_index(a, axis=-1, kind=None, order=None, *, stable=None):
    refuse("np.sort", order=(order, None))
    vals = np.asarray(value_of(a))
    pos = positions(vals.shape)
    if axis is None:
        return pos.reshape(-1)[np.argsort(vals.reshape(-1), kind="stable")]
    return np.take_along_axis(pos, np.argsort(vals, axis=axis, kind="stable"), axis=axis)


def _partition_index(a, kth, axis=-1, kind="introselect", order=None):
    refuse("np.partition", order=(order, None))
    vals = np.asarray(value_of(a))
    pos = positions(vals.shape)
    if axis is None:
        return pos.reshape(-1)[np.argpartition(vals.reshape(-1), kth)]
    return np.take_along_axis(pos, np.argpartition(vals, kth, axis=axis), axis=axis)


_PAD_SELECTING = {"constant", "edge", "reflect", "symmetric", "wrap"}


def _pad_check(mode, kwargs):
    if not isinstance(mode, str) or mode not in _PAD_SELECTING:
        raise TraceError(f"np.pad: mode={mode!r} is not supported while tracing; gradtrace "
                         f"supports {', '.join(sorted(_PAD_SELECTING))}")
    if kwargs.get("reflect_type", "even") != "even":
        raise TraceError("np.pad: reflect_type='odd' is not supported while tracing")
    extra = set(kwargs) - {"constant_values", "reflect_type"}
    if extra:
        raise TraceError(f"np.pad: keywords {sorted(extra)} are not supported with mode={mode!r}")


def _pad_index(a, pad_width, mode="constant", **kwargs):
    _pad_check(mode, kwargs)
    kwargs.pop("constant_values", None)
    return np.pad(positions(shape_of(a)), pad_width, mode=mode, **kwargs)


def _pad_fill(a, pad_width, mode="constant", **kwargs):
    if mode != "constant":
        return 0.0
    cv = kwargs.get("constant_values", 0)
    filled = np.pad(np.zeros(shape_of(a)), pad_width, mode="constant", constant_values=cv)
    return float(filled.flat[0]) if filled.size and np.all(filled == filled.flat[0]) else \
        (filled if filled.size else 0.0)


def _take_index(a, indices, axis=None, out=None, mode="raise"):
    refuse("np.take", out=(out, None))
    return np.asarray(np.take(positions(shape_of(a)), indices, axis=axis, mode=mode))


def _swv(x, window_shape, axis=None, *, subok=False, writeable=False):
    return np.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)


def _resize_index(a, new_shape):
    return np.resize(positions(shape_of(a)), new_shape)


FLIP = selection("flip", np.flip)
FLIPLR = selection("fliplr", np.fliplr)
FLIPUD = selection("flipud", np.flipud)
ROT90 = selection("rot90", np.rot90)
ROLL = selection("roll", np.roll)
TILE = selection("tile", np.tile)
REPEAT = selection("repeat", np.repeat, method=("repeat",))
TAKE = selection("take", np.take, method=("take",), index=_take_index)
TAKE_ALONG_AXIS = selection("take_along_axis", np.take_along_axis)
DIAGONAL = selection("diagonal", np.diagonal, method=("diagonal",), view=True)
DIAG = selection("diag", np.diag)
DIAGFLAT = selection("diagflat", np.diagflat)
TRIL = selection("tril", np.tril)
TRIU = selection("triu", np.triu)
BROADCAST_TO = selection("broadcast_to", np.broadcast_to, view=True)
DELETE = selection("delete", np.delete)
RESIZE = selection("resize", np.resize, index=_resize_index)
SORT = selection("sort", np.sort, index=_sort_index, replay=False)
PARTITION = selection("partition", np.partition, index=_partition_index, replay=False)
PAD = selection("pad", np.pad, index=_pad_index, fill=_pad_fill)
SLIDING_WINDOW = selection("sliding_window_view", _swv,
                           numpy=(np.lib.stride_tricks.sliding_window_view,), view=True)
SPLIT_PART = selection("split", None)


def _splitter(fn):
    """np.split and friends: numpy splits the positions, each part is a selection."""
    def impl(record, ary, *args, **kwargs):
        plain_only(fn.__name__, args=list(args))
        parts = fn(positions(shape_of(ary)), *args, **kwargs)
        return [record(SPLIT_PART, (ary,), {"index": np.array(part) - 1}) for part in parts]
    return impl


for _fn in (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit):
    register(Composite(_fn.__name__, _splitter(_fn), numpy=(_fn,)))



# ---------------------------------------------------------------- convolution
CONV_MATRIX = selection("convolution_matrix", None)


def _convolve(record, a, v, mode="full"):
    """np.convolve as (the Toeplitz matrix of a) @ v, then numpy's window for ``mode``."""
    if ndim_of(a) != 1 or ndim_of(v) != 1:
        raise TraceError("np.convolve takes two 1-D arrays")
    m, n = shape_of(a)[0], shape_of(v)[0]
    if m == 0 or n == 0:
        raise TraceError("np.convolve: an input is empty")
    rows = np.arange(m + n - 1)[:, None] - np.arange(n)[None, :]
    index = np.where((rows >= 0) & (rows < m), rows, -1)
    full = record(CONV_MATRIX, (a,), {"index": index, "fill": 0.0}) @ v
    short, long = min(m, n), max(m, n)
    if mode == "full":
        return full
    if mode == "same":
        start = (short - 1) // 2
        return full[start:start + long]
    if mode == "valid":
        return full[short - 1:long]
    raise TraceError(f"np.convolve: mode must be 'full', 'same' or 'valid', not {mode!r}")


register(Composite("convolve", _convolve, numpy=(np.convolve,)))
