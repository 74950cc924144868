"""Reference chips (issue 23): an input shared by every step of an unrolled loop is drawn
once, with a small dashed chip beside each later use, instead of one long edge per step.
Read back from the DOT, the SVG (geometry measured in chromium) and the page."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.cli.targets import trace_target
from gradtrace.errors import RenderError
from gradtrace.render import chips
from gradtrace.render.dot import dot_text
from gradtrace.render.drawing import make_drawing
from gradtrace.render.gif import frames
from gradtrace.render.output import svg_text
from gradtrace.render.page import page, page_data
from gradtrace.render.story import story

from .conftest import needs_dot
from .realistic_models import STEPS, gru_steps, rnn_steps
from .svgread import EDGE_GEOMETRY_JS, read_svg, rows_passed
from .test_label_geometry import CHROMIUM

MODELS = [gru_steps, rnn_steps]


@pytest.fixture(scope="module")
def browser_page():
    pytest.importorskip("playwright.sync_api")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield browser.new_page(viewport={"width": 1280, "height": 800})
        browser.close()


@pytest.fixture(scope="module", params=MODELS, ids=lambda f: f.__name__)
def traced(request):
    return gt.trace(request.param).backward()


def _names(d, chip_list):
    return [d.texts[c.use] for c in chip_list]


def test_every_shared_weight_is_drawn_once_with_a_chip_per_later_step():
    t = gt.trace(gru_steps).backward()
    d = t.drawing()
    weights = {d.texts[h]: cs for h, cs in d.view.shared.items()}
    assert sorted(weights) == ["Uh", "Ur", "Uz", "Wh", "Wr", "Wz"]
    for name, cs in weights.items():
        gate = {"z": "z", "r": "r", "h": "cand"}[name[1]]
        assert _names(d, cs) == [f"{gate}{'₂₃₄₅₆₇₈'[i]}" for i in range(STEPS - 1)], name
    # each chip stands just before its use and draws that use's edge, keyed as the home's
    for c in (c for cs in weights.values() for c in cs):
        i = d.view.nodes.index(c)
        assert c.use in d.view.nodes[i + 1:i + 8]
        assert [(u, v) for u, v, _, _ in d.view.edges if u == c] == [(c, c.use)]
        assert all(u != c.home or v != c.use for u, v, _, _ in d.view.edges)
    assert d.view.nodes == t.drawing().view.nodes          # deterministic


def test_no_chips_where_uses_lie_close():
    for target in ("seed_chain", "layer_fanout", "numpy_mlp", "shared_input", "square"):
        t, _ = trace_target(target)
        assert t.drawing().view.shared == {}, target
        assert t.to_dot() == t.to_dot(share="edges"), target
    t = gt.trace(lambda w=0.5, x=1.0: (w * x) * w + w).backward()
    assert t.drawing().view.shared == {}


def test_the_every_op_view_chips_the_weights_too():
    t = gt.trace(gru_steps).backward()
    d = t.drawing(view="ops")
    # x[t] @ W is made from inputs alone: ranked beside its use, so W counts as shared
    inputs = [h for h in d.view.shared if t.graph.nodes[h]["kind"] == "input"]
    assert sorted(d.texts[h] for h in inputs) == ["Uh", "Ur", "Uz", "Wh", "Wr", "Wz"]
    one = next(h for h in d.view.shared if d.texts[h] == "1")    # one constant, every step
    assert len(d.view.shared[one]) > 2 * STEPS


def test_chips_are_drawing_only(traced):
    for view in ("lesson", "ops"):
        on, off = traced.drawing(view=view), traced.drawing(view=view, share="edges")
        g_on, g_off = on.trace.graph, off.trace.graph
        assert list(g_on.nodes) == list(g_off.nodes)
        for v in g_off.nodes:
            a, b = g_on.nodes[v], g_off.nodes[v]
            assert np.array_equal(a.get("grad", 0.0), b.get("grad", 0.0))
        for u, v, k, e in g_off.edges(keys=True, data=True):
            assert np.array_equal(g_on[u][v][k].get("contribution", 0.0),
                                  e.get("contribution", 0.0))
        # the same edges with the same labels, a chip's under its home's name
        edges_on = {(chips.home(u), v, k): lines for (u, v, k), lines in on.edges().items()}
        assert edges_on == off.edges()
        boxes_on, boxes_off = on.boxes(), off.boxes()
        for v, lines in boxes_off.items():
            if v in on.view.shared and len(lines) > 1:     # its sum as its count, same total
                at = next(i for i, line in enumerate(lines) if line.startswith("∂"))
                assert lines[:at] == boxes_on[v][:at]       # name and value
                grad_on, grad_off = " ".join(boxes_on[v][at:]), " ".join(lines[at:])
                assert grad_on.split(" = ")[-1] == grad_off.split(" = ")[-1]
                assert re.search(r"= Σ of \d+ paths = ", grad_on)
            else:
                assert boxes_on[v] == lines
        for c in (c for cs in on.view.shared.values() for c in cs):
            assert boxes_on[c] == [on.texts[c.home]]         # a name, no value


def test_dot_is_deterministic_and_chips_look_like_references(traced):
    dot = traced.to_dot()
    assert dot == traced.to_dot() == gt.trace(traced.function).backward().to_dot()
    d = traced.drawing()
    for c in (c for cs in d.view.shared.values() for c in cs):
        line = next(ln for ln in dot.splitlines() if ln.strip().startswith(f"{c.id} ["))
        assert 'style="rounded,dashed,filled"' in line and "POINT-SIZE=\"10\"" in line
        assert "a reference to the box" in line and "sum over all of them" in line
        assert f"{c.id} -> n{c.use} [" in dot
    assert "dashed box: an input used by many steps" in traced.to_dot(legend=True)
    assert not re.search(r"\br\d+_\d+\b", traced.to_dot(share="edges"))


def test_labels_are_escaped():
    def loop(w=np.array([0.5, -0.2])):
        w = gt.label(w, 'w<"&\\>{x}')
        h = np.zeros(2)
        for _ in range(5):
            h = np.tanh(h * w + 0.1)
        return np.sum(h)
    t = gt.trace(loop).backward()
    d = t.drawing()
    assert d.view.shared, "the labelled input is shared by five steps"
    dot = t.to_dot()
    assert 'w&lt;&quot;&amp;\\\\&gt;{x}' in dot and 'w<"&' not in dot
    nodes, _ = read_svg(svg_text(t, layout="dot"))
    chip_texts = [texts for name, texts in nodes.items() if name.startswith("r")]
    assert chip_texts and all(texts == ['w<"&\\>{x}'] for texts in chip_texts)
    fast = svg_text(t, layout="fast")
    assert 'w&lt;&quot;&amp;\\&gt;{x}' in fast


def test_option_and_cli(tmp_path):
    with pytest.raises(RenderError, match="unknown share 'lines'.*chips.*edges"):
        gt.trace(rnn_steps).backward().to_dot(share="lines")
    with pytest.raises(RenderError, match="share must be a string"):
        gt.trace(rnn_steps).backward().to_dot(share=True)
    run = ["-m", "gradtrace", "render", "rnn", "--format", "dot", "-o"]
    for flag, chipped in ((), True), (("--share", "edges"), False):
        out = tmp_path / f"rnn{len(flag)}.dot"
        subprocess.run([sys.executable, *run, str(out), *flag], check=True,
                       capture_output=True)
        assert bool(re.search(r"\br\d+_\d+ \[", out.read_text())) == chipped


# ------------------------------------------------------------------ geometry, in chromium
def _geometry(browser_page, svg: str) -> dict:
    browser_page.set_content(svg)
    return browser_page.evaluate(EDGE_GEOMETRY_JS)


@needs_dot
@pytest.mark.parametrize("model", MODELS, ids=lambda f: f.__name__)
def test_no_long_edges_and_none_through_a_box(browser_page, model):
    """Bounds: an edge passes at most ``chips.SPAN`` rows of boxes (a chip sits on the
    row above its use; an input whose uses lie within SPAN ranks keeps its edges; a
    loop's values feed the next step), and none runs across the picture (longer than
    half its longer side).  Drawn with long edges instead, the same model passes more
    than twice SPAN rows, with edges over twice as long."""
    t = gt.trace(model).backward()
    svg = svg_text(t)                      # the lesson view; auto picks dot
    found = _geometry(browser_page, svg)
    assert found["edges"] and not [e["title"] for e in found["edges"] if e["through"]]
    longest = max(e["length"] for e in found["edges"])
    assert longest < max(found["width"], found["height"]) / 2
    assert max(rows_passed(svg).values()) <= chips.SPAN
    before = svg_text(t, share="edges", layout="dot")
    assert max(rows_passed(before).values()) > 2 * chips.SPAN
    old = _geometry(browser_page, before)
    assert max(e["length"] for e in old["edges"]) > 2 * longest


@needs_dot
def test_the_gru_draws_smaller_and_clear(browser_page):
    """Before: the auto layout fell back to the fast layout (dot would stall on the long
    edges), whose edges ran across the picture; now dot draws it, smaller."""
    t = gt.trace(gru_steps).backward()
    assert t.drawing(share="edges").layout == "fast" and t.drawing().layout == "dot"
    before, after = (_geometry(browser_page, svg_text(t, **o)) for o in ({"share": "edges"}, {}))
    longest = [max(e["length"] for e in d["edges"]) for d in (before, after)]
    assert longest[1] < longest[0] / 4
    assert sum(e["through"] for e in after["edges"]) == 0
    assert after["width"] * after["height"] < 0.9 * before["width"] * before["height"]
    assert max(after["width"], after["height"]) < 4000         # points
    print(f"gru_steps: {before['width']:.0f}×{before['height']:.0f} pt, longest edge "
          f"{longest[0]:.0f} → {after['width']:.0f}×{after['height']:.0f} pt, {longest[1]:.0f}")


# ------------------------------------------------------------------ the page and the GIF
@needs_dot
def test_the_page_lights_chip_and_home_together(tmp_path):
    t = gt.trace(rnn_steps).backward()
    d = t.drawing()
    path = tmp_path / "rnn.html"
    path.write_text(page(t), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    data = page_data(path)
    chip_of = {(c.home, c.use): c.id for cs in d.view.shared.values() for c in cs}
    lit = 0
    for step in data["steps"]:
        for eid in (i for i in step["now"] if i[0] == "e"):
            u, v, _ = (int(x) for x in eid[1:].split("_"))
            if (u, v) in chip_of:
                assert chip_of[u, v] in step["also"] and f"n{u}" in step["also"]
                assert f'id="{chip_of[u, v]}"' in text
                lit += 1
    assert lit == 2 * sum(len(cs) for cs in d.view.shared.values())   # forward and backward
    # the home box's completed sum lists every use in the panel
    wxh = next(h for h in d.view.shared if d.texts[h] == "Wxh")
    done = [ln for s in data["steps"] for ln in s["lines"] if ln.startswith("Wxh complete:")]
    assert len(done) == 1 and f"({STEPS} of {STEPS} paths)" in done[0]
    assert done[0].count(" + ") == STEPS - 1 or "Σ of" in done[0]
    assert d.texts[wxh] == "Wxh" and "a chip: an input used by many steps" in text


@needs_dot
def test_gif_frames_light_the_chips():
    t = gt.trace(rnn_steps).backward()
    d = make_drawing(t, "gif")
    steps = story(d.trace, d.painter)
    chips.light(steps, d.view)
    lit = set()
    for frame in frames(d.trace, d.painter, steps):
        dot = dot_text(d, frame)
        lit |= set(re.findall(r"  (r\d+_\d+) \[[^\n]*penwidth=2\.5", dot))
    assert lit == {c.id for cs in d.view.shared.values() for c in cs}
