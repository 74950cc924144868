"""The page's what-if: the traced program, replayable in the browser.

A trace is a straight-line program: ops in creation order, each with its arguments.
``program`` writes it as JSON (the op names, argument ids, parameters in the form the
op's JavaScript reads, the inputs' and constants' values) together with each op's
JavaScript form from the op table; ``whatif.js`` replays it forward and backward when
a slider moves.  Every line of the diagram that carries a number gets a template
(``templates``: its fixed text with slots for values, gradients, locals and
contributions) built the way the painter writes that line; filled with the traced
numbers each template must give the drawn text exactly, or the what-if is left out.
"""

from __future__ import annotations

import html
import math
import os
from importlib import resources

import numpy as np

from ..calculus.params import update_targets
from ..core.graph import nodes_of
from ..core.tape import ARGS, KIND, LOCS, OP, PARAMS, REQ, VALUE
from ..notation import SHOWN_ON_EDGE, magnitude, num, signed_term, value_text
from ..ops.core import NotReplayable, plain_js
from .whatif_fold import FoldNumbers
from .whatif_text import drawn_text, grad_template, local_template, value_template

MAX_NODES = 5_000          # past this the page stays a step-through only
MAX_ELEMENTS = 200_000     # numbers the page would carry and replay
SLIDER_ELEMENTS = 6        # arrays up to this size get one slider per element
LISTED_ELEMENTS = 1_000    # larger arrays up to this size: a slider for a chosen element


class Off(Exception):
    """Why this page has no what-if (said in the page, instead of the controls)."""


def program(trace, painter, view, marked: list[str], lr: float,
            descend: list[str] | None = None) -> dict:
    """Everything whatif.js needs, or {"off": reason} when the graph cannot be replayed.
    ``descend``: the inputs the descend button moves (the page's update step's; by
    default ``calculus.params``'s rule with no params= or data=)."""
    try:
        return _program(trace, painter, view, marked, lr,
                        update_targets(trace) if descend is None else descend)
    except Off as e:
        return {"off": str(e)}


def _program(trace, painter, view, marked, lr, descend) -> dict:
    tape = trace.tape
    if len(tape) >= MAX_NODES:
        raise Off(f"the graph has {len(tape):,} nodes (what-if replays up to {MAX_NODES:,})")
    if sum(np.size(r[VALUE]) for r in tape.records) > MAX_ELEMENTS:
        raise Off(f"the graph holds more than {MAX_ELEMENTS:,} numbers")
    nodes: list = []
    values: dict = {}
    forms: dict = {}
    local_shapes: dict = {}
    for v, rec in enumerate(tape.records):
        prim = rec[OP]
        if prim is None:
            nodes.append([rec[KIND], None, [], bool(rec[REQ]), None])
            values[v] = encode(rec[VALUE])
            continue
        nodes.append([rec[KIND], prim.name, list(rec[ARGS]), bool(rec[REQ]),
                      _params(prim, rec, tape)])
        forms.setdefault(prim.name, {"f": prim.js.f, "d": list(prim.js.d), "vjp": prim.js.vjp})
        if rec[LOCS] is not None:
            shapes = {k: list(np.shape(loc)) for k, loc in enumerate(rec[LOCS])
                      if loc is not None and np.shape(loc) != np.shape(rec[VALUE])}
            if shapes:
                local_shapes[v] = shapes
    lines = templates(trace, painter, marked)
    folds = {v: {"steps": [[c, u, k, int(inside)] for c, u, k, inside in a["fold"].steps],
                 "shared": a["fold"].shared}
             for v, a in nodes_of(painter.graph).items() if a.get("fold") is not None}
    out = trace.output
    return {"nodes": nodes, "values": values, "forms": forms, "localShapes": local_shapes,
            "folds": folds, "output": out,
            "seed": None if trace.seed is None else encode(trace.seed),
            "outputName": painter.out_name, "value": encode(tape.records[out][VALUE]),
            "digits": painter.opts.digits, "lines": lines, "inputs": _inputs(trace, painter),
            "descend": [trace.inputs[n] for n in descend], "lr": lr,
            "guards": _guards(trace)}


def _params(prim, rec, tape):
    if prim.js is None:
        fn = (rec[PARAMS] or {}).get("fn") if isinstance(rec[PARAMS], dict) else None
        what = f"the torch call {fn}" if fn else f"the op {prim.name}"   # torch.cdist, not torch
        raise Off(f"{what} has no JavaScript form yet, so the page cannot replay it")
    shapes = [np.shape(tape.records[u][VALUE]) for u in rec[ARGS]]
    try:
        return (prim.js.prep or plain_js)(prim, rec[PARAMS], shapes)
    except NotReplayable as e:
        raise Off(f"the page cannot replay {e}") from e
    except (ValueError, TypeError, IndexError) as e:    # keep the page; say what stopped it
        raise Off(f"the page cannot replay {prim.name} here ({e})") from e


def encode(v):
    """A float, or {"s": shape, "d": flat data}; non-finite numbers as strings."""
    if isinstance(v, (float, int, np.floating)):
        return _number(float(v))
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return _number(float(a))
    return {"s": list(a.shape), "d": [_number(x) for x in a.ravel().tolist()]}


def _number(x: float):
    return x if math.isfinite(x) else ("NaN" if math.isnan(x) else ("Inf" if x > 0 else "-Inf"))


def _inputs(trace, painter) -> list[dict]:
    """One slider per scalar input and per element of a small input array."""
    out = []
    for path, v in trace.inputs.items():
        value = trace.tape.records[v][VALUE]
        text = painter.texts[v]
        if type(value) is float:
            out.append({"name": text, "path": path, "node": v, "at": -1,
                        "value": _number(value)})
        elif value.size <= SLIDER_ELEMENTS:
            for i, idx in enumerate(np.ndindex(value.shape)):
                label = f"{text}[{', '.join(str(j) for j in idx)}]"
                out.append({"name": label, "path": path, "node": v, "at": i,
                            "value": _number(float(value.flat[i]))})
        elif value.size <= LISTED_ELEMENTS:     # one slider, its element chosen from a list
            out.append({"name": f"{text}[{', '.join('0' * value.ndim)}]", "path": path,
                        "node": v, "at": 0, "value": _number(float(value.flat[0])),
                        "array": text, "shape": list(value.shape)})
    return out


def _guards(trace) -> list[dict]:
    """Comparisons of traced values whose outcome steered the code (see traced.py)."""
    out = []
    for op, a, b, const, result, site in getattr(trace.tape, "guards", ()):
        where = f"{os.path.basename(site[0])}:{site[1]}" if site else "an unknown line"
        out.append({"op": op, "a": a, "b": b, "c": None if const is None else encode(const),
                    "want": encode(result), "where": where})
    return out


def templates(trace, painter, marked: list[str]) -> dict:
    """Each marked line's template; a template that does not reproduce its line exactly
    with the traced numbers means the page draws something this module does not know."""
    tape = trace.tape
    numbers = FoldNumbers(trace, painter.graph)
    out = {}
    for line_id in marked:
        kind, rest = line_id[0], line_id[1:]
        if kind == "v":
            t = value_template(painter, int(rest))
        elif kind == "g":
            t = grad_template(painter, int(rest))
        else:
            u, v, k = (int(x) for x in rest.split("_"))
            t = local_template(painter, kind, u, v, k)
        if fill(t, tape, painter.opts.digits, numbers) != drawn_text(painter, line_id):
            raise Off(f"internal: the line {line_id} ('{drawn_text(painter, line_id)}') is "
                      "drawn in a way the what-if does not know")
        out[line_id] = t
    return out


def fill(template, tape, digits: int, numbers: FoldNumbers | None = None) -> str:
    """A template's text with the traced numbers (the check that it matches the drawing);
    ``numbers``: the folded edges' (needed for ``L`` and ``C`` slots)."""
    parts = []
    for piece in template:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        kind, fmt = piece[0], piece[-1]
        if kind == "v":
            x = tape.records[piece[1]][VALUE]
        elif kind == "g":
            x = tape.grads[piece[1]]
        elif kind == "l":
            x = tape.records[piece[1]][LOCS][piece[2]]
        elif kind in "LC":
            if numbers is None:
                raise ValueError("a folded edge's slot needs the fold's numbers")
            x = (numbers.local if kind == "L" else numbers.contribution)(piece[1], piece[2])
        else:
            x = tape.contribs[piece[1]][piece[2]]
        parts.append(format_number(x, fmt, digits))
    return "".join(parts)


def format_number(x, fmt: str, digits: int) -> str:
    if fmt == "n":
        return num(x, digits)
    if fmt == "s":
        return signed_term(x, digits)
    if fmt == "m":
        return num(magnitude(x), digits)
    if fmt == "e":
        return value_text(x, digits, whole=SHOWN_ON_EDGE)
    return value_text(x, digits, rows=fmt == "r")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def section(data: dict, data_json: str) -> tuple[str, str]:
    """(the panel's what-if section, the data and script that run it); ``data_json`` is
    ``data`` written safely for a script element (the page's encoder)."""
    if "off" in data:
        return (f'<section id="gt-whatif" class="gt-off"><p>What-if is off: '
                f'{html.escape(data["off"])}.</p></section>', "")
    panel = f"""<section id="gt-whatif" aria-label="what if">
<h2>What if?</h2>
<p id="gt-whatif-note">The diagram shows every value, local derivative and gradient for these
inputs. Step (← →) or press “Traced values” to go back to the trace.</p>
<p id="gt-whatif-out"></p>
<div id="gt-whatif-inputs"></div>
<p id="gt-warning" role="alert" hidden></p>
<div id="gt-curve" role="img" aria-label="the output against the input, with its tangent"></div>
<div id="gt-descend-row"><button id="gt-descend" type="button">Descend one step</button>
<label>η <input id="gt-lr" type="number" step="any" min="0" value="{data['lr']}"></label>
<button id="gt-reset" type="button">Traced values</button></div>
<div id="gt-descend-plot" role="img" aria-label="the cost after each step"></div>
</section>"""
    lazy = len(data.get("nodes", ())) > LAZY_NODES
    starter = (f'<p id="gt-whatif-start"><button type="button">Start the what-if</button> '
               f'({len(data["nodes"]):,} nodes: set up when asked, so the page opens fast)'
               '</p>' if lazy else "")
    panel = panel.replace("<h2>What if?</h2>", "<h2>What if?</h2>" + starter)
    cls = ' class="gt-wi-lazy"' if lazy else ""
    panel = panel.replace('<section id="gt-whatif" ', f'<section id="gt-whatif"{cls} ')
    tail = (f'<style>{_asset("whatif.css")}</style>'
            f'<script type="application/json" id="gt-whatif-data">{data_json}'
            f'</script><script>window.gtWhatifStart = function () {{\n{_asset("whatif.js")}\n'
            f'{_asset("whatif_ui.js")}\n}};\n{START}</script>')
    return panel, tail


LAZY_NODES = 1_500     # past this the what-if is set up on first use, not while the page loads
# the what-if starts with the page, or (a big page) when its button is pressed: its setup
# (reading the program, the replay that checks every line) would hold the page's first step
START = """(function () {
  var box = document.getElementById("gt-whatif"), go = window.gtWhatifStart;
  function start() { window.gtWhatifStart = null; box.classList.remove("gt-wi-lazy"); go(); }
  if (!box.classList.contains("gt-wi-lazy")) { start(); return; }
  box.querySelector("#gt-whatif-start button").addEventListener("click", function () {
    box.removeChild(document.getElementById("gt-whatif-start")); start();
  });
})();"""

