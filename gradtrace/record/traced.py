"""The traced value: a float or float array standing in for the user's value while
the function runs.

Python operators go straight to the recorder (the hot path); numpy's
``__array_ufunc__`` / ``__array_function__`` protocols and the ndarray-like
methods go through ``gradtrace.record.dispatch``, whose tables come from the op table.
Leaving the graph (``float()``, ``.item()``, ``np.asarray`` to a plain array) is
refused while the value depends on an input that gets a gradient.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .. import ops
from ..errors import TraceError
from ..names.usercode import NUMPY_NAME, math_culprit, storing_subscript
from ..ops import ABS, ADD, DIV, FLOOR_DIVIDE, MATMUL, MOD, MUL, NEG, POW, POW_CONST, SUB
from . import dispatch, inplace

_FLOAT = float
# handlers looked up once: while a trace runs, np.transpose & co. may be wrapped
# (gradtrace.record.constructors), and the tables are keyed by numpy's own functions
_TRANSPOSE = dispatch.FUNCTIONS[np.transpose]
_SWAPAXES = dispatch.FUNCTIONS[np.swapaxes]
_RESHAPE = dispatch.FUNCTIONS[np.reshape]


class Traced:
    """A float or float array being traced; behaves like one inside the function."""

    __slots__ = ("_id", "value", "_rec", "_needs", "__weakref__")
    __array_priority__ = 1000
    __gradtrace_traced__ = True

    def __init__(self, nid: int, value, rec, needs: bool):
        self._id = nid
        self.value = value
        self._rec = rec
        self._needs = needs

    def _stand_for(self, other: Traced) -> None:
        """This handle now means ``other``'s node (an array written in place is a new
        version; ``inplace.rebind`` re-points the user's handle to it)."""
        self._id, self.value, self._needs = other._id, other.value, other._needs

    # ---- arithmetic (the recorder turns plain numbers into constant nodes)
    def __add__(self, o):
        return self._rec.binary(ADD, self, o)

    def __radd__(self, o):
        if type(o) is int and o == 0 and self._rec.summing(self):
            return self                  # sum()'s start value is no term
        return self._rec.binary(ADD, self._rec.const(o), self)

    def __sub__(self, o):
        return self._rec.binary(SUB, self, o)

    def __rsub__(self, o):
        return self._rec.binary(SUB, self._rec.const(o), self)

    def __mul__(self, o):
        return self._rec.binary(MUL, self, o)

    def __rmul__(self, o):
        return self._rec.binary(MUL, self._rec.const(o), self)

    def __truediv__(self, o):
        return self._rec.binary(DIV, self, o)

    def __rtruediv__(self, o):
        return self._rec.binary(DIV, self._rec.const(o), self)

    def __mod__(self, o):
        return self._rec.binary(MOD, self, o)

    def __rmod__(self, o):
        return self._rec.binary(MOD, self._rec.const(o), self)

    def __floordiv__(self, o):
        return self._rec.binary(FLOOR_DIVIDE, self, o)

    def __rfloordiv__(self, o):
        return self._rec.binary(FLOOR_DIVIDE, self._rec.const(o), self)

    def __divmod__(self, o):
        return self // o, self % o

    def __rdivmod__(self, o):
        return o // self, o % self

    def __pow__(self, o):
        if type(o) is not Traced and isinstance(o, (int, float, np.integer, np.floating)) \
                and not isinstance(o, bool):
            p = int(o) if isinstance(o, int) else float(o)
            return self._rec.op(POW_CONST, (self,), {"p": p}, True)
        return self._rec.binary(POW, self, o)

    def __rpow__(self, o):
        return self._rec.binary(POW, self._rec.const(o), self)

    def __matmul__(self, o):
        return self._rec.binary(MATMUL, self, o)

    def __rmatmul__(self, o):
        return self._rec.binary(MATMUL, self._rec.const(o), self)

    def __neg__(self):
        return self._rec.op(NEG, (self,), None, True)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._rec.op(ABS, (self,), None, True)

    # ---- augmented assignment: a float rebinds, as in Python; an array is updated in place,
    # recorded as a new version that every name for it (and every view of it) sees
    def _in_place(self, o, op_text, plain_op):
        if type(self.value) is _FLOAT:
            return plain_op(self, o)
        return inplace.update(self, plain_op(self, o),
                              f"{self._rec.names[self._id] or 'x'} {op_text}= ...")

    def __iadd__(self, o):
        return self._in_place(o, "+", Traced.__add__)

    def __isub__(self, o):
        return self._in_place(o, "-", Traced.__sub__)

    def __imul__(self, o):
        return self._in_place(o, "*", Traced.__mul__)

    def __itruediv__(self, o):
        return self._in_place(o, "/", Traced.__truediv__)

    def __ipow__(self, o):
        return self._in_place(o, "**", Traced.__pow__)

    def __imatmul__(self, o):
        return self._in_place(o, "@", Traced.__matmul__)

    def __imod__(self, o):
        return self._in_place(o, "%", Traced.__mod__)

    def __ifloordiv__(self, o):
        return self._in_place(o, "//", Traced.__floordiv__)

    # ---- comparisons give plain booleans: control flow, not part of the graph.  Each is
    # kept as a guard (the branch the code took), so a what-if can say when it would flip.
    def __lt__(self, o):
        r = self.value < _raw(o)
        self._rec.guard("<", self, o, r)
        return r

    def __le__(self, o):
        r = self.value <= _raw(o)
        self._rec.guard("<=", self, o, r)
        return r

    def __gt__(self, o):
        r = self.value > _raw(o)
        self._rec.guard(">", self, o, r)
        return r

    def __ge__(self, o):
        r = self.value >= _raw(o)
        self._rec.guard(">=", self, o, r)
        return r

    def __eq__(self, o):
        r = self.value == _raw(o)
        self._rec.guard("==", self, o, r)
        return r

    def __ne__(self, o):
        r = self.value != _raw(o)
        self._rec.guard("!=", self, o, r)
        return r

    __hash__ = object.__hash__

    def __bool__(self):
        r = bool(self.value)
        self._rec.guard("!=", self, 0.0, r)
        return r

    # ---- leaving the graph: allowed only where no gradient can be lost
    def _leave(self, what: str):
        if self._needs:
            if storing_subscript(sys._getframe(2)):
                raise TraceError(
                    "a traced value was written into a numpy array made outside the traced "
                    "function (arr[i] = x), which would drop it from the graph; make the array "
                    "inside the function (out = np.zeros(...)) and write into that")
            culprit = math_culprit(sys._getframe(2))
            if culprit is not None:
                raise TraceError(
                    f"{culprit} from the math module cannot be traced (a name bound before "
                    f"the trace, e.g. by 'from math import {culprit}'); use "
                    f"np.{NUMPY_NAME.get(culprit, culprit)}, or call it as math.{culprit}(x)")
            raise TraceError(
                f"a traced value was converted to a plain number ({what}), which would drop "
                "it from the graph and silently lose its gradient; use numpy functions "
                "(np.exp, np.log, ...) or gradtrace's (gt.sigmoid, ...) instead")
        return self.value

    def __float__(self):
        return float(self._leave("float(), math.*"))

    def __int__(self):
        return int(self._leave("int()"))

    def __index__(self):
        raise TraceError("a traced value cannot be used as an index or a count; indices are "
                         "constants")

    def __complex__(self):
        return complex(self._leave("complex()"))

    def __round__(self, ndigits=None):
        return round(float(self.value), ndigits)

    def item(self, *args):
        v = self._leave(".item()")
        return float(v) if type(v) is _FLOAT else v.item(*args)

    def tolist(self):
        v = self._leave(".tolist()")
        return v if type(v) is _FLOAT else v.tolist()

    def __array__(self, dtype=None, copy=None):
        if self._needs:
            raise TraceError(
                "a traced value was turned into a plain numpy array (np.asarray(x, dtype=int), "
                "a numpy call gradtrace does not intercept, or a write into an array made "
                "outside the traced function: arr[i] = x), which would silently lose its "
                "gradient; make the array inside the function (out = np.zeros(...)), or use "
                "np.stack or np.concatenate so it stays in the graph")
        return np.asarray(self.value, dtype=dtype)

    def __setitem__(self, key, value):
        inplace.write(self, key, value)

    def sort(self, axis=-1, kind=None, order=None):
        inplace.update(self, dispatch.FUNCTIONS[np.sort](self, axis, kind, order), "x.sort()")

    def fill(self, value):
        inplace.write(self, Ellipsis, value)

    # ---- array-like surface (other ndarray and float attributes: _install_plain_attributes)
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

    @property
    def real(self):
        return self

    def conj(self):
        return self

    conjugate = conj

    def __len__(self):
        if not self.shape:
            raise TraceError("len() of a scalar (0-d) traced value: it has no length, as for "
                             "a numpy scalar; iterate over an array instead")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        params = ops.getitem_params(index)
        return dispatch.record(ops.GETITEM, (self,), params)

    @property
    def T(self):
        return _TRANSPOSE(self)

    @property
    def mT(self):
        return _SWAPAXES(self, -1, -2)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)) else axes
        return _TRANSPOSE(self, tuple(axes) if axes else None)

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) \
            else shape
        return _RESHAPE(self, shape, order=order)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            if dtype == self.dtype:
                return self
            return dispatch.record(ops.CAST, (self,), {"dtype": dtype.name})
        if dtype.kind == "c":
            raise TraceError("gradtrace differentiates real floats only; a cast to complex "
                             "is not supported")
        return np.asarray(self.value).astype(dtype)   # ints/bools: a constant, like argmax

    def __format__(self, spec):
        return format(self.value, spec)

    def __repr__(self):
        name = self._rec.names[self._id] or f"#{self._id}"
        return f"Traced({name}, value={self.value!r})"

    # ---- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            return inplace.ufunc_out(ufunc, dispatch.qualname(ufunc), method, inputs, kwargs)
        prim = dispatch.UFUNCS.get(ufunc)
        if prim is not None and method == "__call__" and not kwargs and prim.bind is None:
            if prim.arity == 1:
                x = inputs[0]
                return x._rec.op(prim, (x,)) if type(x) is Traced else prim.array(x)
            if ufunc is np.power and type(inputs[1]) is not Traced:
                return inputs[0] ** inputs[1]
            return dispatch.record(prim, inputs, None)
        return dispatch.ufunc_call(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return dispatch.array_function(func, args, kwargs)


def _raw(x):
    return x.value if type(x) is Traced else x


def _install_methods():
    """ndarray-like methods (``x.var()``, ``x.argmax()``...) from the op table's rows."""
    for name, handler in dispatch.METHODS.items():
        if name not in Traced.__dict__:
            setattr(Traced, name, handler)


def _plain_attribute(name: str) -> property:
    """``x.nbytes``, ``x.flags``, ``x.tobytes`` ...: read off the plain value when no
    gradient can be lost through it; refused where it would alias the tape's copy."""
    def get(self):
        if name in ("view", "base", "data", "ctypes"):
            raise AttributeError(f"x.{name} is not available on a traced array (a trace "
                                 "records versions, not memory); use x itself or x.copy()")
        if self._needs:
            raise AttributeError(f"a traced array has no attribute {name!r} while tracing (it "
                                 "carries a gradient; use numpy functions gradtrace supports)")
        return getattr(self.value, name)
    return property(get, doc=f"The plain value's ``{name}`` (a constant's only).")


def _install_plain_attributes():
    """One property per public attribute of ndarray and float that Traced does not
    model.  Properties, not ``__getattr__``: a class with ``__getattr__`` loses CPython's
    specialised attribute reads, and every op reads ``.value``, ``._id``, ``._needs`` and
    ``._rec`` (the scalar MLP traced 15% slower with it: 24.5 against 20.7 ms of the
    forward pass without naming, best of 21 on this machine)."""
    for name in sorted(set(dir(np.ndarray)) | set(dir(float))):
        if not name.startswith("_") and not hasattr(Traced, name):
            setattr(Traced, name, _plain_attribute(name))


_install_methods()
_install_plain_attributes()
