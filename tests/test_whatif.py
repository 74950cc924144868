"""The what-if's Python half: which graphs replay, the line templates, the switches,
the parameters-versus-data rule, and the guards the tracer records."""

import re

import numpy as np
import pytest

import gradtrace as gt
from gradtrace import examples
from gradtrace.calculus.params import update_targets
from gradtrace.errors import GradtraceError, RenderError
from gradtrace.render import page as page_mod
from gradtrace.render import whatif

from .conftest import needs_dot

EXAMPLES = ["seed_chain", "last_layer", "layer_fanout", "square", "shared_input", "numpy_mlp",
            "softmax_xent", "attention_head", "rnn", "mlp_calls"]


def _data(text: str) -> dict | None:
    import json
    m = re.search(r'<script type="application/json" id="gt-whatif-data">(.*?)</script>', text,
                  re.S)
    return json.loads(m.group(1)) if m else None


@needs_dot
@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("style", ["default", "3b1b", "compact"])
@pytest.mark.parametrize("view", ["lesson", "ops"])
def test_every_example_replays_and_every_numbered_line_has_its_template(name, style, view):
    t = gt.trace(getattr(examples, name)).backward()
    text = page_mod.page(t, style=style, view=view)
    data = _data(text)
    assert data is not None and "off" not in data
    marked = set(re.findall(r'id="([vglc]\d+(?:_\d+_\d+)?)"', text))
    assert set(data["lines"]) == marked
    assert data["outputName"] in text and len(data["inputs"]) >= 1


@needs_dot
def test_an_op_without_a_javascript_form_says_which_op_blocks_it():
    t = gt.trace(lambda x=0.5: np.sinc(x) * 2.0).backward()
    text = page_mod.page(t)
    assert "What-if is off: the op sinc has no JavaScript form yet" in text
    assert _data(text) is None and 'id="gt-view"' in text        # the page still works


@needs_dot
def test_whatif_false_and_no_whatif_leave_it_out(tmp_path):
    t = gt.trace(examples.square).backward()
    assert "gt-whatif" not in t.render(tmp_path / "a.html", whatif=False).read_text("utf-8")
    assert "gt-whatif" in t.render(tmp_path / "b.html").read_text("utf-8")
    with pytest.raises(RenderError, match="only applies when writing .html"):
        t.render(tmp_path / "c.svg", whatif=False)
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    r = CliRunner().invoke(main, ["render", "square", "-o", str(tmp_path / "d.html"),
                                  "--no-whatif"])
    assert r.exit_code == 0, r.output
    assert "gt-whatif" not in (tmp_path / "d.html").read_text("utf-8")


@needs_dot
def test_big_graphs_and_the_notebook(monkeypatch):
    t = gt.trace(examples.seed_chain).backward()
    assert "gt-whatif-data" in gt.render.notebook.show(t).page
    monkeypatch.setattr(whatif, "MAX_NODES", 10)
    assert "What-if is off: the graph has 19 nodes (what-if replays up to 10)" in \
        page_mod.page(t)


def test_number_text_matches_the_painter():
    # the Python side of the check the browser test repeats in JavaScript
    t = gt.trace(examples.last_layer).backward()
    tape = t.tape
    assert whatif.fill(["= ", ["v", t.output, "t"]], tape, 3) == \
        f"= {gt.notation.num(t.value)}"


# ---------------------------------------------------------------- parameters, not data
def test_update_targets_follow_the_parameters_not_data_rule():
    def loss(w=0.5, b=0.1, x=2.0, y=1.0, target=0.3, scale=1.5):
        return (w * x + b - y) ** 2 * scale + target * 0.0

    t = gt.trace(loss)
    assert update_targets(t) == ["w", "b", "scale"]
    assert update_targets(t, data=["scale"]) == ["w", "b"]
    assert update_targets(t, params=["x"]) == ["x"]
    assert update_targets(gt.trace(loss, wrt=["w", "x"])) == ["w", "x"]
    with pytest.raises(GradtraceError, match="params= names .nope., which is not a floating input"):
        update_targets(t, params=["nope"])

    def net(params={"W": np.ones(2), "b": 0.0}, xs=(1.0, 2.0)):   # noqa: B006
        return params["W"] @ np.array(xs) + params["b"]

    assert update_targets(gt.trace(net)) == ["params.W", "params.b"]


@needs_dot
def test_descend_moves_exactly_what_the_update_step_moves():
    """One rule: the what-if's descend button and the page's update step move the same
    inputs, whether the parameters come from params=, data=, or gradtrace_data."""
    def cost(w=0.8, b=0.1, a_prev=0.6, y=1.0):
        return (gt.sigmoid(w * a_prev + b) - y) ** 2

    def descends(t, **kw):
        ids = _data(page_mod.page(t, **kw))["descend"]
        return sorted(n for n, v in t.inputs.items() if v in ids)

    t = gt.trace(cost)
    assert descends(t) == ["a_prev", "b", "w"]
    assert descends(t, params=["w", "b"]) == ["b", "w"]
    assert descends(t, data=["a_prev"]) == ["b", "w"]
    seed_chain = examples.EXAMPLES["seed_chain"]
    seed = gt.trace(seed_chain)
    declared = set(seed_chain.gradtrace_data)
    assert declared and descends(seed) == sorted(update_targets(seed))
    assert not declared & set(descends(seed))


# ---------------------------------------------------------------- guards
def test_comparisons_the_code_branched_on_are_recorded_with_their_line():
    def model(w=0.8, x=1.5):
        h = w * x
        if h > 0.5:                      # line A
            h = h * 2.0
        m = max(w, x)                    # line B
        return h + m

    t = gt.trace(model)
    first = model.__code__.co_firstlineno
    lines = [line - first for *_, (_, line) in t.tape.guards]
    assert lines[0] == 2 and 4 in lines[1:]
    op, a, b, const, result, _ = t.tape.guards[0]
    assert (op, b, const, result) == (">", None, 0.5, True)


def test_array_comparisons_and_truth_are_guards_too():
    def model(v=np.array([0.2, 0.9])):
        if (v > 0.5).any():
            return np.sum(v * 2.0)
        return np.sum(v)

    t = gt.trace(model)
    op, _, _, _, result, _ = t.tape.guards[0]
    assert op == ">" and result.tolist() == [False, True]

    def truthy(x=0.0):
        return x * 2.0 if x else x + 1.0

    assert gt.trace(truthy).tape.guards[0][:5] == ("!=", 0, None, 0.0, False)


def test_a_torch_trace_moves_its_modules_parameters_only():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 1).double()

    def loss(model, x=torch.ones(3, 2, dtype=torch.float64),
             scale=torch.tensor(2.0, dtype=torch.float64)):
        return (model(x) * scale).sum()

    t = gt.trace(loss, model)
    assert update_targets(t) == ["model.weight", "model.bias"]


def shared_fold(x=0.5, w=2.0):
    """An unnamed product feeding two named values: both folds hold it (shared)."""
    t = [x * w]                   # unnamed: a list item
    a = gt.label(gt.sigmoid(t[0] + x), "a")
    b = gt.label(t[0] * w, "b")
    return gt.label(a * b, "C")


def shared_tensor_fold(x=np.array([0.5, -1.0]), W=np.array([[1.0, 2.0], [0.5, -0.3]])):  # noqa: B008
    h = [x @ W]
    p = gt.label(np.tanh(h[0]), "p")
    q = gt.label(h[0] * h[0], "q")
    return gt.label(np.sum(p * q), "C")


@needs_dot
@pytest.mark.parametrize("fn", [shared_fold, shared_tensor_fold])
def test_folds_sharing_an_op_replay_their_share(fn):
    t = gt.trace(fn).backward()
    data = _data(page_mod.page(t))
    assert data is not None and "off" not in data, data
    assert any(f["shared"] for f in data["folds"].values())
    assert any(isinstance(p, list) and p[0] in "LC" for line in data["lines"].values()
               for p in line)


@needs_dot
def test_folded_edges_name_the_trace_edges_they_stand_for():
    t = gt.trace(examples.seed_chain).backward()
    data = _data(page_mod.page(t))
    z = t.resolve("z(L)")[0]
    steps = data["folds"][str(z)]["steps"]
    # z(L) = w(L)·a(L−1) + b(L): the sum's two arguments, then the product's two
    assert [s[3] for s in steps] == [1, 0, 0, 0]
    lines = [v for k, v in data["lines"].items() if re.fullmatch(rf"l\d+_{z}_\d+", k)]
    # ∂z(L)/∂w(L) = a(L−1) and ∂z(L)/∂a(L−1) = w(L) move; ∂z(L)/∂b(L) = 1 does not
    assert sorted(p[:3] for v in lines for p in v if isinstance(p, list)) == \
        sorted(["L", z, t.resolve(n)[0]] for n in ("w(L)", "a(L−1)"))


@needs_dot
def test_the_gallery_seed_chain_page_has_its_what_if(tmp_path):
    from gradtrace.cli.gallery import ENTRIES, render_entry
    entry = next(e for e in ENTRIES if e.stem == "seed_chain")
    assert entry.options.get("view", "lesson") == "lesson"
    _, t = render_entry(entry)
    data = _data(t.render(tmp_path / "seed_chain.html", **entry.options).read_text("utf-8"))
    assert data is not None and "off" not in data and data["folds"]


def test_a_torch_call_without_a_javascript_form_is_named():
    torch = pytest.importorskip("torch")

    def f(w=torch.tensor([0.5, 1.5], dtype=torch.float64)):
        return torch.special.sinc(w).sum()
    text = page_mod.page(gt.trace(f).backward())
    assert "What-if is off: the torch call " in text and "the op torch " not in text
