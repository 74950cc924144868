"""The seed's single-neuron chain and multi-neuron layer, checked in closed form."""

import math

import numpy as np
import pytest

import gradtrace as gt


def sig(z):
    return 1 / (1 + math.exp(-z))


def dsig(z):
    return sig(z) * (1 - sig(z))


def forward_plain(w1=0.4, b1=0.1, w2=-0.7, b2=0.3, w3=1.2, b3=-0.2, a0=0.9, y=1.0):
    z1 = w1 * a0 + b1
    a1 = sig(z1)
    z2 = w2 * a1 + b2
    a2 = sig(z2)
    z = w3 * a2 + b3
    a = sig(z)
    return dict(z1=z1, a1=a1, z2=z2, a2=a2, z=z, a=a)


def test_last_layer_three_factors(chain):
    t = gt.trace(chain).backward()
    v = forward_plain()
    dC_da = 2 * (v["a"] - 1.0)
    assert t.grad("w3") == pytest.approx(dC_da * dsig(v["z"]) * v["a2"], rel=1e-12)
    assert t.grad("b3") == pytest.approx(dC_da * dsig(v["z"]) * 1.0, rel=1e-12)
    assert t.grad("a2") == pytest.approx(dC_da * dsig(v["z"]) * 1.2, rel=1e-12)
    # and further back, the same recursion
    assert t.grad("w2") == pytest.approx(t.grad("a2") * dsig(v["z2"]) * v["a1"], rel=1e-12)
    assert t.grad("w1") == pytest.approx(
        t.grad("a1") * dsig(v["z1"]) * 0.9, rel=1e-12)


def test_intermediates_named_after_variables(chain):
    t = gt.trace(chain)
    names = {a["name"] for _, a in t.graph.nodes(data=True)}
    for n in ["z1", "a1", "z2", "a2", "z", "a", "C0"]:
        assert n in names
    assert t.output_name == "C0"
    # the add node is z (not the mul inside w*a + b)
    z = t.node_id("z")
    assert t.graph.nodes[z]["op"] == "add"
    assert t.graph.nodes[t.node_id("a")]["op"] == "sigmoid"


def test_edge_locals_and_formulas(chain):
    t = gt.trace(chain).backward()
    g = t.graph
    v = forward_plain()
    z = t.node_id("z")
    mul = next(u for u in g.predecessors(z) if g.nodes[u]["op"] == "mul")
    w3 = t.inputs["w3"]
    e = g.edges[w3, mul, 0]
    assert e["formula"] == "a2" and e["local"] == pytest.approx(v["a2"])
    a = t.node_id("a")
    e = g.edges[z, a, 0]
    assert e["formula"] == "σ'(z)" and e["local"] == pytest.approx(dsig(v["z"]))
    cost = t.output
    sub = next(iter(g.predecessors(cost)))
    assert g.edges[sub, cost, 0]["formula"] == "2·(a − y)"
    assert g.nodes[t.output]["grad"] == 1.0


def test_fan_out_sum_rule_in_layer(layer):
    t = gt.trace(layer).backward()
    g = t.graph
    W = np.array([[0.2, -0.5, 0.3], [0.7, 0.1, -0.4]])
    b = np.array([0.05, -0.1])
    ap = np.array([0.3, 0.8, 0.5])
    z = W @ ap + b
    a = 1 / (1 + np.exp(-z))
    delta = 2 * (a - np.array([1.0, 0.0])) * a * (1 - a)
    expected = W.T @ delta
    for k in range(3):
        nid = t.inputs[f"a_prev[{k}]"]
        assert g.out_degree(nid) == 2          # one edge per neuron it feeds
        contributions = [e["contribution"] for _, _, e in g.out_edges(nid, data=True)]
        assert sum(contributions) == pytest.approx(g.nodes[nid]["grad"], rel=1e-12)
        assert g.nodes[nid]["grad"] == pytest.approx(expected[k], rel=1e-12)


def test_x_times_x_has_two_edges():
    t = gt.trace(lambda x: x * x, 3.0).backward()
    x = t.inputs["x"]
    assert t.graph.number_of_edges(x, t.output) == 2
    contributions = sorted(e["contribution"] for _, _, e in t.graph.out_edges(x, data=True))
    assert contributions == [3.0, 3.0]
    assert t.grads["x"] == 6.0


def test_x_times_y_plus_x():
    def f(x=2.0, y=5.0):
        return x * y + x
    t = gt.trace(f).backward()
    assert t.grads == {"x": 6.0, "y": 2.0}
    assert t.graph.out_degree(t.inputs["x"]) == 2


def test_shared_subexpression_used_three_times():
    def f(x=0.7, y=1.3):
        s = x * y
        return s * s + gt.sigmoid(s)
    t = gt.trace(f).backward()
    s = t.node_id("s")
    assert t.graph.out_degree(s) == 3
    sv = 0.7 * 1.3
    ds = 2 * sv + dsig(sv)
    assert t.graph.nodes[s]["grad"] == pytest.approx(ds, rel=1e-12)
    parts = [e["contribution"] for _, _, e in t.graph.out_edges(s, data=True)]
    assert sorted(parts) == pytest.approx(sorted([sv, sv, dsig(sv)]), rel=1e-12)
    assert t.grads["x"] == pytest.approx(ds * 1.3, rel=1e-12)
