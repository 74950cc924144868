"""``gt.trace``: run the user's function once on traced stand-ins and record every op
into a ``Trace`` (numpy and float traces here; torch traces through ``pytorch.run``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from types import FrameType

import numpy as np

from . import outputs
from .apicheck import check_call, nesting
from .core.tape import REQ, Record
from .errors import GradtraceError, OutputError, TraceError, warn_user
from .names.usercode import located
from .record import inputs as _inputs
from .record.recorder import (
    Recorder,
    note_nonfinite,
    subclass_refusal,
    warn_dropped,
    warn_nonfinite,
)
from .record.snapshot import snapshot
from .record.switchboard import tracing
from .record.traced import Traced
from .trace import Trace


def _numeric_result(result) -> bool:
    if isinstance(result, (bool, int, float, np.number, np.bool_)):
        return True
    return isinstance(result, np.ndarray) and result.dtype.kind in "biuf"


def _traced_scalar(v) -> bool:
    return type(v) is Traced and type(v.value) is float


def _stand_ins(rec: Recorder, named: dict, stand_in: Callable) -> dict:
    """The arguments with traced stand-ins for their floats; the recorder learns where
    each object in them is (``net.layers[0]``), to name the calls made on it."""
    traced = {p: _inputs.rebuild(v, p, stand_in) for p, v in named.items()}
    rec.object_paths = _inputs.object_paths(traced)
    return traced


def trace(fn: Callable, *args, wrt=None, output=None, **kwargs) -> Trace:
    """Run ``fn(*args, **kwargs)`` once on traced stand-ins and record every op.

    Floating inputs (floats, float arrays, nested in dicts/lists/tuples) become
    named input nodes; ``wrt`` picks which get gradients (default: all of them);
    ``output`` picks the value to differentiate from a tuple, list or dict result (an
    index, a key, or a function of the result; see ``gradtrace.outputs``).
    """
    check_call(fn, wrt)
    fname = getattr(getattr(fn, "func", fn), "__name__", None) or type(fn).__name__
    fn, args = _inputs.unbound(fn, args)
    named = _inputs.bind(fn, args, kwargs)
    guard: contextlib.AbstractContextManager | None = None
    if "torch" in sys.modules:       # torch is never imported here, only used if it was
        from .pytorch import run as torchrun
        with nesting():
            uses = torchrun.uses_torch(fn, named)
        if uses:
            return _made(_torch_trace(torchrun, fn, args, kwargs, wrt, fname, output), wrt)
        guard = torchrun.NumpyGuard()
    in_wrt = _inputs.wanted(wrt)
    rec = Recorder()
    input_ids: dict[str, int] = {}
    constants: dict[str, str] = {}     # constant inputs that hold numbers -> why

    def stand_in(path, value):
        kind = _inputs.classify(path, value)
        if kind == "const":
            return _constant_input(rec, constants, path, value)
        if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
            raise TraceError(subclass_refusal(f"input '{path}'", value))
        value = float(value) if kind == "float" else snapshot(value)
        note_nonfinite(rec, path, value)
        t = rec.leaf("input", value, path, in_wrt(path))
        input_ids[path] = t._id
        return t

    try:
        with tracing(rec, guard=guard), np.errstate(call=_numpy_warning, **_calling()):
            with nesting():
                traced_args = _stand_ins(rec, named, stand_in)
            _inputs.check_wrt(wrt, floating := list(input_ids))
            warn_nonfinite(rec)
            rec.entry = sys._getframe()
            result = _inputs.call(fn, traced_args, named)
    except GradtraceError as e:
        located(e)
        raise
    except Exception as e:   # numpy turned our error into its own ("setting an array element")
        inner = e.__cause__ or e.__context__
        if not isinstance(inner, GradtraceError):
            raise
        inner.__traceback__ = e.__traceback__
        raise located(inner) from None
    result, select = outputs.choose(result, output, fname, _traced_scalar)
    if type(result) is not Traced:
        result = _constant_output(rec, result, fname)
    t = _finished(rec, result._id, input_ids, floating, fname, fn, named)
    t.select, t.constants = select, constants
    return _made(t, wrt)


def _calling() -> dict:
    """numpy's error settings with each 'warn' handed to ``_numpy_warning`` instead (a
    user's 'ignore' or 'raise', and np.errstate inside the function, still hold)."""
    return {k: "call" if v == "warn" else v for k, v in np.geterr().items()}


def _numpy_warning(kind: str, flag: int) -> None:
    """numpy's RuntimeWarning from an op run while tracing, at the user's line (numpy
    itself would point into the recorder), naming the op."""
    frame: FrameType | None = sys._getframe(1)
    op = None
    while frame is not None and op is None:
        op = getattr(frame.f_locals.get("prim"), "name", None)
        frame = frame.f_back
    warn_user(f"{kind} encountered in {op or 'a numpy operation'}", RuntimeWarning)


def _described(value) -> str:
    """'a Net object' (a default repr names module internals and an address), or a
    type with its repr, shortened whole."""
    kind = type(value).__name__
    if type(value).__repr__ is object.__repr__:
        return f"a {kind} object"
    text = repr(value)
    return f"a {kind} ({text if len(text) <= 60 else text[:57] + '...'})"


def _made(t: Trace, wrt) -> Trace:
    """A finished trace learns how it was made: whether wrt was chosen, and gt.trace
    itself, so the step-through can trace it again on moved parameters."""
    t.wrt_given = wrt is not None
    t.tracer = trace
    return t


def _constant_input(rec, constants: dict, path: str, value):
    """An input passed through as a constant: an int argument is marked, so meeting a traced value
    in arithmetic warns (``w=2`` meant as a parameter); an object holding floats that
    gradtrace cannot walk warns now.  ``constants`` keeps why, for ``t.grad`` and check."""
    if type(value) is int and path.isidentifier():     # an argument, not an attribute
        marked = _inputs.marked(path, value)
        constants[path] = marked.reason
        return marked
    if _inputs.holds_floats(value):
        constants[path] = rec.dropped[path] = _inputs.opaque_reason(path, value)
    return value


def _constant_output(rec, result, fname: str, level: int = 3):
    """A result that is not a traced value: refused, or a constant output with a warning."""
    if isinstance(result, (tuple, list, dict)):
        raise TraceError(f"{fname} returned a {type(result).__name__}; gt.trace needs one "
                         "value (a scalar loss, or an array with backward(seed=...))")
    if not _numeric_result(result):
        hint = (f"; it looks like a micrograd-style Value: gt.from_micrograd({fname}()) "
                "reads its graph" if hasattr(result, "_prev") and hasattr(result, "data")
                else "")
        raise OutputError(
            f"the output of {fname} is {_described(result)}; it must "
            f"be a number or a float array computed from the function's float inputs{hint}",
            result)
    warn_user(
        f"the output of {fname} does not depend on any traced input (it returned "
        f"{type(result).__name__} {result!r:.40}), so every gradient is 0; if that is not "
        "what you meant, make it a function of its float inputs")
    value = np.asarray(result, dtype=np.float64)
    return rec.leaf("const", float(value) if value.ndim == 0 else value, None, False)


def _finished(rec, out_id: int, input_ids: dict, floating: list, fname: str, fn, named,
              level: int = 3) -> Trace:
    """The Trace of a finished recording: the output named, wrt checked, warnings said."""
    records = rec.records
    if rec.names[out_id] is None:
        rec.set_name(out_id, fname if fname.isidentifier() else "C")
    warn_dropped(rec, level)
    out = Record._make(records[out_id])
    chosen = [n for n in floating if records[input_ids[n]][REQ]]
    if not out.req and chosen and out.kind == "op":
        warn_user(f"the output of {fname} does not depend on any input in wrt "
                  f"({', '.join(chosen)}), so every gradient is 0")
    return Trace(rec.tape, out_id, input_ids, chosen, name=rec.names[out_id], fn=fn,
                 named_args=named, instances=rec.has_instances())


def _torch_trace(torchrun, fn, args, kwargs, wrt, fname: str, output=None) -> Trace:
    """A forward pass written with torch (see ``gradtrace.pytorch.bridge``)."""
    named = torchrun.bind(fn, args, kwargs)
    try:
        r = torchrun.record(fn, named, wrt)
    except GradtraceError as e:
        located(e)
        raise
    r.result, select = outputs.choose(r.result, output, fname, r.is_scalar)
    unseen = type(r.result).__module__.startswith("torch") and hasattr(r.result, "detach") \
        and not r.is_traced(r.result)
    if unseen:        # torch's autograd may know what it came from: the specific error first
        torchrun.refuse_unseen(fn, named, fname)
    r.output = r.output_node(r.result)
    if r.output is None:
        if unseen:
            r.result = torchrun.to_float_or_array(r.result)
        out_id = _constant_output(r.rec, r.result, fname, 4)._id
    else:
        out_id = r.output
    if not isinstance(getattr(fn, "__name__", None), str):
        fname = "C"                  # a module: its output is the cost, as the lesson writes it
    t = _finished(r.rec, out_id, r.inputs, list(r.inputs), fname, fn, named, 4)
    t.runner = torchrun.rerun
    t.checker = torchrun.check
    t.mover = torchrun.moved
    t.torch_parameters = r.parameters       # what a descent step moves (gradtrace.calculus.params)
    t.select = select
    torchrun.attach(t, r)
    t.torch_params = r.params
    t.constants = r.constants
    return t
