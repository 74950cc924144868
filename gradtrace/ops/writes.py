"""Writes into arrays: ``out[i, j] = v`` recorded as a new version of ``out``.

numpy assigns ``v`` broadcast to the shape of ``out[index]``; with a repeated
fancy index the last write wins.  The VJP asks numpy itself which element of the
broadcast ``v`` landed in each slot (by writing element numbers instead of
values), so the gradient goes to exactly the elements that stayed in the array,
and the overwritten slots pass no gradient back to the old version.
"""

from __future__ import annotations

import math

import numpy as np

from .core import CALL, Primitive, dummy, register


def _write(x, v, index):
    out = np.array(x, copy=True)
    out[index] = v
    return out


def _winners(shape, index):
    """Per slot of the array: the flat number of the target element written there, or -1."""
    target = dummy(shape)[index].shape
    won = np.full(shape, -1, dtype=np.intp)
    won[index] = np.arange(math.prod(target), dtype=np.intp).reshape(target)
    return won, target


def _write_vjp(k, g, out, v, p):
    index = p["index"]
    if k == 0:                       # the old version: nothing flows into overwritten slots
        kept = np.array(g, dtype=np.float64, copy=True)
        kept[index] = 0.0
        return kept
    won, target = _winners(out.shape, index)
    flat = np.zeros(math.prod(target))
    hit = won >= 0
    flat[won[hit]] = np.broadcast_to(g, out.shape)[hit]
    extra = v[1].ndim - len(target)  # numpy writes a (1, n) value into n places
    return flat.reshape((1,) * max(extra, 0) + target)   # backward sums it to v's shape


SETITEM = register(Primitive(
    "setitem", 2, "set({0}, [{index}], {1})", CALL, 90,
    ("ḡ with [{index}] zeroed", "ḡ[{index}]"),
    array=_write, vjp=_write_vjp, symbol="[·]←"))
