"""The lesson view (the default diagram): one box per named value, folded edges carrying
the composite local derivative and the contribution, the same gradients and fan-out sums
as the every-op view, and the lesson's product (the why line)."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace import examples as ex
from gradtrace.cli import gallery
from gradtrace.cli.targets import trace_target
from gradtrace.core.graph import nodes_of, succs_of
from gradtrace.errors import RenderError
from gradtrace.render.lesson import for_view
from gradtrace.render.output import svg_text

from .conftest import needs_dot
from .svgread import read_svg

LESSON_BOXES = {"w(L−2)", "b(L−2)", "a(L−3)", "z(L−2)", "a(L−2)", "w(L−1)", "b(L−1)",
                "z(L−1)", "a(L−1)", "w(L)", "b(L)", "z(L)", "a(L)", "y", "C0"}


def drawn_names(t, **options) -> list[str]:
    nodes, _ = read_svg(svg_text(t, **options))
    return sorted(lines[0] for lines in nodes.values())


@needs_dot
def test_seed_chain_default_diagram_is_the_lessons_fifteen_boxes_and_labels():
    t = gt.trace(ex.seed_chain).backward()
    nodes, edges = read_svg(svg_text(t))
    assert {lines[0].split()[0] for lines in nodes.values()} == LESSON_BOXES
    assert len(nodes) == 15
    labels = [" ".join(lines) for texts in edges.values() for lines in texts]
    for want in ("∂z(L)/∂w(L) = a(L−1) = 0.422", "← −0.0857",
                 "∂C0/∂a(L) = 2(a(L) − y) = −0.835", "∂C0/∂y = −2(a(L) − y) = 0.835",
                 "∂z(L)/∂b(L) = 1", "∂z(L)/∂a(L−1) = w(L) = 1.5", "∂a(L)/∂z(L) = σ'(z(L)) = 0.243"):
        assert any(want in s for s in labels), (want, labels)
    # w(L), a(L−1) and b(L) flow straight into z(L); no product box anywhere
    z = t.node_id("z(L)")
    into_z = {u for u, v in edges if v == f"n{z}"}
    assert into_z == {f"n{t.node_id(n)}" for n in ("w(L)", "a(L−1)", "b(L)")}


@needs_dot
def test_ops_view_keeps_every_operation():
    t = gt.trace(ex.seed_chain).backward()
    nodes, _ = read_svg(svg_text(t, view="ops"))
    assert len(nodes) == t.graph.number_of_nodes() == 19
    assert any(lines[0] == "w(L)·a(L−1)" for lines in nodes.values())


def test_unknown_view_is_a_clear_error():
    t = gt.trace(ex.seed_chain).backward()
    with pytest.raises(RenderError, match="unknown view 'lessons'.*lesson.*ops"):
        t.to_dot(view="lessons")


def _models():
    seen = set()
    for entry in gallery.ENTRIES:
        if entry.target not in seen:
            seen.add(entry.target)
            yield entry.target
    yield from ("square", "shared_input", "last_layer")


def assert_same_gradients(t):
    """Every drawn node's gradient is the trace's; every named node's folded out-edges
    carry contributions summing to its gradient, as its out-edges in the trace do."""
    folded = for_view(t, "lesson").graph
    ops = nodes_of(t.graph)
    for v, a in nodes_of(folded).items():
        if "grad" not in a:
            continue
        assert a["grad"] is ops[v]["grad"]
        terms = [e["contribution"] for _, keyed in succs_of(folded)[v].items()
                 for e in keyed.values() if e.get("contribution") is not None]
        if terms:
            np.testing.assert_allclose(sum(terms[1:], terms[0]), a["grad"], rtol=1e-12,
                                       atol=1e-14)


@pytest.mark.parametrize("target", list(_models()))
def test_gradients_contributions_and_fan_out_sums_equal_the_every_op_view(target):
    if target.startswith("torch"):
        pytest.importorskip("torch")
    t, _ = trace_target(target)
    t.backward()
    assert_same_gradients(t)


def test_fan_out_sums_on_the_test_models(chain, layer):
    for fn in (chain, layer):
        assert_same_gradients(gt.trace(fn).backward())


def both(q):
    return gt.label(q + 1.0, "u"), gt.label(q * 2.0, "v")


def shared_scalar(x=2.0, y=3.0):
    u, v = both(x * y)           # x·y has no name and feeds two named values
    return u * v


def shared_array(x=np.array([0.5, -1.0, 2.0]), W=np.full((3, 2), 0.3)):
    u, v = both(np.tanh(x @ W))
    return np.sum(u * v)


@pytest.mark.parametrize("fn", [shared_scalar, shared_array])
def test_a_fold_feeding_two_named_values_is_two_edges_split_by_the_chain_rule(fn):
    t = gt.trace(fn).backward()
    g = for_view(t, "lesson").graph
    x = t.inputs["x"]
    assert sorted(nodes_of(g)[v]["name"] for v in succs_of(g)[x]) == ["u", "v"]
    assert_same_gradients(t)


def test_composite_derivative_is_the_product_along_the_fold_and_the_sum_over_paths():
    def f(x=0.7, y=-1.3):
        s = (x * y + x) * 3.0 - y      # x reaches s by two paths inside the fold
        return s * s
    t = gt.trace(f).backward()
    g = for_view(t, "lesson").graph
    s = t.node_id("s")
    x, y = t.inputs["x"], t.inputs["y"]
    ex_, ey = g.edges[x, s, 0], g.edges[y, s, 1]
    assert ex_["local"] == pytest.approx(3.0 * (-1.3 + 1.0))
    assert ey["local"] == pytest.approx(3.0 * 0.7 - 1.0)
    assert (ex_["formula"], ey["formula"]) == ("3 + 3·y", "−1 + 3·x")
    assert ex_["contribution"] == pytest.approx(t.grads["x"])


def test_nothing_named_between_inputs_and_output_draws_every_operation():
    t = gt.trace(ex.shared_input).backward()
    assert for_view(t, "lesson") is t
    assert t.to_dot() == t.to_dot(view="ops")


def test_why_line_for_w_l():
    t = gt.trace(ex.seed_chain).backward()
    e = t.explain("w(L)")
    want = ("∂C0/∂w(L) = a(L−1) · σ'(z(L)) · 2(a(L) − y) = 0.422 · 0.243 · (−0.835) = "
            "−0.0857")
    assert e.why == want
    assert e.text.splitlines()[-1] == f"the lesson's chain: {want}"
    assert e.to_data()["why"] == want


def test_why_line_of_a_fan_out_sums_over_paths():
    t = gt.trace(ex.layer_fanout).backward()
    why = t.explain("a(L−1)0").why
    assert why.startswith("∂C0/∂a(L−1)0 = Σj w(L)00 · σ'(z(L)0) · 2(a(L)0 − y[0]) + "
                          "w(L)10 · σ'(z(L)1) · 2(a(L)1 − y[1]) = ")
    terms = why.split(" = ")[-2].split(" + ")
    assert len(terms) == 2 and why.endswith(f"= {gt.notation.num(t.grads['a_prev'][0])}") \
        if "a_prev" in t.grads else len(terms) == 2


@needs_dot
def test_svg_tooltip_carries_the_why_line():
    t = gt.trace(ex.seed_chain).backward()
    svg = svg_text(t)
    assert "∂C0/∂w(L) = a(L−1) · σ&#39;(z(L)) · 2(a(L) − y)" in svg or \
        "∂C0/∂w(L) = a(L−1) · σ'(z(L)) · 2(a(L) − y)" in svg


BRACKETED_ATOM = re.compile(r"∂\((?:[A-Za-z]\w*\([^()]*\)\w*|[A-Za-z]\w*)\)")


@needs_dot
@pytest.mark.parametrize("view", ["lesson", "ops"])
def test_no_bracketed_atoms(view):
    t = gt.trace(ex.seed_chain).backward()
    text = svg_text(t, view=view) + t.explain("a(L−1)").text + t.explain("w(L)").text
    assert "∂C0/∂a(L−1)" in text
    assert not BRACKETED_ATOM.search(text), BRACKETED_ATOM.search(text)


@needs_dot
def test_a_layer_written_with_sum_shows_w_on_the_a_to_z_edges(layer):
    t = gt.trace(ex.layer_fanout).backward()
    nodes, edges = read_svg(svg_text(t))
    for j in range(2):
        z = t.node_id(f"z(L){j}")
        for k in range(3):
            a = t.node_id(f"a(L−1){k}")
            texts = [" ".join(x) for x in edges[(f"n{a}", f"n{z}")]]
            assert any(f"∂z(L){j}/∂a(L−1){k} = w(L){j}{k} = " in s for s in texts), texts
    for k in range(3):
        box = " ".join(nodes[f"n{t.node_id(f'a(L−1){k}')}"])
        assert re.search(rf"∂C0/∂a\(L−1\){k} = \S+ \+ \S+ = ", box), box
    # the same with sum() over a generator (the test model): a_prev[k] -> zj edges read W
    t = gt.trace(layer).backward()
    g = for_view(t, "lesson").graph
    zs = [v for v, a in nodes_of(g).items() if (a["name"] or "").startswith("zj")]
    assert len(zs) == 2
    for z in zs:
        formulas = {g.nodes[u]["name"]: e["formula"] for u, _, e in g.in_edges(z, data=True)}
        assert formulas["a_prev[0]"].startswith("W[")


@needs_dot
def test_step_through_page_walks_the_lesson_views_boxes():
    from gradtrace.render.page import steps_data
    t = gt.trace(ex.seed_chain).backward()
    steps = steps_data(t)["steps"]
    forward = [s for s in steps if s["kind"] == "forward"]
    assert len(forward) == 7
    assert forward[-3]["lines"][0] == "z(L) = w(L)·a(L−1) + b(L) = 0.334"
    lines = [ln for s in steps for ln in s["lines"]]
    assert any(ln.startswith("the lesson's chain: ∂C0/∂w(L) = a(L−1) · σ'(z(L))")
               for ln in lines)


@needs_dot
def test_readme_seed_chain_text_is_legible_at_the_width_github_shows_it():
    """The README shows gallery/seed_chain.svg at about 830 px: its smallest text (10 pt
    edge labels) must come out at 11 px or more there."""
    entry = next(e for e in gallery.ENTRIES if e.stem == "seed_chain")
    t, _ = trace_target(entry.target)
    svg = svg_text(t, **entry.options)
    width_px = float(re.search(r'width="([\d.]+)pt"', svg).group(1)) * 4 / 3
    smallest = min(float(x) for x in re.findall(r'font-size="([\d.]+)"', svg)) * 4 / 3
    assert smallest * min(1.0, 830 / width_px) >= 11


@needs_dot
def test_readme_gif_is_legible_at_the_width_github_shows_it(tmp_path):
    image = pytest.importorskip("PIL.Image", reason="GIF output needs Pillow (gif extra)")
    from gradtrace.render.gif import DPI
    t = gt.trace(ex.seed_chain).backward()
    path = t.render(tmp_path / "chain.gif", style="3b1b")
    with image.open(path) as im:
        width = im.size[0]
    assert 10 * DPI / 72 * min(1.0, 830 / width) >= 11     # 10 pt labels, in pixels


OPS = ["add", "mul", "sub", "sigmoid", "tanh", "square", "reuse"]


@settings(max_examples=60, deadline=None)
@given(program=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 100), st.integers(0, 100),
                                  st.booleans()), min_size=1, max_size=12),
       x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_random_programs_fold_to_the_same_chain_rule(program, x, y):
    """Random programs with some values named: every drawn gradient is the trace's, the
    folded contributions sum to it, and the composite sensitivities are the chain rule
    on the folded graph itself: ∂C/∂u = Σ over u's folded edges of ∂C/∂v · ∂v/∂u."""
    def f(x, y):
        vals = [x, y]
        for i, (op, a, b, named) in enumerate(program):
            a, b = vals[a % len(vals)], vals[b % len(vals)]
            out = {"add": lambda: a + b, "mul": lambda: a * b, "sub": lambda: a - b,
                   "sigmoid": lambda: gt.sigmoid(a), "tanh": lambda: np.tanh(a),
                   "square": lambda: a * a, "reuse": lambda: a * 0.5 + a}[op]()
            vals.append(gt.label(out, f"n{i}") if named else out)
        return vals[-1] + vals[-2] * 0.5
    t = gt.trace(f, x, y).backward()
    assert_same_gradients(t)
    g = for_view(t, "lesson").graph
    for u, a in nodes_of(g).items():
        edges = [(v, e) for v, keyed in succs_of(g)[u].items() for e in keyed.values()]
        if "grad" in a and edges:
            total = sum(nodes_of(g)[v]["grad"] * e["local"] for v, e in edges)
            assert total == pytest.approx(a["grad"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("view", ["lesson", "ops"])
def test_highlight_never_dims_a_factor_of_the_highlighted_formula(view):
    t = gt.trace(ex.seed_chain).backward()
    dot = t.to_dot(highlight="w(L)", view=view)
    faded = "#d0d0d0"
    for name in ("a(L−1)", "y", "w(L)", "z(L)", "C0"):     # a(L−1), y: factors off the path
        line = next(ln for ln in dot.splitlines() if ln.startswith(f"  n{t.node_id(name)} ["))
        assert f'color="{faded}"' not in line, name
    line = next(ln for ln in dot.splitlines() if ln.startswith(f"  n{t.node_id('b(L−2)')} ["))
    assert f'color="{faded}"' in line                         # off the path, no factor


def test_why_line_says_sigma_j_only_for_the_lessons_sum_over_neurons():
    """``Σj`` is the lesson's sum over the neurons a value feeds; two unrelated paths are
    just a sum, and an array's gradient is a chain of VJPs named by the values it passes,
    not a product of matrices written as factors."""
    def fan(a=0.5, b=2.0, d=1.0):
        c = a * b
        e = c + a
        return e + d

    assert gt.trace(fan).backward().explain("a").why == "∂fan/∂a = b + 1 = 2 + 1 = 3"

    def rnn(Wh=np.eye(2) * 0.5, x=np.ones((3, 2))):
        h = np.zeros(2)
        for t_ in range(3):
            h = np.tanh(x[t_] + h @ Wh)
        return h.sum()

    why = gt.trace(rnn).backward().explain("Wh").why
    assert why.startswith("∂rnn/∂Wh = Σ over ") and "the VJPs back along each, e.g. rnn → " \
        in why and "ᵀ" not in why and "ḡ" not in why
