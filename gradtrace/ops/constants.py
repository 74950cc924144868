"""numpy functions whose results carry no gradient: indices, booleans, counts, shapes.

They run on the plain values and give plain results (never an error), like
comparisons do.  Float-valued steps (floor, sign, round, ``//``) are not here:
they are recorded with gradient 0 so the graph shows them (see elementwise).
"""

from __future__ import annotations

import numpy as np

from .core import Constant, register

_UFUNCS = [np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
           np.isfinite, np.isnan, np.isinf, np.signbit, np.logical_and, np.logical_or,
           np.logical_not, np.logical_xor]

_FUNCTIONS = [np.argmax, np.argmin, np.argsort, np.argpartition, np.argwhere, np.nonzero,
              np.flatnonzero, np.count_nonzero, np.isclose, np.allclose, np.array_equal,
              np.array_equiv, np.searchsorted, np.digitize, np.any, np.all, np.isreal,
              np.iscomplex, np.iscomplexobj, np.isrealobj, np.shape, np.ndim, np.size,
              np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.result_type,
              np.unravel_index, np.ravel_multi_index, np.imag, np.angle]

for _f in _UFUNCS + _FUNCTIONS:
    _method = (_f.__name__,) if _f.__name__ in (
        "argmax", "argmin", "argsort", "argpartition", "nonzero", "any", "all",
        "searchsorted") else ()
    register(Constant(_f.__name__, numpy=(_f,), method=_method))
