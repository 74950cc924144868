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

from dataclasses import dataclass, field

import numpy as np

from ..errors import GradtraceError
from ..explain import recursive_steps
from ..formulas import expression
from ..graph import argument_ids, nodes_of, preds_of, succs_of
from ..notation import num, partial, signed_term, value_text
from ..ops import PRIMITIVES
from ..rerun import rerun, weighted
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

    def to_data(self) -> dict:
        return {"kind": self.kind, "title": self.title, "lines": self.lines,
                "show": self.show, "text": self.text, "now": self.now, "also": self.also}


def line_ids(painter, v: int) -> list[str | None]:
    """The step-through id of each row of node ``v``'s box (None: the name row)."""
    a = nodes_of(painter.graph)[v]
    if a["kind"] == "const":
        return [None]
    return [None] + ([f"v{v}"] if painter.opts.values else []) + \
        ([f"g{v}"] if painter.has_grads and "grad" in a else [])


def story(trace, painter, lr: float = 0.1) -> list[Step]:
    """Every step of the forward pass, the backward pass and one update, in order."""
    if not trace.has_grads:
        trace.backward()
    g = trace.graph
    texts = painter.texts
    steps = [_inputs_step(trace, texts, painter.opts.digits)]
    steps += _forward_steps(trace, painter.ranked, painter.opts.digits)
    steps += _backward_steps(trace, painter, texts)
    steps.append(_update_step(trace, texts, painter, lr))
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


def _backward_steps(trace, painter, texts) -> list[Step]:
    g = trace.graph
    nodes, pred = nodes_of(g), preds_of(g)
    d = painter.opts.digits
    out = trace.output
    with_grad = {v for v, a in nodes.items() if "grad" in a}
    explained = {s["id"]: s for s in recursive_steps(trace, with_grad, texts)}
    order = [v for v in reversed(nodes) if v in with_grad and
             (v == out or nodes[v]["kind"] == "op")]
    arrived: dict[int, list] = {}       # node -> the (consumer, key) terms that came in
    out_name = texts[out]
    steps = []
    for i, v in enumerate(order, 1):
        s = explained.get(v)
        lines = [f"{s['lhs']} = {s['rhs']}" + (f" = {s['numbers']}" if s["numbers"] else "")
                 if s else f"{partial(out_name, texts[v])} = {value_text(nodes[v]['grad'], d)}"]
        if v == out:
            seed = "1" if trace.seed is None else value_text(nodes[v]["grad"], d)
            lines[0] = f"{partial(out_name, out_name)} = {seed} (the seed: backward starts here)"
        step = Step("backward", f"Backward {i} of {len(order)}: {partial(out_name, texts[v])}",
                    lines, show=[f"g{v}"], text={f"g{v}": painter.grad_text(v, _compact(painter))},
                    now=[f"n{v}"], node=v)
        for u, keyed in sorted(pred[v].items()):
            for k in sorted(keyed):
                e = keyed[k]
                if e.get("contribution") is None:
                    continue
                eid = f"{u}_{v}_{k}"
                step.show += [f"c{eid}", f"g{u}"]
                step.now.append(f"e{eid}")
                step.also.append(f"n{u}")
                arrived.setdefault(u, []).append((v, k))
                step.lines.append(f"→ {texts[u]}: {_product(g, u, v, k, texts, out_name, d)}")
                step.text[f"g{u}"] = _running_sum(painter, u, arrived[u], texts, out_name)
                if nodes[u]["kind"] == "input" and painter.why(u) and \
                        step.text[f"g{u}"] == painter.grad_text(u, _compact(painter)):
                    # an input's gradient is complete: the lesson's product says why
                    step.lines.append(f"the lesson's chain: {painter.why(u)}")
        steps.append(step)
    return steps


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
        return painter.grad_text(u, _compact(painter))
    d = painter.opts.digits
    label = "∇" if _compact(painter) else partial(out_name, texts[u])
    got = set(arrived)
    if len(terms) > MAX_TERMS:
        return f"{label} = Σ of {len(got):,} of {len(terms):,} paths so far"
    shown = [_term(preds_of(g)[w][u][k]["contribution"], d) for w, k in terms if (w, k) in got]
    return f"{label} = {' + '.join(shown)} + … ({len(got)} of {len(terms)} paths)"


def _term(c, d) -> str:
    return signed_term(c, d) if isinstance(c, float) else value_text(c, d)


def update(trace, lr: float) -> tuple[dict, float | None, str]:
    """w − η·∂C/∂w for every input in wrt, and the cost the function gives there
    (None with the reason when it cannot be re-run)."""
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise GradtraceError(f"the learning rate must be a positive number, not {lr!r}")
    new = {}
    for name in trace.wrt:
        w = nodes_of(trace.graph)[trace.inputs[name]]["value"]
        new[name] = w - lr * trace.grads[name]
    try:
        return new, weighted(trace, rerun(trace, new)), ""
    except GradtraceError as e:
        return new, None, str(e)


def _update_step(trace, texts, painter, lr) -> Step:
    g = trace.graph
    d = painter.opts.digits
    prefix = "" if _compact(painter) else "= "
    new, cost, why = update(trace, lr)
    out_name = texts[trace.output]
    lines: list[str] = []
    step = Step("update", f"Update: w ← w − η·∂{out_name}/∂w with η = {num(lr, d)}", lines)
    for name, value in new.items():
        v = trace.inputs[name]
        old = nodes_of(g)[v]["value"]
        grad = nodes_of(g)[v]["grad"]
        if isinstance(old, float):      # two more digits: a small step must show
            lines.append(f"{texts[v]} ← {num(old, d)} − {num(lr, d)} · {signed_term(grad, d)} "
                         f"= {num(value, d + 2)}")
        else:
            lines.append(f"{texts[v]} ← {texts[v]} − {num(lr, d)} · "
                         f"{partial(out_name, texts[v])} = {value_text(value, d)}")
        step.text[f"v{v}"] = prefix + value_text(value, d + 2 if isinstance(value, float) else d)
        step.now += [f"v{v}", f"n{v}"]
    before = weighted(trace, trace.value)
    if cost is None:
        lines.append(f"new {out_name}: not computed ({why})")
    else:
        lines.append(f"{out_name}: {num(before, d)} → {num(cost, d)} "
                     f"({'lower' if cost < before else 'not lower'}: "
                     f"{'a step downhill' if cost < before else 'η may be too large'})")
    return step
