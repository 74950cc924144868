"""The tape a trace records and the graph made from it say the same thing, whichever
is made first and however often backward runs."""

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.core.graph import nodes_of
from gradtrace.core.tape import (
    ARGS,
    KIND,
    LOCS,
    OP,
    PARAMS,
    REQ,
    SCOPE,
    VALUE,
    from_graph,
    to_graph,
)


def model(W, b, x, scale):
    h = np.tanh(x @ W + b)
    s = 0.0
    for i in range(2):
        s = s + h[i] * scale
    return s * s


ARGS_ = dict(W=np.array([[0.3, -0.2], [0.5, 0.1]]), b=np.array([0.1, -0.4]),
             x=np.array([1.0, 2.0]), scale=1.5)


def same(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and np.array_equal(a, b)


def graph_facts(g):
    """Everything about a graph that backward and the views read, in a comparable form."""
    nodes = []
    for v, a in nodes_of(g).items():
        nodes.append((v, a["kind"], a["op"], a["name"], a["scope"], a["requires_grad"],
                      a["value"], a.get("grad")))
    edges = sorted((u, v, k, e["local"], e.get("contribution"))
                   for u, v, k, e in g.edges(keys=True, data=True))
    return nodes, edges


def assert_same_graph(g1, g2):
    n1, e1 = graph_facts(g1)
    n2, e2 = graph_facts(g2)
    assert len(n1) == len(n2) and len(e1) == len(e2)
    for x, y in zip(n1 + e1, n2 + e2):
        assert same(list(x), list(y)), (x, y)


def test_tracing_and_backward_do_not_build_the_graph():
    t = gt.trace(model, wrt=["W", "b"], **ARGS_).backward()
    assert t._graph is None
    assert set(t.grads) == {"W", "b"} and t.value > 0
    assert t._graph is None          # gradients and the value come from the tape
    assert "nodes" in repr(t) and t._graph is None


def test_graph_built_before_backward_gets_the_same_gradients_as_one_built_after():
    early = gt.trace(model, wrt=["W", "b"], **ARGS_)
    g = early.graph                   # built now, without gradients
    assert "grad" not in nodes_of(g)[early.output]
    early.backward()
    late = gt.trace(model, wrt=["W", "b"], **ARGS_).backward()
    assert early.graph is g           # updated in place, not rebuilt
    assert_same_graph(g, late.graph)


def test_backward_again_with_another_seed_updates_the_graph():
    t = gt.trace(model, **ARGS_).backward()
    g = t.graph
    before = nodes_of(g)[t.inputs["W"]]["grad"].copy()
    t.backward(seed=2.0)
    assert np.allclose(nodes_of(g)[t.inputs["W"]]["grad"], 2 * before)
    assert np.allclose(t.grads["W"], 2 * before)
    for _, v, k, e in g.edges(keys=True, data=True):
        assert same(e["contribution"], t.tape.contribs[v][k])


def test_a_graph_turns_back_into_the_tape_it_came_from():
    t = gt.trace(model, wrt=["W"], **ARGS_).backward()
    tape = t.tape
    again = from_graph(to_graph(tape))
    assert len(again) == len(tape)
    for r1, r2 in zip(tape.records, again.records):
        assert r1[KIND] == r2[KIND] and r1[OP] is r2[OP] and r1[ARGS] == r2[ARGS]
        assert r1[REQ] == r2[REQ] and r1[SCOPE] == r2[SCOPE] and r1[PARAMS] == r2[PARAMS]
        assert same(r1[VALUE], r2[VALUE])
        assert r2[LOCS] is None if not r1[ARGS] else same(
            list(r1[LOCS] or [None] * len(r1[ARGS])), list(r2[LOCS]))
    assert again.names == tape.names and again.sites == tape.sites
    assert same(again.grads, [g if r[REQ] else None for g, r in zip(tape.grads, tape.records)])


def test_a_loaded_trace_runs_backward_on_its_own_tape():
    t = gt.trace(model, **ARGS_).backward()
    loaded = gt.load_json(t.to_json())
    assert loaded._tape is None
    grads = {k: np.copy(v) for k, v in loaded.grads.items()}   # read back from the JSON
    loaded.backward(seed=3.0)
    for k in grads:
        assert np.allclose(loaded.grads[k], 3 * grads[k])
        assert np.allclose(nodes_of(loaded.graph)[loaded.inputs[k]]["grad"], 3 * grads[k])
    assert np.allclose(grads["W"], t.grads["W"])


def test_a_name_settled_after_its_node_reaches_the_graph():
    def f(xs):
        total = sum(x * x for x in xs)    # many adds: only the last is "total"
        return gt.label(total * 2.0, "C(out)")
    t = gt.trace(f, [1.0, 2.0, 3.0])
    names = [a["name"] for a in nodes_of(t.graph).values()]
    assert names.count("total") == 1 and "C(out)" in names


@pytest.mark.parametrize("seed", [None, 0.5])
def test_every_gradient_is_the_sum_of_its_contributions(seed):
    t = gt.trace(model, **ARGS_).backward(seed=seed)
    g = t.graph
    for u, a in nodes_of(g).items():
        if not a["requires_grad"] or u == t.output:
            continue
        parts = [e["contribution"] for _, e in sorted(
            ((v, k), e) for v, keyed in g.succ[u].items() for k, e in keyed.items())]
        if parts:
            assert np.allclose(sum(parts), a["grad"])


def test_every_gradient_is_a_writable_array():
    """Broadcasting VJPs (sum, mean, a scalar spread over an array) hand back read-only
    views; a gradient the user holds must be an array they can write to."""
    def f(x, y, s):
        return np.sum(x) + np.mean(y * s) + np.max(x) * s
    t = gt.trace(f, np.arange(6.0).reshape(2, 3), np.ones((3, 1)), 2.0).backward()
    for v, g in enumerate(t.tape.grads):
        if isinstance(g, np.ndarray):
            assert g.flags.writeable, v
    mine = t.grads["x"].copy()      # the trace hands out read-only views; a copy is yours
    mine[0, 0] = 99.0
    assert t.grads["x"][0, 0] != 99.0



def test_records_read_by_name_in_the_order_the_recorder_writes():
    from gradtrace.core.tape import Record
    t = gt.trace(model, **ARGS_).backward()
    tape = t.tape
    assert (KIND, OP, VALUE, ARGS, LOCS, REQ, SCOPE, PARAMS) == tuple(range(8))
    for v in range(len(tape)):
        r = tape.record(v)
        assert isinstance(r, Record) and tuple(r) == tape.records[v]
        assert r.kind in ("input", "const", "op") and isinstance(r.req, bool)
        assert isinstance(r.args, tuple) and all(u < v for u in r.args)
        assert (r.prim is None) == (r.kind != "op") and isinstance(r.scope, tuple)
        assert r.locs is None or len(r.locs) == len(r.args)
        assert type(r.value) is float or isinstance(r.value, np.ndarray)
