"""The row for calls another autodiff library recorded (PyTorch): no calculus here.

A torch call's node keeps its function's name in ``params["fn"]`` and a runtime
handle in ``params["_call"]`` (kept out of JSON) that gives the vector-Jacobian
product from torch's own autograd, so torch needs no op table of ours.  A trace
loaded from JSON has no handle: it displays, but backward through such a node says
to trace again.
"""

from __future__ import annotations

from .core import CALL, INFIX, POSTFIX, Primitive, register


def _not_run_here(*_, **__):
    raise ValueError("a recorded torch call is computed by torch, not replayed by gradtrace")


def _vjp(k, g, out, vals, params):
    call = params.get("_call")
    if call is None:
        raise ValueError(f"{params.get('fn', 'this torch call')} was loaded from JSON, so its "
                         "torch autograd graph is gone; trace the model again to run backward")
    return call.vjp(params.get("part", 0), k, g)


def _named(operands, params, shapes) -> str:
    return str(params.get("fn", "torch"))


# three spellings of one idea: F.linear(x, W), x @ W, x.sum() / x[…]
TORCH = register(Primitive("torch", -1, "{fn}({args})", CALL, 100, (_named,), _not_run_here,
                           vjp=_vjp))
TORCH_INFIX = register(Primitive("torch_infix", 2, "{0} {fn} {1}", INFIX, 60, (_named,),
                                 _not_run_here, vjp=_vjp))
TORCH_METHOD = register(Primitive("torch_method", -1, "{0}{fn}", POSTFIX, 95, (_named,),
                                  _not_run_here, vjp=_vjp))
ROWS = {"call": TORCH.name, "infix": TORCH_INFIX.name, "method": TORCH_METHOD.name}
