"""What torch code can do around a trace that gradtrace must apply or refuse.

- ``Tensor.register_hook``: the hook transforms the gradient of that tensor's node in
  gradtrace's backward, as torch applies it before the gradient flows on.
- Module backward hooks: refused by module path (torch runs them on a module's summed
  input and output gradients; gradtrace would silently skip them).
- ``torch.jit`` modules and functions: their calls are invisible to a function mode;
  a scripted module is refused by path before the trace starts, and a tensor a scripted
  function computed from traced tensors is refused where it is used (``pytorch.bridge``).
- A custom ``torch.autograd.Function``: ``MyFn.apply(x)`` is one node named after the
  class, whose vector-Jacobian product is the Function's own ``backward``.
- ``torch.utils.checkpoint``: recomputation is the same calls again, so while tracing
  the checkpointed function simply runs (once, recorded like any other code).

The patches are made only while a torch trace records, and undone after it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn.modules import module as _module

from ..errors import BackwardError, TraceError
from .inplace import describe


class HookHandle:
    """What ``register_hook`` returns: ``.remove()`` takes the hook off again."""

    def __init__(self, hooks: list, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self) -> None:
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


class GradHooks:
    """One node's ``register_hook`` functions, applied in order to its gradient as a
    tensor of the node's dtype; a hook returning a tensor replaces the gradient."""

    def __init__(self, fns: list, dtype, what: str):
        self.fns, self.dtype, self.what = fns, dtype, what

    def __call__(self, g):
        t = torch.as_tensor(np.array(g), dtype=self.dtype)
        for fn in self.fns:
            r = fn(t)
            if r is None:
                continue
            if not isinstance(r, torch.Tensor) or r.shape != t.shape:
                raise BackwardError(f"the hook {getattr(fn, '__name__', fn)!s} on {self.what} "
                                    f"returned {_shape_of(r)}; a gradient hook returns None or "
                                    f"a tensor of the gradient's shape {tuple(t.shape)}")
            t = r
        a = t.detach().cpu().double().numpy() if t.dtype in (torch.float16, torch.bfloat16) \
            else t.detach().cpu().numpy()
        return float(a) if a.ndim == 0 else np.array(a)


def _shape_of(r) -> str:
    return f"shape {tuple(r.shape)}" if isinstance(r, torch.Tensor) else \
        f"a {type(r).__name__}"


def install_hooks(bridge) -> None:
    """Hand the recorded ``register_hook`` functions to the tape backward runs on."""
    found = {nid: fns for nid, fns in bridge.grad_hooks.items() if nid is not None and fns}
    if not found:
        return
    rec = bridge.rec
    bridge.rec.tape.hooks = {
        nid: GradHooks(list(fns), _dtype(rec.records[nid][2]), describe(bridge, nid))
        for nid, fns in found.items()}


def _dtype(value):
    return torch.float64 if type(value) is float else torch.from_numpy(
        np.zeros(0, dtype=value.dtype)).dtype


def refuse_module(module, path: str) -> None:
    """A module whose calls gradtrace would not follow faithfully."""
    where = f"'{path}'" if path else f"the {type(module).__name__} module"
    if isinstance(module, torch.jit.ScriptModule):
        raise TraceError(f"{where} is a torch.jit script or traced module; its calls run "
                         "inside TorchScript, where gradtrace cannot see them, so part of the "
                         "gradient would vanish: trace the plain Python module instead")
    if module._backward_hooks or module._backward_pre_hooks or \
            _module._global_backward_hooks or _module._global_backward_pre_hooks:
        raise TraceError(f"{where} has a module backward hook (register_full_backward_hook "
                         "or register_backward_hook); gradtrace's backward does not run "
                         "module backward hooks, so its gradients would differ from torch's: "
                         "remove the hook while tracing, or put Tensor.register_hook on the "
                         "module's output, which gradtrace applies")


def refuse_function(fn) -> None:
    if isinstance(fn, (torch.jit.ScriptFunction, torch.jit.ScriptModule)):
        raise TraceError(f"{getattr(fn, 'name', type(fn).__name__)} is a torch.jit script or "
                         "traced function; TorchScript runs its calls where gradtrace cannot "
                         "see them: trace the plain Python function instead")


_CHECKPOINT = "_checkpoint_without_reentrant_generator"   # torch.utils.checkpoint's set-up


@contextmanager
def patched(bridge):
    """While recording: ``Function.apply`` records one node per custom Function, and
    checkpointed functions run plainly."""
    function = torch.autograd.Function
    original = function.__dict__["apply"]
    plain_apply = original.__func__

    def apply(cls, *args, **kwargs):
        return bridge.function_apply(cls, plain_apply, args, kwargs)
    function.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
    checkpoint = sys.modules.get("torch.utils.checkpoint")
    generator = getattr(checkpoint, _CHECKPOINT, None)
    if generator is not None:
        setattr(checkpoint, _CHECKPOINT, _runs_plainly)     # torch's own module, restored below
    try:
        yield
    finally:
        function.apply = original  # type: ignore[method-assign]
        if generator is not None:
            setattr(checkpoint, _CHECKPOINT, generator)


def _runs_plainly(*args, **kwargs):
    """The non-reentrant checkpoint's set-up and tear-down, doing nothing: the
    checkpointed function runs once, recorded like any other code."""
    yield


def is_checkpoint(cls) -> bool:
    checkpoint = sys.modules.get("torch.utils.checkpoint")
    return checkpoint is not None and cls is getattr(checkpoint, "CheckpointFunction", None)
