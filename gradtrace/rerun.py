"""Run a traced function again on changed inputs, untraced: the finite-difference check
perturbs one input at a time, the step-through's update step moves every weight by
−η·∂C/∂w and reports the new cost."""

from __future__ import annotations

import numpy as np

from . import inputs as _inputs
from .errors import GradtraceError, TraceError


def rerun(trace, replace: dict):
    """The function's output with the inputs named in ``replace`` swapped for new values
    (float arrays run in float64, as the trace did)."""
    if trace.function is None:
        raise GradtraceError("this trace has no function to re-run (it was loaded from JSON); "
                             "re-running needs the original function")
    if trace.runner is not None:          # a torch trace puts new values in its own way
        return trace.runner(trace, replace)
    fn, named = trace.function, trace.arguments

    def leaf(p, v):
        if p in replace:
            return replace[p]
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


def weighted(trace, out) -> float:
    """The output as one number: itself, or Σ seed·output when backward had a seed."""
    out = np.asarray(out, dtype=float)
    seed = trace.seed
    if seed is not None:
        return float(np.sum(out * np.asarray(seed, dtype=float)))
    return float(out.reshape(-1)[0]) if out.size == 1 else float(out)
