"""Run a traced function again on changed inputs, untraced: the finite-difference check
perturbs one input at a time, the step-through's update step moves every weight by
−η·∂C/∂w and reports the new cost."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..errors import GradtraceError, TraceError
from ..record import inputs as _inputs


def rerun(trace, replace: dict):
    """The function's output with the inputs named in ``replace`` swapped for new values
    (float arrays run in float64, as the trace did)."""
    if trace.function is None:
        raise GradtraceError("this trace has no function to re-run (it was loaded from JSON); "
                             "re-running needs the original function")
    if trace.runner is not None:          # a torch trace puts new values in its own way
        return trace.runner(trace, replace)
    fn, named = trace.function, trace.arguments
    recorded = recorded_inputs(trace)

    def leaf(p, v):
        if p in replace:
            return replace[p]
        if p in recorded:                 # as the trace saw it, not as the caller has it now
            return recorded[p]
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(np.float64)
        return float(v) if isinstance(v, np.floating) else v
    args = {k: _inputs.rebuild(v, k, leaf) for k, v in named.items()}
    try:
        out = _inputs.call(fn, args, named)
        return out if trace.select is None else trace.select(out)
    except GradtraceError:
        raise
    except Exception as e:
        raise TraceError(f"re-running {getattr(fn, '__name__', 'the function')} on changed "
                         f"inputs raised {type(e).__name__}: {e}") from e


def recorded_inputs(trace) -> dict:
    """Every input as the trace recorded it (a fresh float64 copy of each array): re-runs
    start from the trace's snapshot, so ``w -= lr * g`` after tracing changes nothing."""
    tape = trace.tape
    out = {}
    for name, nid in trace.inputs.items():
        v = tape.value(nid)
        out[name] = v if isinstance(v, float) else np.array(v, dtype=np.float64)
    return out


@contextmanager
def kept(trace) -> Iterator[None]:
    """Re-runs inside leave the caller's state as it was: Python's, numpy's (and torch's)
    global random generators, and the buffers of a torch trace's modules (BatchNorm's
    running statistics and ``num_batches_tracked``)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    torchrun = sys.modules.get("gradtrace.pytorch.run") if trace.runner is not None else None
    torch_kept = torchrun.kept(trace) if torchrun is not None else None
    try:
        if torch_kept is None:
            yield
        else:
            with torch_kept:
                yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def rerun_kept(trace, replace: dict):
    """``rerun`` once, leaving the caller's random generators and buffers as they were."""
    with kept(trace):
        return rerun(trace, replace)


def weighted(trace, out) -> float:
    """The output as one number: itself, or Σ seed·output when backward had a seed."""
    out = np.asarray(out, dtype=float)
    seed = trace.seed
    if seed is None and out.size != 1:   # a loaded trace: the output's gradient is its seed
        grads = trace.tape.grads
        seed = grads[trace.output] if grads is not None else 1.0
    if seed is not None:
        return float(np.sum(out * np.asarray(seed, dtype=float)))
    return float(out.reshape(-1)[0]) if out.size == 1 else float(out)
