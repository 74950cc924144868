"""The op table: the one place that knows calculus, and the only place an op is added.

Rows live by family (``elementwise``, ``reductions``, ``shape``, ``linalg``,
``constants``); each names the numpy callables and ``Traced`` methods it answers,
and ``gradtrace.record.dispatch`` derives its dispatch from ``ROWS``.  Adding ``np.arctan``
is one ``unary(...)`` row here plus one line in the per-op gradient test list.
"""

from . import (  # noqa: F401
    constants,
    elementwise,
    external,
    linalg,
    piecewise,
    reductions,
    selection,
    shape,
    writes,
)
from .core import (
    CALL,
    INFIX,
    NO_VALUE,
    POSTFIX,
    PREFIX,
    PRIMITIVES,
    ROWS,
    Composite,
    Constant,
    Primitive,
    scalar_fallback,
)
from .elementwise import (
    ABS,
    ADD,
    DIV,
    FLOOR_DIVIDE,
    MOD,
    MUL,
    NEG,
    POW,
    POW_CONST,
    RELU,
    SIGMOID,
    SUB,
    TANH,
)
from .linalg import MATMUL
from .piecewise import MAXIMUM, MINIMUM
from .reductions import LOGSUMEXP, SOFTMAX
from .shape import CAST, GETITEM, RESHAPE, TRANSPOSE, getitem_params, is_basic_index
from .writes import SETITEM

__all__ = ["CALL", "INFIX", "POSTFIX", "PREFIX", "NO_VALUE", "ROWS", "PRIMITIVES", "Composite",
           "Constant", "Primitive", "scalar_fallback", "ABS", "ADD", "DIV",
           "FLOOR_DIVIDE", "MAXIMUM", "MINIMUM", "MOD", "MUL", "NEG", "POW", "POW_CONST", "RELU",
           "SIGMOID", "SUB", "TANH", "MATMUL", "LOGSUMEXP", "SOFTMAX", "CAST", "GETITEM",
           "RESHAPE", "TRANSPOSE", "SETITEM", "getitem_params", "is_basic_index"]
