"""Backpropagation as a story in time: the steps the HTML view and the GIF play.

Step 0 shows the inputs.  Then the forward pass, one step per op in creation order
(its value appears, and the local derivatives on its in-edges).  Then the backward
pass in exactly the order ``backward`` runs it (node ids downward): the node whose
gradient is complete is highlighted and passes a contribution down each in-edge; an
argument that fans out shows its gradient as a sum growing term by term.  Last, the
update the lesson closes on: every weight w ← w − η·∂C/∂w, and the new cost.

A step names SVG elements by id: ``v<n>`` value line, ``g<n>`` gradient line,
``l<u>_<v>_<k>`` local-derivative line, ``c<u>_<v>_<k>`` contribution line,
``n<n>`` node box, ``e<u>_<v>_<k>`` edge.  ``show`` makes lines visible for good,
``text`` replaces a line's text until a later step replaces it again, ``now`` and
``also`` highlight (strongly, softly) for that step only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..calculus.params import split
from ..core.formulas import expression
from ..core.graph import argument_ids, nodes_of, preds_of, succs_of
from ..notation import num, partial, signed_term, sum_rule_text, value_text
from ..ops import PRIMITIVES
from . import update
from .explain import recursive_steps
from .painter import MAX_TERMS


@dataclass
class Step:
    kind: str                       # inputs | forward | backward | update
    title: str
    lines: list[str] = field(default_factory=list)      # the side panel, chain-rule lines
    show: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
    now: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)    # lit more softly: where it flows to
    node: int | None = None         # the node this step is about
    say: list[str] = field(default_factory=list)     # the step in words, above the lines

    def to_data(self) -> dict:
        return {"kind": self.kind, "title": self.title, "say": self.say, "lines": self.lines,
                "show": self.show, "text": self.text, "now": self.now, "also": self.also}


def line_ids(painter, v: int) -> list[str | None]:
    """The step-through id of each row of node ``v``'s box (None: the name row;
    ``v17r1``…: a matrix's further rows, shown and written with ``v17``)."""
    return [line_id for line_id, _ in painter.node_lines(v)]


def main_line(line_id: str) -> str:
    """The line a matrix's further row belongs to: ``v17r2`` → ``v17``."""
    return re.sub(r"r\d+$", "", line_id)


def story(trace, painter, lr: float = 0.1, params=None, data=None) -> list[Step]:
    """Every step of the forward pass, the backward pass and one update, in order."""
    if not trace.has_grads:
        trace.backward()
    g = trace.graph
    texts = painter.texts
    steps = [_inputs_step(trace, texts, painter.opts.digits)]
    steps += _forward_steps(trace, painter.ranked, painter.opts.digits)
    movable = {trace.inputs[n] for n in split(trace, params, data)[0]}
    steps += _backward_steps(trace, painter, texts, movable)
    steps.append(_update_step(trace, texts, painter, lr, params, data))
    shown = {i for s in steps for i in s.show}
    leftover = [f"g{v}" for v, a in nodes_of(g).items() if "grad" in a and f"g{v}" not in shown]
    steps[-2 if len(steps) > 2 else -1].show += leftover   # gradients no edge delivered (0)
    return steps


def _inputs_step(trace, texts, d) -> Step:
    g = trace.graph
    ids = [v for v, a in nodes_of(g).items() if a["kind"] == "input"]
    lines = [f"{texts[v]} = {value_text(nodes_of(g)[v]['value'], d)}" for v in ids[:40]]
    if len(ids) > 40:
        lines.append(f"… and {len(ids) - 40} more inputs")
    return Step("inputs", "The inputs", lines, show=[f"v{v}" for v in ids],
                now=[f"n{v}" for v in ids])


def _forward_steps(trace, ranked, d) -> list[Step]:
    """``ranked``: each node's (text, precedence), so operands are parenthesised right."""
    g = trace.graph
    texts = {v: t for v, (t, _) in ranked.items()}
    nodes, pred = nodes_of(g), preds_of(g)
    ops = [v for v, a in nodes.items() if a["kind"] == "op"]
    steps = []
    for i, v in enumerate(ops, 1):
        a = nodes[v]
        args = argument_ids(pred[v])
        expr = a.get("expr") or (    # the lesson view: what the folded value computes
            "" if a.get("folded") else
            expression(PRIMITIVES[a["op"]], [ranked[u] for u in args], a["params"]))
        head = f"{texts[v]} = {expr}" if expr and expr != texts[v] else texts[v]
        line = f"{head} = {value_text(a['value'], d)}"
        edges = [f"{u}_{v}_{k}" for u, keyed in sorted(pred[v].items()) for k in sorted(keyed)]
        steps.append(Step("forward", f"Forward {i} of {len(ops)}: {texts[v]}", [line],
                          show=[f"v{v}"] + [f"l{e}" for e in edges],
                          now=[f"n{v}"] + [f"e{e}" for e in edges],
                          also=[f"n{u}" for u in sorted(set(args))], node=v))
    return steps


def _backward_steps(trace, painter, texts, movable=frozenset()) -> list[Step]:
    g = trace.graph
    nodes, pred = nodes_of(g), preds_of(g)
    d = painter.opts.digits
    out = trace.output
    with_grad = {v for v, a in nodes.items() if "grad" in a}
    explained = {s["id"]: s for s in recursive_steps(trace, with_grad, texts)}
    order = [v for v in reversed(nodes) if v in with_grad and
             (v == out or nodes[v]["kind"] == "op")]
    arrived: dict[int, list] = {}       # node -> the (consumer, key) terms, in arrival order
    steps = []
    for i, v in enumerate(order, 1):
        step = Step("backward", f"Backward {i} of {len(order)}: "
                    f"{partial(texts[out], texts[v])}",
                    [_chain_line(trace, v, explained, texts, d)],
                    show=[f"g{v}"], text={f"g{v}": _final_text(painter, v, arrived.get(v))},
                    now=[f"n{v}"], node=v)
        step.say = _said(trace, v, arrived.get(v, []), texts, d)
        done = []
        for u, keyed in sorted(pred[v].items()):
            for k in sorted(keyed):
                if keyed[k].get("contribution") is None:
                    continue
                eid = f"{u}_{v}_{k}"
                step.show += [f"c{eid}", f"g{u}"]
                step.now.append(f"e{eid}")
                step.also.append(f"n{u}")
                arrived.setdefault(u, []).append((v, k))
                step.lines.append(f"→ {texts[u]}: {_product(g, u, v, k, texts, texts[out], d)}")
                step.text[f"g{u}"] = _running_sum(painter, u, arrived[u], texts, texts[out])
                if len(arrived[u]) == _n_terms(g, u):
                    done.append(u)
        step.lines += _completions(trace, painter, done, arrived, texts, d, movable)
        step.say += [nodes[u]["graded"] for u in [v] * (v == out) + done  # gt.grade's words
                     if nodes[u].get("graded")]            # on a .grad now complete
        step.lines += glosses(g, v, step.lines)
        steps.append(step)
    return steps


def _chain_line(trace, v, explained, texts, d) -> str:
    """The recursive chain-rule line for ``v``, without the ``· 1`` factors."""
    nodes = nodes_of(trace.graph)
    out_name = texts[trace.output]
    if v == trace.output:
        seed = "1" if trace.seed is None else value_text(nodes[v]["grad"], d)
        return f"{partial(out_name, out_name)} = {seed} (the seed: backward starts here)"
    s = explained.get(v)
    if not s:
        return f"{partial(out_name, texts[v])} = {value_text(nodes[v]['grad'], d)}"
    return tidy(f"{s['lhs']} = {s['rhs']}" + (f" = {s['numbers']}" if s["numbers"] else ""))


def tidy(line: str) -> str:
    """Drop factors of 1 and repeated sides: ``a · 1 = (−0.2) · 1 = −0.2`` → ``a = −0.2``."""
    line = re.sub(r" · 1(?= |$)", "", line)
    sides = line.split(" = ")
    kept = [sides[0]]
    for side in sides[1:]:
        if side.strip("()") != kept[-1].strip("()") or len(kept) == 1:
            kept.append(side)
    if len(kept) > 1 and re.fullmatch(r"\(−[\d.e−+]+\)", kept[-1]):
        kept[-1] = kept[-1][1:-1]
    return " = ".join(kept)


def _said(trace, v, came, texts, d) -> list[str]:
    """The step in the lesson's words: how sensitive the cost is to this value, and
    which paths that sensitivity came through."""
    out_name = texts[trace.output]
    grad = nodes_of(trace.graph)[v]["grad"]
    if v == trace.output:
        return [f"Start at the cost: nudging {out_name} by a small ε changes {out_name} by ε, "
                f"so ∂{out_name}/∂{out_name} = 1. Each step passes this sensitivity one op "
                "further back: every input of the op receives it times the op's local "
                "derivative (→ lines)."]
    name = texts[v]
    if isinstance(grad, float):
        how = (f"{partial(out_name, name)} = {num(grad, d)}: nudging {name} by a small ε "
               f"moves {out_name} by about {num(grad, d)}·ε.")
    else:
        how = (f"{partial(out_name, name)} says how much {out_name} moves per unit of each "
               f"element of {name} (‖·‖ {num(float(np.linalg.norm(grad)), d)}).")
    via = [texts[w] for w, _ in came]
    if len(via) == 1:
        how += f" It came back through {via[0]}."
    elif via:
        more = ", …" if len(via) > 4 else ""
        how += (f" It came back along {len(via)} paths ({', '.join(via[:4])}{more}), "
                "added up.")
    return [how]


def _n_terms(g, u) -> int:
    return sum(1 for keyed in succs_of(g)[u].values() for e in keyed.values()
               if e.get("contribution") is not None)


def _completions(trace, painter, done, arrived, texts, d, movable=frozenset()) -> list[str]:
    """A fan-out gradient's whole sum, terms in arrival order; a parameter's why line."""
    g = trace.graph
    lines = []
    for u in done:
        terms = [preds_of(g)[w][u][k]["contribution"] for w, k in arrived[u]]
        if 1 < len(terms) <= MAX_TERMS:
            lines.append(f"{texts[u]} complete: {sum_rule_text(nodes_of(g)[u]['grad'], terms, d)}"
                         f" ({len(terms)} of {len(terms)} paths)")
        elif len(terms) > MAX_TERMS:
            lines.append(f"{texts[u]} complete: Σ of {len(terms):,} paths = "
                         f"{value_text(nodes_of(g)[u]['grad'], d)}")
        if u in movable:
            lines += why_lines(painter, u)
    return lines


def why_lines(painter, u) -> list[str]:
    """The lesson's product along the path from a parameter to the cost (the lesson
    view's why line, ``∂C0/∂w(L) = a(L−1) · σ'(z(L)) · 2(a(L) − y) = …``)."""
    why = painter.why(u)
    return [f"the lesson's chain: {why}"] if why else []


GLOSS = {"softmax": "softmax's backward: s·(ḡ − Σ ḡ·s); after a cross-entropy this is "
                    "p − onehot",
         "logsumexp": "logsumexp's backward: ḡ · softmax(x)"}


def glosses(g, v, lines: list[str]) -> list[str]:
    """Plain words for jargon the lines use (``VJP[…]``)."""
    if not any("VJP" in line for line in lines):
        return []
    ops = {nodes_of(g)[w].get("op") for w in [v, *succs_of(g)[v]]}   # this op, its consumers
    said = [f"({GLOSS[op]})" for op in sorted(o for o in ops if o in GLOSS)]
    return said + ["(VJP: vector–Jacobian product, the incoming gradient ḡ carried back "
                   "through the op to each of its inputs)"]


def _final_text(painter, v, came) -> str:
    """A node's gradient line once complete: its sum in the order the terms arrived."""
    if came is None or len(came) < 2 or _compact(painter):
        return painter.grad_text(v, _compact(painter))
    g = painter.graph
    terms = [preds_of(g)[w][v][k]["contribution"] for w, k in came]
    if painter.counted(v, terms):
        return painter.grad_text(v, False)
    label = partial(painter.out_name, painter.texts[v])
    return f"{label} = {sum_rule_text(nodes_of(g)[v]['grad'], terms, painter.opts.digits)}"


def _compact(painter) -> bool:
    return painter.opts.terse


def _product(g, u, v, k, texts, out_name, d) -> str:
    """``∂C/∂z · ∂z/∂w = 0.146 · 0.5 = 0.073``: one edge of the chain rule."""
    e = preds_of(g)[v][u][k]
    up = nodes_of(g)[v]["grad"]
    local, c = e.get("local"), e["contribution"]
    head = f"{partial(out_name, texts[v])} · {partial(texts[v], texts[u])}"
    if isinstance(up, float) and isinstance(local, float):
        return f"{head} = {num(up, d)} · {signed_term(local, d)} = {num(c, d)}"
    return f"{head} = {value_text(c, d)}"


def _running_sum(painter, u, arrived, texts, out_name) -> str:
    """A gradient line while its terms arrive: the final text once every path is in."""
    g = painter.graph
    terms = [(w, k) for w, keyed in sorted(succs_of(g)[u].items()) for k in sorted(keyed)
             if keyed[k].get("contribution") is not None]
    if len(arrived) == len(terms):
        return _final_text(painter, u, arrived)
    d = painter.opts.digits
    label = "∇" if _compact(painter) else partial(out_name, texts[u])
    if painter.counted(u, [preds_of(g)[w][u][k]["contribution"] for w, k in terms]):
        return f"{label} = Σ of {len(arrived):,} of {len(terms):,} paths so far"
    shown = [_term(preds_of(g)[w][u][k]["contribution"], d) for w, k in arrived]
    return f"{label} = {' + '.join(shown)} + … ({len(arrived)} of {len(terms)} paths)"


def _term(c, d) -> str:
    return signed_term(c, d) if isinstance(c, float) else value_text(c, d)


def apart(old: float, new: float, d: int) -> tuple[str, str, int]:
    """``old`` and ``new`` at the fewest digits (at least ``d``) that tell them apart, so
    a small step never reads ``1.11 → 1.11``."""
    for digits in range(d, 18):
        a, b = num(old, digits), num(new, digits)
        if a != b:
            return a, b, digits
    return num(old, d), num(new, d), d


def change_line(name: str, before: float, after: float, d: int) -> str:
    """``C0: 0.174 → 0.169, down 0.005 (a step downhill)``."""
    a, b, digits = apart(before, after, d)
    diff = after - before
    if a == b:
        return f"{name}: {a} → {b}, unchanged"
    how = "down" if diff < 0 else "up"
    verdict = "a step downhill" if diff < 0 else "uphill: η may be too large"
    return f"{name}: {a} → {b}, {how} {num(abs(diff), d)} ({verdict})"


def _update_step(trace, texts, painter, lr, params=None, data=None) -> Step:
    d = painter.opts.digits
    up = update.step(trace, lr, params, data)
    out_name = texts[trace.output]
    step = Step("update", f"Update: w ← w − η·∂{out_name}/∂w with η = {num(lr, d)}",
                node=trace.output)
    nodes = nodes_of(trace.graph)
    if not up.moved:
        step.lines.append("nothing moves: no input is a parameter with a gradient")
    for name, value in up.moved.items():
        v = trace.inputs[name]
        old, grad = nodes[v]["value"], nodes[v]["grad"]
        if isinstance(old, float):
            was, now, _ = apart(old, value, d + 2)
            step.lines.append(f"{texts[v]} ← {was} − {num(lr, d)} · {signed_term(grad, d)} "
                              f"= {now}")
        else:
            step.lines.append(f"{texts[v]} ← {texts[v]} − {num(lr, d)} · "
                              f"{partial(out_name, texts[v])} = {value_text(value, d)}")
    step.now = [f"n{trace.output}"] + [f"n{trace.inputs[n]}" for n in up.moved]
    if up.held:
        step.lines.append(update.held_line(up.held, texts, trace.inputs))
    new_values = up.values if up.values is not None else \
        {trace.inputs[n]: val for n, val in up.moved.items()}
    _redraw_values(step, painter, nodes, new_values, d)
    if up.cost is None:
        step.lines.append(f"new {out_name}: not computed ({up.why_not})")
    else:
        step.lines.append(change_line(out_name, up.before, up.cost, d))
        if up.values is None:
            step.lines.append("(the function took another branch with the new values, so "
                              "only the cost is redrawn)")
    return step


def _redraw_values(step: Step, painter, nodes, new_values: dict, d: int) -> None:
    """The diagram's value lines after the step: new value, old one beside it."""
    prefix = "" if _compact(painter) else "= "
    has_line = painter.opts.values
    for v, value in new_values.items():
        a = nodes.get(v)            # (a value the lesson view folds away has no box)
        if a is None or a["kind"] == "const" or not has_line:
            continue
        old = a["value"]
        if isinstance(old, float) and isinstance(value, float):
            if old == value:
                continue
            was, now, _ = apart(old, value, d)
            step.text[f"v{v}"] = f"{prefix}{now} (was {was})"
        elif np.array_equal(old, value):
            continue
        else:
            step.text[f"v{v}"] = prefix + value_text(value, d, rows=True)
        if f"n{v}" not in step.now:
            step.also.append(f"n{v}")
