"""The list of supported numpy functions, generated from the op table (README and
``gradtrace ops`` print this, and a test keeps the README's copy current)."""

from __future__ import annotations

from .core import FAMILY, ROWS, Constant

_TITLES = [("elementwise", "Elementwise"), ("reductions", "Reductions and statistics"),
           ("linalg", "Products and linear algebra"), ("shape", "Shape, indexing and assembly"),
           ("constants", "No gradient (run on the plain values, results are constants)")]

_SAME = {"shape": "selection", "elementwise": "piecewise"}   # modules listed with another


def _spelling(func) -> str:
    module = getattr(func, "__module__", "") or ""
    prefix = "np.linalg." if "linalg" in module else (
        "np.lib.stride_tricks." if "stride_tricks" in module else "np.")
    return prefix + func.__name__


def supported_markdown() -> str:
    """One Markdown bullet per family: numpy spellings, then ndarray-style methods."""
    lines = []
    for family, title in _TITLES:
        names: set[str] = set()
        methods: set[str] = set()
        for row in ROWS:
            if FAMILY.get(id(row)) not in (family, _SAME.get(family, "")):
                continue
            names.update(_spelling(f) for f in row.numpy)
            methods.update(f".{m}()" for m in row.method)
        if family != "constants":
            names.update({"elementwise": {"gt.sigmoid", "gt.relu", "gt.tanh"},
                          "reductions": {"gt.softmax", "gt.logsumexp"}}.get(family, set()))
        text = ", ".join(f"`{n}`" for n in sorted(names, key=str.lower))
        if methods:
            text += "; methods " + ", ".join(f"`{m}`" for m in sorted(methods))
        lines.append(f"- **{title}**: {text}")
    n = sum(1 for r in ROWS if not isinstance(r, Constant) and FAMILY.get(id(r)) != "external")
    lines.append(f"- **Also**: the operators `+ - * / // % ** @`, unary `-` and `abs()`; indexing "
                 "(basic, fancy, boolean); `np.array`/`np.asarray` of (nested) lists mixing "
                 "traced values and numbers; `np.add.reduce`, `np.add.accumulate`, "
                 "`np.multiply.outer` and friends; methods `.reshape()`, `.transpose()`, `.T`, "
                 "`.mT`, `.astype()` (a float dtype is a cast op; an int or bool dtype gives a "
                 "constant), `.item()` and `.tolist()` (only where no gradient is lost); writes "
                 "into arrays the function made or computed (`out[i, j] = v`, masks, fancy "
                 "indices, `+=`, `*=`, `out=`, `.fill()`), recorded as new versions that views "
                 "see; `math.exp`, `math.tanh`, `math.log` ... called as `math.f(x)` on traced "
                 "floats. "
                 f"`np.mod` is `np.remainder`. ({n} differentiable rows in `gradtrace.ops`.)")
    return "\n".join(lines) + "\n"
