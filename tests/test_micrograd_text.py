"""What a Value graph's formulas, names, checks and grade page say (the new-user trial's
bugs): brackets where precedence needs them, decimals kept in auto names, ``check`` on a
Value graph, a clear error for a non-Value, and the grade's finding on its page."""

import math
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace.cli.main import main
from gradtrace.core.formulas import text_precedence
from gradtrace.notation import MINUS, number_text
from gradtrace.render.page import page_data
from gradtrace.valuegraph.lecture import Value

from .conftest import needs_dot
from .svgread import read_svg
from .test_html_browser import Watched
from .test_html_browser import browser as chromium

browser = chromium
micrograd = pytest.importorskip("micrograd.engine")
MValue = micrograd.Value


def _square_loss():
    with gt.watch(Value):
        x, w, b = Value(2.0), Value(-3.0), Value(1.0)
        n = x * w + b
        loss = (n - 1.0) ** 2
    loss.backward()
    return gt.from_micrograd(loss), (x, w, b)


def test_a_compound_name_is_bracketed_in_formulas_and_reads_as_a_subtraction():
    t, (x, w, b) = _square_loss()
    text = str(t.explain("x"))
    assert "∂loss/∂(n − 1) = 2·(n − 1)" in text, text
    assert "n + −1" not in text and "2·n" not in text
    assert t.grads["x"] == x.grad == 36.0 and t.grads["w"] == w.grad and t.grads["b"] == b.grad
    edges = [line for lines in t.drawing().edges().values() for line in lines]
    assert "∂loss/∂(n − 1) = 2·(n − 1) = −12" in edges, edges


@needs_dot
def test_the_drawn_edge_says_the_bracketed_formula(tmp_path):
    t, _ = _square_loss()
    _, edges = read_svg(t.render(tmp_path / "loss.svg").read_text(encoding="utf-8"))
    said = [line for per_edge in edges.values() for lines in per_edge for line in lines]
    assert "∂loss/∂(n − 1) = 2·(n − 1) = −12" in said, said
    assert not any("2·n + " in s or "n + −1" in s for s in said), said


class PowBug(Value):
    """A student's ** whose backward forgets to lower the exponent (k·x^k)."""

    def __pow__(self, k):
        out = type(self)(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** k * out.grad
        out._backward = _backward
        return out


def test_grade_formulas_keep_brackets_and_powers_read_as_superscripts():
    x, y = PowBug(3.0), PowBug(2.0)
    loss = (x * y) ** 2 + x
    loss.backward()
    r = gt.grade(loss)
    assert r.text.startswith("**2: your local derivative is 72, 2·(3·2) = 12"), r.text
    with gt.watch(PowBug):
        n = PowBug(0.8813735870195432)
        e = (n * 2).exp()
        o = (e - 1) / (e + 1)
    o.backward()
    text = gt.grade(o).text
    assert "−1·(" in text and ")⁻² = " in text, text
    assert "^-" not in text and "-1·" not in text


def test_all_match_brackets_a_compound_output_name():
    a = Value(3.0, label="a")
    L = a ** 2 + a
    L.backward()
    r = gt.grade(L)
    assert r.ok and r.text == ("all 3 gradients match: every .grad equals "
                               "∂(a² + a)/∂(that value)")


def test_auto_names_keep_decimal_points():
    x, w = MValue(-2.0), MValue(1.5)
    L = (x * w).relu() + x * 0.5
    L.backward()
    t = gt.from_micrograd(L)
    names = [t.graph.nodes[n]["name"] for n in t.node_of]
    assert sorted(names) == sorted(["−2", "1.5", "0.5", "(−2)·1.5", "ReLU((−2)·1.5)",
                                    "(−2)·0.5", "ReLU((−2)·1.5) + (−2)·0.5"]), names
    for step, nid in zip(t.steps, t.node_of):          # micrograd's own engine agrees
        assert float(t.tape.grads[nid]) == pytest.approx(step.value.grad, abs=1e-12)
    assert gt.grade(L).ok
    t.steps[names.index("(−2)·1.5")].value.grad = 1.0     # what relu'(x) = 1 leaves there
    text = gt.grade(L).text
    assert text.startswith("ReLU: your local derivative is 1, [(−2)·1.5 > 0] = 0"), text


def test_long_and_attribute_names_keep_their_numbers():
    class Model:
        pass
    m = Model()
    with gt.watch(MValue):
        m.w = MValue(2.5)
        c = m.w * 0.25 + MValue(6.8813735870195432)
    c.backward()
    t = gt.from_micrograd(c)
    names = [t.graph.nodes[n]["name"] for n in t.node_of]
    assert names == ["m.w", "0.25", "w·0.25", "6.881", "c"], names


decimals = st.floats(-50, 50, allow_nan=False).map(lambda v: round(v, 3)).filter(
    lambda v: not float(v).is_integer())


@given(decimals, decimals, decimals)
def test_sweep_every_constant_with_decimals_reads_whole(xv, wv, c):
    assume(len({xv, wv, c}) == 3)         # (equal leaves are told apart: 1.5₁, 1.5₂)
    x, w = MValue(xv), MValue(wv)
    L = (x * w).relu() + x * c
    L.backward()
    t = gt.from_micrograd(L)
    names = [t.graph.nodes[n]["name"] for n in t.node_of]

    def shown(v):
        s = number_text(v).replace("-", MINUS)
        return f"({s})" if v < 0 else s
    leaves = {s.data for s in t.steps if s.op is None}
    for v in leaves:
        assert number_text(v).replace("-", MINUS) in names      # every leaf as its number
    assert f"{shown(xv)}·{shown(wv)}" in names, names
    assert f"{shown(xv)}·{shown(c)}" in names, names
    for step, nid in zip(t.steps, t.node_of):
        assert float(t.tape.grads[nid]) == pytest.approx(step.value.grad, rel=1e-9, abs=1e-12)


def test_text_precedence_of_names():
    assert text_precedence("z(L)") == text_precedence("tanh(a + b)") == 100
    assert text_precedence("n − 1") == text_precedence("a + b·c") == 50
    assert text_precedence("x·w") == text_precedence("a/b") == 60
    assert text_precedence("−2") == 50 and text_precedence("a²") == 100


def test_numpy_path_brackets_labelled_compound_names_and_sqrt():
    def g(x=3.0, b=1.0):
        n = gt.label(x - 1.0, "n − 1")
        return n ** 2 + np.sqrt(x + b)
    t = gt.trace(g).backward()
    formulas = {e["formula"] for _, _, e in t.graph.edges(data=True)}
    assert "2·(n − 1)" in formulas and "1/(2√(x + b))" in formulas, formulas
    assert t.grads["x"] == pytest.approx(2 * 2.0 + 0.25)


def _t_check_values(cls):
    x1, w1, b = cls(2.0, label="x1"), cls(-3.0, label="w1"), cls(6.8813735870195432, label="b")
    o = (x1 * w1 + b).tanh()
    o.backward()
    return o, (x1, w1, b)


class TanhBug(Value):
    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t) * out.grad          # the bug: 1 − t, not 1 − t²
        out._backward = _backward
        return out


def test_check_on_a_value_graph_compares_chain_rule_and_your_grad_with_differences():
    o, leaves = _t_check_values(Value)
    report = gt.from_micrograd(o).check()
    assert report.ok and report.gradients_ok, str(report)
    for c, v in zip(report.inputs, leaves):       # finite differences = the engine's .grad
        assert c.numeric == pytest.approx(v.grad, rel=1e-6) and c.analytic == pytest.approx(
            v.grad, rel=1e-12)
    assert "your engine's .grad: all 3 leaves match finite differences" in str(report)
    o, _ = _t_check_values(TanhBug)
    bad = gt.from_micrograd(o).check()
    assert bad.gradients_ok and not bad.ok
    text = str(bad)
    assert "YOURS DIFFER" in text and "MISMATCH on 3 of 3 leaves" in text, text
    assert "gradtrace grade" in text and "gradients match finite differences of your Value" \
        in text


STUDENT = textwrap.dedent('''
    from gradtrace.valuegraph.lecture import Value

    class MulBug(Value):
        def __mul__(self, other):
            other = other if isinstance(other, Value) else type(self)(other)
            out = type(self)(self.data * other.data, (self, other), "*")
            def _backward():
                self.grad = other.data * out.grad      # '=' where a fan-out needs '+='
                other.grad = self.data * out.grad
            out._backward = _backward
            return out

    def build_mul_bug():
        """Three leaves, a used twice."""
        a, b, c = MulBug(2.0, label="a"), MulBug(-3.0, label="b"), MulBug(10.0, label="c")
        L = a * b + a * c
        L.label = "L"
        L.backward()
        return L

    def tanh_neuron():
        x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
        o = (x1 * w1 + Value(6.8813735870195432, label="b")).tanh()
        o.backward()
        return o

    def cost(w=0.8):
        return (w - 1.0) ** 2
''')


@pytest.fixture
def student(tmp_path):
    f = tmp_path / "student.py"
    f.write_text(STUDENT)
    return f


def test_cli_check_on_a_value_graph(student):
    r = CliRunner().invoke(main, ["check", f"{student}:tanh_neuron"])
    assert r.exit_code == 0, r.output
    assert "your .grad" in r.output and "all 3 leaves match" in r.output
    bad = CliRunner().invoke(main, ["check", f"{student}:build_mul_bug"])
    assert bad.exit_code == 1, bad.output
    assert "_id" not in bad.output and "MISMATCH on 1 of 3 leaves, worst a" in bad.output


def test_cli_grade_of_a_float_says_what_it_got(student):
    r = CliRunner().invoke(main, ["grade", f"{student}:cost"])
    assert r.exit_code == 2
    assert r.output.strip() == (
        "Error: cost returned a float, not a Value (grade reads a micrograd-style Value "
        "graph: an object with data, grad, _prev, _op)")


def _grade_page(student, tmp_path):
    out = tmp_path / "grade.html"
    r = CliRunner().invoke(main, ["grade", f"{student}:build_mul_bug", "--html", str(out)])
    assert r.exit_code == 1, r.output
    steps = page_data(out)["steps"]
    at = next(i for i, s in enumerate(steps) if any("a complete" in x for x in s["lines"]))
    return out, steps, at


@needs_dot
def test_grade_page_states_the_finding_at_the_wrong_nodes_step(student, tmp_path):
    out, steps, at = _grade_page(student, tmp_path)
    html = out.read_text(encoding="utf-8")
    assert "<b>build_mul_bug</b>" in html and "replay" not in html
    assert ('<p id="gt-headline"><b>✗ gt.grade: 1 of 6 .grad values differ from the chain '
            "rule (marked ✗); the first, in backward order: a</b></p>") in html
    assert "your .grad where it differs from the chain rule" in html          # the legend
    said = steps[at]["say"]            # the step that completes a's gradient says why
    found = [x for x in said if x.startswith("✗ a feeds 2 paths")]
    assert found and "assignment instead of +=" in found[0], said
    assert any(x.startswith("a complete: 10 + (−3) = 7") or x.startswith("a complete: (−3) + 10")
               for x in steps[at]["lines"])
    assert sum("assignment instead of +=" in x for s in steps for x in s["say"] + s["lines"]) == 1


@needs_dot
def test_grade_page_panel_in_chromium(browser, student, tmp_path):
    out, steps, at = _grade_page(student, tmp_path)
    w = Watched(browser)
    try:
        w.page.goto(out.as_uri() + f"#step={at}")
        said = [" ".join(x.split()) for x in w.page.eval_on_selector_all(
            "#gt-lines li.gt-say", "els => els.map(e => e.textContent)")]
        found = [x for x in said if x.startswith("✗ a feeds 2 paths")]
        assert found and "assignment instead of +=" in found[0], said
        assert w.page.is_visible("#gt-headline") and w.page.text_content(
            "#gt-caption").strip() == "build_mul_bug"
        w.page.keyboard.press("ArrowRight")
        assert "assignment instead of +=" not in w.page.text_content("#gt-lines")
        assert not w.errors
    finally:
        w.close()
