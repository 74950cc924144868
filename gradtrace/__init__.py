"""gradtrace: trace a forward pass into a graph, run the chain rule over it, draw it.

    import gradtrace as gt
    t = gt.trace(loss, w=0.5, b=0.1)
    t.backward()
    t.grads            # {'w': ..., 'b': ...}
    t.render("loss.svg")
"""

from .errors import (
    BackwardError,
    GradtraceError,
    GradtraceWarning,
    RenderError,
    TraceError,
    UnsupportedOpError,
)
from .functions import label, logsumexp, relu, scope, sigmoid, softmax, tanh, value
from .jsonload import load
from .record.traced import Traced
from .trace import Trace
from .tracing import trace
from .valuegraph import from_micrograd, grade, watch

__version__ = "0.1.0"


def check(fn, *args, wrt=None, **kwargs):
    """Trace ``fn``, run backward, and compare with central finite differences."""
    t = trace(fn, *args, wrt=wrt, **kwargs)
    t.backward()
    return t.check()


def load_json(text_or_path, max_bytes: int = 512 * 2**20):
    """A Trace from ``Trace.to_json()`` output (a JSON string or a file path), validated."""
    return load(text_or_path, max_bytes)


__all__ = ["trace", "Trace", "Traced", "check", "load_json", "sigmoid", "relu", "tanh",
           "softmax", "logsumexp", "label", "scope", "value", "from_micrograd", "grade",
           "watch", "GradtraceError", "TraceError",
           "UnsupportedOpError", "BackwardError", "RenderError", "GradtraceWarning",
           "__version__"]
