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
from torch.utils._pytree import tree_flatten

from ..errors import TraceError
from ..names.naming import DISPATCH_FILES, INTERNAL_FILES
from ..ops import PRIMITIVES
from ..ops.core import local_derivatives
from ..ops.external import ROWS
from ..record import inputs as _inputs
from ..record.recorder import Recorder
from ..record.traced import Traced
from . import args as _args
from . import guards as _guards
from . import inplace as _inplace
from .call import TorchCall, call_name, to_numpy
from .output_names import name_parts

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
DISPATCH_FILES.add(os.path.join(TORCH_DIR, "overrides.py"))

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


class Bridge(TorchFunctionMode):
    """The recording: which tensors are traced (by identity) and which modules run."""

    def __init__(self, rec: Recorder):
        super().__init__()
        self.rec = rec
        self.nodes: dict[int, tuple] = {}      # id(tensor) -> (tensor, node id)
        self.consts: dict[int, tuple] = {}
        self.module_paths: dict[int, str] = {}
        self.open_modules: list = []
        self.roots: set[int] = set()            # modules traced or passed in: no scope box,
        # so collapse folds their children (model.transformer.h.0), not one 'model' box
        self.fallback: dict[int, str] = {}      # node -> module path, if nothing names it
        self.versions: dict[int, int] = {}      # id(tensor) -> its _version when recorded
        self.bases: dict[int, torch.Tensor] = {}  # id(input) -> the private copy calls use
        self.grad_hooks: dict[int, list] = {}   # node -> Tensor.register_hook functions
        self.superseded: dict[int, tuple] = {}  # id -> (tensor, why): changed via a view
        self.late_inputs: dict[str, torch.Tensor] = {}   # see ``reached``
        self.starts: list[int] = []              # first node id of each open module call
        self.wanted = _inputs.wanted(None)       # which inputs get gradients

    # ------------------------------------------------------------ inputs
    def input(self, t: torch.Tensor, name: str, requires_grad: bool) -> None:
        hit = self.nodes.get(id(t))
        if hit is not None and hit[0] is t:
            return                                 # a tied weight: named once
        _check_device(t, name)
        private = t.detach().clone()       # the trace's snapshot: later steps leave it be
        leaf = self.rec.leaf("input", to_numpy(private, copy=False), name, requires_grad)
        self.nodes[id(t)] = (t, leaf._id)
        self.versions[id(t)] = t._version
        self.bases[id(t)] = private

    def named_const(self, t: torch.Tensor, name: str) -> None:
        """A non-float tensor argument (class labels): a constant that keeps its name."""
        if id(t) not in self.consts:
            nid = self.rec.leaf("const", to_numpy(t), name, False)._id
            self.consts[id(t)] = (t, nid)

    def reached(self, t: torch.Tensor) -> int:
        """A tensor that wants a gradient, met in a call but found by no walk of the
        arguments, modules, closure or globals (a helper's global): an input, as torch's
        autograd would train it, named after the line that used it."""
        name = f"tensor{_user_line()}".replace(" (", "@").rstrip(")")
        self.input(t, name, self.wanted(name))
        self.late_inputs[name] = t
        return self.input_id(t)

    def input_id(self, t: torch.Tensor) -> int:
        """The node of a tensor ``input`` has registered."""
        return self.nodes[id(t)][1]

    def _traced(self, x) -> bool:
        return isinstance(x, torch.Tensor) and self.node_of(x) is not None

    def node_of(self, t: torch.Tensor) -> int | None:
        hit = self.nodes.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    def const(self, value) -> int:
        """A tensor or number the function uses that is not traced: a constant node."""
        hit = self.consts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if isinstance(value, torch.Tensor):
            if value.grad_fn is not None:
                raise TraceError(
                    f"a tensor reached {_user_line().strip(' ()') or 'a traced call'} that was "
                    "computed from tensors that require grad by code gradtrace cannot see: a "
                    "torch.jit script or traced function, a C++ extension, or a module or "
                    "tensor the function closes over; call the plain Python version, and pass "
                    "every module and tensor the function uses as an argument")
            if value.requires_grad and value.is_floating_point():
                return self.reached(value)
            v = to_numpy(value)
            v = float(v) if isinstance(v, np.ndarray) and v.ndim == 0 else v
        else:
            _note_marked(self.rec, value)
            v = float(value)
        name = self.rec.const_name(value, self._traced) if type(v) is not float else None
        nid = self.rec.leaf("const", v, name, False)._id
        self.consts[id(value)] = (value, nid)
        return nid

    # ------------------------------------------------------------ every torch call
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, spec = _args.flatten(args, kwargs)
        nodes = self.nodes
        traced = [i for i, x in enumerate(flat) if isinstance(x, torch.Tensor) and
                  (hit := nodes.get(id(x))) is not None and hit[0] is x]
        if not traced:
            return func(*args, **kwargs)
        if self.superseded:
            _inplace.refuse_superseded(self, flat, traced, _user_line)
        name = getattr(func, "__name__", "")
        if name == "detach" or getattr(func, "__self__", None) is torch.Tensor.data:
            return func(*args, **kwargs)           # an explicit constant: not followed
        if name in _inplace.NO_VALUE_CHANGE:
            return args[0]
        if name == "register_hook":
            return self._hook(args, kwargs)
        self._refuse(func, name, flat, traced, kwargs)
        _skip_torch_frames()
        change = _inplace.plan(func, name, args, kwargs)
        if change is not None:
            return _inplace.record(self, change[0], args, change[1], change[2],
                                   _inplace.spelled(func, name, call_name(func)), _user_line())
        row = ELEMENTWISE.get(name)
        if row is not None and _plain_elementwise(flat, kwargs):
            return self._elementwise(func, args, kwargs, *row)
        return self._generic(func, flat, spec)

    def _refuse(self, func, name, flat, traced, kwargs):
        if name in STEERING or name == "__setitem__" or "out" in kwargs or \
                not torch.is_grad_enabled():
            self._refused(func, name, kwargs)
        for i in traced:
            if not flat[i].is_cpu:
                _check_device(flat[i], call_name(func)[1])
        if _WRAPPED is not None and any(_transformed(x) for x in flat):
            raise TraceError(f"{call_name(func)[1]}{_user_line()} runs inside a torch.func "
                             "transform (vmap, grad, jacrev ...), whose tensors gradtrace "
                             "cannot follow call by call; write that part with ordinary "
                             "(batched) tensor ops")

    @staticmethod
    def _refused(func, name, kwargs):
        where = _user_line()
        what = call_name(func)[1]
        if name in STEERING:
            raise TraceError(f"{what} of a traced tensor{where} turns it into a Python or "
                             "numpy value, which gradtrace cannot follow (a branch or a "
                             "number taken from it would silently drop gradient); keep the "
                             "computation in torch ops, or .detach() it to use it as a "
                             "constant")
        if name == "__setitem__" or "out" in kwargs:
            raise TraceError(f"{what}{where} changes a tensor in place; gradtrace records "
                             "values, so write it out of place (x = x + y, torch.cat, "
                             "torch.where) instead")
        if not torch.is_grad_enabled():
            raise TraceError(f"{what}{where} runs under torch.no_grad() (or inference_mode) "
                             "on a traced tensor, so no gradient can flow through it; move it "
                             "out of the no_grad block, or .detach() the tensor")

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
        self.versions[id(out)] = out._version
        return out

    def _generic(self, func, flat, spec, text: str | None = None):
        """Any other call: torch computes it, and its VJP, from one-call leaves."""
        leaves: list[torch.Tensor | None] = []
        ids: list[int] = []
        needs = False
        flat = list(flat)
        for i, x in enumerate(flat):
            if not isinstance(x, torch.Tensor):
                _note_marked(self.rec, x)
                continue
            nid = self.node_of(x)
            if nid is None and x.requires_grad and x.is_leaf and x.is_floating_point():
                nid = self.reached(x)
            if nid is None:
                ids.append(self.const(x))
                leaves.append(None)
                continue
            wants = self.rec.requires_grad(nid) and x.is_floating_point()
            leaf = self.bases.get(id(x), x).detach().requires_grad_(wants)
            flat[i] = leaf
            ids.append(nid)
            leaves.append(leaf)
            needs = needs or wants
        args, kwargs = _args.unflatten(flat, spec)
        with torch.enable_grad():
            out = func(*args, **kwargs)
        parts = [out] if isinstance(out, torch.Tensor) else \
            list(out) if isinstance(out, (tuple, list)) else []
        floats = [p for p in parts if isinstance(p, torch.Tensor) and p.is_floating_point()]
        if needs and any(isinstance(p, torch.Tensor) and p.is_complex() for p in parts):
            raise TraceError(f"{call_name(func)[1]}{_user_line()} makes a complex tensor from "
                             "a traced one; gradtrace traces real values only, so keep the "
                             "computation real (split real and imaginary parts by hand)")
        form, fname = call_name(func) if text is None else ("call", text)
        call = TorchCall(floats, leaves, fname)
        if form == "infix" and len(ids) != 2:
            form = "call"
        for j, p in enumerate(floats):
            params = {"fn": fname, "_call": call} | ({"part": j} if len(floats) > 1 else {})
            nid = self.rec.external(ROWS[form], ids, to_numpy(p, copy=False), None, params,
                                    needs and p.requires_grad, self.scope())
            self.nodes[id(p)] = (p, nid)
            self.versions[id(p)] = p._version
        return out

    def _hook(self, args, kwargs):
        """``h.register_hook(fn)``: fn transforms the gradient of h's node, as torch
        applies it to h's gradient before it flows on."""
        t = args[0]
        fn = args[1] if len(args) > 1 else kwargs["hook"]
        nid = self.node_of(t)
        if nid is None:
            raise TraceError(f".register_hook(){_user_line()} on a tensor gradtrace does not "
                             "trace (a constant): no gradient flows through it")
        hooks = self.grad_hooks.setdefault(nid, [])
        hooks.append(fn)
        return _guards.HookHandle(hooks, fn)

    def function_apply(self, cls, plain_apply, args, kwargs):
        """``MyFn.apply(x)`` of a custom ``torch.autograd.Function``: one node named after
        the class, whose VJP torch gets from the Function's own ``backward``."""
        flat, spec = _args.flatten(args, kwargs)
        if not any(isinstance(x, torch.Tensor) and self.node_of(x) is not None for x in flat):
            return plain_apply(cls, *args, **kwargs)
        if _guards.is_checkpoint(cls):     # checkpoint(fn, *xs, use_reentrant=True): run fn
            return args[0](*args[2:])
        if not torch.is_grad_enabled():
            raise TraceError(f"{cls.__name__}.apply{_user_line()} runs under torch.no_grad() "
                             "on a traced tensor, so no gradient can flow through it")
        _skip_torch_frames()

        def run(*a, **k):
            return plain_apply(cls, *a, **k)
        return self._generic(run, flat, spec, text=cls.__name__)

    # ------------------------------------------------------------ module calls as scopes
    def scope(self) -> tuple:
        key = tuple(label for _, label in self.rec.scopes)
        return self.rec.interned(key)

    def enter_module(self, module, args):
        path = self.module_paths.get(id(module), type(module).__name__.lower())
        _guards.refuse_module(module, path)
        entry = None
        if path and id(module) not in self.roots:  # the traced modules themselves are no
            entry = (-1, self.rec.instance_label(path))
            self.rec.scopes.append(entry)
            self.rec.scope_version += 1
        self.open_modules.append(entry)
        self.starts.append(self.rec.n)

    def leave_module(self, module, args, output):
        if not self.open_modules:
            return
        entry = self.open_modules.pop()
        start = self.starts.pop()
        if isinstance(output, (tuple, list)):
            name_parts(self.rec, self.node_of, output, start)
        if entry is not None and entry in self.rec.scopes:
            self.rec.scopes.remove(entry)
            self.rec.scope_version += 1
        path = self.module_paths.get(id(module)) or (entry[1].split("\x00")[0] if entry else "")
        if path and isinstance(output, torch.Tensor):
            nid = self.node_of(output)
            if nid is not None:
                self.fallback.setdefault(nid, path)


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


def _note_marked(rec, x) -> None:
    """A number argument of the traced function met a traced tensor: say once that it
    is a constant (see ``inputs.marked``)."""
    if type(x) in _MARKED:
        rec.dropped.setdefault(x.path, x.reason)


_MARKED = (_inputs.ConstInt, _inputs.ConstFloat)
_WRAPPED = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)


def _transformed(x) -> bool:
    """A tensor torch.func wrapped for a transform (it has no storage of its own)."""
    return isinstance(x, torch.Tensor) and bool(_WRAPPED(x))       # type: ignore[misc]


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
