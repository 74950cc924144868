"""The kinds of row in the op table, and the small helpers the rows share.

A row is one of:

* ``Primitive``: a differentiable operation with its own node in the graph.  It
  says how to compute the value (floats and arrays), how it differentiates (a
  local derivative per argument for elementwise ops, a vector-Jacobian product
  otherwise), how it reads as text, and which numpy callables / ``Traced``
  methods it answers (``numpy=``, ``method=``), with ``bind`` turning such a call
  into (traced arguments, parameters).
* ``Composite``: a numpy function written with other rows (``np.hstack`` is
  ``atleast_1d`` + ``concatenate``); its nodes are those rows' nodes.
* ``Constant``: a numpy function whose result is piecewise constant or not a
  float (``argmax``, ``isclose``); it runs on the plain values and its result is
  a constant, never an error.

The dispatch tables in ``gradtrace.record.dispatch`` are derived from these rows, so adding
an op is adding a row.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

import numpy as np

from ..errors import TraceError, UnsupportedOpError

# How an op's expression reads when its node has no name (used for formulas):
# 'infix' wraps operands of lower precedence, 'call' already delimits them,
# 'postfix'/'prefix' wrap anything that is not an atom.
INFIX, CALL, POSTFIX, PREFIX = "infix", "call", "postfix", "prefix"


@dataclass(frozen=True, slots=True)
class JS:
    """The op in JavaScript, for the page's what-if replayer (``render/whatif.js``).

    Elementwise rows: ``f`` is an expression in the arguments ``x, y, z`` and ``d`` one
    expression per argument for its local derivative (also in ``o``, the output); the
    replayer broadcasts them.  Other rows: ``f`` is an expression in ``a`` (the argument
    values), ``p`` (the parameters) and the helpers ``R`` of whatif.js, and ``vjp`` one in
    ``k, g, o, a, p`` giving the contribution to argument ``k``.  ``prep(row, params, shapes)``
    turns the row's parameters into what the JavaScript reads (JSON); it raises
    ``NotReplayable`` for a case the JavaScript does not cover.
    """

    f: str
    d: tuple = ()
    vjp: str = ""
    prep: Callable | None = None


class NotReplayable(Exception):
    """An op whose parameters or shapes the page's replayer does not cover."""


@dataclass(frozen=True, slots=True)
class Primitive:
    """One differentiable operation."""

    name: str
    arity: int                      # -1: any number of arguments (concatenate, einsum)
    expr: str                       # expression template, operands as {0}, {1}
    form: str                       # INFIX, CALL, POSTFIX or PREFIX
    prec: int                       # binding strength for parenthesising
    formulas: tuple                 # per argument: template, or fn(operands, params, shapes)
    array: Callable                 # forward on numpy values: array(*vals, **params)
    _: KW_ONLY                      # the rest by name: which derivative a row states is read
    scalar: Callable | None = None  # forward on Python floats (fast path)
    # The local derivatives, stated once: ``local`` when one rule serves floats and arrays
    # alike (it fills both of the next two); ``darray`` alone when floats may use it too
    # (the unary/binary helpers derive ``dscalar``); ``dscalar`` beside it only where
    # floats have a faster form (math.cos on a float: 0.09 µs, float(np.cos(x)): 0.33 µs)
    local: Callable | None = None   # local(out, *vals): floats and arrays
    dscalar: Callable | None = None  # local derivatives on floats: dscalar(out, *vals)
    darray: Callable | None = None  # local derivatives on arrays: darray(out, *vals, **params)
    vjp: Callable | None = None     # vjp(k, g, out, vals, params) -> contribution to arg k
    symbol: str = ""                # short label for diagrams ('+', '×', 'σ')
    guard: bool = False             # local derivative can be inf/nan at finite inputs
    numpy: tuple = ()               # numpy ufuncs / functions this row answers
    method: tuple = ()              # Traced method names this row answers
    bind: Callable | None = None    # bind(*args, **kwargs) -> (tensor args, params or None)
    view: bool = False              # numpy's result is a view of argument 0 (it sees writes)
    js: JS | None = None            # the same op in JavaScript (the page's what-if)

    def __post_init__(self):
        if self.local is not None:
            if self.dscalar is not None or self.darray is not None:
                raise ValueError(f"op {self.name!r}: local= states the derivative for floats "
                                 "and arrays; give dscalar=/darray= instead, not both")
            object.__setattr__(self, "dscalar", self.local)
            object.__setattr__(self, "darray", self.local)

    def __reduce__(self):
        """Pickled by name (its callables are lambdas): a tape or graph pickles."""
        return (row_named, (self.name,))


@dataclass(frozen=True, slots=True)
class Composite:
    """A numpy function written with other rows: ``impl(record, *args, **kwargs)``."""

    name: str
    impl: Callable
    numpy: tuple = ()
    method: tuple = ()


@dataclass(frozen=True, slots=True)
class Constant:
    """A numpy function whose result does not carry a gradient (ints, bools, steps)."""

    name: str
    numpy: tuple = ()
    method: tuple = ()


PRIMITIVES: dict[str, Primitive] = {}
ROWS: list = []          # every row, in table order (for dispatch and `gradtrace ops`)
FAMILY: dict[int, str] = {}   # id(row) -> the family module that registered it


def row_named(name: str) -> Primitive:
    return PRIMITIVES[name]


def register(row):
    """Add a row to the table; returns it so a module can keep a handle."""
    if isinstance(row, Primitive):
        if row.name in PRIMITIVES:
            raise ValueError(f"op {row.name!r} is registered twice")
        PRIMITIVES[row.name] = row
    ROWS.append(row)
    module = sys._getframe(1).f_globals.get("__name__", "")
    if module.endswith(".core"):      # registered through a helper (unary, selection ...)
        module = sys._getframe(2).f_globals.get("__name__", "")
    FAMILY[id(row)] = module.rsplit(".", 1)[-1]
    return row


# ---------------------------------------------------------------- shared helpers
def indicator(mask):
    """An indicator as float64 (also for the 0-d results of comparing floats)."""
    return np.asarray(mask, dtype=np.float64)


def nan_at(local, *args):
    """``local`` with NaN wherever an argument is NaN: a piecewise op (relu, max, clip)
    has no derivative at NaN, and NaN is never hidden behind a 0 or 1."""
    for a in args:
        bad = np.isnan(a)
        if bad.any():
            local = np.where(bad, np.nan, local)
    return local


def scalar_fallback(prim: Primitive, vals, params):
    """Forward on floats with numpy semantics (inf/nan instead of exceptions)."""
    with np.errstate(all="ignore"):
        out = prim.array(*[np.float64(v) for v in vals], **(params or {}))
    return float(out)


def local_derivatives(prim: Primitive, out, vals, params) -> tuple | None:
    """The local derivatives of one call of ``prim`` from its row: floats through
    ``dscalar``, arrays through ``darray`` (floats again for a float result), inf/nan
    quietly; None when the row has none (a VJP op).  For callers off the hot path (torch
    calls); ``Recorder.op`` and ``Recorder.binary`` inline the same steps for speed."""
    with np.errstate(all="ignore"):
        if type(out) is float and all(type(v) is float for v in vals) and \
                prim.dscalar is not None:
            return tuple(prim.dscalar(out, *vals, **(params or {})))
        if prim.darray is None:
            return None
        locs = prim.darray(np.asarray(out), *[np.asarray(v) for v in vals], **(params or {}))
        return tuple(float(x) for x in locs) if type(out) is float else tuple(locs)


def normalize_axes(axis, ndim: int, fname: str):
    """``axis`` as a sorted tuple of non-negative ints, or None for 'all axes'."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TraceError(f"{fname}: axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < ndim:
            raise TraceError(f"{fname}: axis {a} is out of bounds for an array of "
                             f"dimension {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise TraceError(f"{fname}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def reduced_count(shape, axes) -> int:
    """How many elements each output element of a reduction over ``axes`` combines."""
    if axes is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axes)


def expand_to(g, shape, axes, keepdims):
    """Give a reduced gradient back the reduced axes so it broadcasts against the input."""
    g = np.asarray(g)
    if not keepdims:
        if axes is None:
            return g.reshape((1,) * len(shape))
        g = np.expand_dims(g, axes)
    return g


NO_VALUE = getattr(np, "_NoValue", object())


def refuse(fname: str, **given) -> None:
    """Refuse keywords gradtrace does not implement when they are given a real value.

    ``given`` maps each keyword to (its value, the value that means 'not used').
    """
    for key, (val, default) in given.items():
        if val is default or (default is None and val is None):
            continue
        if val is NO_VALUE:
            continue
        raise UnsupportedOpError(
            f"{fname}: the keyword {key}={val!r:.40} is not supported while tracing; "
            f"drop it, or compute this outside the traced function")


def float_dtype(fname: str, dtype) -> None:
    """Accept dtype=None or float64 (the result is float64 either way); refuse the rest."""
    if dtype is None or np.dtype(dtype) == np.float64:
        return
    raise UnsupportedOpError(
        f"{fname}: dtype={np.dtype(dtype)} is not supported while tracing (gradtrace "
        "computes in the inputs' float type); cast with .astype after the call instead")


def shape_of(x) -> tuple:
    """The shape of a traced value, an array, a float or a nested list."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def ndim_of(x) -> int:
    return len(shape_of(x))


def dummy(shape):
    """An array of ``shape`` that takes no memory: numpy's shape logic runs on it."""
    return np.broadcast_to(np.empty((), dtype=bool), tuple(shape))


def as_array(v):
    """A float value as a 0-d array, so VJP rules see ndarrays only."""
    return np.asarray(v)


def is_traced(v) -> bool:
    """True for gradtrace's traced values (without importing the type: imports go one way)."""
    return getattr(type(v), "__gradtrace_traced__", False)


def value_of(v):
    """The plain value behind a traced value, or the value itself."""
    return v.value if is_traced(v) else v


def plain_only(fname: str, **args) -> None:
    """Arguments that steer an op (indices, shifts, shapes) must not be traced values."""
    for key, val in args.items():
        vals = val if isinstance(val, (list, tuple)) else (val,)
        if any(is_traced(v) for v in vals):
            raise TraceError(f"{fname}: the argument {key} is a traced value; it must be a "
                             "constant (indices, shapes and counts are not differentiable)")


def plain_js(row, params, shapes):
    """Parameters as JSON for the JavaScript: numbers, bools, None and tuples of them."""
    out = {}
    for key, val in (params or {}).items():
        if isinstance(val, tuple) and all(isinstance(x, (int, np.integer)) for x in val):
            val = [int(x) for x in val]
        elif isinstance(val, (bool, np.bool_)):
            val = bool(val)
        elif isinstance(val, (int, float, np.integer, np.floating)):
            val = float(val)
            if not math.isfinite(val):    # JSON has no inf: the page reads these back
                val = "NaN" if math.isnan(val) else ("Inf" if val > 0 else "-Inf")
        elif val is not None:
            raise NotReplayable(f"{row.name} with {key}={val!r:.30}")
        out[key] = val
    return out


def axes_js(row, params, shapes):
    """A reduction's parameters for the JavaScript (axis as a list, None for all)."""
    out = plain_js(row, params, shapes)
    out.setdefault("axis", None)
    out["keepdims"] = bool(out.get("keepdims", False))
    return out


def _gather_prep(row, params, shapes):
    picked = np.asarray(row.array(positions(shapes[0]), **(params or {})))
    return {"map": (picked.ravel() - 1).tolist(), "shape": list(picked.shape)}


def _select_prep(row, params, shapes):
    index = np.asarray(params["index"])
    fill = np.broadcast_to(np.asarray(params.get("fill", 0.0), dtype=np.float64), index.shape)
    out = {"map": index.ravel().tolist(), "shape": list(index.shape)}
    if np.any(fill[index < 0] != 0):       # filled-in places that are not 0 (np.pad's values)
        if not np.isfinite(fill).all():
            raise NotReplayable(f"{row.name} filling with NaN or infinity")
        out["fills"] = fill.ravel().tolist()
    return out


def _join_prep(row, params, shapes):
    start, parts = 1, []
    for shape in shapes:              # every argument's elements numbered in one run
        parts.append(positions(shape) + (start - 1))
        start += math.prod(shape)
    picked = np.asarray(row.array(*parts, **(params or {})))
    return {"map": (picked.ravel() - 1).tolist(), "shape": list(picked.shape),
            "sizes": [math.prod(s) for s in shapes]}


# A selection row's (flip, roll, pad ...) own index, and concatenate/stack's numbering of
# every argument's elements in one run, are gathers too.
SELECT_JS = JS("R.gather(a[0], p)", vjp="R.scatter(g, a[0], p)", prep=_select_prep)
JOIN_JS = JS("R.gather(R.join(a), p)", vjp="R.part(R.scatter(g, R.join(a), p), a, k)",
             prep=_join_prep)

# A selection op (getitem, transpose, reshape) in JavaScript: output element i is input
# element map[i] (numpy's own logic run on ``positions``), and the VJP adds the gradient
# back onto those elements.
GATHER_JS = JS("R.gather(a[0], p)", vjp="R.scatter(g, a[0], p)", prep=_gather_prep)


def positions(shape):
    """1, 2, ... n laid out in ``shape``: numpy's own selection logic run on it says
    which input element lands where (0 marks a filled-in element)."""
    n = math.prod(shape)
    return np.arange(1, n + 1, dtype=np.int64).reshape(shape)
