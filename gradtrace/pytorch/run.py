"""Running torch traces: binding the inputs and recording the call, checking the result
against torch's own ``backward`` (and float64 finite differences), and re-running the
function on moved weights for the step-through's update step.

Imported only when torch is already imported and the traced call involves it.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn.modules import module as _module

from ..calculus.gradcheck import CheckReport, InputCheck
from ..calculus.rerun import recorded_inputs
from ..errors import GradtraceError, TraceError
from ..notation import ATOL, EPS
from ..record import inputs as _inputs
from ..record.recorder import Recorder
from ..record.switchboard import tracing
from . import guards as _guards
from . import inplace as _inplace
from .bridge import Bridge, NumpyGuard, uses_torch  # noqa: F401  (trace asks these)
from .reach import reach


@dataclass
class Recorded:
    rec: Recorder
    result: object            # what the function returned
    output: int | None        # its node, when it is a traced tensor
    inputs: dict              # input name -> node id
    bridge: Bridge
    params: dict = field(default_factory=dict)   # name -> tensor written when inputs move
    constants: dict = field(default_factory=dict)   # number arguments left constant -> why
    parameters: frozenset = frozenset()   # the inputs that are modules' nn.Parameters

    def is_scalar(self, v) -> bool:
        """A 0-d traced float tensor: the loss in ``(logits, loss)``."""
        return isinstance(v, torch.Tensor) and v.dim() == 0 and \
            self.bridge.node_of(v) is not None

    def is_traced(self, v) -> bool:
        return isinstance(v, torch.Tensor) and self.bridge.node_of(v) is not None

    def output_node(self, result) -> int | None:
        """The node of the value to differentiate, when it is a traced tensor."""
        if not isinstance(result, torch.Tensor):
            return None
        nid = self.bridge.node_of(result)
        if nid is None and result.grad_fn is not None:
            raise TraceError("the function's output was computed from tensors that require "
                             "grad by code gradtrace cannot see (a torch.jit script or traced "
                             "function, a C++ extension, or a module the function closes "
                             "over); call the plain Python version and pass every module "
                             "as an argument")
        return nid


def attach(trace, recorded: Recorded) -> None:
    """Before each backward: no recorded tensor changed in place since it was used."""
    bridge = recorded.bridge
    trace.before_backward = lambda: _inplace.raise_if_stale(bridge, inputs=False)
    dtypes = {name: bridge.nodes[key][0].dtype for key, name in _input_keys(recorded)}

    def as_tensor(name: str, g):
        """Torch in, torch out: a gradient as a tensor of the input's dtype (CPU: the only
        device gradtrace traces)."""
        dtype = dtypes.get(name)
        if dtype is None:
            dtype = torch.float64 if type(g) is float else torch.from_numpy(np.array(g)).dtype
        return torch.tensor(np.asarray(g), dtype=dtype)
    trace.user_grad = as_tensor


def _input_keys(recorded: Recorded) -> list:
    by_node = {nid: name for name, nid in recorded.inputs.items()}
    return [(key, by_node[nid]) for key, (_, nid) in recorded.bridge.nodes.items()
            if nid in by_node]


def bind(fn, args, kwargs) -> dict:
    """Arguments by name: a module's are its ``forward``'s."""
    target = fn.forward if isinstance(fn, torch.nn.Module) else fn
    return _inputs.bind(target, args, kwargs)


def record(fn, named: dict, wrt) -> Recorded:
    rec = Recorder()
    bridge = Bridge(rec)
    in_wrt = _inputs.wanted(wrt)
    with tracing(rec, numpy=False):
        found = reach(fn, named)
        input_ids = _register_inputs(bridge, found, named, in_wrt, rec)
        _inputs.check_wrt(wrt, list(input_ids))
        _guards.refuse_function(fn)
        for _, m in found.modules:
            for path, sub in m.named_modules():
                _guards.refuse_module(sub, bridge.module_paths.get(id(sub), path))
        bridge.wanted = in_wrt
        constants, args = _marked_numbers(named)
        constants |= found.opaque
        result = _called(bridge, fn, args, named, in_wrt)
    for nid, name in bridge.fallback.items():
        if rec.names[nid] is None:
            rec.set_name(nid, name)
    _inplace.raise_if_stale(bridge, inputs=True)
    _guards.install_hooks(bridge)
    for name, t in bridge.late_inputs.items():
        input_ids.setdefault(name, bridge.input_id(t))
        found.params.setdefault(name, t)
    parameters = frozenset(own + path for prefix, m in found.modules
                           for own in [f"{prefix}." if prefix else ""]
                           for path, _ in m.named_parameters())
    return Recorded(rec, result, None, input_ids, bridge, params=found.params,
                    constants=constants, parameters=parameters)


def _called(bridge: Bridge, fn, args: dict, named: dict, in_wrt):
    """The user's function run with the module hooks and torch guards on (inside
    ``tracing``); the inputs flagged to require grad for the call are reset after it."""
    pre = _module.register_module_forward_pre_hook(bridge.enter_module)
    post = _module.register_module_forward_hook(bridge.leave_module)
    bridge.rec.entry = sys._getframe(1)
    flagged = _flag_inputs(named, in_wrt)
    try:
        with bridge, _guards.patched(bridge):
            return _inputs.call(fn, args, named)
    finally:
        for t in flagged:
            t.requires_grad_(False)
        pre.remove()
        post.remove()


def _register_inputs(bridge: Bridge, found, named: dict, in_wrt, rec: Recorder) -> dict:
    """Input nodes for every parameter of the modules reached, every tensor wanting a
    gradient outside them, and the float tensor arguments; name -> node id.  Objects
    holding floats that cannot be walked are noted in ``found.opaque``."""
    input_ids: dict[str, int] = {}
    for prefix, m in found.modules:
        own = f"{prefix}." if prefix else ""     # a module passed as an argument: model.0.weight
        if not prefix or named.get(prefix) is m:   # traced or passed in: no box of its own
            bridge.roots.add(id(m))
        for path, sub in m.named_modules():
            bridge.module_paths.setdefault(id(sub), own + path if path else prefix)
        for path, p in m.named_parameters():
            bridge.input(p, own + path, in_wrt(own + path))
            input_ids.setdefault(own + path, bridge.input_id(p))
            found.params.setdefault(own + path, p)
    for path, tensor in found.tensors:   # outside registered modules: torch trains them too
        bridge.input(tensor, path, in_wrt(path))
        input_ids.setdefault(path, bridge.input_id(tensor))
        found.params.setdefault(path, tensor)
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
        elif _inputs.holds_floats(v) and not isinstance(v, torch.nn.Module):
            found.opaque[path] = rec.dropped[path] = _inputs.opaque_reason(path, v)
    return input_ids


def _flag_inputs(named: dict, in_wrt) -> list:
    """Float input tensors in wrt that do not require grad are made to for the call, so
    a tensor computed from them where gradtrace cannot see (a torch.jit function) carries
    a grad_fn, and is refused where it meets a traced call instead of being a silent
    constant.  Returns the tensors to reset."""
    flagged = []
    for path, v in _leaves(named):
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.is_leaf and \
                not v.requires_grad and in_wrt(path):
            v.requires_grad_(True)
            flagged.append(v)
    return flagged


def _marked_numbers(named: dict) -> tuple[dict, dict]:
    """Python int and float arguments stand in for themselves, marked so that meeting a
    traced tensor says once that they are constants; (name -> why, the arguments)."""
    constants, args = {}, dict(named)
    for k, v in named.items():
        if type(v) in (int, float) and k.isidentifier():
            args[k] = _inputs.marked(k, v, torch=True)
            constants[k] = args[k].reason
    return constants, args


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
    params = trace.torch_params
    replace = {**recorded_inputs(trace), **replace}   # from the trace's snapshot
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


def _modules(trace) -> list:
    """The traced module and the modules passed as arguments (whose buffers re-runs keep)."""
    fn = trace.function
    return ([("", fn)] if isinstance(fn, torch.nn.Module) else []) + \
        [(p, v) for p, v in _leaves(trace.arguments) if isinstance(v, torch.nn.Module)]


def kept(trace):
    """Torch's random generator and every buffer of the trace's modules (BatchNorm's
    running statistics, ``num_batches_tracked``) restored after re-runs."""
    return _kept_modules([m for _, m in _modules(trace)])


@contextmanager
def _kept_modules(modules: list):
    rng = torch.get_rng_state()
    buffers = [(b, b.detach().clone()) for m in modules for b in m.buffers()]
    try:
        yield
    finally:
        torch.set_rng_state(rng)
        with torch.no_grad():
            for b, old in buffers:
                b.copy_(old)


def refuse_unseen(fn, named: dict, fname: str) -> None:
    """An output the trace did not see computed from any input, though torch's autograd
    says it depends on some: say so, instead of a false 'does not depend' and gradient 0."""
    unseen = unseen_inputs(fn, named)
    if unseen:
        raise TraceError(f"the output of {fname} depends on {', '.join(unseen[:6])} (torch's "
                         "autograd says so), but through torch code gradtrace cannot follow "
                         "call by call (torch.func.vmap/grad, a torch.jit script or "
                         "traced function, a hook, a complex intermediate ...); write that "
                         "part with ordinary tensor ops")


def unseen_inputs(fn, named: dict) -> list[str]:
    """The inputs torch's own autograd says an output depends on, for an output the
    trace did not see computed from any of them (``torch.func.vmap``, a complex
    intermediate ...): one untraced re-run with every float input requiring grad, the
    caller's modules, buffers and random state left as they were."""
    modules = ([("", fn)] if isinstance(fn, torch.nn.Module) else []) + \
        [(p, v) for p, v in _leaves(named) if isinstance(v, torch.nn.Module)]
    params = {(f"{prefix}." if prefix else "") + p: t
              for prefix, m in modules for p, t in m.named_parameters()}
    fresh: dict = {}
    own = {id(t) for t in params.values()}

    def leaf(path, x):
        if isinstance(x, torch.Tensor) and x.is_floating_point() and id(x) not in own:
            fresh[path] = x.detach().clone().requires_grad_(True)
            return fresh[path]
        return x
    flags = {n: p.requires_grad for n, p in params.items()}
    with _kept_modules([m for _, m in modules]):
        try:
            for p in params.values():
                p.requires_grad_(True)
            args = {k: _inputs.rebuild(v, k, leaf) for k, v in named.items()}
            with torch.enable_grad():
                out = _inputs.call(fn, args, named)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                return []
            wanted = {**params, **fresh}
            grads = torch.autograd.grad(out.real.sum(), list(wanted.values()),
                                        allow_unused=True)
            return [n for n, g in zip(wanted, grads) if g is not None]
        except Exception:           # a function that cannot run this way: nothing to add
            return []
        finally:
            for n, p in params.items():
                p.requires_grad_(flags[n])


def _replaced(path, x, replace):
    if path in replace and isinstance(x, torch.Tensor):
        return torch.as_tensor(np.asarray(replace[path]), dtype=x.dtype)
    return x


@contextmanager
def moved(trace, replace: dict):
    """The function's arguments with the named inputs moved (parameters written into
    the modules for the duration, then restored)."""
    with _moved(trace, replace) as (args, _):
        yield args


def rerun(trace, replace: dict):
    """The output with the named inputs moved to new values (untraced)."""
    with _moved(trace, replace) as (args, _):
        out = _selected(trace, _inputs.call(trace.function, args, trace.arguments))
    return to_float_or_array(out)


def _selected(trace, out):
    return out if trace.select is None else trace.select(out)


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
    report.compared = "torch's .grad"
    if f64:
        params = set(trace.torch_params)       # what torch trains: never skipped
        for name in trace.wrt:
            try:
                report.inputs.append(_finite_differences(trace, name, eps, rtol=1e-5,
                                                         atol=atol, limit=max_elements))
            except Exception as e:
                if name in params:
                    raise
                report.notes.append(           # labels a loss restricts: BCE's targets
                    f"{name} was not perturbed for finite differences: re-running with it "
                    f"moved raised {type(e).__name__}: {str(e).splitlines()[0]}")
        report.compared += " and float64 finite differences"
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
            out = _selected(trace, _inputs.call(trace.function, args, trace.arguments))
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
