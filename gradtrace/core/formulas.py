"""How nodes and local derivatives read as text, in the user's own names.

A named node reads as its name (``z(L)``); a constant as its number; an unnamed
op as its expression over its operands (``(a(L) − y)``, elided where long:
``tanh(…)``), so the local derivative
of ``(a − y)²`` reads ``2·(a − y)`` exactly as on the blackboard.  Formulas are
filled in once, when the graph is first looked at, after every name is final.
"""

from __future__ import annotations

import numpy as np

from ..notation import MINUS, number_text, power_text
from ..ops import CALL, INFIX, PRIMITIVES
from .graph import argument_ids, nodes_of, preds_of

ATOM = 100
MAX_EXPR = 28  # longer expressions elide their operands: tanh(…), … + b
MAX_NAME = 40  # longer names are shortened for display (the graph and JSON keep them whole)


def shown_name(name: str) -> str:
    """A name as diagrams and formulas show it: very long ones end in an ellipsis."""
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def index_text(index) -> str:
    parts = []
    for i in index:
        if isinstance(i, slice):
            s = "" if i.start is None else str(i.start)
            s += ":" + ("" if i.stop is None else str(i.stop))
            if i.step is not None:
                s += f":{i.step}"
            parts.append(s)
        elif i is None:
            parts.append("None")
        elif i is Ellipsis:
            parts.append("...")
        elif isinstance(i, np.ndarray):
            parts.append("[" + ",".join(str(x) for x in i.ravel()[:4]) +
                         (",…]" if i.size > 4 else "]"))
        else:
            parts.append(str(i))
    return ", ".join(parts)


def param_texts(params) -> dict[str, str]:
    if not params:
        return {}
    out = {}
    for key, val in params.items():
        if key.startswith("_"):          # a runtime handle, not text
            continue
        if key == "index":
            out[key] = index_text(val)
        elif isinstance(val, (int, float, np.number)) and not isinstance(val, bool):
            out[key] = number_text(val)
        elif isinstance(val, np.ndarray):
            out[key] = "·"
        else:
            out[key] = str(val)
    if "p" in params:
        out["psup"] = power_text(params["p"])
    return out


def node_texts(graph) -> dict[int, tuple[str, int]]:
    """(text, precedence) for every node, in one pass in creation order."""
    nodes = nodes_of(graph)
    pred = preds_of(graph)
    texts: dict[int, tuple[str, int]] = {}
    for v, attrs in nodes.items():
        name = attrs["name"]
        if name is not None:
            texts[v] = (shown_name(name), text_precedence(name))
            continue
        if attrs["kind"] != "op":
            texts[v] = (const_text(attrs["value"]), ATOM)
            continue
        prim = PRIMITIVES[attrs["op"]]
        texts[v] = short_expression(prim, [texts[a] for a in argument_ids(pred[v])],
                                    attrs["params"])
    return texts


_TOP_LEVEL = ((" + ", "add"), (" − ", "add"), ("·", "mul"), ("/", "mul"), ("@", "mul"),
              ("^", "powc"))


def text_precedence(text: str) -> int:
    """How tightly a name binds as an operand: ATOM for one symbol (``z(L)``, ``tanh(z)``,
    ``a²``), else the precedence of its loosest operator outside brackets, so that a
    name like ``n − 1`` is bracketed in ``2·(n − 1)``; a leading minus binds like a sum
    (``(−2)·x``)."""
    depth = 0
    lowest = ATOM
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth:
            continue
        for symbol, op in _TOP_LEVEL:
            if text.startswith(symbol, i):
                lowest = min(lowest, PRIMITIVES[op].prec)
    if text.startswith(MINUS) or text.startswith("-"):
        lowest = min(lowest, PRIMITIVES["add"].prec)
    return lowest


def const_text(value) -> str:
    """An unnamed constant as the reader would write it: a number, a short vector's
    entries (``[1, 0, 0]``), else what it is (``constant 16×16``)."""
    if isinstance(value, float):
        return number_text(value)
    if value.ndim == 1 and value.size <= 4:
        return "[" + ", ".join(number_text(float(x)) for x in value) + "]"
    return "constant " + "×".join(str(d) for d in value.shape)


ELIDED = ("…", ATOM)


def short_expression(prim, operands: list[tuple[str, int]], params) -> tuple[str, int]:
    """An unnamed op's text, at most about MAX_EXPR long: whole when it fits, else with
    its longest operands elided until it does (``tanh(…)``, ``… + layer.b``): the reader
    still sees the op and every operand that fits, never a made-up id."""
    text = expression(prim, operands, params)
    if len(text) <= MAX_EXPR:
        return text, prim.prec
    kept = list(operands)
    for k in sorted(range(len(kept)), key=lambda k: -len(kept[k][0])):   # longest first
        kept[k] = ELIDED
        text = expression(prim, kept, params)
        if len(text) <= MAX_EXPR:
            return text, prim.prec
    if len(text) > MAX_EXPR:
        many = "{args}" in prim.expr and len(operands) > 1     # F.attention(…), not (…, …, …)
        text = expression(prim, [ELIDED] * (1 if many else len(operands)), params)
    return text, prim.prec


def expression(prim, operands: list[tuple[str, int]], params) -> str:
    """An op applied to operand (text, precedence) pairs, parenthesised where needed:
    ``w·a + b``, ``tanh(z)``."""
    ops = []
    for pos, (t, p) in enumerate(operands):
        if prim.form == INFIX:
            wrap = p < prim.prec or (pos > 0 and p <= prim.prec and p < ATOM)
        elif prim.form == CALL:
            wrap = False
        else:
            wrap = p < prim.prec
        ops.append(f"({t})" if wrap else t)
    return prim.expr.format(*ops, args=", ".join(ops), **param_texts(params))


_TEMPLATES: dict[tuple, str] = {}


def _template(prim, k: int, n: int):
    """Argument k's formula template for n operands; an operand already in the template's
    own parentheses, or standing alone, goes in bare (``tanh²(a + b)``, not
    ``tanh²((a + b))``; ``∂(x·y)/∂x = y − 1``, not ``(y − 1)``)."""
    key = (prim.name, k, n)
    template = _TEMPLATES.get(key)
    if template is None:
        template = prim.formulas[min(k, len(prim.formulas) - 1)]
        if not callable(template):
            for i in range(n):
                template = template.replace(f"({{{i}}})", f"({{b{i}}})")
                template = template.replace(f"[{{{i}}} ", f"[{{b{i}}} ")
                if template == f"{{{i}}}":
                    template = f"{{b{i}}}"
        _TEMPLATES[key] = template
    return template


def formula_texts(prim, operand_texts: list[str], params, shapes, positions) -> list[str]:
    """The local derivative's text for each argument position in ``positions``."""
    out = []
    fields = None
    for k in positions:
        template = _template(prim, k, len(operand_texts))
        if callable(template):
            out.append(template(operand_texts, params or {}, shapes))
            continue
        if fields is None:         # worked out once per node, shared by its positions
            fields = {f"b{i}": t[1:-1] if t.startswith("(") and t.endswith(")") else t
                      for i, t in enumerate(operand_texts)} | param_texts(params)
        out.append(template.format(*operand_texts, k=k, **fields))
    return out


def fill_formulas(graph) -> None:
    """Set each edge's ``formula``: its local derivative in operand names."""
    nodes = nodes_of(graph)
    pred = preds_of(graph)
    texts = node_texts(graph)
    for v, attrs in nodes.items():
        if attrs["kind"] != "op":
            continue
        prim = PRIMITIVES[attrs["op"]]
        args = argument_ids(pred[v])
        operands = [t if p == ATOM else f"({t})" for t, p in (texts[a] for a in args)]
        shapes = [nodes[a]["shape"] for a in args]
        edges = [pred[v][u][k] for k, u in enumerate(args)]
        for e, text in zip(edges, formula_texts(prim, operands, attrs["params"], shapes,
                                                range(len(args)))):
            e["formula"] = text
