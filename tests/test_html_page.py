"""The step-through page, read back with the standard library: step order, one step per
contribution, the lines marked in the SVG, no network reference, and its weight."""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.errors import GradtraceError, RenderError
from gradtrace.render import page as page_mod
from gradtrace.render.lesson import for_view
from gradtrace.render.page import script_and_styles
from gradtrace.targets import trace_target

from .conftest import needs_dot

PAGES = ["seed_chain", "layer_fanout", "numpy_mlp", "square", "mlp_calls"]


class Parts(HTMLParser):
    """The page's scripts, its SVG and every URL-bearing attribute."""

    def __init__(self):
        super().__init__()
        self.scripts, self.urls, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "action", "poster", "data") and v:
                self.urls.append(v)
        if tag == "script":
            self._in = dict(attrs).get("type", "js")
            self.scripts.append([self._in, ""])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self.scripts[-1][1] += data


def load(target, **options):
    t = trace_target(target)
    t = t[0] if isinstance(t, tuple) else t
    t.backward()
    page = gt_page(t, **options)
    return for_view(t, options.get("view", "lesson")), page     # the trace as drawn


def gt_page(t, **options):
    text = page_mod.page(t, **options)
    parts = Parts()
    parts.feed(text)
    data = json.loads(next(s for kind, s in parts.scripts if kind == "application/json"))
    svg = re.search(r"<svg\b.*</svg>", text, re.S).group(0)
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns:xlink="urn:xlink" ', 1))  # HTML knows it
    marked = {el.get("id"): el for el in root.iter() if "gt-x" in (el.get("class") or "")}
    return {"text": text, "parts": parts, "data": data, "svg": root, "marked": marked}


@needs_dot
@pytest.mark.parametrize("target", PAGES)
def test_steps_follow_creation_order_then_backward_order(target, record_property):
    t, p = load(target)
    g = t.graph
    steps = p["data"]["steps"]
    kinds = [s["kind"] for s in steps]
    assert kinds[0] == "inputs" and kinds[-1] == "update"
    n_fwd = kinds.count("forward")
    assert kinds == ["inputs"] + ["forward"] * n_fwd + ["backward"] * (len(kinds) - n_fwd - 2) + \
        ["update"]
    fwd = [int(s["now"][0][1:]) for s in steps if s["kind"] == "forward"]
    assert fwd == [v for v, a in g.nodes(data=True) if a["kind"] == "op"]    # creation order
    bwd = [int(s["now"][0][1:]) for s in steps if s["kind"] == "backward"]
    # backward walks node ids downward over every op that got a gradient
    assert bwd == sorted((v for v, a in g.nodes(data=True) if "grad" in a and
                          (a["kind"] == "op" or v == t.output)), reverse=True)
    record_property("page_bytes", len(p["text"].encode()))
    print(f"{target}: {len(p['text'].encode()):,} bytes, {len(steps)} steps")


@needs_dot
@pytest.mark.parametrize("target", PAGES)
def test_every_contribution_appears_at_exactly_one_step(target):
    t, p = load(target)
    steps = p["data"]["steps"]
    for u, v, k, e in t.graph.edges(keys=True, data=True):
        cid = f"c{u}_{v}_{k}"
        at = [i for i, s in enumerate(steps) if cid in s["show"]]
        if e.get("contribution") is None:
            assert at == []
            continue
        assert len(at) == 1, cid
        assert steps[at[0]]["kind"] == "backward" and steps[at[0]]["now"][0] == f"n{v}"
        assert cid in p["marked"]          # and the SVG has that line to show


@needs_dot
@pytest.mark.parametrize("target", PAGES)
def test_marked_lines_are_the_ones_the_steps_name(target):
    t, p = load(target)
    named = {i for s in p["data"]["steps"] for i in s["show"]} | \
        {i for s in p["data"]["steps"] for i in s["text"]}
    assert set(p["marked"]) <= named
    for v, a in t.graph.nodes(data=True):       # every gradient line is found in the SVG
        if "grad" in a and a["kind"] != "const":
            assert f"g{v}" in p["marked"]
    for s in p["data"]["steps"]:
        assert all(re.fullmatch(r"[nevglc][\d_]+", i) for i in s["show"] + s["now"] + s["also"])


@needs_dot
def test_fan_out_gradient_grows_term_by_term_to_its_final_text():
    t, p = load("layer_fanout")
    steps = p["data"]["steps"]
    g = t.graph
    fan = [v for v in g if "grad" in g.nodes[v] and g.out_degree(v) > 1]
    assert fan
    for v in fan:
        said = [s["text"][f"g{v}"] for s in steps if f"g{v}" in s["text"]]
        assert len(said) == g.out_degree(v)              # one text per arriving term
        assert all("…" in x for x in said[:-1])
        final = "".join(p["marked"][f"g{v}"].itertext()).strip()
        assert said[-1] == final                         # ends on what the SVG says
        total = sum(e["contribution"] for _, _, e in g.out_edges(v, data=True))
        assert np.allclose(total, g.nodes[v]["grad"])


@needs_dot
def test_update_step_moves_weights_downhill_and_reruns_the_function():
    def f(w=0.5, b=0.1, x=2.0, y=1.0):
        return (gt.sigmoid(w * x + b) - y) ** 2
    t = gt.trace(f, wrt=["w", "b"]).backward()
    p = gt_page(t, lr=0.5)
    last = p["data"]["steps"][-1]
    gw, gb = t.grads["w"], t.grads["b"]
    w1, b1 = 0.5 - 0.5 * gw, 0.1 - 0.5 * gb
    expected = (1 / (1 + np.exp(-(w1 * 2.0 + b1))) - 1.0) ** 2   # computed here, not by gt
    assert any(f"{t.value:.3g}" in line and f"{expected:.3g}" in line and "lower" in line
               for line in last["lines"]), last["lines"]
    assert set(last["text"]) == {f"v{t.inputs['w']}", f"v{t.inputs['b']}"}   # wrt only


@needs_dot
def test_a_loaded_trace_steps_but_says_why_it_has_no_new_cost():
    t, _ = load("seed_chain")
    loaded = gt.load_json(t.to_json())
    p = gt_page(loaded)
    assert any("not computed" in line and "loaded from JSON" in line
               for line in p["data"]["steps"][-1]["lines"])


@needs_dot
def test_page_references_nothing_outside_itself():
    for target in ("seed_chain", "numpy_mlp"):
        _, p = load(target, style="3b1b")
        assert "http://" not in p["text"] and "https://" not in p["text"]
        assert all(u.startswith(("#", "data:")) for u in p["parts"].urls), p["parts"].urls
        # the steps and their player, then the what-if's program and its replayer
        assert [k for k, _ in p["parts"].scripts] == ["application/json", "js"] * 2


def test_script_and_styles_weigh_under_20_kb(record_property):
    js, css = script_and_styles()
    size = len(js.encode()) + len(css.encode())
    record_property("script_and_styles_bytes", size)
    assert size < 20_000
    assert "http" not in js and "import" not in js and "require(" not in js


@needs_dot
def test_hostile_names_cannot_end_the_script_or_break_the_svg():
    def model(x=1.5):
        with gt.scope("</script><script>alert(1)</script>\\N&amp;"):
            y = x * 2.0
        return y * y
    t = gt.trace(model).backward()
    p = gt_page(t)
    assert [k for k, _ in p["parts"].scripts] == ["application/json", "js"] * 2
    assert "alert(1)" not in p["parts"].scripts[1][1] + p["parts"].scripts[3][1]
    assert p["data"]["steps"][1]["kind"] == "forward"


def test_bad_learning_rate_and_oversized_graph_are_refused(monkeypatch, tmp_path):
    t = gt.trace(lambda x=2.0: x * x).backward()
    for lr in (0, -1, float("nan"), "fast"):
        with pytest.raises(GradtraceError, match="learning rate"):
            t.render(tmp_path / "a.html", lr=lr)
    with pytest.raises(RenderError, match="only applies when writing .html"):
        t.render(tmp_path / "a.svg", lr=0.1)
    monkeypatch.setattr(page_mod, "MAX_NODES", 1)
    with pytest.raises(RenderError, match="too many for a step-through page"):
        t.render(tmp_path / "a.html")
    assert not list(tmp_path.iterdir())            # nothing half-written


@needs_dot
def test_cli_writes_the_page(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli import main
    out = tmp_path / "chain.html"
    r = CliRunner().invoke(main, ["render", "seed_chain", "-o", str(out), "--lr", "0.25"])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "η = 0.25" in text


@needs_dot
def test_gif_has_a_frame_per_backward_step_in_one_geometry(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="GIF output needs Pillow (gif extra)")
    t, p = load("seed_chain")
    path = t.render(tmp_path / "chain.gif", style="3b1b")
    backward = sum(s["kind"] == "backward" for s in p["data"]["steps"])
    with Image.open(path) as im:
        assert im.n_frames == backward + 1          # the end of forward, then each step
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    assert all(f.shape == frames[0].shape for f in frames)
    assert all(np.abs(a - b).sum() > 0 for a, b in zip(frames, frames[1:]))  # each step shows


def test_gif_without_pillow_says_what_to_install(monkeypatch, tmp_path):
    import builtins
    real = builtins.__import__

    def no_pil(name, *a, **k):
        if name.startswith("PIL"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_pil)
    t = gt.trace(lambda x=2.0: x * x).backward()
    with pytest.raises(RenderError, match=r"gradtrace\[gif\]"):
        t.render(tmp_path / "a.gif")
    assert not list(tmp_path.iterdir())
