"""Diagrams read back: parse the SVG Graphviz wrote and the DOT gradtrace wrote."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.notation import num, value_text
from gradtrace.render.lesson import for_view
from gradtrace.render.output import svg_text

from .conftest import needs_dot
from .svgread import all_text, overlapping, read_fast_svg, read_svg

pytestmark = needs_dot


def test_seed_chain_edges_carry_local_derivatives_and_nodes_gradients(chain):
    t = gt.trace(chain).backward()
    nodes, edges = read_svg(svg_text(t))
    g = for_view(t, "lesson").graph            # the graph as drawn
    for u, v, _, e in g.edges(keys=True, data=True):
        if not g.nodes[u]["requires_grad"]:
            continue
        texts = [" ".join(x) for x in edges[(f"n{u}", f"n{v}")]]
        assert any(e["formula"] in s and num(e["local"]) in s for s in texts), (u, v, texts)
        assert any(f"← {num(e['contribution'])}" in s for s in texts)
    for n, a in g.nodes(data=True):
        text = " ".join(nodes[f"n{n}"])
        assert f"= {num(a['grad'])}" in text
    # the three factors of ∂C0/∂w(L) are on the three edges from w3 to the output
    w3 = " ".join(nodes[f"n{t.inputs['w3']}"])
    assert "∂C0/∂w3" in w3
    z = t.node_id("z")
    a = t.node_id("a")
    assert any("∂a/∂z = σ'(z)" in " ".join(x) for x in edges[(f"n{z}", f"n{a}")])


def test_layer_fan_out_shows_terms_and_total(layer):
    t = gt.trace(layer).backward()
    nodes, _ = read_svg(svg_text(t))
    for k in range(3):
        nid = t.inputs[f"a_prev[{k}]"]
        terms = [e["contribution"] for _, _, e in t.graph.out_edges(nid, data=True)]
        assert len(terms) == 2
        text = " ".join(nodes[f"n{nid}"])
        expected = " + ".join(f"({num(c)})" if num(c).startswith("−") else num(c)
                              for c in terms) + f" = {num(t.graph.nodes[nid]['grad'])}"
        assert expected in text


def test_x_times_x_two_edges_and_sum():
    t = gt.trace(lambda x: x * x, 6.0).backward()
    nodes, edges = read_svg(svg_text(t))
    assert len(edges[("n0", "n1")]) == 2
    assert "6 + 6 = 12" in " ".join(nodes["n0"])


def test_tensor_graph_shows_shapes():
    def mlp(W=np.ones((3, 2)) * 0.1, b=np.zeros(3), x=np.array([[1.0, 2.0], [3.0, 4.0]])):
        h = np.tanh(x @ W.T + b)
        return np.mean(h ** 2)
    t = gt.trace(mlp).backward()
    nodes, edges = read_svg(svg_text(t))
    W = " ".join(nodes[f"n{t.inputs['W']}"])
    assert "3×2" in W
    h = " ".join(nodes[f"n{t.node_id('h')}"])
    assert "2×3" in h and "∂mlp/∂h" in h
    assert any("VJP" in " ".join(x) for xs in edges.values() for x in xs)


def test_dot_is_deterministic_across_processes(layer):
    code = ("import sys; sys.path.insert(0, {root!r}); import gradtrace as gt; "
            "from tests.conftest import layer_model; "
            "sys.stdout.write(gt.trace(layer_model).backward().to_dot())")
    root = str(Path(__file__).resolve().parent.parent)
    outs = set()
    for seed in ("1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code.format(root=root)], env=env,
                                capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1
    t = gt.trace(layer).backward()
    assert t.to_dot() == outs.pop()


NASTY = ['"quoted"', "<b>bold</b>", "a & b", "{x | y}", "back\\slash", "two\nlines",
         "];x=1[", "ünï©ødé ∂σ", "tab\there", "ctrl\x01char", "\\n\\l\\N", "&amp;"]


def _named_trace(name):
    def f(x=0.5):
        with gt.scope(name):
            y = gt.label(x * 2.0, name)
        return gt.label(y * y, name + "!")
    return gt.trace(f).backward()


def _visible_lines(name):
    from gradtrace.render.labels import clean
    return [" ".join(line.split()) for line in clean(name).split("\n") if line.strip()]


@pytest.mark.parametrize("name", NASTY)
def test_nasty_names_are_escaped(name):
    svg = svg_text(_named_trace(name))
    text = all_text(svg)          # parses as XML or raises
    for line in _visible_lines(name):
        assert line in text


def test_names_property_arbitrary_unicode():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=25, deadline=None)
    @given(st.text(min_size=1, max_size=20))
    def check(name):
        svg = svg_text(_named_trace(name))
        text = all_text(svg)
        for line in _visible_lines(name):
            assert line in text
    check()


def test_render_formats_and_atomic_writes(chain, tmp_path):
    t = gt.trace(chain).backward()
    for suffix in (".svg", ".png", ".pdf", ".dot", ".json"):
        p = t.render(tmp_path / f"c{suffix}")
        assert p.exists() and p.stat().st_size > 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "c.dot").read_text() == t.to_dot()
    assert gt.load_json(tmp_path / "c.json").grads == t.grads
    with pytest.raises(gt.RenderError, match="suffix"):
        t.render(tmp_path / "c.bmp")
    with pytest.raises(gt.RenderError, match="does not exist"):
        t.render(tmp_path / "nope" / "c.svg")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_dot_draws_svg_and_html_itself_and_says_so(chain, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    t = gt.trace(chain).backward()
    for suffix in (".svg", ".html"):
        with pytest.warns(gt.GradtraceWarning, match="Graphviz is not installed.*apt-get") \
                as said:
            t.render(tmp_path / f"c{suffix}")
        assert said[0].filename == __file__          # the note names the user's call
    nodes, _ = read_fast_svg((tmp_path / "c.svg").read_text())
    assert {"z1", "a", "w3"} <= {texts[0].split()[0] for _, texts in nodes.values()}
    assert 'id="gt-data"' in (tmp_path / "c.html").read_text()
    assert (tmp_path / "c.dot").exists() is False
    t.render(tmp_path / "c.dot")                    # DOT needs no Graphviz
    assert (tmp_path / "c.dot").read_text() == t.to_dot()
    for suffix in (".png", ".pdf"):
        with pytest.raises(gt.RenderError, match=f"writing {suffix[1:].upper()} needs "
                           "Graphviz.*apt-get install graphviz.*or write .svg"):
            t.render(tmp_path / f"c{suffix}")
        assert not (tmp_path / f"c{suffix}").exists()
    if __import__("importlib").util.find_spec("PIL") is not None:
        with pytest.raises(gt.RenderError, match="writing GIF needs Graphviz.*write .html"):
            t.render(tmp_path / "c.gif")
        assert not (tmp_path / "c.gif").exists()
    with pytest.raises(gt.RenderError, match="layout='dot' needs Graphviz"):
        t.render(tmp_path / "d.svg", layout="dot")
    with pytest.warns(gt.GradtraceWarning, match="not installed"):
        assert "text/html" in t._repr_mimebundle_()


def test_timeout_stops_with_advice(tmp_path):
    def big(x=np.linspace(-1, 1, 30)):
        acc = 0.0
        for i in range(30):
            acc = acc + np.sum(np.sin(x * (i + 1.0)) * x[i])
        return acc
    t = gt.trace(big).backward()
    with pytest.raises(gt.RenderError, match="time limit.*collapse"):
        t.render(tmp_path / "b.svg", timeout=0.001, layout="dot")
    assert not (tmp_path / "b.svg").exists()


def test_styles_and_options(chain):
    t = gt.trace(chain).backward()
    dots = {s: t.to_dot(style=s) for s in ("default", "3b1b", "compact", "heat")}
    assert len(set(dots.values())) == 4
    assert "bgcolor=\"#0e0e0e\"" in dots["3b1b"]
    assert "∂a/∂z" not in dots["compact"]
    assert "penwidth" in dots["heat"]
    nodes, _ = read_svg(svg_text(t, values=False, grads=False, locals=False))
    assert all("∂" not in " ".join(x) for x in nodes.values())
    assert "rankdir=TB" in t.to_dot(rankdir="TB")
    assert num(0.123456, 5) == "0.12346"
    with pytest.raises(gt.RenderError, match="unknown style"):
        t.to_dot(style="neon")
    with pytest.raises(gt.RenderError, match="unknown rendering option"):
        t.to_dot(colour="red")


def test_heat_marks_nan_red():
    def f(x=np.array([0.0, 1.0])):
        return np.sum(np.sqrt(x))
    with np.errstate(all="ignore"):
        t = gt.trace(f).backward()
    assert "#e41a1c" in t.to_dot(style="heat")


def test_scopes_become_clusters_and_collapse():
    def block(W, x):
        h = np.tanh(W @ x)
        return h

    def net(W1=np.eye(2) * 0.5, W2=np.eye(2) * 0.3, x=np.ones(2)):
        with gt.scope("encoder"):
            h1 = block(W1, x)
        with gt.scope("decoder"):
            h2 = block(W2, h1)
        return np.sum(h2)
    t = gt.trace(net).backward()
    dot = t.to_dot()
    assert dot.count("subgraph cluster_") == 4
    svg = svg_text(t)
    assert "encoder" in all_text(svg) and "decoder" in all_text(svg)
    collapsed = svg_text(t, collapse=True)
    nodes, edges = read_svg(collapsed)
    groups = [" ".join(x) for k, x in nodes.items() if k.startswith("g")]
    assert len(groups) == 2 and all(re.search(r"\d+ ops?\b", g) and "out:" in g and
                                    "∂net/∂" in g for g in groups)
    nodes, _ = read_svg(svg_text(t, collapse=["decoder"]))
    assert sum(1 for k in nodes if k.startswith("g")) == 1


def test_highlight_paths(chain):
    t = gt.trace(chain).backward()
    dot = t.to_dot(highlight="w2", view="ops")
    lines = [ln for ln in dot.splitlines() if "->" in ln and "penwidth=2.50" in ln]
    # w2 -> mul -> z2 -> a2 -> mul -> z -> a -> (a − y) -> C0: 8 edges
    assert len(lines) == 8
    assert "#d0d0d0" in dot  # the rest is faded


def test_fast_layout_for_big_graphs():
    def f(x=np.linspace(0.1, 1, 4)):
        acc = 0.0
        for i in range(300):
            acc = acc + np.sum(x * float(i))
        return acc
    t = gt.trace(f).backward()
    assert t.graph.number_of_nodes() > 800
    dot = t.to_dot(view="ops", share="edges")      # (x's 300 uses drawn as edges, no chips)
    assert "splines=false" in dot
    shown = sum(1 for u, v in t.graph.edges() if t.graph.nodes[u]["requires_grad"])
    pinned = re.findall(r'pos="-?[\d.]+,-?[\d.]+!"', dot)
    assert len(pinned) == t.graph.number_of_nodes() + shown   # a box per label
    routed = re.findall(r'-> \w+ \[[^]]*pos="', dot)            # every edge keeps its route
    assert len(routed) == dot.count(" -> ") == t.graph.number_of_edges() + shown
    nodes, labels = read_fast_svg(svg_text(t, view="ops", share="edges"))
    assert len(nodes) == t.graph.number_of_nodes()
    assert len(labels) == shown and all(len(lines) == 2 for _, lines in labels)
    assert all(lines[1].startswith("←") for _, lines in labels)
    assert not overlapping([b for b, _ in nodes.values()] + [b for b, _ in labels])
    out_box = nodes[f"n{t.output}"][0]
    far = max(b[2] for b, _ in nodes.values()), max(b[3] for b, _ in nodes.values())
    assert out_box[2] == far[0] or out_box[3] == far[1]      # the output ends the flow


def test_jupyter_repr(chain):
    t = gt.trace(chain).backward()
    bundle = t._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert t._repr_svg_() == bundle["image/svg+xml"]


def test_value_text_summaries():
    assert value_text(np.array([1.0, -2.0])) == "[1, −2]"
    assert value_text(np.arange(16.0)).count(",") == 15      # up to 16 values: all of them
    assert "…" in value_text(np.arange(17.0))
    assert "NaN" in value_text(np.array([np.nan] * 8))
