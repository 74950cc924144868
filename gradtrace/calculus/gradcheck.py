"""Finite-difference gradient check: central differences in float64.

For each input in ``wrt`` and each element (or a fixed sample of elements for big
arrays), the function is re-run *untraced* at x ± h and
(f(x + h) − f(x − h)) / 2h is compared with the backward gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import GradtraceError
from ..notation import ATOL, EPS, RTOL
from .rerun import recorded_inputs, rerun, weighted


@dataclass
class InputCheck:
    name: str
    checked: int            # elements compared
    total: int              # elements in the input
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple      # () for scalars
    analytic: float         # backward's value at the worst element
    numeric: float          # finite differences' value there
    ok: bool
    nonfinite: bool = False  # a gradient or a difference quotient was inf or NaN


@dataclass
class CheckReport:
    """Per-input results; ``ok`` when every compared element is within tolerance."""

    inputs: list[InputCheck] = field(default_factory=list)
    rtol: float = RTOL
    atol: float = ATOL
    eps: float = EPS
    deterministic: bool = True   # two forward runs at the same inputs agreed
    compared: str = "finite differences"   # what backward's gradients were compared with
    notes: list[str] = field(default_factory=list)   # what was not compared, and why
    constants: dict[str, str] = field(default_factory=dict)  # inputs left constant -> why
    cause: str = ""    # why no gradient can be checked here: a NaN/inf input, an inf output

    @property
    def ok(self) -> bool:
        return self.gradients_ok

    @property
    def gradients_ok(self) -> bool:
        """Backward's gradients agree with what they were compared with."""
        return self.deterministic and all(c.ok for c in self.inputs)

    @property
    def worst(self) -> InputCheck | None:
        return max(self.inputs, key=lambda c: c.max_abs_error, default=None)

    def table(self) -> str:
        rows = [("input", "checked", "max abs err", "max rel err", "worst at", "backward",
                 "numeric", "")]
        for c in self.inputs:
            blocked = c.nonfinite and bool(self.cause)    # nothing to compare: not a mismatch
            rows.append((c.name, f"{c.checked}/{c.total}",
                         "-" if blocked else f"{c.max_abs_error:.2e}",
                         "-" if blocked else f"{c.max_rel_error:.2e}",
                         str(list(c.worst_index)) if c.worst_index else "-",
                         f"{c.analytic:.6g}", f"{c.numeric:.6g}",
                         "ok" if c.ok else "not finite" if blocked else "MISMATCH"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
                         for r in rows)

    def __str__(self) -> str:
        w = self.worst
        bad = [c for c in self.inputs if c.nonfinite]
        if not self.deterministic:
            verdict = ("NOT DETERMINISTIC: two runs of the function at the same inputs gave "
                       "different outputs (unseeded randomness, e.g. dropout?), so finite "
                       "differences cannot check it; seed it or make it a constant")
        elif self.cause and bad:
            verdict = f"NOT CHECKED: {self.cause}"
        elif bad:
            c = bad[0]
            verdict = (f"NOT FINITE: at {c.name}{list(c.worst_index) if c.worst_index else ''} "
                       f"backward gives {c.analytic:.6g} and finite differences "
                       f"{c.numeric:.6g}; the function has a kink or a pole at this input "
                       "(sqrt or log at 0, |x| at 0 ...), where no gradient exists")
        elif self.gradients_ok or w is None:
            verdict = f"gradients match {self.compared}"
            if self.constants:
                n = len(self.constants)
                verdict += (f" for the traced inputs; {n} input" +
                            ("s are constants" if n > 1 else " is a constant") +
                            " and not checked (above)")
        else:
            verdict = (f"MISMATCH: worst is {w.name}{list(w.worst_index) if w.worst_index else ''} "
                       f"(backward {w.analytic:.6g}, numeric {w.numeric:.6g})")
        notes = "".join(f"note: {n}\n" for n in self.notes)
        notes += "".join(f"not checked: {why}\n" for why in self.constants.values())
        return (f"{self.table()}\n{notes}{verdict} (rtol={self.rtol:g}, atol={self.atol:g}, "
                f"h={self.eps:g})")


def check_options(options: dict) -> None:
    """Refuse tolerances and steps that would make the check meaningless: a NaN or
    negative tolerance passes or fails everything, a zero or NaN step divides by 0."""
    for key in ("rtol", "atol", "eps"):
        v = options.get(key)
        if v is None and key == "rtol":
            continue                      # (a torch check picks rtol by dtype)
        if key not in options:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise GradtraceError(f"check: {key} must be a number, got {v!r}")
        low_ok = v > 0 if key == "eps" else v >= 0
        if not (math.isfinite(v) and low_ok):
            need = "a finite number > 0" if key == "eps" else "a finite number ≥ 0"
            raise GradtraceError(f"check: {key} = {v!r} is not usable; it must be {need}")
    limit = options.get("max_elements")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise GradtraceError(f"check: max_elements must be an int ≥ 1 (or None), got {limit!r}")


def _unusable(originals: dict, output: float) -> str:
    """Why no gradient can be checked at these inputs ('' if they can): an input holding
    NaN or inf (named with its first such element), or an output that is not finite there
    (an overflow past float64's range, or a NaN made inside)."""
    for name, value in originals.items():
        arr = np.asarray(value, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            at = [int(i) for i in np.unravel_index(int(bad[0]), arr.shape)] if arr.ndim else ""
            return (f"input {name}{at} is {arr.ravel()[bad[0]]}, so the output and the "
                    "gradients computed from it are not finite and cannot be compared; give "
                    "it a finite value")
    if not math.isfinite(output):
        why = ("it overflowed: a value grew past float64's range (about 1.8e308)"
               if math.isinf(output) else "a NaN was made inside the function (0/0, "
               "inf − inf, sqrt or log of a negative number ...)")
        return (f"the output is {output} at the traced inputs: {why}; finite differences "
                "cannot check gradients there (try smaller or other input values)")
    return ""


def _as_input(flat: np.ndarray, like: np.ndarray):
    """A perturbed flat copy in the input's own form (a float for a 0-d input)."""
    return float(flat[0]) if like.ndim == 0 else flat.reshape(like.shape)


def _sample(total: int, limit: int | None) -> np.ndarray:
    if limit is None or total <= limit:
        return np.arange(total)
    return np.sort(np.random.default_rng(0).choice(total, size=limit, replace=False))


def check_trace(trace, eps: float = EPS, rtol: float = RTOL, atol: float = ATOL,
                max_elements: int | None = 1000) -> CheckReport:
    """Check ``trace``'s gradients; big inputs are sampled (``max_elements`` per input)."""
    if trace.function is None:
        raise GradtraceError("this trace has no function to re-run (it was loaded from JSON); "
                             "check needs the original function")
    if not trace.has_grads:
        trace.backward()

    def f(path, replacement) -> float:
        return weighted(trace, rerun(trace, {} if path is None else {path: replacement}))

    report = CheckReport(rtol=rtol, atol=atol, eps=eps)
    runs = [f(None, None) for _ in range(3)]      # the same inputs must give the same output
    if len({"nan" if math.isnan(r) else r for r in runs}) > 1:
        report.deterministic = False
        return report
    originals = recorded_inputs(trace)     # the trace's snapshot, not the live arguments
    report.cause = _unusable(originals, runs[0])
    for name in trace.wrt:
        x0 = np.array(originals[name], dtype=np.float64)
        g = np.asarray(trace.grads[name], dtype=np.float64)
        flat = x0.ravel()
        idx = _sample(flat.size, max_elements)
        worst = (0.0, 0.0, 0, 0.0, 0.0)
        ok = True
        nonfinite = False
        for i in idx:
            h = eps * max(1.0, abs(flat[i]))
            up, down = flat.copy(), flat.copy()
            up[i] += h
            down[i] -= h
            numeric = (f(name, _as_input(up, x0)) - f(name, _as_input(down, x0))) / (2 * h)
            analytic = float(g.ravel()[i])
            err = abs(analytic - numeric)
            both_nan = np.isnan(analytic) and np.isnan(numeric)
            if both_nan:
                err = 0.0
            elif np.isnan(err):
                err = np.inf
            rel = err / max(abs(analytic), abs(numeric), 1e-300) if err else 0.0
            if err > atol + rtol * max(abs(analytic), abs(numeric)):
                ok = False
            if not (math.isfinite(analytic) and math.isfinite(numeric)):
                ok = False          # a non-finite gradient is never "ok"
                nonfinite = True
                err = math.inf
            if err >= worst[0] or i == idx[0]:
                worst = (err, rel, int(i), analytic, numeric)
        max_rel = worst[1]
        report.inputs.append(InputCheck(
            name=name, checked=len(idx), total=flat.size, max_abs_error=worst[0],
            max_rel_error=max_rel,
            worst_index=tuple(int(j) for j in np.unravel_index(worst[2], x0.shape))
            if x0.ndim and flat.size else (),   # an empty input checks trivially
            analytic=worst[3], numeric=worst[4], ok=ok, nonfinite=nonfinite))
    return report
