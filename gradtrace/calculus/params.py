"""Which inputs a gradient-descent step moves: the parameters, not the data.

One rule shared by every view that takes a step (the page's update step, the
what-if's descend button): a torch trace moves its modules' ``nn.Parameter``s; a
numpy/float trace moves the inputs named in ``params=`` when given, else those in
``wrt`` when ``wrt`` picked some, else every input except the ones whose name says
data (``x, X, xs, y, Y, ys, target(s), label(s), data, inputs, batch``) and those
named in ``data=``.  Only inputs that get a gradient can move.
"""

from __future__ import annotations

import re

from ..errors import GradtraceError
from ..record.inputs import wanted

DATA_NAMES = frozenset({"x", "X", "xs", "y", "Y", "ys", "target", "targets", "label", "labels",
                        "data", "inputs", "batch"})
_ROOT = re.compile(r"[.\[]")


def _root(name: str) -> str:
    """The argument an input belongs to: ``xs`` for ``xs[2]``, ``params`` for ``params.W1``."""
    return _ROOT.split(name, 1)[0]


def update_targets(trace, params=None, data=None) -> list[str]:
    """The names of the inputs one descent step changes, in the trace's input order."""
    with_grad = [n for n in trace.inputs if n in set(trace.wrt)]
    if params is not None:
        pick = wanted(params)
        chosen = [n for n in with_grad if pick(n)]
        if not chosen:
            raise GradtraceError(f"params={params!r} names no input that gets a gradient; "
                                 f"those are: {', '.join(with_grad) or '(none)'}")
        return chosen
    torch_params = getattr(trace, "torch_parameters", None)
    if torch_params is not None:
        return [n for n in with_grad if n in torch_params]
    if len(trace.wrt) < len(trace.inputs):      # wrt picked some: those are the parameters
        return with_grad
    is_data = wanted(data) if data is not None else (lambda name: False)
    return [n for n in with_grad if _root(n) not in DATA_NAMES and not is_data(n)]
