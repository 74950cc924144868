"""Explanations: their numbers equal backward's, on the seed's examples and random DAGs."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace.core.graph import paths_to_output
from gradtrace.render.explain import count_paths, latex_name


def test_recursive_form_on_seed_chain(chain):
    t = gt.trace(chain).backward()
    e = t.explain("w3")
    lines = e.text.splitlines()
    assert lines[0].startswith("∂C0/∂C0 = 1")
    assert lines[1].startswith("∂C0/∂(a − y) = 2·(a − y)")
    assert any(line.startswith("∂C0/∂z = ∂C0/∂a · σ'(z)") for line in lines)
    assert lines[-2].startswith("∂C0/∂w3 = ∂C0/∂(w3·a2) · a2")
    # it ends in the lesson's product along the path, the input's factor first
    assert lines[-1].startswith("the lesson's chain: ∂C0/∂w3 = a2 · σ'(z) · 2(a − y) = ")
    for step in e.steps:
        assert step["value"] == pytest.approx(t.graph.nodes[step["id"]]["grad"])
        if step["terms"]:
            assert sum(x["contribution"] for x in step["terms"]) == pytest.approx(step["value"])
    assert e.steps[-1]["value"] == t.grads["w3"]


def test_paths_form_sums_to_gradient_on_layer(layer):
    t = gt.trace(layer).backward()
    e = t.explain("a_prev[1]", form="paths")
    assert e.form == "paths" and len(e.steps) == 2 and e.consistent
    total = sum(s["contribution"] for s in e.steps)
    assert total == pytest.approx(t.grads["a_prev[1]"], rel=1e-12)
    assert "matches backward" in e.text
    data = json.loads(e.to_json())
    assert data["paths"] == 2 and len(data["steps"]) == 2


def test_too_many_paths_falls_back_to_recursive():
    def f(x=1.1):
        for _ in range(12):
            x = x * x       # two edges each time: 2**12 paths
        return x
    t = gt.trace(f).backward()
    e = t.explain("x", form="paths", max_paths=64)
    assert e.form == "recursive" and e.n_paths == 4096
    assert "4096 paths" in e.text


def test_array_paths_use_vjps():
    def mlp(W=np.array([[0.1, -0.2], [0.3, 0.4]]), x=np.array([1.0, 2.0])):
        h = np.tanh(W @ x)
        return np.sum(h * h) + np.sum(W)
    t = gt.trace(mlp).backward()
    e = t.explain("W", form="paths")
    assert len(e.steps) == 3 and e.consistent   # h·h (two edges) and Σ W
    np.testing.assert_allclose(sum(s["contribution"] for s in e.steps), t.grads["W"])


def test_latex_in_seed_notation():
    def f(w=0.5, a=0.3, b=0.1, y=1.0):
        z = gt.label(w * a + b, "z(L)")
        act = gt.label(gt.sigmoid(z), "a(L)")
        return gt.label((act - y) ** 2, "C0")
    t = gt.trace(f, wrt=["w"]).backward()
    tex = t.explain("w").to_latex()
    assert tex.startswith("\\begin{align*}") and tex.endswith("\\end{align*}")
    assert "\\frac{\\partial C_{0}}{\\partial a^{(L)}}" in tex
    assert "\\sigma'(z^{(L)})" in tex
    assert latex_name("a(L−1)") == "a^{(L-1)}"
    assert latex_name("x_1") == "x\\_1"


def test_unknown_name_and_form(chain):
    t = gt.trace(chain).backward()
    with pytest.raises(gt.GradtraceError, match="no node named 'nope'"):
        t.explain("nope")
    with pytest.raises(gt.GradtraceError, match="unknown form"):
        t.explain("w1", form="poem")


def test_unused_input_explained_as_zero():
    def f(x=1.0, y=2.0):
        unused = y * 3.0  # noqa: F841  (the point: computed, never used)
        return x * 2.0
    t = gt.trace(f).backward()
    e = t.explain("y")
    assert "does not reach" in e.text and t.grads["y"] == 0.0


OPS = ["add", "mul", "sub", "sigmoid", "tanh", "square", "reuse"]


@settings(max_examples=40, deadline=None)
@given(program=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 100), st.integers(0, 100)),
                        min_size=1, max_size=10),
       x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_random_dags_paths_equal_gradient(program, x, y):
    """Random programs with fan-outs, diamonds, x*x and shared subexpressions."""
    def f(x, y):
        vals = [x, y]
        for op, i, j in program:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if op == "add":
                vals.append(a + b)
            elif op == "mul":
                vals.append(a * b)
            elif op == "sub":
                vals.append(a - b)
            elif op == "sigmoid":
                vals.append(gt.sigmoid(a))
            elif op == "tanh":
                vals.append(np.tanh(a))
            elif op == "square":
                vals.append(a * a)
            else:
                vals.append(a * 0.5 + a)
        return vals[-1] + vals[-2] * 0.5
    t = gt.trace(f, x, y).backward()
    for name in ("x", "y"):
        on_path = paths_to_output(t, name)
        src = t.inputs[name]
        n = count_paths(t.graph, src, t.output, on_path) if src in on_path else 0
        e = t.explain(name, form="paths", max_paths=200)
        if n == 0:
            assert t.grads[name] == 0.0
            continue
        if e.form == "paths":
            assert len(e.steps) == n
            assert e.consistent
            total = sum(s["contribution"] for s in e.steps)
            assert total == pytest.approx(t.grads[name], rel=1e-9, abs=1e-12)
        rec = t.explain(name)
        assert rec.steps[-1]["value"] == t.grads[name]


def test_explain_fits_in_100_columns_wrapping_at_the_equals_signs():
    """Issue 27: long chain-rule lines (160 characters on attention_head) wrap at '='."""
    import warnings

    from gradtrace import examples
    for name in ("attention_head", "mlp_calls", "numpy_mlp"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = gt.trace(examples.EXAMPLES[name]).backward()
        for form in ("recursive", "paths"):
            text = t.explain(t.wrt[0], form=form).text
            assert max(len(line) for line in text.splitlines()) <= 100, (name, form)
    from gradtrace.render.explain import wrapped
    line = "∂C/∂w = " + " = ".join(["∂C/∂a · ∂a/∂z · ∂z/∂w"] * 6)
    parts = wrapped(line)
    assert len(parts) > 1 and all(len(p) <= 100 for p in parts)
    assert all(p.lstrip().startswith("= ") for p in parts[1:])
