"""numpy calls on traced values, routed through the op table.

Every table here is derived from ``gradtrace.ops.ROWS``: a ``Primitive`` row's
``bind`` turns the call into (traced arguments, parameters) and the recorder
records it; a ``Composite`` row runs its ``impl`` with ``record``; a ``Constant``
row runs numpy on the plain values.  A call's arguments are checked against the
row's signature first, so a keyword gradtrace does not implement is refused by
name instead of being dropped, and numpy's own errors (bad axis, shape mismatch)
come back as one ``TraceError`` naming the function.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .. import ops
from ..errors import GradtraceError, TraceError, UnsupportedOpError
from ..ops.core import is_traced

NUMPY_ERRORS = (ValueError, TypeError, IndexError, ArithmeticError, np.linalg.LinAlgError)


def qualname(func) -> str:
    """``np.linalg.norm`` for numpy's functions, the plain name otherwise."""
    module = getattr(func, "__module__", None) or ""
    if isinstance(func, np.ufunc) or module == "numpy" or module.startswith("numpy."):
        parts = module.split(".")
        public = [p for p in parts[1:] if not p.startswith("_")]
        module = ".".join(["np", *public]) if module else "np"
    name = getattr(func, "__name__", repr(func))
    return f"{module}.{name}" if module else name


def recorder_of(*xs):
    """The recorder of the first traced value among ``xs`` (nested lists included)."""
    for x in xs:
        if is_traced(x):
            return x._rec
        if isinstance(x, (list, tuple)):
            r = recorder_of(*x)
            if r is not None:
                return r
    return None


def as_traced(rec, x):
    if is_traced(x):
        if x._rec is not rec:
            raise TraceError("traced values from two different traces cannot be mixed")
        return x
    return rec.const(x)


def plain(x):
    """The plain value of ``x``, looking inside lists, tuples and dicts."""
    if is_traced(x):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x) if not hasattr(x, "_fields") else \
            type(x)(*[plain(v) for v in x])
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


def record(prim: ops.Primitive, tensors: tuple, params: dict | None):
    """Record ``prim`` on ``tensors``; with nothing traced among them, just compute it."""
    rec = recorder_of(*tensors)
    if rec is None:
        out = prim.array(*tensors, **params) if params else prim.array(*tensors)
        return out
    return rec.op(prim, tuple([as_traced(rec, t) for t in tensors]), params)


def nested_to_traced(obj):
    """A list/tuple tree of traced values and numbers as one traced array."""
    if is_traced(obj):
        return obj
    if isinstance(obj, (list, tuple)):
        if not obj:
            return np.asarray(obj, dtype=np.float64)
        parts = [nested_to_traced(x) for x in obj]
        if not any(is_traced(p) for p in parts):
            return np.asarray(parts, dtype=np.float64)
        shapes = {tuple(np.shape(p.value if is_traced(p) else p)) for p in parts}
        if len(shapes) != 1:
            raise TraceError(f"np.array of a list whose items have different shapes "
                             f"{sorted(shapes)}: numpy would make a ragged object array")
        return record(_STACK, tuple(parts), {"axis": 0})
    return obj


_STACK = ops.PRIMITIVES["stack"]


@functools.cache
def _signature(fn) -> inspect.Signature:
    return inspect.signature(fn)


def _check_call(fn, fname: str, args, kwargs) -> None:
    """Refuse a call whose arguments the row does not take, naming what was wrong."""
    try:
        _signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        raise UnsupportedOpError(
            f"{fname}: {e} (gradtrace implements this function with the signature "
            f"{fname}{_signature(fn)})".replace("(record, ", "(")) from None


def _guarded(fname: str, fn):
    """Run ``fn``; numpy's own errors come back as one TraceError naming the function."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GradtraceError:
            raise
        except NUMPY_ERRORS as e:
            raise TraceError(f"{fname} failed on the traced values: {e}") from e
    return run


def primitive_handler(prim: ops.Primitive, fname: str):
    bind = prim.bind

    def handler(*args, **kwargs):
        if bind is None:
            if kwargs:
                raise UnsupportedOpError(
                    f"{fname}: keyword arguments {sorted(kwargs)} are not supported while "
                    "tracing; drop them, or compute this outside the traced function")
            if prim.arity >= 0 and len(args) != prim.arity:
                raise TraceError(f"{fname} takes {prim.arity} argument(s), got {len(args)}")
            return record(prim, args, None)
        _check_call(bind, fname, args, kwargs)
        tensors, params = bind(*args, **kwargs)
        return record(prim, tensors, params)
    return _guarded(fname, handler)


def composite_handler(row: ops.Composite, fname: str):
    impl = row.impl

    def handler(*args, **kwargs):
        _check_call(impl, fname, (None,) + args, kwargs)
        return impl(record, *args, **kwargs)
    return _guarded(fname, handler)


def constant_handler(func, fname: str):
    def handler(*args, **kwargs):
        return func(*plain(args), **plain(kwargs))
    return _guarded(fname, handler)


def _build():
    ufuncs, constant_ufuncs, functions, methods = {}, set(), {}, {}
    for row in ops.ROWS:
        for func in row.numpy:
            fname = qualname(func)
            if isinstance(row, ops.Primitive):
                if isinstance(func, np.ufunc):
                    ufuncs[func] = row
                functions[func] = primitive_handler(row, fname)
            elif isinstance(row, ops.Composite):
                functions[func] = composite_handler(row, fname)
            elif isinstance(func, np.ufunc):
                constant_ufuncs.add(func)
                functions[func] = constant_handler(func, fname)
            else:
                functions[func] = constant_handler(func, fname)
        for name in row.method:
            if isinstance(row, ops.Primitive):
                methods[name] = primitive_handler(row, f".{name}()")
            elif isinstance(row, ops.Composite):
                methods[name] = composite_handler(row, f".{name}()")
            else:
                func = row.numpy[0]
                methods[name] = constant_handler(func, f".{name}()")
    return ufuncs, constant_ufuncs, functions, methods


UFUNCS, CONSTANT_UFUNCS, FUNCTIONS, METHODS = _build()

# ufunc.reduce / accumulate on the ufuncs that have a reduction row
REDUCE = {np.add: ops.PRIMITIVES["sum"], np.multiply: ops.PRIMITIVES["prod"],
          np.maximum: ops.PRIMITIVES["max"], np.minimum: ops.PRIMITIVES["min"]}
ACCUMULATE = {np.add: ops.PRIMITIVES["cumsum"], np.multiply: ops.PRIMITIVES["cumprod"]}


def ufunc_call(ufunc, method: str, inputs, kwargs):
    """The slow path of ``__array_ufunc__``: keywords, ufunc methods, constants, errors."""
    fname = qualname(ufunc)
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}   # (out= went to inplace)
    if method == "__call__":
        if ufunc in CONSTANT_UFUNCS:
            return ufunc(*plain(inputs), **plain(kwargs))
        if ufunc is np.positive or ufunc is np.conjugate:   # identities on real floats
            return inputs[0]
        prim = UFUNCS.get(ufunc)
        if prim is None and not needs_grad(inputs):
            return _plainly(ufunc, inputs, kwargs)
        if prim is None:
            raise UnsupportedOpError(
                f"gradtrace cannot differentiate {fname}: it is not in gradtrace's op table "
                "(gradtrace.ops); write it with supported operations or compute it outside the "
                "traced function")
        dtype = kwargs.pop("dtype", None)
        if dtype is not None and np.dtype(dtype).kind != "f":
            raise UnsupportedOpError(f"{fname}: dtype={dtype} leaves the float graph")
        if kwargs.pop("where", True) is not True:
            raise UnsupportedOpError(f"{fname}: where= is not supported while tracing; use "
                                     "np.where on the result")
        for k in [k for k in kwargs if k in ("casting", "order", "subok")]:
            kwargs.pop(k)
        if kwargs:
            raise UnsupportedOpError(f"{fname}: keyword arguments {sorted(kwargs)} are not "
                                     "supported while tracing")
        return FUNCTIONS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCE:
        prim = REDUCE[ufunc]
        args = list(inputs)
        if len(args) < 2 and "axis" not in kwargs:
            kwargs["axis"] = 0
        return FUNCTIONS[prim.numpy[0]](*args, **kwargs)
    if method == "accumulate" and ufunc in ACCUMULATE:
        if len(inputs) < 2 and "axis" not in kwargs:
            kwargs["axis"] = 0
        return FUNCTIONS[ACCUMULATE[ufunc].numpy[0]](*inputs, **kwargs)
    if method == "outer" and ufunc in UFUNCS and UFUNCS[ufunc].arity == 2 and not kwargs:
        a, b = inputs
        nb = np.ndim(plain(b))
        a = np.reshape(a, np.shape(plain(a)) + (1,) * nb)
        return FUNCTIONS[ufunc](a, b)
    if method == "at":
        raise TraceError(f"{fname}.at writes in place into an array; that is not allowed "
                         "while tracing: build a new array instead")
    raise UnsupportedOpError(f"gradtrace cannot differentiate {fname}.{method}; use the plain "
                             "function (np.sum instead of np.add.reduce, etc.)")


def needs_grad(x) -> bool:
    """Does any traced value in ``x`` (lists, tuples, dicts included) carry a gradient?"""
    if is_traced(x):
        return x._needs
    if isinstance(x, (list, tuple)):
        return any(needs_grad(v) for v in x)
    if isinstance(x, dict):
        return any(needs_grad(v) for v in x.values())
    return False


def _plainly(func, args, kwargs):
    """A numpy function outside the op table on values that carry no gradient (a buffer
    of constants, say): numpy runs on the plain values and the result is a constant."""
    try:
        return func(*plain(args), **plain(kwargs))
    except ValueError as e:
        if "read-only" in str(e):
            raise TraceError(f"{qualname(func)} writes into an array in place, which "
                             "gradtrace cannot record; write it with indexing "
                             "(x[...] = ...) instead") from e
        raise


def array_function(func, args, kwargs):
    handler = FUNCTIONS.get(func)
    if handler is None and not needs_grad(args) and not needs_grad(kwargs):
        return _plainly(func, args, kwargs)
    if handler is None:
        raise UnsupportedOpError(
            f"gradtrace cannot differentiate {qualname(func)}: it is not in gradtrace's op "
            "table (gradtrace.ops); write it with supported operations or compute it outside "
            "the traced function")
    return handler(*args, **kwargs)
