"""Running torch traces: binding the inputs and recording the call, checking the result
against torch's own ``backward`` (and float64 finite differences), and re-running the
function on moved weights for the step-through's update step.

Imported only when torch is already imported and the traced call involves it.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.modules import module as _module

from . import inputs as _inputs
from .errors import GradtraceError, TraceError
from .gradcheck import CheckReport, InputCheck
from .notation import ATOL, EPS
from .recorder import Recorder
from .switchboard import tracing
from .torchbridge import Bridge, NumpyGuard, uses_torch  # noqa: F401  (trace asks these)


@dataclass
class Recorded:
    rec: Recorder
    result: object            # what the function returned
    output: int | None        # its node, when it is a traced tensor
    inputs: dict              # input name -> node id
    bridge: Bridge
    parameters: frozenset = frozenset()   # the inputs that are modules' nn.Parameters


def bind(fn, args, kwargs) -> dict:
    """Arguments by name: a module's are its ``forward``'s."""
    target = fn.forward if isinstance(fn, torch.nn.Module) else fn
    return _inputs.bind(target, args, kwargs)


def record(fn, named: dict, wrt) -> Recorded:
    rec = Recorder()
    bridge = Bridge(rec)
    with tracing(rec, numpy=False):
        input_ids = _inputs_of(bridge, fn, named, wrt)
        pre = _module.register_module_forward_pre_hook(bridge.enter_module)
        post = _module.register_module_forward_hook(bridge.leave_module)
        rec.entry = sys._getframe()
        try:
            with bridge:
                result = _inputs.call(fn, named, named)
        finally:
            pre.remove()
            post.remove()
    for nid, name in bridge.fallback.items():
        if rec.names[nid] is None:
            rec.set_name(nid, name)
    output = bridge.node_of(result) if isinstance(result, torch.Tensor) else None
    return Recorded(rec, result, output, input_ids, bridge, _parameter_names(fn, named))


def _parameter_names(fn, named: dict) -> frozenset:
    """The input names that are modules' nn.Parameters (what a descent step moves)."""
    return frozenset(own + path for prefix, m in _modules_of(fn, named)
                     for own in [f"{prefix}." if prefix else ""]
                     for path, _ in m.named_parameters())


def _inputs_of(bridge: Bridge, fn, named: dict, wrt) -> dict:
    """Register the parameters of every module involved and the float tensors among the
    arguments as inputs; returns input name -> node id."""
    in_wrt = _inputs.wanted(wrt)
    modules = _modules_of(fn, named)
    input_ids: dict[str, int] = {}
    for prefix, m in modules:
        own = f"{prefix}." if prefix else ""     # a module passed as an argument: model.0.weight
        for path, sub in m.named_modules():
            bridge.module_paths[id(sub)] = own + path if path else prefix
        for path, p in m.named_parameters():
            bridge.input(p, own + path, in_wrt(own + path))
            input_ids.setdefault(own + path, bridge.input_id(p))
    for path, v in _leaves(named):
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            bridge.input(v, path, in_wrt(path))
            input_ids.setdefault(path, bridge.input_id(v))
        elif isinstance(v, torch.Tensor):
            bridge.named_const(v, path)
        elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
            raise TraceError(f"input '{path}' is a numpy array in a torch trace; gradtrace "
                             "traces numpy and torch separately, so convert it with "
                             "torch.as_tensor(...)")
    _inputs.check_wrt(wrt, list(input_ids))
    return input_ids


def _leaves(named: dict) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []

    def keep(path, x):
        found.append((path, x))
        return x
    for k, v in named.items():
        _inputs.rebuild(v, k, keep)
    return found


@contextmanager
def _moved(trace, replace: dict):
    """The function's arguments with some inputs replaced: tensors by new tensors,
    parameters by new values written into them for the duration (and restored)."""
    named = trace.arguments
    params = {}
    for prefix, m in _modules(trace):
        own = f"{prefix}." if prefix else ""
        params.update({own + p: t for p, t in m.named_parameters()})
    saved = {}
    try:
        with torch.no_grad():
            for name, value in replace.items():
                if name in params:
                    saved[name] = params[name].detach().clone()
                    params[name].copy_(torch.as_tensor(np.asarray(value)))
        args = {k: _inputs.rebuild(v, k, lambda p, x: _replaced(p, x, replace))
                for k, v in named.items()}
        yield args, params
    finally:
        with torch.no_grad():
            for name, old in saved.items():
                params[name].copy_(old)


def _replaced(path, x, replace):
    if path in replace and isinstance(x, torch.Tensor):
        return torch.as_tensor(np.asarray(replace[path]), dtype=x.dtype)
    return x


def _modules(trace) -> list:
    return _modules_of(trace.function, trace.arguments)


def _modules_of(fn, named: dict) -> list:
    """(argument path, module) for the traced module and every module argument."""
    return ([("", fn)] if isinstance(fn, torch.nn.Module) else []) + \
        [(p, v) for p, v in _leaves(named) if isinstance(v, torch.nn.Module)]


def rerun(trace, replace: dict):
    """The output with the named inputs moved to new values (untraced)."""
    with _moved(trace, replace) as (args, _):
        out = _inputs.call(trace.function, args, trace.arguments)
    return to_float_or_array(out)


def to_float_or_array(out):
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().double().numpy()
    return float(out) if np.ndim(out) == 0 else np.asarray(out)


def check(trace, rtol: float | None = None, atol: float = ATOL, eps: float = EPS,
          max_elements: int = 20) -> CheckReport:
    """backward's gradients against torch's own ``backward`` on the same inputs, and,
    for float64 inputs, against central differences (``max_elements`` per input)."""
    if trace.function is None:
        raise GradtraceError("this trace has no function to re-run (it was loaded from JSON)")
    if not trace.has_grads:
        trace.backward()
    f64 = all(np.asarray(trace.graph.nodes[trace.inputs[n]]["value"]).dtype == np.float64
              for n in trace.wrt)
    rtol = (1e-10 if f64 else 1e-4) if rtol is None else rtol
    report = CheckReport(rtol=rtol, atol=atol, eps=eps)
    runs = [_weighted(trace, rerun(trace, {})) for _ in range(3)]
    if len({"nan" if math.isnan(r) else r for r in runs}) > 1:
        report.deterministic = False       # dropout in training mode, an unseeded sample
        return report
    torch_grads = _torch_backward(trace)
    for name in trace.wrt:
        ours = np.asarray(trace.grads[name], dtype=np.float64)
        report.inputs.append(_compare(f"{name} (torch .grad)", ours, torch_grads[name],
                                      rtol, atol))
    if f64:
        for name in trace.wrt:
            report.inputs.append(_finite_differences(trace, name, eps, rtol=1e-5, atol=atol,
                                                     limit=max_elements))
    return report


def _torch_backward(trace) -> dict:
    """Each wrt input's ``.grad`` from torch's own backward on a fresh forward pass."""
    wanted = set(trace.wrt)
    with _moved(trace, {}) as (args, params):
        grads_before = {n: p.grad for n, p in params.items()}
        flags = {n: p.requires_grad for n, p in params.items()}
        fresh = {}

        def leaf(path, x):
            if path in wanted and isinstance(x, torch.Tensor) and path not in params:
                fresh[path] = x.detach().clone().requires_grad_(True)
                return fresh[path]
            return x
        args = {k: _inputs.rebuild(v, k, leaf) for k, v in trace.arguments.items()}
        try:
            for n, p in params.items():
                p.grad = None
                p.requires_grad_(n in wanted)
            out = _inputs.call(trace.function, args, trace.arguments)
            seed = None if trace.seed is None else torch.as_tensor(
                np.asarray(trace.seed), dtype=out.dtype)
            out.backward(seed)
            got = {n: params[n].grad if n in params else fresh[n].grad for n in trace.wrt}
            return {n: np.zeros(np.shape(trace.grads[n])) if g is None else
                    g.detach().cpu().double().numpy() for n, g in got.items()}
        finally:
            for n, p in params.items():
                p.grad = grads_before[n]
                p.requires_grad_(flags[n])


def _compare(name, ours, theirs, rtol, atol) -> InputCheck:
    ours, theirs = np.asarray(ours, float).ravel(), np.asarray(theirs, float).ravel()
    err = np.abs(ours - theirs)
    bad = ~(err <= atol + rtol * np.maximum(np.abs(ours), np.abs(theirs)))
    i = int(np.argmax(err)) if err.size else 0
    finite = bool(np.all(np.isfinite(ours)) and np.all(np.isfinite(theirs)))
    worst = float(err[i]) if err.size else 0.0
    scale = max(abs(ours[i]), abs(theirs[i]), 1e-300) if err.size else 1.0
    return InputCheck(name=name, checked=ours.size, total=ours.size, max_abs_error=worst,
                      max_rel_error=worst / scale, worst_index=(i,) if ours.size > 1 else (),
                      analytic=float(ours[i]) if ours.size else 0.0,
                      numeric=float(theirs[i]) if theirs.size else 0.0,
                      ok=not bad.any() and finite, nonfinite=not finite)


def _finite_differences(trace, name, eps, rtol, atol, limit) -> InputCheck:
    x0 = np.array(trace.graph.nodes[trace.inputs[name]]["value"], dtype=np.float64)
    flat = x0.ravel()
    idx = np.arange(flat.size) if flat.size <= limit else \
        np.sort(np.random.default_rng(0).choice(flat.size, size=limit, replace=False))
    ours = np.asarray(trace.grads[name], dtype=np.float64).ravel()[idx]
    numeric = []
    for i in idx:
        h = eps * max(1.0, abs(flat[i]))
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        f = [_weighted(trace, rerun(trace, {name: v.reshape(x0.shape)})) for v in (up, down)]
        numeric.append((f[0] - f[1]) / (2 * h))
    c = _compare(f"{name} (finite differences)", ours, np.array(numeric), rtol, atol)
    c.total = flat.size
    return c


def _weighted(trace, out) -> float:
    seed = trace.seed
    value = float(np.sum(np.asarray(out) * np.asarray(seed))) if seed is not None else float(out)
    return value if math.isfinite(value) else math.nan
