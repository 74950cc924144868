"""Writes into traced arrays, recorded the way PyTorch records in-place ops: as new
versions of the array.

``out[i, j] = v``, ``x += v``, ``np.add(a, b, out=x)`` and ``x.fill(v)`` record a
``setitem`` node (or the update's own op) and move the user's handle ``out`` to it,
so every name for that array reads the new version.  numpy's aliasing is kept:
a view taken earlier (``row = out[0]``, ``out.T``) is re-read from its base after
each write, and a write into a view goes through to its base, at the positions
numpy itself says the view covers.  Inputs and the caller's constants are never
written: a trace is a snapshot.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import ops
from ..core.formulas import index_text
from ..core.tape import KIND
from ..errors import TraceError
from ..ops.core import is_traced
from .dispatch import nested_to_traced

_READ_ONLY_VIEWS = {"diagonal", "broadcast_to", "sliding_window_view"}


def note_view(rec, base, view, prim, params) -> None:
    """Remember that ``view`` (just recorded) is a numpy view of ``base``."""
    if _is_view(prim, params, view.value, base.value):
        rec.views.setdefault(base._id, []).append((weakref.ref(view), view._id))
        rec.view_of[view._id] = (base, prim, params)


def _is_view(prim, params, value, base_value) -> bool:
    if prim is ops.GETITEM:
        return ops.is_basic_index(params["index"])    # fancy indexing copies
    if prim is ops.RESHAPE:
        return np.may_share_memory(value, base_value)  # unless numpy had to copy
    return True


def _input_viewed(rec, nid: int) -> int | None:
    """The input a node is a numpy view of, read off the tape (views of inputs are not
    registered: an input is never written, so they are never re-read)."""
    records = rec.records
    while records[nid][KIND] == "op":
        _, prim, value, ids, _, _, _, params = records[nid]
        if not prim.view or not _is_view(prim, params, value, records[ids[0]][2]):
            return None
        nid = ids[0]
    return nid if records[nid][KIND] == "input" else None


def write(t, key, value, what: str | None = None) -> None:
    """``t[key] = value``: a new version of the array ``t`` (or of the array it views)."""
    if type(t.value) is float:
        raise TraceError("cannot assign into a scalar (0-d) traced value; rebind the name "
                         "instead (x = ...)")
    index = ops.getitem_params(key)["index"]
    if _same_view(t, index, value):
        return                  # x[k] += v wrote through the view x[k]; Python stores it back
    what = what or f"{_name(t)}[{_key_text(key)}] = ..."
    owner, where = _owner(t, index, what)
    rec = t._rec
    if _unread(rec, owner) and not t._needs and not _holds_traced(value):
        _fits(what, np.shape(value), owner, where)
        _fill_in(owner.value, where, value, what)   # (filling data in a loop stays linear)
        return
    value = _as_traced(rec, value)
    _fits(what, tuple(value.shape), owner, where)
    new = rec.op(ops.SETITEM, (owner, value), {"index": where})
    rec.set_name(new._id, _name(owner, None))
    rebind(owner, new)


def update(t, result, what: str):
    """``t op= v`` and ``out=t``: the whole of ``t`` becomes ``result`` (numpy semantics:
    broadcast into t's shape, cast to t's dtype); returns the handle ``t``."""
    rec = t._rec
    shape = tuple(t.shape)
    rshape = tuple(np.shape(result.value)) if is_traced(result) else np.shape(result)
    if rshape != shape:
        try:
            ok = np.broadcast_shapes(rshape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise TraceError(f"{what}: the result has shape {rshape}, which does not fit "
                             f"into the array of shape {shape} it is written into (numpy "
                             "raises 'non-broadcastable output operand' here too)")
    if is_traced(result) and rshape == shape and result.dtype == t.dtype \
            and t._id not in rec.view_of and _input_viewed(rec, t._id) is None:
        rebind(t, result)
        return t
    write(t, Ellipsis, result, what)
    return t


def ufunc_out(ufunc, fname: str, method: str, inputs, kwargs):
    """``np.add(a, b, out=x)``: the ufunc's result written into the traced array ``x``."""
    outs = kwargs.pop("out")
    outs = outs if isinstance(outs, tuple) else (outs,)
    if len(outs) != 1 or not is_traced(outs[0]):
        raise TraceError(
            f"{fname}(..., out=...) writes into an array made outside the traced function, "
            "which gradtrace cannot record; make the array inside the function (np.empty, "
            "np.zeros) or drop out= and use the returned value")
    result = ufunc(*inputs, **kwargs) if method == "__call__" else \
        getattr(ufunc, method)(*inputs, **kwargs)
    return update(outs[0], result, f"{fname}(..., out={_name(outs[0])})")


def rebind(t, new) -> None:
    """The handle ``t`` now stands for the node ``new``; its live views are re-read."""
    old = t._id
    t._stand_for(new)
    rec = t._rec
    views = rec.views.pop(old, None)
    if views:
        for ref, vid in views:
            v = ref()
            if v is None or v._id != vid:
                continue                          # gone, or rebound since
            _, prim, params = rec.view_of.pop(vid)
            fresh = rec.op(prim, (t,), params)
            rec.set_name(fresh._id, rec.names[vid])
            mine = rec.views.get(t._id)
            if mine and mine[-1][1] == fresh._id:
                mine[-1] = (weakref.ref(v), fresh._id)   # the user's handle, not the temporary
            rebind(v, fresh)


def _owner(t, index, what: str):
    """(the array a write lands in, the index there): a view passes it to its base."""
    rec = t._rec
    if rec.finished:
        raise TraceError("this traced value belongs to a trace that has finished; "
                         "do all the computation inside the traced function")
    entry = rec.view_of.get(t._id)
    if entry is None:
        source = _input_viewed(rec, t._id)
        if source is not None:
            name = rec.names[source]
            raise TraceError(
                f"{what} would write into the input '{name}', the caller's array, in place "
                f"(a trace never changes it); copy it first: {name} = {name}.copy()")
        return t, index
    base, prim, params = entry
    if prim.name in _READ_ONLY_VIEWS:
        raise TraceError(f"{what} writes into a read-only view made by np.{prim.name} "
                         "(numpy refuses it too); write into the array itself")
    cover = prim.array(np.arange(base.value.size).reshape(base.value.shape), **params)
    target = np.asarray(cover[index])
    return _owner(base, np.unravel_index(target, base.value.shape), what)


def _fits(what: str, vshape: tuple, owner, where) -> None:
    """numpy's rule: the value broadcasts to the shape of the places the index picks."""
    try:
        places = ops.core.dummy(owner.shape)[where].shape
    except IndexError as e:
        raise TraceError(f"{what}: {e}") from None
    while len(vshape) > len(places) and vshape[0] == 1:     # numpy drops leading 1s here
        vshape = vshape[1:]
    try:
        ok = np.broadcast_shapes(vshape, places) == places
    except ValueError:
        ok = False
    if not ok:
        raise TraceError(f"{what}: the value has shape {vshape}, and numpy cannot write it "
                         f"into the {places} places the index picks (it would raise 'could "
                         "not broadcast'); give a value of that shape")


def _same_view(t, index, value) -> bool:
    """Is ``value`` the view ``t[index]`` itself (writing it back changes nothing)?"""
    if not is_traced(value):
        return False
    entry = t._rec.view_of.get(value._id)
    if entry is None or entry[0] is not t or entry[1] is not ops.GETITEM:
        return False
    mine = entry[2]["index"]
    return len(mine) == len(index) and all(
        a is b or (type(a) is type(b) and not isinstance(a, np.ndarray) and a == b)
        for a, b in zip(mine, index))


def _unread(rec, t) -> bool:
    """Nothing can have read t's node yet: it is the newest node, has no views, and is a
    constructor's buffer or a write's result (an array it owns)."""
    if t._id != rec.n - 1 or t._id in rec.views or t.value.base is not None:
        return False
    record = rec.records[t._id]
    return record[KIND] == "const" or record[1] is ops.SETITEM


def _fill_in(arr, index, value, what: str) -> None:
    """A constant written with plain numbers before anything read it: written in place."""
    arr.flags.writeable = True
    try:
        arr[index] = value
    except (ValueError, TypeError) as e:
        raise TraceError(f"{what}: {e}") from None
    finally:
        arr.flags.writeable = False


def _holds_traced(value) -> bool:
    if is_traced(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_traced(v) for v in value)
    return False


def _name(t, default="x"):
    """The variable a handle stands for (a constructor's buffer: the one it was stored in)."""
    rec = t._rec
    return rec.names[t._id] or rec.buffer_names.get(t._id) or default


def _as_traced(rec, value):
    if is_traced(value):
        if value._rec is not rec:
            raise TraceError("traced values from two different traces cannot be mixed")
        return value
    if isinstance(value, (list, tuple)):
        value = nested_to_traced(value)
        if is_traced(value):
            return value
    return rec.const(value)


def _key_text(key) -> str:
    try:
        return index_text(key if isinstance(key, tuple) else (key,))
    except (TypeError, ValueError):
        return "..."
