"""Names a reader can find in the code: reassigned variables get versions (h₁, h₂ ...),
every node knows its file and line, each call is its own scope instance, and lookups
never pick a node silently."""

import re

import networkx as nx
import numpy as np
import pytest

import gradtrace as gt
from gradtrace.cli import gallery
from gradtrace.cli.targets import trace_target
from gradtrace.core.formulas import node_texts
from gradtrace.render.view import build_view


def rnn(x=np.linspace(-1, 1, 15).reshape(5, 3), Wx=np.full((3, 4), 0.1), Wh=np.eye(4) * 0.5):
    h = np.zeros(4)
    for t in range(5):
        h = np.tanh(x[t] @ Wx + h @ Wh)
    return np.sum(h * h)


def dense(x, W, b):
    z = x @ W + b
    return z


def gelu(z):
    return 0.5 * z * (1.0 + np.tanh(0.8 * z))


def mlp4(x=np.linspace(-1, 1, 3), Ws=tuple(np.full((3, 3), 0.1 * (i + 1)) for i in range(4)),
         bs=tuple(np.zeros(3) for _ in range(4))):
    h = x
    for W, b in zip(Ws, bs):
        h = gelu(dense(h, W, b))
    return np.sum(h)


def test_reassigned_variables_get_versions_and_lines():
    t = gt.trace(rnn).backward()
    hs = [(a["name"], a["line"]) for _, a in t.graph.nodes(data=True)
          if a.get("var") == "h" and a["kind"] == "op"]
    assert [n for n, _ in hs] == ["h₁", "h₂", "h₃", "h₄", "h₅"]
    # the h the loop starts from, np.zeros(4), is a constant the code names h: h₀
    texts = {v: text for v, (text, _) in node_texts(t.graph).items()}
    h0 = [v for v, text in texts.items() if text == "h₀"]
    assert len(h0) == 1 and t.graph.nodes[h0[0]]["kind"] == "const"
    assert not t.graph.nodes[h0[0]]["value"].any()
    assert all(isinstance(line, int) and line > 0 for _, line in hs)
    assert all(a["file"].endswith("test_names.py") for _, a in t.graph.nodes(data=True)
               if a["kind"] == "op")


def test_plain_name_of_a_reassigned_variable_is_its_last_binding_and_says_so():
    t = gt.trace(rnn).backward()
    last = max(n for n, a in t.graph.nodes(data=True) if a.get("var") == "h")
    with pytest.warns(gt.GradtraceWarning, match="using its last binding h₅"):
        g = t.grad("h")
    np.testing.assert_array_equal(g, t.graph.nodes[last]["grad"])
    assert "last binding h₅" in t.explain("h").text
    np.testing.assert_array_equal(t.grad("h_2"), t.grad("h₂"))


def test_a_name_bound_in_different_calls_is_ambiguous_with_candidates():
    t = gt.trace(mlp4).backward()
    with pytest.raises(gt.TraceError, match=r"'z' names 4 nodes.*z₁ \(dense#1, line \d+\)"):
        t.grad("z")
    assert np.shape(t.grad("z₃")) == (3,)


def test_each_call_is_its_own_scope_and_collapses_to_its_own_box():
    t = gt.trace(mlp4).backward()
    scopes = {a["scope"] for _, a in t.graph.nodes(data=True) if a["scope"]}
    assert {s[0] for s in scopes} >= {f"dense#{i}" for i in range(1, 5)} | \
        {f"gelu#{i}" for i in range(1, 5)}
    view = build_view(t.graph, ["dense", "gelu"])
    assert len(view.groups) == 8
    g = nx.DiGraph([(u, v) for u, v, _, _ in view.edges])
    assert nx.is_directed_acyclic_graph(g)
    chain = [v for v in nx.topological_sort(g) if isinstance(v, str)]
    labels = ["/".join(view.groups[v][0]) for v in chain]
    assert labels == [f"{f}#{i}" for i in range(1, 5) for f in ("dense", "gelu")]
    assert len(build_view(t.graph, None, depth=0).groups) == 8


def test_collapse_of_an_unknown_scope_lists_the_scopes():
    t = gt.trace(mlp4).backward()
    with pytest.raises(gt.RenderError, match="no scope named 'dnse'.*dense, gelu"):
        t.to_dot(collapse=["dnse"])


@pytest.mark.parametrize("fn", [rnn, mlp4])
def test_no_two_nodes_share_a_display_name(fn):
    t = gt.trace(fn).backward()
    names = [a["name"] for _, a in t.graph.nodes(data=True) if a["name"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("entry", gallery.ENTRIES, ids=lambda e: e.stem)
def test_gallery_models_have_distinct_display_names(entry):
    t, _ = trace_target(entry.target)
    names = [a["name"] for _, a in t.graph.nodes(data=True) if a["name"]]
    assert len(names) == len(set(names))


def test_names_and_lines_survive_json():
    t = gt.trace(rnn).backward()
    u = gt.load_json(t.to_json())
    for n, a in t.graph.nodes(data=True):
        b = u.graph.nodes[n]
        assert (a["name"], a.get("var"), a.get("line")) == (b["name"], b.get("var"), b.get("line"))


class Cell:
    def __init__(self):
        self.h = None

    def step(self, x, W):
        self.h = np.tanh(x @ W)
        return self.h


def attention(x=np.linspace(-1, 1, 6).reshape(2, 3), Wq=np.eye(3), Wk=np.eye(3) * 0.5,
              Wv=np.eye(3) * 0.2):
    Q, K, V = x @ Wq, x @ Wk, x @ Wv
    scores, scale = Q @ K.T, 1.0 / np.sqrt(3.0)
    return np.sum(gt.softmax(scores * scale) @ V)


def keeps_activations(x=np.linspace(-1, 1, 3), W=np.eye(3) * 0.5):
    cache, hs = {}, []
    h = x
    for t in range(3):
        hs.append(np.tanh(h @ W))
        h = hs[t]
    cache["z1"] = h * 2.0
    cell = Cell()
    out = cell.step(h, W)
    return np.sum(cache["z1"] + out)


def dense_helper(x, W):
    return x @ W + 1.0


def uses_helper(x=np.ones(2), W=np.eye(2)):
    return np.sum(np.tanh(dense_helper(x, W)))


def names_of(fn):
    return [a["name"] for _, a in gt.trace(fn).backward().graph.nodes(data=True)
            if a["kind"] == "op"]


def test_every_unpacking_target_names_its_value():
    names = names_of(attention)
    assert {"Q", "K", "V", "scores"} <= set(names)


def test_container_slots_appends_and_attributes_name_values():
    names = names_of(keeps_activations)
    assert {"hs[0]", "hs[1]", "hs[2]", "cache['z1']", "self.h"} <= set(names)


def test_a_helper_result_stored_nowhere_is_named_after_the_helper():
    assert "dense_helper" in names_of(uses_helper)


@pytest.mark.parametrize("fn", [attention, keeps_activations, uses_helper])
def test_display_names_stay_distinct(fn):
    names = [a["name"] for _, a in gt.trace(fn).backward().graph.nodes(data=True) if a["name"]]
    assert len(names) == len(set(names))


def test_cli_says_which_binding_a_plain_name_used(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    r = CliRunner().invoke(main, ["explain", "rnn", "h", "--latex"])
    assert r.exit_code == 0 and "last binding h₄" in r.output and "h_{4}" in r.output
    r = CliRunner().invoke(main, ["render", "rnn", "--highlight", "h", "-o",
                                  str(tmp_path / "r.dot")])
    assert r.exit_code == 0 and "last binding h₄" in r.output


def test_collapsed_boxes_show_inputs_and_outputs_with_gradients():
    from gradtrace.examples import mlp_calls
    t = gt.trace(mlp_calls).backward()
    dot = t.to_dot(collapse=["dense", "gelu"])
    assert dot.count("shape=box3d") == 8
    assert "in: x, W0, b" in dot and "out: dense" in dot and "∂mlp_calls/∂" in dot


def test_source_lines_reach_tooltips_info_and_explanations():
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    t = gt.trace(rnn).backward()
    dot = t.to_dot(layout="dot")
    assert "tooltip=\"h₂ — test_names.py:" in dot
    steps = t.explain("h₂").to_data()["steps"]
    assert any(isinstance(s.get("line"), int) for s in steps)
    r = CliRunner().invoke(main, ["info", "rnn"])
    assert re.search(r"h ×5 \(h₀ … h₄, line \d+\)", r.output), r.output


def test_unpacking_one_call_names_each_part():
    def heads(x=np.linspace(-1, 1, 12).reshape(2, 6), W=np.eye(6)):
        Q, K, V = np.split(x @ W, 3, axis=-1)
        return np.sum(Q * K + V)
    assert {"Q", "K", "V"} <= set(names_of(heads))
