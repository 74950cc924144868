"""Every graph algorithm is iterative: a 100,000-deep chain goes through trace,
backward, explain (both forms), collapse, the fast layout and JSON without
recursion.  And the CLI takes a target whose name begins with '-' after '--'."""

import os

import numpy as np
import pytest

import gradtrace as gt

DEPTH = 100_000


def deep(x):
    with gt.scope("body"):
        for _ in range(DEPTH):
            x = x * 1.00001
    return x


@pytest.fixture(scope="module")
def chain():
    return gt.trace(deep, 0.5).backward()


def test_trace_and_backward(chain):
    assert chain.graph.number_of_nodes() == DEPTH + 2   # input, one shared constant, ops
    assert chain.grads["x"] == pytest.approx(1.00001 ** DEPTH)


@pytest.mark.parametrize("form", ["recursive", "paths"])
def test_explain(chain, form):
    e = chain.explain("x", form=form)
    assert e.form == form
    assert np.isclose(e.gradient, 1.00001 ** DEPTH)


def test_json_round_trip(chain):
    u = gt.load_json(chain.to_json())
    assert u.graph.number_of_nodes() == chain.graph.number_of_nodes()
    assert u.backward().grads["x"] == pytest.approx(chain.grads["x"])


def test_collapse_and_fast_layout(chain):
    collapsed = chain.to_dot(collapse=True)
    assert "shape=box3d" in collapsed
    fast = chain.to_dot(layout="fast")
    assert fast.count("pos=") >= DEPTH


def test_dash_target_after_double_dash(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    (tmp_path / "-model.py").write_text("def f(x=1.0):\n    return x * 3.0\n")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["info", "--", "-model.py:f"])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert "f = 3" in result.output
