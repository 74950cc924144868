"""What each node and edge says, as escaped Graphviz HTML-like label text.

Every user string (names, scope names) passes through ``esc`` before it reaches
Graphviz: quotes, ``<``, ``>``, ``&``, braces, backslashes and newlines all come
out as text, and characters XML cannot carry (control characters, lone
surrogates) are shown as visible escapes instead of breaking the SVG.
"""

from __future__ import annotations

import math
import re

import numpy as np

MINUS = "\u2212"


def clean(text: str) -> str:
    """Make ``text`` safe to place in XML: visible escapes for control characters."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif o < 32 or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def esc(text: str) -> str:
    """Escape text for a Graphviz HTML-like label (newlines become line breaks)."""
    s = clean(text)
    s = (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
         .replace('"', "&quot;").replace("\\", "\\\\"))  # Graphviz reads \N, \G ... as escapes
    return "<BR/>".join(s.split("\n"))


def num(x, digits: int = 3) -> str:
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


def value_text(v, digits: int = 3) -> str:
    """A float, or an array's values when it has at most 6, else a range and norm."""
    if isinstance(v, (float, int, np.floating)):
        return num(v, digits)
    a = np.asarray(v)
    if a.size <= 6:
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


def _operand(t: str) -> str:
    return f"({t})" if _COMPOUND.search(t) and not t.startswith("(") else t


def partial(top: str, bottom: str) -> str:
    """∂top/∂bottom, parenthesising compound expressions."""
    return f"∂{_operand(top)}/∂{_operand(bottom)}"


def sum_rule_text(grad, terms: list, digits: int) -> str:
    """A fan-out node's gradient as the sum of what each path contributes."""
    if all(isinstance(t, (float, np.floating)) for t in terms):
        return " + ".join(signed_term(t, digits) for t in terms) + f" = {num(grad, digits)}"
    if all(np.size(t) <= 3 for t in terms):
        return " + ".join(value_text(t, digits) for t in terms) + f" = {value_text(grad, digits)}"
    norms = ", ".join(num(magnitude(t), digits) for t in terms)
    return f"Σ of {len(terms)} paths (‖·‖ {norms}) = {value_text(grad, digits)}"
