"""How numbers, values and derivatives read, and the defaults every stage shares.

One home for the text of mathematics: ``num`` (3 significant digits, a real minus
sign), ``value_text`` (a float, an array of up to 16 values, or range and norm), ``partial``
(∂C/∂(a + b)), the sum rule of a fan-out node, and ``number_text`` for constants
inside formulas.  Escaping for a target (Graphviz, SVG, HTML) is the renderer's job
(``render.labels``); these strings are plain text.
"""

from __future__ import annotations

import math
import re

import numpy as np

MINUS = "\u2212"

# Defaults shared by the API, the CLI and the views.
DIGITS = 3              # significant digits in every label and explanation
MAX_PATHS = 64          # explain's paths form lists at most this many paths
RTOL, ATOL, EPS = 1e-4, 1e-6, 1e-6     # the finite-difference check: tolerances and step


def number_text(x) -> str:
    """A number as it reads in a formula: 2 not 2.0, 0.5 not 0.5000."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.4g}"


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power_text(p) -> str:
    """An exponent as it is written: x², x⁻¹, x^0.5, x^−0.5."""
    text = number_text(p)
    if text.lstrip("-").isdigit():
        return text.translate(_SUPERSCRIPTS)
    return "^" + text.replace("-", MINUS)


def num(x, digits: int = DIGITS) -> str:
    """A number as a reader wants it: 3 significant digits, a real minus sign."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else MINUS + "∞"
    s = f"{x:.{digits}g}"
    if s in ("-0", "0"):
        return "0"
    return s.replace("-", MINUS)


def signed_term(x, digits: int) -> str:
    """A term inside a sum: negatives in parentheses, ``0.12 + (−0.05)``."""
    s = num(x, digits)
    return f"({s})" if s.startswith(MINUS) else s


def shape_text(shape) -> str:
    return "×".join(str(n) for n in shape) if shape else "scalar"


def _nested(a: np.ndarray, digits: int) -> str:
    if a.ndim == 0:
        return num(a, digits)
    return "[" + ", ".join(_nested(x, digits) for x in a) + "]"


SHOWN_WHOLE = 16        # arrays up to this many values are written out, bigger ones summed up
SHOWN_ON_EDGE = 6       # an edge's one-line label: fewer


def value_text(v, digits: int = DIGITS, rows: bool = False, whole: int = SHOWN_WHOLE) -> str:
    """A float, or an array's values when it has at most ``whole`` (16), else a range
    and norm.  ``rows``: a matrix one row per line (``[[1, 2],`` newline ``[3, 4]]``), as
    a box shows it."""
    if isinstance(v, (float, int, np.floating)):
        return num(v, digits)
    a = np.asarray(v)
    if a.size <= whole:
        if rows and a.ndim == 2 and a.shape[0] > 1:
            return "[" + ",\n".join(_nested(r, digits) for r in a) + "]"
        return _nested(a, digits)
    finite = a[np.isfinite(a)]
    bad = a.size - finite.size
    if finite.size:
        s = (f"{num(finite.min(), digits)} … {num(finite.max(), digits)}, "
             f"‖·‖ {num(np.linalg.norm(finite), digits)}")
    else:
        s = "no finite values"
    return s + (f", {bad} NaN/∞" if bad else "")


def magnitude(v) -> float:
    """|x| for floats, the Euclidean norm for arrays (NaN if any element is not finite)."""
    if isinstance(v, (float, int, np.floating)):
        return abs(float(v))
    a = np.asarray(v, dtype=float)
    return float(np.linalg.norm(a)) if np.isfinite(a).all() else math.nan


_COMPOUND = re.compile("[ +−·/@]")


def is_atom(t: str) -> bool:
    """A name that reads as one symbol: ``a(L−1)``, ``w(L)jk``, ``y[0]``, ``tanh(z)``;
    an operator only inside its own brackets, and no leading minus."""
    if not _COMPOUND.search(t):
        return True
    depth = 0
    for ch in t:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and _COMPOUND.match(ch):
            return False
    return not t.startswith(MINUS) and depth == 0


def _operand(t: str) -> str:
    return t if is_atom(t) else f"({t})"


def partial(top: str, bottom: str) -> str:
    """∂top/∂bottom, parenthesising compound expressions."""
    return f"∂{_operand(top)}/∂{_operand(bottom)}"


def factor(formula: str) -> str:
    """A formula as a factor of a product: ``1 − tanh²(z)`` becomes ``(1 − tanh²(z))``."""
    depth = 0
    for i, ch in enumerate(formula):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and formula[i:i + 3] in (" + ", " − "):
            return f"({formula})"
    return formula


def sum_rule_text(grad, terms: list, digits: int) -> str:
    """A fan-out node's gradient as the sum of what each path contributes."""
    if all(isinstance(t, (float, np.floating)) for t in terms):
        return " + ".join(signed_term(t, digits) for t in terms) + f" = {num(grad, digits)}"
    if all(np.size(t) <= 3 for t in terms):
        return " + ".join(value_text(t, digits) for t in terms) + f" = {value_text(grad, digits)}"
    norms = ", ".join(num(magnitude(t), digits) for t in terms)
    return f"Σ of {len(terms)} paths (‖·‖ {norms}) = {value_text(grad, digits)}"
