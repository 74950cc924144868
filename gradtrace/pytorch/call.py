"""One recorded torch call and how calls read.

A ``TorchCall`` keeps a call's outputs, each with the one-call autograd graph torch
built from fresh leaves standing in for the call's traced arguments, and gives the
vector-Jacobian product along one argument when gradtrace's backward asks for it.
``to_numpy`` turns tensors into the values the graph stores; ``call_name`` says how a
call is written in a diagram (``@``, ``.sum()``, ``F.linear``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import BackwardError

INFIX = {"__matmul__": "@", "matmul": "@", "__mod__": "%", "__floordiv__": "//"}
SHOWN = {"__getitem__": "[…]"}


class TorchCall:
    """One recorded torch call: its outputs (each with a one-call autograd graph) and
    the leaf that stood in for each tensor argument (None for constants)."""

    __slots__ = ("outs", "leaves", "_key", "_grads", "what")

    def __init__(self, outs, leaves, what: str = "a torch call"):
        self.outs, self.leaves, self.what = outs, leaves, what
        self._key: tuple | None = None
        self._grads: dict | None = None

    def vjp(self, part: int, k: int, g):
        """What flows back to argument ``k`` when output ``part`` receives ``g``; the
        call's arguments are differentiated together once per incoming gradient."""
        if self._key is None or self._key[0] != part or self._key[1] is not g:
            out = self.outs[part]
            wanted = [leaf for leaf in self.leaves if leaf is not None and leaf.requires_grad]
            seed = torch.as_tensor(np.asarray(g), dtype=out.dtype).reshape(out.shape)
            try:
                grads = _run_backward((out,), (seed,), True, False, tuple(wanted), True, False)
            except RuntimeError as e:
                raise BackwardError(f"torch could not differentiate {self.what}: "
                                    f"{str(e).splitlines()[0]} (torch's own backward "
                                    "fails the same way)") from None
            self._key, self._grads = (part, g), {id(a): b for a, b in zip(wanted, grads)}
        leaf = self.leaves[k]
        grad = self._grads.get(id(leaf)) if self._grads is not None else None
        return np.zeros(tuple(leaf.shape)) if grad is None else to_numpy(grad, copy=False)


def _autograd_grad(outs, seeds, keep, create, inputs, allow_unused, accumulate):
    return torch.autograd.grad(outs, inputs, grad_outputs=seeds, retain_graph=keep,
                               create_graph=create, allow_unused=allow_unused)


# torch.autograd.grad's own engine call: its Python wrapper (argument checks, seed
# shapes, logging hooks) costs more than the VJP of a small call; the public function
# where a torch build lacks it
_ENGINE = getattr(getattr(torch.autograd, "Variable", None), "_execution_engine", None)
_run_backward = getattr(_ENGINE, "run_backward", None) or _autograd_grad


def to_numpy(t: torch.Tensor, copy: bool = True):
    """A tensor's value as the graph stores values: a float for 0-d, else a read-only
    array (float dtypes kept).  Copied unless the tensor is one only gradtrace holds (a
    call's fresh output or gradient): the user's tensors change when they train."""
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    a = t.cpu().numpy()
    a = a.copy() if copy else a
    if a.ndim == 0 and a.dtype.kind == "f":
        return float(a)
    a.flags.writeable = False
    return a


_SPELLED: dict = {}


def call_name(func) -> tuple[str, str]:
    """How a call reads: (row spelling, text): ('infix', '@'), ('method', '.sum()'),
    ('call', 'F.linear'), ('call', 'torch.matmul'); worked out once per function."""
    try:
        return _SPELLED[func]
    except (KeyError, TypeError):
        pass
    spelled = _call_name(func)
    try:
        _SPELLED[func] = spelled
    except TypeError:           # an unhashable callable: spelled each time
        pass
    return spelled


def _call_name(func) -> tuple[str, str]:
    name = getattr(func, "__name__", repr(func))
    if name in INFIX:
        return "infix", INFIX[name]
    if name in SHOWN:
        return "method", SHOWN[name]
    if getattr(torch.Tensor, name, None) is func:
        return "method", f".{name.strip('_')}()"
    module = getattr(func, "__module__", "") or ""
    if module.startswith("torch.nn.functional") or \
            getattr(torch.nn.functional, name, None) is func:
        return "call", f"F.{name}"
    return "call", f"torch.{name}"
