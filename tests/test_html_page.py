"""The step-through page, read back with the standard library: step order, one step per
contribution, the lines marked in the SVG, no network reference, and its weight."""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.cli.targets import trace_target
from gradtrace.errors import GradtraceError, RenderError
from gradtrace.render import page as page_mod
from gradtrace.render.lesson import for_view
from gradtrace.render.page import script_and_styles

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
    marked = {el.get("id"): el for el in root.iter()      # a matrix's next rows: gt-xr
              if "gt-x" in (el.get("class") or "").split()}
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
        assert all(re.fullmatch(r"[nevglc][\d_]+", i) for i in s["show"] + s["now"])
        assert all(re.fullmatch(r"[nevglcr][\d_]+", i) for i in s["also"])    # r: a chip


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
        assert said[-1].rsplit(" = ", 1)[1] == final.rsplit(" = ", 1)[1]   # the same total
        assert "…" not in said[-1]
        total = sum(e["contribution"] for _, _, e in g.out_edges(v, data=True))
        assert np.allclose(total, g.nodes[v]["grad"])


@needs_dot
def test_a_completed_fan_out_states_its_whole_sum_in_arrival_order():
    t, p = load("layer_fanout")
    g = t.graph
    steps = [s for s in p["data"]["steps"] if s["kind"] == "backward"]
    name = "a(L−1)0"
    v = t.inputs["a_prev[0]"]
    # the consumers' steps, in the order backward reached them: that is the arrival order
    arrivals = [int(s["now"][0][1:]) for s in steps if f"n{v}" in s["also"]]
    assert len(arrivals) == g.out_degree(v) == 2
    line = next(ln for s in steps for ln in s["lines"] if ln.startswith(f"{name} complete:"))
    terms = [next(iter(g[v][w].values()))["contribution"] for w in arrivals]
    said = re.match(rf"{re.escape(name)} complete: (.*) = (\S+) \((\d) of (\d) paths\)", line)
    assert said, line
    shown = [float(x.strip("()").replace("−", "-")) for x in said.group(1).split(" + ")]
    assert np.allclose(shown, terms, rtol=5e-3)
    assert float(said.group(2).replace("−", "-")) == pytest.approx(g.nodes[v]["grad"], rel=5e-3)
    assert said.group(3) == said.group(4) == "2"
    # the step that completes it also says it in words, and the text never says "= 1 = 1"
    assert all(" = 1 = 1" not in ln for s in steps for ln in s["lines"])
    assert all(s["say"] for s in steps)


@needs_dot
def test_a_parameter_completes_with_its_why_line():
    t, p = load("seed_chain")
    why = "the lesson's chain: "
    lines = [ln for s in p["data"]["steps"] for ln in s["lines"] if ln.startswith(why)]
    w = next(ln for ln in lines if ln.startswith("the lesson's chain: ∂C0/∂w(L) ="))
    assert "a(L−1) · σ'(z(L)) · 2(a(L) − y)" in w             # the lesson's own why line
    assert w.endswith(f"= {gt_num(t.grads['w3'])}")
    assert not any("∂C0/∂y " in ln for ln in lines)            # data gets no why line


def gt_num(x):
    from gradtrace.notation import num
    return num(x)


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
    assert any(f"{t.value:.3g}" in line and f"{expected:.3g}" in line and "down" in line
               for line in last["lines"]), last["lines"]
    said = last["text"]
    assert f"v{t.inputs['x']}" not in said and f"v{t.inputs['y']}" not in said
    assert {f"v{t.inputs['w']}", f"v{t.inputs['b']}", f"v{t.output}"} <= set(said)
    assert said[f"v{t.output}"] == f"= {expected:.3g} (was {t.value:.3g})".replace("-", "−")


def cost(w=0.5, b=0.1, x=2.0, y=1.0):
    return (gt.sigmoid(w * x + b) - y) ** 2


@needs_dot
@pytest.mark.parametrize("how, moved, held", [
    ({}, {"w", "b"}, "held fixed: x, y (data)"),                       # the data names
    ({"params": ["w"]}, {"w"}, "held fixed: b (not in params); x, y (data)"),
    ({"data": ["b"]}, {"w"}, "held fixed: b, x, y (data)"),
])
def test_the_update_moves_parameters_and_holds_data(how, moved, held):
    t = gt.trace(cost).backward()
    last = page_mod.steps_data(t, **how)["steps"][-1]
    names = {ln.split(" ← ")[0] for ln in last["lines"] if " ← " in ln}
    assert names == moved and held in last["lines"]
    again = gt.trace(cost, wrt=["w", "x"]).backward()        # wrt given: wrt moves
    names = {ln.split(" ← ")[0] for ln in page_mod.steps_data(again)["steps"][-1]["lines"]
             if " ← " in ln}
    assert names == {"w", "x"}


def test_update_options_are_checked():
    t = gt.trace(cost, wrt=["w"]).backward()
    with pytest.raises(RenderError, match="params= names 'q'"):
        page_mod.steps_data(t, params=["q"])
    with pytest.raises(RenderError, match="no gradient"):
        page_mod.steps_data(t, params=["b"])


def test_a_change_too_small_for_3_digits_gets_more():
    from gradtrace.render.story import change_line
    line = change_line("C", 1.1102, 1.1098, 3)
    assert line.startswith("C: 1.1102 → 1.1098, down") and "1.11 → 1.11" not in line


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


def test_script_and_styles_weigh_under_26_kb(record_property):
    js, css = script_and_styles()
    size = len(js.encode()) + len(css.encode())
    record_property("script_and_styles_bytes", size)
    assert size < 26_000      # was 24 kB before the lens and a matrix's rows (issue 24)
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
    with pytest.raises(RenderError, match="params= sets the update step"):
        t.render(tmp_path / "a.svg", params=["x"])
    monkeypatch.setattr(page_mod, "MAX_NODES", 1)
    with pytest.raises(RenderError, match="too many for a step-through page"):
        t.render(tmp_path / "a.html")
    assert not list(tmp_path.iterdir())            # nothing half-written


@needs_dot
def test_cli_writes_the_page(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    out = tmp_path / "chain.html"
    r = CliRunner().invoke(main, ["render", "seed_chain", "-o", str(out), "--lr", "0.25",
                                  "--params", "w3", "--data", "b3"])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "η = 0.25" in text
    last = page_mod.page_data(out)["steps"][-1]["lines"]
    assert [ln.split(" ← ")[0] for ln in last if " ← " in ln] == ["w(L)"]


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


def test_a_torch_update_moves_the_parameters_and_restores_them():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    target = torch.randn(4, 1, dtype=torch.float64)

    def loss_fn(model, inp, target):        # `inp` is not a data name: not a parameter either
        return ((model(inp) - target) ** 2).mean()
    t = gt.trace(loss_fn, model, x, target).backward()
    kept = [p.detach().clone() for p in model.parameters()]
    last = page_mod.steps_data(t, lr=0.1)["steps"][-1]
    moved = {ln.split(" ← ")[0] for ln in last["lines"] if " ← " in ln}
    assert moved == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    assert "held fixed: inp (not a parameter); target (data)" in last["lines"]
    assert all(torch.equal(a, b) for a, b in zip(kept, model.parameters()))   # restored
    with torch.no_grad():                  # the new loss, computed here by torch itself
        moved_model = [p - 0.1 * torch.as_tensor(t.grads[n]) for n, p in
                       zip(["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"],
                           kept)]
        h = torch.tanh(x @ moved_model[0].T + moved_model[1])
        after = (((h @ moved_model[2].T + moved_model[3]) - target) ** 2).mean().item()
    from gradtrace.notation import num
    assert any(f"→ {num(after)}, down" in ln for ln in last["lines"]), last["lines"]


@pytest.mark.parametrize("name, data", [
    ("x", True), ("x1", True), ("y_true", True), ("X[0]", True), ("batch.inputs", True),
    ("targets", True), ("w1", False), ("a_prev", False), ("box", False), ("xx", False)])
def test_names_read_as_data(name, data):
    from gradtrace.calculus.params import named_like_data
    assert named_like_data(name) is data
