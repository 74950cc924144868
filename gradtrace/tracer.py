"""The traced value type and the recorder that writes each op into the graph.

A ``Traced`` stands in for one float or float array while the user's function
runs.  Python operators and numpy's ``__array_ufunc__`` / ``__array_function__``
protocols route every operation to ``Recorder.op``, which computes the value,
the local derivatives (elementwise ops) and appends a node plus one edge per
argument slot to a ``networkx.MultiDiGraph``.

The recorder writes networkx's own adjacency dicts directly (the same layout
``MultiDiGraph.add_edge`` builds, checked in the tests): tracing is the hot path
and ``add_node``/``add_edge`` cost more than the arithmetic they record.
"""

from __future__ import annotations

import contextvars
import math
import sys
import warnings

import networkx as nx
import numpy as np

from . import ops
from .errors import GradtraceWarning, TraceError, UnsupportedOpError
from .naming import RETURN, site_of

ACTIVE: contextvars.ContextVar["Recorder | None"] = contextvars.ContextVar(
    "gradtrace_recorder", default=None)

# Frames in these files are gradtrace's own; naming looks past them to user code.
INTERNAL_FILES: set[str] = {__file__}

_FLOAT = float
_NDARRAY = np.ndarray


class Recorder:
    """Builds one trace's graph while the user's function runs."""

    def __init__(self):
        self.graph = nx.MultiDiGraph()
        self.nodes = self.graph._node
        self.succ = self.graph._succ
        self.pred = self.graph._pred
        self.n = 0
        self.entry = None          # gradtrace's frame that calls the user's function
        self.scopes: list[tuple[int, str]] = []
        self.pending = None        # (frame, lasti, name, node id): see _name_from_builtin
        self.finished = False
        self.nonfinite: list[str] = []
        self._interned: dict[tuple, tuple] = {(): ()}
        self._site_cache: list = []  # see _site
        self._consts: dict[int, tuple] = {}
        self.scope_version = 0     # bumped whenever gt.scope enters or leaves

    # ------------------------------------------------------------ leaves
    def leaf(self, kind: str, value, name: str | None, requires_grad: bool) -> "Traced":
        nid = self.n
        self.n = nid + 1
        scalar = type(value) is _FLOAT
        self.nodes[nid] = {"kind": kind, "op": None, "name": name, "value": value,
                           "shape": () if scalar else value.shape, "scope": (),
                           "params": None, "requires_grad": requires_grad}
        self.succ[nid] = {}
        self.pred[nid] = {}
        return Traced(nid, value, self, requires_grad)

    def const(self, value) -> "Traced":
        """A number or array the function uses that is not an input.

        The same object used again (a literal in a loop, a closed-over array) is the
        same node: it is one value, and the graph stays small.
        """
        hit = self._consts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if type(value) is _FLOAT:
            t = self.leaf("const", value, None, False)
        elif isinstance(value, (bool, int, float, np.number, np.bool_)):
            t = self.leaf("const", float(value), None, False)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            t = self.leaf("const", float(value) if value.ndim == 0 else value, None, False)
        else:
            raise TraceError(
                f"cannot use a {type(value).__name__} as a number in a traced computation; "
                "only floats, ints, bools and numeric numpy arrays can meet traced values")
        self._consts[id(value)] = (value, t)   # holding value keeps its id from reuse
        return t

    # ------------------------------------------------------------ ops
    def op(self, prim: ops.Primitive, args: tuple, params: dict | None = None,
           dunder: bool = False) -> "Traced":
        """Compute ``prim`` on the arguments' values and record it."""
        if self.finished:
            raise TraceError(
                "this traced value belongs to a trace that has finished; "
                "do all the computation inside the traced function")
        if len(args) == 1:
            a0 = args[0]
            vals = (a0.value,)
            req = a0._needs
            floats = type(vals[0]) is _FLOAT
        elif len(args) == 2:
            a0, a1 = args
            vals = (a0.value, a1.value)
            req = a0._needs or a1._needs
            floats = type(vals[0]) is _FLOAT and type(vals[1]) is _FLOAT
        else:
            vals = tuple([a.value for a in args])
            req = any([a._needs for a in args])
            floats = _all_floats(vals)
        if floats and prim.scalar is not None:
            try:
                out = prim.scalar(*vals, **params) if params else prim.scalar(*vals)
                if params is None:
                    locs = prim.dscalar(out, *vals)
                else:
                    locs = prim.dscalar(out, *vals, **params)
            except (ArithmeticError, ValueError):
                out, locs = self._scalar_edge_cases(prim, vals, params)
        else:
            out = prim.array(*vals, **params) if params else prim.array(*vals)
            if type(out) is not _NDARRAY or out.ndim == 0:
                out = _FLOAT(out)
            locs = None
            if req and prim.darray is not None:
                if prim.guard:   # 1/x, log, sqrt ...: infinite at some finite inputs, quietly
                    with np.errstate(all="ignore"):
                        locs = prim.darray(out, *vals, **params) if params else \
                            prim.darray(out, *vals)
                else:
                    locs = prim.darray(out, *vals, **params) if params else prim.darray(out, *vals)
                if type(out) is _FLOAT:
                    locs = tuple([_FLOAT(v) for v in locs])
        nid = self.n
        self.n = nid + 1
        name, scope = self._locate(nid, dunder)
        self.nodes[nid] = {"kind": "op", "op": prim.name, "name": name, "value": out,
                           "shape": () if type(out) is _FLOAT else out.shape, "scope": scope,
                           "params": params, "requires_grad": req}
        self.succ[nid] = {}
        pred = self.pred[nid] = {}
        succ = self.succ
        for k, a in enumerate(args):
            aid = a._id
            keyed = pred.get(aid)
            if keyed is None:
                keyed = pred[aid] = {}
                succ[aid][nid] = keyed
            keyed[k] = {"local": locs[k] if locs is not None else None, "formula": None}
        return Traced(nid, out, self, req)

    def binary(self, prim: ops.Primitive, a: "Traced", b) -> "Traced":
        """``op`` specialised for the hot case: a Python operator on two arguments."""
        if type(b) is not Traced:
            b = self.const(b)
        elif b._rec is not self:
            raise TraceError("traced values from two different traces cannot be mixed")
        if self.finished:
            return self.op(prim, (a, b), None, True)   # raises the finished-trace error
        av = a.value
        bv = b.value
        if type(av) is _FLOAT and type(bv) is _FLOAT and prim.scalar is not None:
            try:
                out = prim.scalar(av, bv)
                la, lb = prim.dscalar(out, av, bv)
            except (ArithmeticError, ValueError):
                out, (la, lb) = self._scalar_edge_cases(prim, (av, bv), None)
            shape = ()
        else:
            out = prim.array(av, bv)
            if type(out) is not _NDARRAY or out.ndim == 0:
                out = _FLOAT(out)
                shape = ()
            else:
                shape = out.shape
            la = lb = None
            if (a._needs or b._needs) and prim.darray is not None:
                if prim.guard:
                    with np.errstate(all="ignore"):
                        la, lb = prim.darray(out, av, bv)
                else:
                    la, lb = prim.darray(out, av, bv)
                if not shape:
                    la, lb = _FLOAT(la), _FLOAT(lb)
        req = a._needs or b._needs
        nid = self.n
        self.n = nid + 1
        name, scope = self._locate(nid, True)
        self.nodes[nid] = {"kind": "op", "op": prim.name, "name": name, "value": out,
                           "shape": shape, "scope": scope, "params": None, "requires_grad": req}
        succ = self.succ
        succ[nid] = {}
        aid = a._id
        bid = b._id
        if aid == bid:
            keyed = {0: {"local": la, "formula": None}, 1: {"local": lb, "formula": None}}
            self.pred[nid] = {aid: keyed}
            succ[aid][nid] = keyed
        else:
            ka = {0: {"local": la, "formula": None}}
            kb = {1: {"local": lb, "formula": None}}
            self.pred[nid] = {aid: ka, bid: kb}
            succ[aid][nid] = ka
            succ[bid][nid] = kb
        return Traced(nid, out, self, req)

    @staticmethod
    def _scalar_edge_cases(prim, vals, params):
        """Float inputs where ``math`` raises (log 0, 1/0, overflow): use numpy's inf/nan."""
        out = ops.scalar_fallback(prim, vals, params)
        with np.errstate(all="ignore"):
            arr = [np.float64(v) for v in vals]
            locs = prim.darray(np.float64(out), *arr, **(params or {}))
        return out, tuple(float(v) for v in locs)

    # ------------------------------------------------------------ names and scopes
    def _locate(self, nid: int, dunder: bool):
        """The user's variable name for a new node, and its scope tuple."""
        f = sys._getframe(2)
        internal = INTERNAL_FILES
        while f is not None and f.f_code.co_filename in internal:
            f = f.f_back
        if f is None:
            return None, ()
        lasti = f.f_lasti
        is_call, name, scope = self._site(f, lasti)
        pending = self.pending
        if pending is not None and pending[0] is f and pending[1] != lasti:
            self.commit_pending()
        if dunder and is_call and name is not None:
            name = self._name_from_builtin(f, name, nid)
        return name, scope

    def _site(self, user, lasti):
        """(is a call, variable name, scope) of an instruction, remembered per frame.

        Loops run the same few instructions of one or two frames again and again; a
        frame's callers are fixed while it runs (a generator's f_back can change
        between resumptions, so it is part of the key).
        """
        back = user.f_back
        for fr, bk, version, table in self._site_cache:
            if fr is user and bk is back and version == self.scope_version:
                hit = table.get(lasti)
                if hit is None:
                    hit = table[lasti] = self._site_walk(user)
                return hit
        table = {}
        self._site_cache.insert(0, (user, back, self.scope_version, table))
        del self._site_cache[2:]
        hit = table[lasti] = self._site_walk(user)
        return hit

    def _site_walk(self, user):
        f = user
        internal = INTERNAL_FILES
        is_call, what = site_of(f)
        hops = 0
        while what is RETURN and hops < 8:
            f = f.f_back
            if f is None or f is self.entry or f.f_code.co_filename in internal:
                what = None
                break
            what = site_of(f)[1]
            hops += 1
        return is_call, (None if what is RETURN else what), self._scope_walk(user)

    def _name_from_builtin(self, user, name, nid):
        """``s = sum(xs)`` makes many adds from one call: only the last one is ``s``."""
        pending = self.pending
        if pending is not None and not (pending[0] is user and pending[1] == user.f_lasti):
            self.commit_pending()
        self.pending = (user, user.f_lasti, name, nid)
        return None

    def commit_pending(self):
        if self.pending is not None:
            _, _, name, nid = self.pending
            attrs = self.nodes[nid]
            if attrs["name"] is None:
                attrs["name"] = name
            self.pending = None

    def _scope_walk(self, user) -> tuple:
        chain = []
        f = user
        entry = self.entry
        internal = INTERNAL_FILES
        while f is not None and f is not entry:
            if f.f_code.co_filename not in internal:
                chain.append(f.f_code.co_name)
            f = f.f_back
        if f is None or (len(chain) < 2 and not self.scopes):
            return ()
        chain.reverse()
        if self.scopes:
            parts = []
            for depth, fname in enumerate(chain):
                if depth and fname[0] != "<":
                    parts.append(fname)
                parts.extend(s for d, s in self.scopes if d == depth)
            key = tuple(parts)
        else:
            key = tuple([c for c in chain[1:] if c[0] != "<"])
        interned = self._interned.get(key)
        if interned is None:
            interned = self._interned[key] = key
        return interned

    def scope_depth(self, caller) -> int:
        """How many user frames below the traced function ``caller`` is (for gt.scope)."""
        depth = 0
        f = caller
        while f is not None and f is not self.entry:
            if f.f_code.co_filename not in INTERNAL_FILES:
                depth += 1
            f = f.f_back
        return max(depth - 1, 0)


def _all_floats(vals) -> bool:
    for v in vals:
        if type(v) is not _FLOAT:
            return False
    return True


# ---------------------------------------------------------------- the traced value
class Traced:
    """A float or float array being traced; behaves like one inside the function."""

    __slots__ = ("_id", "value", "_rec", "_needs")
    __array_priority__ = 1000

    def __init__(self, nid: int, value, rec: Recorder, needs: bool):
        self._id = nid
        self.value = value
        self._rec = rec
        self._needs = needs

    # ---- arithmetic (the recorder turns plain numbers into constant nodes)
    def __add__(self, o):
        return self._rec.binary(ops.ADD, self, o)

    def __radd__(self, o):
        return self._rec.binary(ops.ADD, self._rec.const(o), self)

    def __sub__(self, o):
        return self._rec.binary(ops.SUB, self, o)

    def __rsub__(self, o):
        return self._rec.binary(ops.SUB, self._rec.const(o), self)

    def __mul__(self, o):
        return self._rec.binary(ops.MUL, self, o)

    def __rmul__(self, o):
        return self._rec.binary(ops.MUL, self._rec.const(o), self)

    def __truediv__(self, o):
        return self._rec.binary(ops.DIV, self, o)

    def __rtruediv__(self, o):
        return self._rec.binary(ops.DIV, self._rec.const(o), self)

    def __pow__(self, o):
        if type(o) is not Traced and isinstance(o, (int, float, np.integer, np.floating)) \
                and not isinstance(o, bool):
            return self._rec.op(ops.POW_CONST, (self,), {"p": o if isinstance(o, int) else float(o)},
                                True)
        return self._rec.binary(ops.POW, self, o)

    def __rpow__(self, o):
        return self._rec.binary(ops.POW, self._rec.const(o), self)

    def __matmul__(self, o):
        return self._rec.binary(ops.MATMUL, self, o)

    def __rmatmul__(self, o):
        return self._rec.binary(ops.MATMUL, self._rec.const(o), self)

    def __neg__(self):
        return self._rec.op(ops.NEG, (self,), None, True)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._rec.op(ops.ABS, (self,), None, True)

    # ---- comparisons give plain booleans: control flow, not part of the graph
    def __lt__(self, o):
        return self.value < _raw(o)

    def __le__(self, o):
        return self.value <= _raw(o)

    def __gt__(self, o):
        return self.value > _raw(o)

    def __ge__(self, o):
        return self.value >= _raw(o)

    def __eq__(self, o):
        return self.value == _raw(o)

    def __ne__(self, o):
        return self.value != _raw(o)

    __hash__ = object.__hash__

    def __bool__(self):
        return bool(self.value)

    # ---- leaving the graph is refused, loudly
    def __float__(self):
        raise TraceError(
            "a traced value was converted to a Python float (float(), math.*, .item()), which "
            "would drop it from the graph; use numpy functions (np.exp, np.log, ...) or "
            "gradtrace's (gt.sigmoid, ...) instead")

    __int__ = __float__
    __index__ = __float__
    __complex__ = __float__

    def item(self):
        return self.__float__()

    def __array__(self, dtype=None, copy=None):
        raise TraceError(
            "a traced value was turned into a plain numpy array (np.array / np.asarray of a "
            "list of traced values?); use np.stack or np.concatenate so it stays in the graph")

    def __setitem__(self, key, value):
        raise TraceError(
            "in-place writes to a traced array are not allowed (x[i] = ...): they would "
            "change a value the graph already recorded; build a new array instead "
            "(np.where, np.concatenate, or arithmetic)")

    # ---- array-like surface
    @property
    def shape(self):
        return () if type(self.value) is _FLOAT else self.value.shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype(self):
        return np.dtype(np.float64) if type(self.value) is _FLOAT else self.value.dtype

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a scalar traced value")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return getitem(self, index)

    @property
    def T(self):
        return transpose(self)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return transpose(self, tuple(axes) if axes else None)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return reshape(self, shape)

    def ravel(self):
        return reshape(self, (-1,))

    flatten = ravel

    def sum(self, axis=None, keepdims=False):
        return reduce_op(ops.SUM, self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduce_op(ops.MEAN, self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return reduce_op(ops.MAX, self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return reduce_op(ops.MIN, self, axis, keepdims)

    def dot(self, other):
        return binary_op(ops.DOT, self, other)

    def astype(self, dtype, copy=True):
        if np.dtype(dtype).kind == "f":
            return self
        raise TraceError(f"cannot cast a traced value to {np.dtype(dtype)}: that leaves the graph")

    def __format__(self, spec):
        return format(self.value, spec)

    def __repr__(self):
        attrs = self._rec.nodes[self._id]
        name = attrs["name"] or f"#{self._id}"
        return f"Traced({name}, value={self.value!r})"

    # ---- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        prim = UFUNC_PRIMITIVES.get(ufunc)
        if prim is not None and method == "__call__" and not kwargs:
            if prim.arity == 1:
                x = inputs[0]
                return x._rec.op(prim, (x,)) if type(x) is Traced else prim.array(x)
            if ufunc is np.power and type(inputs[1]) is not Traced:
                return inputs[0] ** inputs[1]
            return binary_op(prim, inputs[0], inputs[1])
        if "out" in kwargs:
            raise TraceError(
                f"np.{ufunc.__name__}(..., out=...) writes in place into an array; that is not "
                "allowed while tracing: drop out= and use the returned value")
        if method != "__call__":
            raise UnsupportedOpError(
                f"gradtrace cannot differentiate np.{ufunc.__name__}.{method}; "
                f"use the plain function (np.sum instead of np.add.reduce, etc.)")
        if ufunc in CONSTANT_UFUNCS:
            return ufunc(*[_raw(i) for i in inputs], **kwargs)
        if ufunc is np.positive:
            return inputs[0]
        if prim is None:
            raise UnsupportedOpError(
                f"gradtrace cannot differentiate np.{ufunc.__name__}: it is not in gradtrace's "
                "op table (gradtrace.ops); write it with supported operations or compute it "
                "outside the traced function")
        if set(kwargs) - {"dtype", "casting"}:
            raise TraceError(f"np.{ufunc.__name__}: keyword arguments {sorted(kwargs)} "
                             "are not supported on traced values")
        if prim.arity == 1:
            return apply(prim, inputs[0])
        return binary_op(prim, inputs[0], inputs[1])

    def __array_function__(self, func, types, args, kwargs):
        handler = FUNCTION_HANDLERS.get(func)
        if handler is None:
            raise UnsupportedOpError(
                f"gradtrace cannot differentiate {_qualname(func)}: it is not in gradtrace's "
                "op table (gradtrace.ops); write it with supported operations or compute it "
                "outside the traced function")
        return handler(*args, **kwargs)


def _raw(x):
    return x.value if type(x) is Traced else x


def _qualname(func) -> str:
    module = getattr(func, "__module__", None) or ""
    if module == "numpy" or module.startswith("numpy."):
        parts = module.split(".")
        public = [p for p in parts[1:] if not p.startswith("_")]
        module = ".".join(["np", *public])
    name = getattr(func, "__name__", repr(func))
    return f"{module}.{name}" if module else name


def recorder_of(*xs) -> Recorder | None:
    for x in xs:
        if type(x) is Traced:
            return x._rec
        if isinstance(x, (list, tuple)):
            r = recorder_of(*x)
            if r is not None:
                return r
    return None


def as_traced(rec: Recorder, x) -> Traced:
    if type(x) is Traced:
        if x._rec is not rec:
            raise TraceError("traced values from two different traces cannot be mixed")
        return x
    return rec.const(x)


# ---------------------------------------------------------------- op helpers (used by handlers)
def apply(prim: ops.Primitive, x, params: dict | None = None):
    """Apply a one-argument primitive; plain values are computed without recording."""
    if type(x) is not Traced:
        return prim.array(x, **params) if params else prim.array(x)
    return x._rec.op(prim, (x,), params)


def binary_op(prim: ops.Primitive, x, y):
    rec = recorder_of(x, y)
    return rec.op(prim, (as_traced(rec, x), as_traced(rec, y)))


def reduce_op(prim, x, axis=None, keepdims=False):
    if isinstance(axis, list):
        axis = tuple(axis)
    if type(x) is Traced and x.shape == () and axis is None:
        return x
    return apply(prim, x, {"axis": axis, "keepdims": bool(keepdims)})


def transpose(x, axes=None):
    return apply(ops.TRANSPOSE, x, {"axes": tuple(axes) if axes is not None else None})


def reshape(x, shape):
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    return apply(ops.RESHAPE, x, {"shape": shape})


def getitem(x, index):
    if not isinstance(index, tuple):
        index = (index,)
    if any(type(i) is Traced for i in index):
        raise TraceError("a traced value cannot be used as an index; indices are constants")
    index = tuple(np.asarray(i) if isinstance(i, list) else i for i in index)
    return apply(ops.GETITEM, x, {"index": index})


def _sequence_op(prim, seq, axis):
    seq = list(seq)
    rec = recorder_of(*seq)
    args = tuple(as_traced(rec, s) for s in seq)
    return rec.op(prim, args, {"axis": int(axis)})


def _where(cond, x=None, y=None):
    if x is None or y is None:
        raise UnsupportedOpError("np.where with one argument (np.nonzero) is not differentiable")
    cond = np.asarray(_raw(cond)).astype(bool)
    rec = recorder_of(x, y)
    return rec.op(ops.WHERE, (as_traced(rec, x), as_traced(rec, y)), {"cond": cond})


def _clip(a, a_min=None, a_max=None, **kwargs):
    if type(a_min) is Traced or type(a_max) is Traced:
        out = a
        if a_min is not None:
            out = binary_op(ops.MAXIMUM, out, a_min)
        if a_max is not None:
            out = binary_op(ops.MINIMUM, out, a_max)
        return out
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return apply(ops.CLIP, a, {"lo": lo, "hi": hi})


def _dot(a, b, out=None):
    if np.ndim(_raw(a)) > 2 or np.ndim(_raw(b)) > 2:
        raise UnsupportedOpError("np.dot of arrays with more than 2 dimensions is not supported; "
                                 "use np.matmul (@), which broadcasts batch dimensions")
    return binary_op(ops.DOT, a, b)


def _constant_like(maker):
    def handler(a, *args, **kwargs):
        return maker(_raw(a), *args, **kwargs)
    return handler


def _squeeze(a, axis=None):
    return reshape(a, np.squeeze(np.empty(np.shape(_raw(a)), dtype=bool), axis=axis).shape)


def _expand_dims(a, axis):
    return reshape(a, np.expand_dims(np.empty(np.shape(_raw(a)), dtype=bool), axis).shape)


UFUNC_PRIMITIVES = {
    np.add: ops.ADD, np.subtract: ops.SUB, np.multiply: ops.MUL, np.true_divide: ops.DIV,
    np.power: ops.POW, np.negative: ops.NEG, np.exp: ops.EXP, np.log: ops.LOG,
    np.log1p: ops.LOG1P, np.expm1: ops.EXPM1, np.sqrt: ops.SQRT, np.sin: ops.SIN,
    np.cos: ops.COS, np.tanh: ops.TANH, np.absolute: ops.ABS, np.square: ops.SQUARE,
    np.maximum: ops.MAXIMUM, np.minimum: ops.MINIMUM, np.matmul: ops.MATMUL,
}

# Ufuncs whose result is piecewise constant (derivative 0 almost everywhere): they give
# plain values, like comparisons, and do not enter the graph.
CONSTANT_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.sign, np.floor, np.ceil, np.rint, np.trunc,
    np.logical_and, np.logical_or, np.logical_not, np.signbit,
}

FUNCTION_HANDLERS = {
    np.sum: lambda a, axis=None, dtype=None, out=None, keepdims=False, **kw:
        reduce_op(ops.SUM, a, axis, keepdims),
    np.mean: lambda a, axis=None, dtype=None, out=None, keepdims=False, **kw:
        reduce_op(ops.MEAN, a, axis, keepdims),
    np.max: lambda a, axis=None, out=None, keepdims=False, **kw: reduce_op(ops.MAX, a, axis, keepdims),
    np.min: lambda a, axis=None, out=None, keepdims=False, **kw: reduce_op(ops.MIN, a, axis, keepdims),
    np.amax: lambda a, axis=None, out=None, keepdims=False, **kw: reduce_op(ops.MAX, a, axis, keepdims),
    np.amin: lambda a, axis=None, out=None, keepdims=False, **kw: reduce_op(ops.MIN, a, axis, keepdims),
    np.dot: _dot,
    np.transpose: lambda a, axes=None: transpose(a, axes),
    np.reshape: lambda a, shape=None, order="C", **kw: reshape(a, shape if shape is not None
                                                              else kw.get("newshape")),
    np.squeeze: _squeeze,
    np.expand_dims: _expand_dims,
    np.ravel: lambda a, order="C": reshape(a, (-1,)),
    np.concatenate: lambda seq, axis=0, **kw: _sequence_op(ops.CONCATENATE, seq, axis),
    np.stack: lambda seq, axis=0, **kw: _sequence_op(ops.STACK, seq, axis),
    np.where: _where,
    np.clip: _clip,
    np.zeros_like: _constant_like(np.zeros_like),
    np.ones_like: _constant_like(np.ones_like),
    np.full_like: _constant_like(np.full_like),
    np.empty_like: _constant_like(np.zeros_like),
    np.shape: lambda a: np.shape(_raw(a)),
    np.ndim: lambda a: np.ndim(_raw(a)),
    np.size: lambda a, axis=None: np.size(_raw(a), axis),
}


def note_nonfinite(rec: Recorder, name: str, value) -> None:
    """Remember inputs holding NaN or inf, to warn once per trace."""
    if type(value) is _FLOAT:
        finite = math.isfinite(value)
    else:
        # one pass, no temporary: x·x (BLAS, multithreaded) or Σx is finite only if
        # every element is (or, rarely, it overflowed: then look element by element)
        quick = np.vdot(value, value) if value.flags.c_contiguous and value.dtype.kind == "f" \
            else np.add.reduce(value, axis=None)
        finite = math.isfinite(float(quick)) or bool(np.isfinite(value).all())
    if not finite:
        rec.nonfinite.append(name)


def warn_nonfinite(rec: Recorder) -> None:
    if rec.nonfinite:
        warnings.warn(f"inputs {', '.join(rec.nonfinite)} contain NaN or inf; they are traced "
                      "as given, and gradients through them may be NaN", GradtraceWarning,
                      stacklevel=3)
