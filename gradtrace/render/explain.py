"""A gradient explained as the chain rule, read off the traced graph.

* recursive form: from the output down to the node, one line per node on the
  way:  ∂C/∂v = Σ over v's consumers c of  ∂C/∂c · ∂c/∂v.
* paths form: every path from the node to the output as the product of its local
  derivatives (for arrays: the vector-Jacobian product along that path alone),
  and the gradient as their sum, checked against what backward computed.

Everything comes from the graph's ``grad``, ``local``, ``formula`` and
``contribution`` attributes; nothing is recomputed except per-path VJPs.
"""

from __future__ import annotations

import json
import re

import numpy as np

from ..calculus.backward import edge_contribution
from ..core.formulas import node_texts
from ..core.graph import enumerate_paths, nodes_of, paths_to_output, preds_of, succs_of
from ..core.jsonio import encode_value
from ..errors import GradtraceError
from ..notation import DIGITS, MAX_PATHS, factor, num, partial, signed_term, value_text
from .lesson import why_line


class Explanation:
    """The chain rule for one gradient: ``steps`` (data), ``text``, JSON and LaTeX."""

    def __init__(self, target: str, output: str, form: str, steps: list[dict], gradient,
                 n_paths: int, note: str = "", consistent: bool | None = None):
        self.target = target
        self.output = output
        self.form = form
        self.steps = steps
        self.gradient = gradient
        self.n_paths = n_paths
        self.note = note
        self.consistent = consistent
        self.why = ""            # the lesson's product along each path (``why_line``)

    # ------------------------------------------------------------ text
    @property
    def text(self) -> str:
        lines = [self.note] if self.note else []
        if self.form == "recursive":
            rows = [(s["lhs"], s["rhs"], s["numbers"]) for s in self.steps]
            width = min(max((len(lhs) + 3 + len(rhs) for lhs, rhs, _ in rows), default=0),
                        PAD_LIMIT)
            for lhs, rhs, numbers in rows:
                left = f"{lhs} = {rhs}"
                lines.append(f"{left.ljust(width)}   = {numbers}" if numbers else left)
        else:
            for i, s in enumerate(self.steps, 1):
                lines.append(f"path {i}: {s['route']}")
                lines.append(f"   {s['product']} = {s['numbers']}")
            total = partial(self.output, self.target)
            verdict = ("matches backward" if self.consistent
                       else "DOES NOT match backward's " + value_text(self.gradient, DIGITS))
            terms = " + ".join(_term(s["contribution"]) for s in self.steps)
            lines.append(f"{total} = sum over {len(self.steps)} path"
                         f"{'s' if len(self.steps) != 1 else ''} = {terms} = "
                         f"{value_text(_sum(s['contribution'] for s in self.steps), DIGITS)} "
                         f"({verdict})")
        if self.why:
            lines.append(f"the lesson's chain: {self.why}")
        return "\n".join(part for line in lines for part in wrapped(line))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return (f"<Explanation {partial(self.output, self.target)} ({self.form}, "
                f"{len(self.steps)} steps)>")

    # ------------------------------------------------------------ data
    def to_data(self) -> dict:
        def clean(step):
            return {k: (encode_value(v) if k in ("value", "contribution", "gradient")
                        else [clean(t) for t in v] if k == "terms" else v)
                    for k, v in step.items() if not k.startswith("_")}
        return {"target": self.target, "output": self.output, "form": self.form,
                "gradient": encode_value(self.gradient), "paths": self.n_paths,
                "note": self.note, "consistent": self.consistent, "why": self.why,
                "steps": [clean(s) for s in self.steps]}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_data(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_latex(self) -> str:
        """An ``align*`` block in the lesson's notation (∂C0/∂w^{(L)} ...)."""
        out = [r"\begin{align*}"]
        if self.form == "recursive":
            for s in self.steps:
                rhs = " + ".join(
                    (f"{_frac(self.output, t['consumer'])} \\cdot {latex(t['formula'])}"
                     if t["consumer"] != self.output else latex(t["formula"]))
                    for t in s["terms"]) or "1"
                numbers = f" &&= {latex(s['numbers'])}" if s["numbers"] else ""
                out.append(f"{_frac(self.output, s['node'])} &= {rhs}{numbers} \\\\")
        else:
            for s in self.steps:
                factors = r" \cdot ".join(_frac(b, a) for a, b in s["_edges"])
                out.append(f"& {factors} &&= {latex(s['numbers'])} \\\\")
            total = " + ".join(latex(_term(s["contribution"])) for s in self.steps)
            out.append(f"{_frac(self.output, self.target)} &= {total} \\\\")
        out[-1] = out[-1].rstrip(" \\")
        out.append(r"\end{align*}")
        return "\n".join(out)


WIDTH = 100        # explain's text fits a terminal of this many columns
PAD_LIMIT = 56     # the '=' column of the numbers: never further right than this


def wrapped(line: str, width: int = WIDTH) -> list[str]:
    """A long line broken before its ' = ' signs (the chain rule's steps), continuation
    lines indented; a part still too long breaks at a space before ' + ' or ' · '."""
    if len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" ")) + 4
    head, *rest = line.split(" = ")
    out = [head]
    for part in rest:
        if len(out[-1]) + 3 + len(part) <= width:
            out[-1] += " = " + part
        else:
            out.append(" " * indent + "= " + part)
    return [piece.rstrip() for chunk in out for piece in _broken(chunk, width, indent + 2)]


def _broken(line: str, width: int, indent: int) -> list[str]:
    pieces = []
    while len(line) > width:
        cut = max(line.rfind(" + ", indent + 1, width), line.rfind(" · ", indent + 1, width),
                  line.rfind(" − ", indent + 1, width))
        if cut <= indent:
            cut = line.rfind(" ", indent + 1, width)
        if cut <= indent:
            break                          # one unbreakable word (a very long name)
        pieces.append(line[:cut])
        line = " " * indent + line[cut + 1:]
    return [*pieces, line]


def _term(c) -> str:
    return signed_term(c, DIGITS) if isinstance(c, float) else value_text(c, DIGITS)


def _sum(items):
    total = None
    for c in items:
        total = c if total is None else total + c
    return total


# ---------------------------------------------------------------- LaTeX
_SUPERSCRIPT = re.compile(r"^([A-Za-z]+)\((L(?:[−-]\d+)?)\)([A-Za-z0-9]*)$")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                  "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\~{}", "^": r"\^{}"}
_UNICODE = {"·": r" \cdot ", "−": "-", "σ": r"\sigma", "∂": r"\partial ", "ᵀ": r"^\top",
            "√": r"\sqrt", "²": "^2", "ḡ": r"\bar{g}", "≥": r"\geq ", "≤": r"\leq ",
            "‖": r"\|", "Σ": r"\sum ", "…": r"\ldots ", "∞": r"\infty ", "←": r"\leftarrow ",
            "@": r"\,", "×": r"\times "}


_SUBSCRIPT = re.compile(r"^([A-Za-z])(\d+)$")


def latex_name(name: str) -> str:
    """``w(L)`` -> ``w^{(L)}``, ``a(L−1)`` -> ``a^{(L-1)}``, ``C0`` -> ``C_{0}``;
    compound expressions in parentheses, anything else escaped."""
    m = _SUPERSCRIPT.match(name)
    if m:
        base, sup, sub = m.groups()
        return f"{base}^{{({sup.replace('−', '-')})}}" + (f"_{{{sub}}}" if sub else "")
    m = _SUBSCRIPT.match(name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    if any(c in name for c in " +−·/@") and not name.startswith("("):
        return f"\\left({latex(name)}\\right)"
    return latex(name)


def latex(text: str) -> str:
    out = []
    for token in re.split(r"([A-Za-z]+\(L(?:[−-]\d+)?\)[A-Za-z0-9]*)", str(text)):
        if _SUPERSCRIPT.match(token):
            out.append(latex_name(token))
            continue
        for ch in token:
            ch = _LATEX_SPECIAL.get(ch, ch)
            out.append(_UNICODE.get(ch, ch))
    # a versioned name's subscript digits (h₁₂) become h_{12}
    return re.sub("[₀-₉]+", lambda m: "_{" + m.group().translate(_FROM_SUBSCRIPT) + "}",
                  "".join(out))


_FROM_SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def _frac(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {latex_name(top)}}}{{\partial {latex_name(bottom)}}}"


# ---------------------------------------------------------------- building
def explain(trace, name: str, form: str = "recursive",
            max_paths: int = MAX_PATHS) -> Explanation:
    """Explain ∂output/∂name in ``form`` 'recursive' or 'paths', ending in the lesson's
    product along each path (the why line)."""
    e = _explained(trace, name, form, max_paths)
    if e.n_paths:
        e.why = why_line(trace, name)
    return e


def _explained(trace, name: str, form: str, max_paths: int) -> Explanation:
    if not isinstance(form, str) or form not in ("recursive", "paths"):
        raise GradtraceError(f"unknown form {form!r}; choose 'recursive' or 'paths'")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise GradtraceError(f"max_paths must be a whole number ≥ 1, not {max_paths!r}")
    if not trace.has_grads:
        trace.backward()
    g = trace.graph
    target, which = trace.resolve(name)
    if "grad" not in nodes_of(g)[target]:
        raise GradtraceError(trace.no_gradient(name))
    texts = {v: t for v, (t, _) in node_texts(g).items()}
    on_path = paths_to_output(trace, name)
    out_name = texts[trace.output]
    tname = texts[target]
    gradient = nodes_of(g)[target]["grad"]
    if target not in on_path:
        return Explanation(tname, out_name, form, [], gradient, 0,
                           note=_joined(which, f"{tname} does not reach {out_name}: its "
                                               "gradient is 0"), consistent=True)
    n_paths = count_paths(g, target, trace.output, on_path)
    if form == "paths" and n_paths <= max_paths:
        e = _paths_form(trace, target, on_path, texts, gradient, n_paths)
        e.note = _joined(which, e.note)
        return e
    note = ""
    if form == "paths":
        note = (f"{tname} reaches {out_name} along {n_paths} paths, more than max_paths="
                f"{max_paths}; showing the recursive form instead")
    return Explanation(tname, out_name, "recursive",
                       recursive_steps(trace, on_path, texts), gradient, n_paths,
                       note=_joined(which, note))


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def count_paths(g, src: int, dst: int, on_path: set[int]) -> int:
    """Number of distinct paths src -> dst (multi-edges count separately)."""
    ways = {dst: 1}
    for v in sorted(on_path, reverse=True):
        if v == dst:
            continue
        ways[v] = sum(ways.get(w, 0) * len(keyed) for w, keyed in succs_of(g)[v].items()
                      if w in on_path)
    return ways.get(src, 0)


def recursive_steps(trace, on_path, texts) -> list[dict]:
    """One chain-rule line per node of ``on_path``, from the output down."""
    g = trace.graph
    out = trace.output
    out_name = texts[out]
    steps = []
    for v in sorted(on_path, reverse=True):
        attrs = nodes_of(g)[v]
        grad = attrs["grad"]
        if v == out:
            steps.append({"node": texts[v], "id": v, "lhs": partial(out_name, texts[v]),
                          "rhs": "1", "numbers": "", "terms": [], "value": grad})
            continue
        terms = []
        for w, keyed in sorted(succs_of(g)[v].items()):
            if w not in on_path:
                continue
            for k, e in sorted(keyed.items()):
                terms.append({"consumer": texts[w], "id": w, "arg": k, "formula": e["formula"],
                              "local": e["local"] if isinstance(e["local"], float) else None,
                              "upstream": nodes_of(g)[w]["grad"],
                              "contribution": e["contribution"]})
        symbolic, numeric = [], []
        for t in terms:
            local = t["local"]
            edge_local = preds_of(g)[t["id"]][v][t["arg"]]["local"]
            if local is not None:
                formula = factor(t["formula"])
            elif edge_local is not None:   # elementwise on arrays: a Hadamard product
                formula = f"⊙ {factor(t['formula'])}"
            else:
                formula = f"VJP[{t['formula']}]"
            if t["id"] == out:
                symbolic.append(formula)
                numeric.append(num(local, DIGITS) if local is not None else
                               value_text(t["contribution"], DIGITS))
            else:
                sep = " " if formula.startswith("⊙") else " · "
                symbolic.append(f"{partial(out_name, t['consumer'])}{sep}{formula}")
                if local is not None and isinstance(t["upstream"], float):
                    numeric.append(f"{signed_term(t['upstream'], DIGITS)} · "
                                   f"{signed_term(local, DIGITS)}")
                else:
                    numeric.append(value_text(t["contribution"], DIGITS))
        if len(terms) > MAX_PATHS:       # the text lists MAX_PATHS terms; the data all
            more = f"… ({len(terms) - MAX_PATHS} more terms)"
            symbolic = symbolic[:MAX_PATHS] + [more]
            numeric = numeric[:MAX_PATHS] + [more]
        numbers = " + ".join(numeric)
        numbers = f"{numbers} = {value_text(grad, DIGITS)}" if numbers else value_text(grad, DIGITS)
        if len(terms) == 1 and (terms[0]["id"] == out or not isinstance(grad, float)):
            numbers = value_text(grad, DIGITS)
        for t in terms:
            t["value"] = t.pop("upstream")
        steps.append({"node": texts[v], "id": v, "lhs": partial(out_name, texts[v]),
                      "rhs": " + ".join(symbolic), "numbers": numbers, "terms": terms,
                      "value": grad, "line": attrs.get("line")})
    return steps


def _paths_form(trace, target, on_path, texts, gradient, n_paths) -> Explanation:
    g = trace.graph
    out = trace.output
    paths = enumerate_paths(g, target, out, on_path)
    seed = nodes_of(g)[out]["grad"]
    steps = []
    for path in paths:
        c = seed
        for u, w, k in reversed(path):
            c = edge_contribution(g, w, u, k, c)
        locals_ = [preds_of(g)[w][u][k]["local"] for u, w, k in path]
        scalar = all(isinstance(x, float) for x in locals_) and isinstance(seed, float)
        route = " → ".join([texts[target]] + [texts[w] for _, w, _ in path])
        product = " · ".join(factor(preds_of(g)[w][u][k]["formula"])
                             for u, w, k in reversed(path)) or "1"   # (the output itself)
        if not path:                     # the output explained by itself
            numbers = num(c, DIGITS) if isinstance(c, float) else value_text(c, DIGITS)
        elif scalar:
            numbers = " · ".join(signed_term(x, DIGITS) for x in reversed(locals_))
            numbers += f" = {num(c, DIGITS)}"
        else:
            numbers = f"VJP along the path = {value_text(c, DIGITS)}"
        steps.append({"route": route, "product": product, "numbers": numbers,
                      "contribution": c, "nodes": [target] + [w for _, w, _ in path],
                      "_edges": [(texts[u], texts[w]) for u, w, _ in reversed(path)]})
    total = _sum(s["contribution"] for s in steps)
    consistent = bool(np.allclose(total, gradient, rtol=1e-9, atol=1e-12, equal_nan=True))
    return Explanation(texts[target], texts[out], "paths", steps, gradient, n_paths,
                       consistent=consistent)
