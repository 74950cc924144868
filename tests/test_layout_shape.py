"""Diagrams a screen can show: the default orientation keeps width:height between 1:3
and 3:1, and the fast layout labels every edge without overlapping boxes (read back
from the rendered SVG)."""

import re

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.cli import gallery
from gradtrace.cli.targets import trace_target
from gradtrace.render.output import svg_text

from .conftest import needs_dot
from .svgread import overlapping, read_fast_svg


def aspect(svg: str) -> float:
    w = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
    h = float(re.search(r'height="([\d.]+)pt"', svg).group(1))
    return w / h


def numpy_mlp(x=np.array([0.5, -1.0, 2.0]), W1=np.full((3, 4), 0.1), b1=np.zeros(4),
              W2=np.full((4, 2), -0.2), b2=np.zeros(2), y=np.array([1.0, 0.0])):
    h = np.tanh(x @ W1 + b1)
    o = h @ W2 + b2
    d = o - y
    return np.mean(d * d)


def rnn(steps):
    def f(x=np.linspace(-1, 1, steps * 3).reshape(steps, 3), Wx=np.full((3, 4), 0.1),
          Wh=np.eye(4) * 0.5, h0=np.zeros(4)):
        h = h0
        for t in range(steps):
            h = np.tanh(x[t] @ Wx + h @ Wh)
        return np.sum(h * h)
    return f


CASES = {"numpy_mlp": numpy_mlp, "rnn5": rnn(5), "rnn_long": rnn(9)}


@needs_dot
@pytest.mark.parametrize("name", sorted(CASES))
def test_default_orientation_of_ordinary_models(name):
    t = gt.trace(CASES[name]).backward()
    if name == "rnn_long":
        assert t.graph.number_of_nodes() >= 47
    assert 1 / 3 <= aspect(svg_text(t)) <= 3


@needs_dot
@pytest.mark.parametrize("entry", gallery.ENTRIES, ids=lambda e: e.stem)
def test_default_orientation_of_gallery_models(entry):
    t, _ = trace_target(entry.target)
    assert 1 / 3 <= aspect(svg_text(t, **entry.options)) <= 3


def test_explicit_rankdir_wins():
    t = gt.trace(rnn(5)).backward()
    assert "rankdir=LR" in t.to_dot(rankdir="LR")
    assert "rankdir=TB" in t.to_dot(rankdir="TB")


def scalar_mlp(n_samples):
    rng = np.random.default_rng(0)
    layers = [[{"w": list(rng.normal(size=fan_in)), "b": 0.0} for _ in range(fan_out)]
              for fan_in, fan_out in [(2, 8), (8, 8), (8, 1)]]
    xs = [list(rng.uniform(-2, 2, 2)) for _ in range(n_samples)]

    def loss(layers=layers):
        total = 0.0
        for x in xs:
            act = x
            for li, layer in enumerate(layers):
                out = [sum((w * a for w, a in zip(n["w"], act)), n["b"]) for n in layer]
                act = out if li == 2 else [gt.relu(o) for o in out]
            total = total + act[0] * act[0]
        return total
    return loss


def test_fast_layout_labels_every_edge_without_overlaps():
    t = gt.trace(scalar_mlp(15)).backward()
    assert 2500 <= t.graph.number_of_nodes() <= 4000
    nodes, labels = read_fast_svg(svg_text(t, layout="fast", view="ops"))
    shown = [(u, v) for u, v in t.graph.edges() if t.graph.nodes[u]["requires_grad"]]
    assert len(nodes) == t.graph.number_of_nodes()
    assert len(labels) == len(shown)
    assert all(lines[0].startswith("∂") and lines[1].startswith("←") for _, lines in labels)
    boxes = [b for b, _ in nodes.values()] + [b for b, _ in labels]
    assert not overlapping(boxes)


@needs_dot
def test_a_shrunk_png_is_reported_not_silent(tmp_path):
    def chain(x=0.3):
        for _ in range(1500):
            x = np.sin(x) + 0.1
        return x
    t = gt.trace(chain).backward()
    with pytest.warns(gt.GradtraceWarning, match="shrank the bitmap"):
        t.render(tmp_path / "c.png", layout="fast", rankdir="LR")


def test_heat_labels_have_a_background():
    t = gt.trace(numpy_mlp).backward()
    dot = t.to_dot(style="heat")
    labelled = [line for line in dot.splitlines() if "->" in line and "label=<" in line]
    assert labelled and all('BGCOLOR="white"' in line for line in labelled)
