"""Tracing a PyTorch forward pass onto the same tape the numpy tracer records.

Imported only when ``gt.trace`` is given torch tensors or an ``nn.Module``, so
``import gradtrace`` never imports torch.  A ``TorchFunctionMode`` sees every torch
call the user's code makes (functions, tensor methods, operators, indexing); a call
that touches a traced tensor becomes one node.  Each call runs once, on fresh
detached leaves standing in for its traced arguments, so its output carries a
one-call autograd graph: the chain-rule pass (gradtrace's own, over the tape) gets
each edge's vector-Jacobian product from ``torch.autograd.grad`` on that call.
Elementwise calls whose derivative the op table knows (``tanh``, ``+``,
``*``, ``**`` ...) are recorded as those rows instead, with local derivatives and
formula text, exactly as in a numpy trace.  Module calls are scopes named by their
path (``layers.0``); parameters are inputs named by theirs (``layers.0.weight``).
"""

from __future__ import annotations

import os
import sys
from types import FrameType

import numpy as np
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_unflatten

from . import inputs as _inputs
from .errors import TraceError
from .naming import INTERNAL_FILES
from .ops import PRIMITIVES
from .ops.core import local_derivatives
from .ops.external import ROWS
from .recorder import Recorder
from .traced import Traced

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep

# torch name -> (op-table row, operands reversed?) for elementwise calls with known locals
ELEMENTWISE = {n: (n, False) for n in ("tanh", "sigmoid", "exp", "log", "sqrt", "sin", "cos",
                                        "relu", "square", "log1p", "expm1", "reciprocal")}
ELEMENTWISE |= {"abs": ("abs", False), "__abs__": ("abs", False), "neg": ("neg", False),
                "__neg__": ("neg", False), "add": ("add", False), "__add__": ("add", False),
                "__radd__": ("add", True), "sub": ("sub", False), "__sub__": ("sub", False),
                "__rsub__": ("sub", True), "mul": ("mul", False), "__mul__": ("mul", False),
                "__rmul__": ("mul", True), "div": ("div", False), "__truediv__": ("div", False),
                "__rtruediv__": ("div", True), "pow": ("pow", False), "__pow__": ("pow", False)}
STEERING = {"item", "tolist", "numpy", "__array__", "__float__", "__int__", "__index__",
            "__complex__", "__bool__"}
INFIX = {"__matmul__": "@", "matmul": "@", "__mod__": "%", "__floordiv__": "//"}
SHOWN = {"__getitem__": "[…]"}


def uses_torch(fn, named: dict) -> bool:
    """Is this a torch trace?  (Without torch imported it cannot be.)"""
    if "torch" not in sys.modules:
        return False
    found = [isinstance(fn, torch.nn.Module)]

    def look(path, v):
        found.append(isinstance(v, (torch.Tensor, torch.nn.Module)))
        return v
    for k, v in named.items():
        _inputs.rebuild(v, k, look)
    return any(found)


class TorchCall:
    """One recorded torch call: its outputs (each with a one-call autograd graph) and
    the leaf that stood in for each tensor argument (None for constants)."""

    __slots__ = ("outs", "leaves", "_key", "_grads")

    def __init__(self, outs, leaves):
        self.outs, self.leaves = outs, leaves
        self._key, self._grads = None, None

    def vjp(self, part: int, k: int, g):
        """What flows back to argument ``k`` when output ``part`` receives ``g``; the
        call's arguments are differentiated together once per incoming gradient."""
        if self._key is None or self._key[0] != part or self._key[1] is not g:
            out = self.outs[part]
            wanted = [leaf for leaf in self.leaves if leaf is not None and leaf.requires_grad]
            seed = torch.as_tensor(np.asarray(g), dtype=out.dtype).reshape(out.shape)
            grads = torch.autograd.grad(out, wanted, grad_outputs=seed, retain_graph=True,
                                        allow_unused=True)
            self._key, self._grads = (part, g), {id(a): b for a, b in zip(wanted, grads)}
        leaf = self.leaves[k]
        grad = self._grads.get(id(leaf)) if self._grads is not None else None
        return np.zeros(tuple(leaf.shape)) if grad is None else to_numpy(grad, copy=False)


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


def call_name(func) -> tuple[str, str]:
    """How a call reads: (row spelling, text): ('infix', '@'), ('method', '.sum()'),
    ('call', 'F.linear'), ('call', 'torch.matmul')."""
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


class Bridge(TorchFunctionMode):
    """The recording: which tensors are traced (by identity) and which modules run."""

    def __init__(self, rec: Recorder):
        super().__init__()
        self.rec = rec
        self.nodes: dict[int, tuple] = {}      # id(tensor) -> (tensor, node id)
        self.consts: dict[int, tuple] = {}
        self.module_paths: dict[int, str] = {}
        self.open_modules: list = []
        self.fallback: dict[int, str] = {}      # node -> module path, if nothing names it

    # ------------------------------------------------------------ inputs
    def input(self, t: torch.Tensor, name: str, requires_grad: bool) -> None:
        hit = self.nodes.get(id(t))
        if hit is not None and hit[0] is t:
            return                                 # a tied weight: named once
        _check_device(t, name)
        leaf = self.rec.leaf("input", to_numpy(t), name, requires_grad)
        self.nodes[id(t)] = (t, leaf._id)

    def named_const(self, t: torch.Tensor, name: str) -> None:
        """A non-float tensor argument (class labels): a constant that keeps its name."""
        if id(t) not in self.consts:
            nid = self.rec.leaf("const", to_numpy(t), name, False)._id
            self.consts[id(t)] = (t, nid)

    def input_id(self, t: torch.Tensor) -> int:
        """The node of a tensor ``input`` has registered."""
        return self.nodes[id(t)][1]

    def node_of(self, t: torch.Tensor) -> int | None:
        hit = self.nodes.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    def const(self, value) -> int:
        """A tensor or number the function uses that is not traced: a constant node."""
        hit = self.consts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if isinstance(value, torch.Tensor):
            v = to_numpy(value)
            v = float(v) if isinstance(v, np.ndarray) and v.ndim == 0 else v
        else:
            v = float(value)
        nid = self.rec.leaf("const", v, None, False)._id
        self.consts[id(value)] = (value, nid)
        return nid

    # ------------------------------------------------------------ every torch call
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, spec = tree_flatten((args, kwargs))
        traced = [i for i, x in enumerate(flat)
                  if isinstance(x, torch.Tensor) and self.node_of(x) is not None]
        if not traced:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name == "detach" or getattr(func, "__self__", None) is torch.Tensor.data:
            return func(*args, **kwargs)           # an explicit constant: not followed
        self._refuse(func, name, flat, traced, kwargs)
        _skip_torch_frames()
        row = ELEMENTWISE.get(name)
        if row is not None and _plain_elementwise(flat, kwargs):
            return self._elementwise(func, args, kwargs, *row)
        return self._generic(func, flat, spec)

    def _refuse(self, func, name, flat, traced, kwargs):
        where = _user_line()
        what = call_name(func)[1]
        if name in STEERING:
            raise TraceError(f"{what} of a traced tensor{where} turns it into a Python or "
                             "numpy value, which gradtrace cannot follow (a branch or a "
                             "number taken from it would silently drop gradient); keep the "
                             "computation in torch ops, or .detach() it to use it as a "
                             "constant")
        inplace = (name.endswith("_") and not name.startswith("__")) or name in (
            "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__",
            "__imatmul__") or "out" in kwargs
        if inplace:
            raise TraceError(f"{what}{where} changes a tensor in place; gradtrace records "
                             "values, so write it out of place (x = x + y, torch.cat, "
                             "torch.where) instead")
        if not torch.is_grad_enabled():
            raise TraceError(f"{what}{where} runs under torch.no_grad() (or inference_mode) "
                             "on a traced tensor, so no gradient can flow through it; move it "
                             "out of the no_grad block, or .detach() the tensor")
        for i in traced:
            _check_device(flat[i], what)

    def _elementwise(self, func, args, kwargs, row_name, reverse):
        """A call the op table differentiates: its row, its locals, its formula text."""
        operands = list(args[:2])
        if reverse:
            operands.reverse()
        prim = PRIMITIVES[row_name]
        params = None
        if row_name == "pow" and not isinstance(operands[1], torch.Tensor):
            prim, params = PRIMITIVES["powc"], {"p": float(operands[1])}
            operands = operands[:1]
        ids, vals = [], []
        for x in operands:
            nid = self.node_of(x) if isinstance(x, torch.Tensor) else None
            nid = self.const(x) if nid is None else nid
            ids.append(nid)
            vals.append(self.rec.value(nid))
        with torch.no_grad():
            out = func(*[_detached(a) for a in args],
                       **{k: v for k, v in kwargs.items() if k != "inplace"})
        value = to_numpy(out, copy=False)
        needs = any(self.rec.requires_grad(i) for i in ids)
        locs = local_derivatives(prim, value, vals, params) if needs else None
        nid = self.rec.external(prim.name, ids, value, locs, params, needs, self.scope())
        self.nodes[id(out)] = (out, nid)
        return out

    def _generic(self, func, flat, spec):
        """Any other call: torch computes it, and its VJP, from one-call leaves."""
        leaves: list[torch.Tensor | None] = []
        ids: list[int] = []
        needs = False
        flat = list(flat)
        for i, x in enumerate(flat):
            if not isinstance(x, torch.Tensor):
                continue
            nid = self.node_of(x)
            if nid is None:
                ids.append(self.const(x))
                leaves.append(None)
                continue
            wants = self.rec.requires_grad(nid) and x.is_floating_point()
            leaf = x.detach().requires_grad_(wants)
            flat[i] = leaf
            ids.append(nid)
            leaves.append(leaf)
            needs = needs or wants
        args, kwargs = tree_unflatten(flat, spec)
        with torch.enable_grad():
            out = func(*args, **kwargs)
        parts = [out] if isinstance(out, torch.Tensor) else \
            list(out) if isinstance(out, (tuple, list)) else []
        floats = [p for p in parts if isinstance(p, torch.Tensor) and p.is_floating_point()]
        call = TorchCall(floats, leaves)
        form, fname = call_name(func)
        if form == "infix" and len(ids) != 2:
            form = "call"
        for j, p in enumerate(floats):
            params = {"fn": fname, "_call": call} | ({"part": j} if len(floats) > 1 else {})
            nid = self.rec.external(ROWS[form], ids, to_numpy(p, copy=False), None, params,
                                    needs and p.requires_grad, self.scope())
            self.nodes[id(p)] = (p, nid)
        return out

    # ------------------------------------------------------------ module calls as scopes
    def scope(self) -> tuple:
        key = tuple(label for _, label in self.rec.scopes)
        return self.rec.interned(key)

    def enter_module(self, module, args):
        path = self.module_paths.get(id(module), type(module).__name__.lower())
        entry = None
        if path:                                   # the traced module itself is no scope
            entry = (-1, self.rec.instance_label(path))
            self.rec.scopes.append(entry)
            self.rec.scope_version += 1
        self.open_modules.append(entry)

    def leave_module(self, module, args, output):
        if not self.open_modules:
            return
        entry = self.open_modules.pop()
        if entry is None:
            return
        if entry in self.rec.scopes:
            self.rec.scopes.remove(entry)
            self.rec.scope_version += 1
        if isinstance(output, torch.Tensor):
            nid = self.node_of(output)
            if nid is not None:
                self.fallback.setdefault(nid, self.module_paths.get(id(module),
                                                                    entry[1].split("\x00")[0]))


class NumpyGuard(TorchFunctionMode):
    """Active during a numpy trace when torch is loaded: a numpy-traced value handed to
    torch (``torch.tensor(h)``) would leave the trace silently, so it is refused."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        if any(type(x) is Traced for x in flat):
            raise TraceError(f"{call_name(func)[1]}{_user_line()} was given a value gradtrace "
                             "is tracing with numpy; a trace is numpy or torch, not both: "
                             "pass torch tensors as the inputs to trace the torch code")
        return func(*args, **kwargs)


def _plain_elementwise(flat, kwargs) -> bool:
    """Positional float tensors and Python numbers only (no alpha=, rounding_mode= ...)."""
    if any(k != "inplace" or v for k, v in kwargs.items()):
        return False
    for x in flat:
        if isinstance(x, torch.Tensor):
            if not x.is_floating_point():
                return False
        elif isinstance(x, bool) or not isinstance(x, (int, float)):
            return False
    return True


def _detached(x):
    return x.detach() if isinstance(x, torch.Tensor) else x


def _check_device(t: torch.Tensor, what: str) -> None:
    if t.device.type != "cpu":
        raise TraceError(f"{what} is on {t.device}; gradtrace traces CPU tensors (move the "
                         "model and inputs with .cpu() to draw them)")


def _skip_torch_frames() -> None:
    """torch's own Python frames (nn.Linear.forward ...) are not the user's: naming looks
    past them to the line that called the module."""
    f: FrameType | None = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if name.startswith(TORCH_DIR):
            INTERNAL_FILES.add(name)
        elif name not in INTERNAL_FILES:
            return
        f = f.f_back


def _user_line() -> str:
    f: FrameType | None = sys._getframe(2)
    while f is not None and (f.f_code.co_filename in INTERNAL_FILES or
                             f.f_code.co_filename.startswith(TORCH_DIR)):
        f = f.f_back
    return f" ({os.path.basename(f.f_code.co_filename)}:{f.f_lineno})" if f else ""
