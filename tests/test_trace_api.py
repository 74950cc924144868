"""The public tracing API: inputs, names, scopes, errors, threads, JSON."""

import threading
import warnings

import networkx as nx
import numpy as np
import pytest

import gradtrace as gt


def test_nested_inputs_are_named_and_wrt_selects():
    def f(params, xs, n=3, flag=True):
        h = params["W1"] @ xs[0] + params["b1"]
        return np.sum(h * h) * n + xs[1]

    params = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}
    t = gt.trace(f, params, [np.array([1.0, 2.0]), 0.5], wrt="params")
    assert set(t.inputs) == {"params.W1", "params.b1", "xs[0]", "xs[1]"}
    assert t.wrt == ["params.W1", "params.b1"]
    g = t.backward().grads
    assert set(g) == {"params.W1", "params.b1"}
    np.testing.assert_allclose(g["params.b1"], 2 * 3 * np.array([3.0, 3.0]))
    # ints and bools are constants, not inputs
    assert "n" not in t.inputs and "flag" not in t.inputs
    # an input outside wrt gets no gradient and the graph knows
    assert not t.graph.nodes[t.inputs["xs[0]"]]["requires_grad"]


def test_layers_list_of_dicts_names():
    def f(layers, x=1.5):
        for layer in layers:
            x = np.tanh(layer["w"] * x + layer["b"])
        return x
    t = gt.trace(f, [{"w": 0.5, "b": 0.1}, {"w": -0.3, "b": 0.2}])
    assert set(t.inputs) == {"layers[0].w", "layers[0].b", "layers[1].w", "layers[1].b", "x"}


def test_graph_schema():
    def f(w=0.5, a=np.array([1.0, 2.0]), b=0.1):
        z = w * a + b
        return np.sum(z)
    t = gt.trace(f).backward()
    g = t.graph
    assert isinstance(g, nx.MultiDiGraph) and nx.is_directed_acyclic_graph(g)
    assert list(g.nodes) == list(range(g.number_of_nodes()))
    for _, a in g.nodes(data=True):
        assert {"kind", "op", "name", "value", "shape", "scope", "grad"} <= set(a) or \
            not a["requires_grad"]
        assert a["kind"] in ("input", "const", "op")
        assert (a["op"] is None) == (a["kind"] != "op")
    z = t.node_id("z")
    assert g.nodes[z]["op"] == "add" and g.nodes[z]["shape"] == (2,)
    # the (2,)-shaped contribution into scalar b is summed back to a scalar
    b = t.inputs["b"]
    assert isinstance(g.nodes[b]["grad"], float) and g.nodes[b]["grad"] == 2.0
    for _, _, _, e in g.edges(keys=True, data=True):
        assert {"local", "formula", "contribution"} <= set(e)
    assert t.value == pytest.approx(0.5 * 3 + 0.2)


def test_matches_networkx_add_edge_layout():
    """The graph is built by writing networkx's dicts directly; they must match add_edge's."""
    t = gt.trace(lambda x, y: x * x + y, 1.0, 2.0)
    g = t.graph
    ref = nx.MultiDiGraph()
    ref.add_nodes_from(g.nodes(data=True))
    ref.add_edges_from(g.edges(keys=True, data=True))
    assert sorted(ref.edges(keys=True)) == sorted(g.edges(keys=True))
    for u in g:
        assert dict(g.pred[u]).keys() == dict(ref.pred[u]).keys()
        for v in g.succ[u]:
            assert g._succ[u][v] is g._pred[v][u]
    assert g.number_of_edges(0, 2) == 2


def test_broadcast_bias_gradient_shape():
    def f(X=np.ones((4, 3)), b=np.zeros(3), W=np.ones((3, 3))):
        return np.sum(np.tanh(X @ W + b))
    t = gt.trace(f).backward()
    assert t.grads["b"].shape == (3,)
    assert t.grads["W"].shape == (3, 3)


def test_backward_twice_same_and_non_scalar_seed():
    def f(x=np.array([1.0, 2.0, 3.0])):
        return x * x
    t = gt.trace(f)
    with pytest.raises(gt.BackwardError, match="shape \\(3,\\)"):
        t.backward()
    t.backward(seed=np.ones(3))
    first = t.grads["x"].copy()
    t.backward(seed=np.ones(3))
    np.testing.assert_array_equal(t.grads["x"], first)
    np.testing.assert_array_equal(first, [2.0, 4.0, 6.0])
    with pytest.raises(gt.BackwardError, match="seed has shape"):
        t.backward(seed=np.ones(2))


def test_deep_chain_no_recursion_limit():
    def f(x=0.3):
        for _ in range(100_000):
            x = x * 1.0
        return x
    t = gt.trace(f).backward()
    assert t.grads["x"] == 1.0


def test_label_and_scope():
    def f(w=0.5, a=0.2, b=0.1, y=1.0):
        with gt.scope("layer L"):
            z = gt.label(w * a + b, "z(L)")
            act = gt.label(gt.sigmoid(z), "a(L)")
        return (act - y) ** 2
    t = gt.trace(f)
    zl = t.node_id("z(L)")
    assert t.graph.nodes[zl]["scope"] == ("layer L",)
    assert t.graph.nodes[t.output]["scope"] == ()
    assert t.graph.nodes[t.node_id("a(L)")]["op"] == "sigmoid"


def test_scopes_follow_function_calls():
    def dense(W, x, b):
        z = W @ x + b
        return np.tanh(z)

    def net(W1=np.eye(2), b1=np.zeros(2), x=np.ones(2)):
        with gt.scope("encoder"):
            h = dense(W1, x, b1)
        return np.sum(h)
    t = gt.trace(net)
    z = t.node_id("z")
    assert t.graph.nodes[z]["scope"] == ("encoder", "dense")
    h = t.node_id("h")  # named after the caller's variable through the return
    assert t.graph.nodes[h]["op"] == "tanh"


def test_sum_builtin_names_the_total_and_its_partial_sums():
    def f(xs=[1.0, 2.0, 3.0]):  # noqa: B006  (the trace reads the default)
        total = sum(x * x for x in xs)
        return total
    t = gt.trace(f)
    named = [a["name"] for _, a in t.graph.nodes(data=True) if a["kind"] == "op" and a["name"]]
    assert named == ["total (partial 2 of 3)", "total"]
    assert [a for _, a in t.graph.nodes(data=True) if a["kind"] == "const"] == []  # no 0 +


_MADE_OUTSIDE = np.empty(3)


def test_writes_into_the_callers_arrays_and_float_conversion_refused():
    def f(x=np.ones(3)):
        x[0] = 2.0
        return np.sum(x)
    with pytest.raises(gt.TraceError, match="input 'x'.*x = x.copy()"):
        gt.trace(f)
    from math import exp

    def g(x=1.0):
        return exp(x)
    with pytest.raises(gt.TraceError, match="exp from the math module.*np.exp"):
        gt.trace(g)

    def h(x=np.ones(3)):
        return np.sum(np.add(x, 1.0, out=_MADE_OUTSIDE))
    with pytest.raises(gt.TraceError, match="out="):
        gt.trace(h)


def test_unsupported_numpy_function_named():
    def f(x=np.ones(4)):
        return np.sum(np.abs(np.fft.fft(x)))
    with pytest.raises(gt.UnsupportedOpError, match=r"np\.fft\.fft"):
        gt.trace(f)

    def g(x=np.ones(4)):
        return np.sum(np.i0(x))
    with pytest.raises(gt.UnsupportedOpError, match=r"np\.i0"):
        gt.trace(g)

    def h(x=np.ones(4)):
        return np.sum(np.spacing(x))
    with pytest.raises(gt.UnsupportedOpError, match=r"np\.spacing"):
        gt.trace(h)


@pytest.mark.parametrize("bad, match", [
    (np.array(["a"], dtype=object), "dtype object"),
    (1 + 2j, "complex"),
])
def test_bad_inputs(bad, match):
    with pytest.raises(gt.TraceError, match=match):
        gt.trace(lambda x: x * 2.0, bad)


def test_string_inputs_are_constants():
    t = gt.trace(lambda spec, x: np.sum(np.einsum(spec, x)), "ij->ji", np.eye(2)).backward()
    assert t.wrt == ["x"]
    np.testing.assert_allclose(t.grads["x"], np.ones((2, 2)))


def test_not_callable_and_bad_outputs():
    with pytest.raises(gt.TraceError, match="needs a function"):
        gt.trace(42)
    with pytest.warns(gt.GradtraceWarning, match="does not depend on any traced input"):
        t = gt.trace(lambda x: 3.0, 1.0).backward()
    assert t.grads == {"x": 0.0} and t.value == 3.0
    with pytest.raises(gt.TraceError, match="is a str"):
        gt.trace(lambda x: "loss", 1.0)
    with pytest.raises(gt.TraceError, match="returned a tuple"):
        gt.trace(lambda x: (x, x), 1.0)
    with pytest.raises(gt.TraceError, match="wrt names 'q'"):
        gt.trace(lambda x: x * 2, 1.0, wrt=["q"])
    with pytest.raises(gt.TraceError, match="cannot call"):
        gt.trace(lambda x: x, 1.0, 2.0)


def test_failing_function_leaves_nothing_behind():
    from gradtrace.record.recorder import ACTIVE

    def f(x=1.0):
        y = x * 2  # noqa: F841  (an op recorded before the error)
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        gt.trace(f)
    assert ACTIVE.get() is None
    import gc
    assert gc.isenabled()


def test_nan_inputs_warn_once_and_are_recorded():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = gt.trace(lambda x, y: x * y, float("nan"), np.array([1.0, np.inf]))
    msgs = [w for w in caught if issubclass(w.category, gt.GradtraceWarning)]
    assert len(msgs) == 1 and "x, y" in str(msgs[0].message)
    assert np.isnan(t.graph.nodes[t.inputs["x"]]["value"])


def test_inputs_are_snapshots_even_read_only_ones():
    W = np.ones((2, 2))
    t = gt.trace(lambda W: np.sum(W @ W), W)
    recorded = t.graph.nodes[t.inputs["W"]]["value"]
    assert recorded is not W and not recorded.flags.writeable
    frozen = np.ones((2, 2))
    frozen.flags.writeable = False
    t = gt.trace(lambda W: np.sum(W @ W), frozen)
    assert t.graph.nodes[t.inputs["W"]]["value"] is not frozen   # its owner could thaw it
    frozen.flags.writeable = True
    frozen[0, 0] = 5.0
    assert t.graph.nodes[t.inputs["W"]]["value"][0, 0] == 1.0


def test_threads_trace_separately():
    results = {}

    def work(i):
        def f(x=float(i)):
            acc = x
            for _ in range(200):
                acc = acc * 1.0 + 0.0
            return acc * x
        t = gt.trace(f).backward()
        results[i] = (t.graph.number_of_nodes(), t.grads["x"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    sizes = {n for n, _ in results.values()}
    assert len(sizes) == 1
    for i, (_, g) in results.items():
        assert g == pytest.approx(2 * i)


def test_where_does_not_leak_nan_from_branch_not_taken():
    def f(x=np.array([-1.0, 0.0, 4.0])):
        return np.sum(np.where(x > 0, np.sqrt(x), 0.0))
    with np.errstate(all="ignore"):
        t = gt.trace(f).backward()
    np.testing.assert_array_equal(t.grads["x"], [0.0, 0.0, 0.25])


def test_kink_conventions():
    def f(x=0.0, y=0.0):
        return gt.relu(x) + abs(x) + np.maximum(x, y)
    t = gt.trace(f).backward()
    assert t.grads == {"x": 0.5, "y": 0.5}

    def g(x=np.array([1.0, 3.0, 3.0])):
        return np.max(x)
    np.testing.assert_array_equal(gt.trace(g).backward().grads["x"], [0.0, 0.5, 0.5])


def test_scalar_edge_cases_follow_numpy():
    with np.errstate(all="ignore"):
        t = gt.trace(lambda x: np.log(x) + 1.0 / x, 0.0).backward()
    assert t.value == float("inf") or np.isnan(t.value)


def test_comparisons_are_constants():
    def f(x=np.array([-1.0, 2.0])):
        mask = x > 0
        return np.sum(x * mask)
    t = gt.trace(f).backward()
    np.testing.assert_array_equal(t.grads["x"], [0.0, 1.0])


def test_check_reports_worst_element():
    def f(W=np.arange(6.0).reshape(2, 3) / 10, x=np.array([1.0, -1.0, 0.5])):
        return np.sum(np.tanh(W @ x) ** 2)
    report = gt.check(f)
    assert report.ok
    assert {c.name for c in report.inputs} == {"W", "x"}
    assert report.inputs[0].checked == 6
    assert "gradients match" in str(report)

    t = gt.trace(f).backward()
    t.graph.nodes[t.inputs["W"]]["grad"][1, 2] += 0.5   # corrupt one element
    bad = t.check()
    assert not bad.ok
    w = next(c for c in bad.inputs if c.name == "W")
    assert w.worst_index == (1, 2) and not w.ok
    assert "MISMATCH" in str(bad)


def test_json_round_trip():
    def f(W=np.array([[0.1, -0.2], [0.3, 0.4]]), b=np.array([0.0, np.inf]), x=np.ones(2)):
        h = np.tanh(W @ x)
        return np.sum(h[::-1] * 2.0) + np.sum(np.where(b > 0, 0.0, b))
    with pytest.warns(gt.GradtraceWarning, match="inputs b"):
        t = gt.trace(f, wrt=["W"]).backward()
    text = t.to_json()
    import json
    json.loads(text)  # standard JSON (no bare NaN/Infinity)
    u = gt.load_json(text)
    assert list(u.graph.nodes) == list(t.graph.nodes)
    assert sorted(u.graph.edges(keys=True)) == sorted(t.graph.edges(keys=True))
    np.testing.assert_array_equal(u.grads["W"], t.grads["W"])
    for n in t.graph:
        a, b = t.graph.nodes[n], u.graph.nodes[n]
        np.testing.assert_array_equal(a["value"], b["value"])
        assert a["name"] == b["name"] and a["scope"] == b["scope"]
    # the loaded trace can run backward again from its op parameters
    u.backward()
    np.testing.assert_allclose(u.grads["W"], t.grads["W"])
    with pytest.raises(gt.GradtraceError, match="no function"):
        u.check()


def test_load_json_errors(tmp_path):
    with pytest.raises(gt.GradtraceError, match="not valid JSON"):
        gt.load_json("{oops")
    with pytest.raises(gt.GradtraceError, match="not a gradtrace trace"):
        gt.load_json('{"a": 1}')
    with pytest.raises(gt.GradtraceError, match="cannot read"):
        gt.load_json(tmp_path / "missing.json")
    p = tmp_path / "t.json"
    p.write_text(gt.trace(lambda x: x * 3.0, 1.0).to_json())
    assert gt.load_json(p).value == 3.0
    assert gt.load_json(str(p)).value == 3.0


def test_functions_work_untraced():
    assert gt.sigmoid(0.0) == 0.5
    assert gt.relu(-1.0) == 0.0
    np.testing.assert_allclose(gt.softmax(np.zeros(4)), 0.25)
    assert gt.logsumexp(np.zeros(2)) == pytest.approx(np.log(2))
    assert gt.label(3.0, "x") == 3.0
    with gt.scope("nothing"):
        pass
