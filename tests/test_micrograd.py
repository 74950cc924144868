"""Reading micrograd-style Value graphs (gt.from_micrograd) and grading a student's
backward pass (gt.grade), against micrograd's own engine and a lecture-style Value."""

import math
import random
import textwrap

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace.cli.main import main
from gradtrace.valuegraph.lecture import AssigningValue
from gradtrace.valuegraph.lecture import Value as LectureValue

micrograd = pytest.importorskip("micrograd.engine")
nn = pytest.importorskip("micrograd.nn")
MValue = micrograd.Value


def _tanh(self):
    """The lecture's tanh, for micrograd's Value (the package has relu only)."""
    t = math.tanh(self.data)
    out = MValue(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t ** 2) * out.grad
    out._backward = _backward
    return out


def grads_agree(t, rel=1e-12):
    for step, nid in zip(t.steps, t.node_of):
        assert float(t.tape.grads[nid]) == pytest.approx(step.value.grad, rel=rel, abs=1e-12)


def test_tanh_neuron_matches_micrograd(monkeypatch):
    monkeypatch.setattr(MValue, "tanh", _tanh, raising=False)
    x1, x2 = MValue(2.0), MValue(0.0)
    w1, w2, b = MValue(-3.0), MValue(1.0), MValue(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    t = gt.from_micrograd(o)
    grads_agree(t)
    assert t.value == pytest.approx(o.data)
    assert w1.grad == pytest.approx(1.0) and x1.grad == pytest.approx(-1.5)


def test_two_layer_mlp_matches_micrograd():
    random.seed(3)
    model = nn.MLP(3, [4, 4, 1])
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0]]
    ys = [1.0, -1.0, -1.0]
    loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), MValue(0.0))
    loss.backward()
    t = gt.from_micrograd(loss)
    grads_agree(t, rel=1e-10)
    assert len(t.inputs) >= len(model.parameters())
    assert t.grade().ok


def test_single_child_ops_use_their_child_twice():
    for op, local in (("mul", 2 * 3.0), ("add", 2.0)):
        x = MValue(3.0)
        y = x * x if op == "mul" else x + x
        assert len(y._prev) == 1
        y.backward()
        t = gt.from_micrograd(y)
        assert t.grads[next(iter(t.inputs))] == pytest.approx(local) == x.grad
        assert len(t.graph.edges) == 2           # the sum rule is visible: two edges


def test_labels_become_names_and_unlabelled_nodes_read_as_expressions():
    x1 = LectureValue(2.0, label="x1")
    w1 = LectureValue(-3.0, label="w1")
    b = LectureValue(1.0, label="b")
    n = x1 * w1 + b
    o = n.tanh()
    o.label = "o"
    o.backward()
    t = gt.from_micrograd(o)
    names = {a["name"] for _, a in t.graph.nodes(data=True)}
    assert {"x1", "w1", "b", "x1·w1", "x1·w1 + b", "o"} <= names
    assert not any(n and n.startswith("v") and n[1:].isdigit() for n in names)
    assert set(t.inputs) == {"x1", "w1", "b"}


def test_watch_names_nodes_after_the_code():
    random.seed(0)
    with gt.watch(MValue):
        model = nn.MLP(2, [2, 1])
        x = [MValue(1.0), MValue(-2.0)]
        h = model(x)
        loss = (h - 1.0) ** 2
    loss.backward()
    t = gt.from_micrograd(loss)
    names = {a["name"] for _, a in t.graph.nodes(data=True)}
    assert "loss" in names and "h" in names and "x[0]" in names and "x[1]" in names
    assert "model.layers[0].neurons[1].w[0]" in t.inputs
    assert "model.layers[1].neurons[0].b" in t.inputs
    assert MValue.__init__ is not None and not hasattr(MValue.__init__, "__wrapped__")


def test_watch_versions_a_rebound_name():
    with gt.watch(LectureValue):
        w = LectureValue(0.5)
        h = LectureValue(1.0)
        for _ in range(3):
            h = (h * w).tanh()
    h.backward()
    t = gt.from_micrograd(h)
    names = [a["name"] for _, a in t.graph.nodes(data=True)]
    assert {"h", "h₁", "h₂", "h₃", "w"} <= set(names)       # the input, then three versions


def neuron(value_cls):
    x1, x2 = value_cls(2.0, label="x1"), value_cls(0.0, label="x2")
    w1, w2 = value_cls(-3.0, label="w1"), value_cls(1.0, label="w2")
    b = value_cls(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


class WrongTanh(LectureValue):
    """A student's tanh whose backward forgot the square: 1 − t instead of 1 − t²."""

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t) * out.grad
        out._backward = _backward
        return out


def test_correct_engine_grades_ok():
    o = neuron(LectureValue)
    o.backward()
    r = gt.grade(o)
    assert r.ok and r.first is None and r.mismatches == []
    assert "all 10 gradients match" in r.text


def test_assignment_instead_of_accumulation_names_the_fan_out():
    student = AssigningValue
    x = student(0.5, label="x")
    w = student(2.0, label="w")
    c = student(-1.0, label="c")
    p = x + w
    p.label = "p"
    q = x + c                     # each add's backward assigns x.grad: one path survives
    q.label = "q"
    out = p * q
    out.label = "out"
    out.backward()
    r = gt.grade(out)
    assert not r.ok and r.first == "x"
    assert "x feeds 2 paths" in r.text and "(−0.5) + 2.5 = 2" in r.text
    assert "assignment instead of +=" in r.text
    assert ("through p only" in r.text) != ("through q only" in r.text)
    assert [m.name for m in r.mismatches] == ["x"]
    assert r.mismatches[0].student in (-0.5, 2.5) and r.mismatches[0].correct == 2


def test_x_plus_x_with_assignment():
    a = AssigningValue(3.0, label="a")
    b = a + a
    b.label = "b"
    b.backward()
    r = gt.grade(b)
    assert r.first == "a" and "1 + 1 = 2" in r.text and "a feeds 2 paths" in r.text
    assert "one of b's 2 uses of a only" in r.text


def test_wrong_tanh_derivative_names_tanh():
    o = neuron(WrongTanh)
    o.backward()
    r = gt.grade(o)
    assert not r.ok and r.first == "n"
    assert r.text.startswith("tanh: your local derivative is 0.2929")
    assert "1 − tanh²(n) = 0.5" in r.text


def test_double_backward_is_recognised():
    o = neuron(LectureValue)
    o.backward()
    o.backward()
    r = gt.grade(o)
    assert not r.ok and "2 backward() calls" in r.text and "reset" in r.text


def test_no_backward_at_all():
    r = gt.grade(neuron(LectureValue))
    assert not r.ok and r.text.startswith("no backward pass ran")


def test_unknown_op_and_non_values_are_clear_errors():
    v = MValue(2.0)
    odd = MValue(1.0, (v,), "softplus")
    with pytest.raises(gt.TraceError, match="_op 'softplus'.*knows"):
        gt.from_micrograd(odd)
    with pytest.raises(gt.TraceError, match=r"got a float, not a Value \(it reads a "
                       "micrograd-style Value graph: an object with data, grad, _prev, _op"):
        gt.from_micrograd(3.0)
    lying = MValue(5.0, (v, MValue(1.0)), "+")       # data is not 2 + 1
    with pytest.raises(gt.TraceError, match="replays the forward pass"):
        gt.from_micrograd(lying)


def test_order_of_a_non_commutative_op_is_recovered():
    a, b = LectureValue(5.0, label="a"), LectureValue(2.0, label="b")
    d = a / b                                 # a * b**-1
    e = a - b                                 # a + (-b)
    f = d * e
    f.backward()
    t = gt.from_micrograd(f)
    grads_agree(t)


def test_a_long_chain_does_not_recurse():
    x = MValue(0.5)
    y = x
    for _ in range(3000):
        y = y * 1.0001 + 0.0
    t = gt.from_micrograd(y)
    assert t.value == pytest.approx(y.data)


ops = st.sampled_from(["add", "mul", "sub", "relu", "pow2", "div"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(ops, st.integers(0, 50), st.integers(0, 50)), min_size=1,
                max_size=12),
       st.lists(st.floats(-2, 2).filter(lambda v: abs(v) > 0.1), min_size=3, max_size=3))
def test_random_graphs_match_micrograd(program, leaves):
    vals = [MValue(v) for v in leaves]
    for op, i, j in program:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        if op == "div" and abs(b.data) < 0.1:
            continue
        vals.append({"add": lambda: a + b, "mul": lambda: a * b, "sub": lambda: a - b,
                     "relu": lambda: a.relu(), "pow2": lambda: a ** 2,
                     "div": lambda: a / b}[op]())
    root = vals[-1]
    if not root._prev:
        return
    root.backward()
    t = gt.from_micrograd(root)
    grads_agree(t, rel=1e-9)
    assert t.grade().ok


STUDENT = textwrap.dedent('''
    from gradtrace.valuegraph.lecture import AssigningValue, Value

    def good(cls=Value):
        x, w = cls(0.5, label="x"), cls(2.0, label="w")
        out = ((x + w) * (x + 2.0)).tanh()
        out.backward()
        return out

    def bad():
        return good(AssigningValue)

    def not_a_value():
        return 3
''')


def test_cli_grade_exit_codes(tmp_path):
    f = tmp_path / "student.py"
    f.write_text(STUDENT)
    runner = CliRunner()
    ok = runner.invoke(main, ["grade", f"{f}:good"])
    assert ok.exit_code == 0, ok.output
    assert "match" in ok.output
    bad = runner.invoke(main, ["grade", f"{f}:bad", "--html", str(tmp_path / "g.html")])
    assert bad.exit_code == 1, bad.output
    assert "x feeds 2 paths" in bad.output
    assert (tmp_path / "g.html").read_text().startswith("<!DOCTYPE html>")
    wrong = runner.invoke(main, ["grade", f"{f}:not_a_value"])
    assert wrong.exit_code == 2, wrong.output
    assert "Error: not_a_value returned an int, not a Value (grade reads" in wrong.output


def test_examples_render_and_grade_from_the_cli(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["render", "micrograd_neuron", "-o", str(tmp_path / "n.dot")])
    assert r.exit_code == 0, r.output
    dot = (tmp_path / "n.dot").read_text()
    assert "tanh" in dot and "x1" in dot
    bad = runner.invoke(main, ["grade", "student_fanout"])
    assert bad.exit_code == 1 and "one of h's 2 uses of a only" in bad.output
