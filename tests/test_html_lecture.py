"""The step-through page as a lecture tool, in Chromium: the update moves parameters
and shows the new forward pass, the current node is readable and in view with what
it sends to, presenter mode, the legend, a notebook showing one trace twice, and the
colours' contrast (read from the page's CSS and palettes, no browser needed)."""

import re

import pytest

import gradtrace as gt
from gradtrace.render.page import script_and_styles
from gradtrace.render.palette import PALETTES, contrast, heat_fills, heat_palette

from .conftest import needs_dot
from .test_html_browser import Watched, write_page
from .test_html_browser import browser as chromium

browser = chromium          # the same module-scoped Chromium fixture

SETTLED = "!document.getElementById('gt-view').hasAttribute('data-moving')"
TEXT_PX = """(id) => { const n = document.getElementById(id); let least = 1e9;
  n.querySelectorAll('text').forEach(t => {
    const fs = parseFloat(getComputedStyle(t).fontSize), box = t.getBBox();
    if (!t.textContent.trim()) return;
    const r = t.getBoundingClientRect();            // on screen, in CSS px
    least = Math.min(least, fs * r.height / box.height); });
  return least; }"""
INSIDE = """(ids) => { const v = document.getElementById('gt-view').getBoundingClientRect();
  return ids.filter(id => { const r = document.getElementById(id).getBoundingClientRect();
    return !(r.left >= v.left - 1 && r.right <= v.right + 1 && r.top >= v.top - 1 &&
             r.bottom <= v.bottom + 1); }); }"""


def cost(w=0.5, b=0.1, x=2.0, y=1.0):
    return (gt.sigmoid(w * x + b) - y) ** 2


def three_neurons(w=(0.4, -0.6, 0.7), b=(0.1, -0.2, 0.05), x=0.9, y=(1.0, 0.0, 0.5)):
    """A layer of three neurons on one input: x feeds all three, so its gradient is a
    sum of three paths."""
    total = 0.0
    for j in range(3):
        z = gt.label(w[j] * x + b[j], f"z{j}")
        total = total + (gt.sigmoid(z) - y[j]) ** 2
    return total


@needs_dot
def test_the_update_moves_w_and_b_not_the_data_and_redraws_the_cost(browser, tmp_path):
    t = gt.trace(cost).backward()
    path = t.render(tmp_path / "cost.html")
    w = Watched(browser)
    w.page.goto(path.as_uri())
    w.page.keyboard.press("End")
    ids = {k: t.inputs[k] for k in "wbxy"}
    said = {k: w.page.text_content(f"#v{v}") for k, v in ids.items()}
    assert "was" in said["w"] and "was" in said["b"]
    assert "was" not in said["x"] and "was" not in said["y"]
    cost_line = w.page.text_content(f"#v{t.output}")
    w1, b1 = 0.5 - 0.1 * t.grads["w"], 0.1 - 0.1 * t.grads["b"]
    import math
    after = (1 / (1 + math.exp(-(w1 * 2.0 + b1))) - 1.0) ** 2
    assert cost_line.startswith(f"= {after:.3g} (was {t.value:.3g})")
    panel = w.page.locator("#gt-lines li").all_inner_texts()
    assert "held fixed: x, y (data)" in panel
    assert any(line.startswith(f"cost: {t.value:.3g} → {after:.3g}, down") for line in panel)
    assert w.errors == []
    w.close()


def _backward_steps(data):
    return [i for i, s in enumerate(data["steps"]) if s["kind"] == "backward"]


@needs_dot
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
@pytest.mark.parametrize("target", ["seed_chain", "layer_fanout"])
def test_the_current_node_text_is_at_least_14_px(browser, tmp_path, target, size):
    _, path, data = write_page(target, tmp_path, style="3b1b")
    w = Watched(browser, viewport={"width": size[0], "height": size[1]})
    page = w.page
    page.goto(path.as_uri())
    for n in _backward_steps(data) + [len(data["steps"]) - 1]:
        page.evaluate(f"gradtracePage.go({n}, 'jump')")
        current = data["steps"][n]["now"][0]
        px = page.evaluate(TEXT_PX, current)
        assert px >= 13.9, f"step {n}: {current} text is {px:.1f} px"
        assert page.evaluate(INSIDE, [current]) == [], f"step {n}"
    page.keyboard.press("f")                     # F still shows the whole drawing
    box = [float(v) for v in page.get_attribute("#gt-view", "data-box").split()]
    home = re.search(r'<svg[^>]*viewBox="([^"]*)"', path.read_text(encoding="utf-8")).group(1)
    assert box == pytest.approx([float(v) for v in home.split()], abs=0.01)
    w.close()


@needs_dot
def test_the_current_node_and_its_receivers_stay_in_view_and_glide(browser, tmp_path):
    t = gt.trace(three_neurons).backward()
    path = t.render(tmp_path / "layer.html")
    from gradtrace.render.page import page_data
    data = page_data(path)
    w = Watched(browser, viewport={"width": 1920, "height": 1080})   # a projector
    page = w.page
    page.goto(path.as_uri())
    page.evaluate(f"gradtracePage.go({_backward_steps(data)[0] - 1}, 'jump')")
    moved = 0
    for n in _backward_steps(data):
        before = page.get_attribute("#gt-view", "data-box")
        page.keyboard.press("ArrowRight")
        if page.get_attribute("#gt-view", "data-moving"):
            moved += 1                           # it glides: the box is on its way
        page.wait_for_function(SETTLED)
        s = data["steps"][n]
        nodes = [i for i in s["now"] + s["also"] if i.startswith("n")]
        assert page.evaluate(INSIDE, nodes) == [], f"step {n}: {s['title']}"
        assert page.evaluate(TEXT_PX, s["now"][0]) >= 13.9
        del before
    assert moved > 0
    assert w.errors == []
    w.close()


def _layer_page(which, tmp_path):
    if which == "three_neurons":
        t = gt.trace(three_neurons).backward()
        path = t.render(tmp_path / "layer.html")
        from gradtrace.render.page import page_data
        return path, page_data(path)
    _, path, data = write_page(which, tmp_path)      # the lesson view, the default style
    return path, data


@needs_dot
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
@pytest.mark.parametrize("which", ["layer_fanout", "three_neurons"])
def test_every_receiver_is_in_view_with_the_current_node_readable(browser, tmp_path, which,
                                                                   size):
    """The fan-out happens on screen: at every backward step the node and every node it
    sends to are inside #gt-view, the node's text at least 14 px (magnified in place when
    the receivers are too spread to frame at that size)."""
    path, data = _layer_page(which, tmp_path)
    w = Watched(browser, viewport={"width": size[0], "height": size[1]})
    page = w.page
    page.goto(path.as_uri())
    lensed = 0
    for n in _backward_steps(data):
        page.evaluate(f"gradtracePage.go({n}, 'jump')")
        s = data["steps"][n]
        nodes = [i for i in s["now"] + s["also"] if i.startswith("n")]
        assert page.evaluate(INSIDE, nodes) == [], f"step {n}: {s['title']}"
        assert page.evaluate(TEXT_PX, nodes[0]) >= 13.9, f"step {n}: {s['title']}"
        lensed += float(page.get_attribute("#gt-view", "data-lens")) > 1
    page.keyboard.press("f")                     # the whole drawing: no lens
    assert page.get_attribute("#gt-view", "data-lens") == "1"
    if which == "layer_fanout" and size == (1280, 800):
        assert lensed > 0                        # too spread to frame at 14 px: magnified
    assert w.errors == []
    w.close()


@needs_dot
def test_presenter_mode_and_legend(browser, tmp_path):
    _, path, data = write_page("seed_chain", tmp_path, style="3b1b")
    w = Watched(browser)
    page = w.page
    page.goto(path.as_uri())
    n = _backward_steps(data)[3]
    page.evaluate(f"gradtracePage.go({n}, 'jump')")
    assert page.locator("#gt-legend").is_visible()
    assert page.evaluate("document.getElementById('gt-legend').open")
    assert "the update" in page.inner_text("#gt-legend")
    page.click("#gt-legend summary")                          # collapsible
    assert not page.evaluate("document.getElementById('gt-legend').open")
    assert "seed_chain" in page.inner_text("#gt-caption")
    page.keyboard.press("p")
    sizes = page.evaluate("""Array.from(document.querySelectorAll('#gt-lines li, #gt-title'))
        .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert min(sizes) >= 20
    assert page.evaluate(TEXT_PX, data["steps"][n]["now"][0]) >= 17.9
    page.keyboard.press("p")
    assert page.evaluate("!document.body.classList.contains('gt-present')")
    page.emulate_media(media="print")                 # white, the panel below the diagram
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == \
        "rgb(255, 255, 255)"
    assert not page.locator("#gt-bar").is_visible()
    view, panel = (page.locator(s).bounding_box() for s in ("#gt-view", "#gt-panel"))
    assert panel["y"] >= view["y"] + view["height"] - 1
    assert w.errors == []
    w.close()


@needs_dot
def test_keyboard_pans_and_space_presses_a_focused_button(browser, tmp_path):
    _, path, _ = write_page("seed_chain", tmp_path)
    w = Watched(browser)
    page = w.page
    page.goto(path.as_uri())
    before = [float(v) for v in page.get_attribute("#gt-view", "data-box").split()]
    page.keyboard.press("Shift+ArrowRight")
    after = [float(v) for v in page.get_attribute("#gt-view", "data-box").split()]
    assert after[0] > before[0] and page.input_value("#gt-slider") == "0"
    page.focus("#gt-next")
    page.keyboard.press(" ")
    assert page.input_value("#gt-slider") == "1"           # pressed Next, did not play
    assert page.inner_text("#gt-play") == "▶ Play"
    page.focus("#gt-view")                            # a visible focus ring (keyboard use)
    outline = page.evaluate("getComputedStyle(document.getElementById('gt-view')).outlineStyle")
    assert outline != "none"
    page.select_option("#gt-speed", "200")             # 4×: a step every 0.2 s
    page.click("#gt-play")
    page.wait_for_function("document.getElementById('gt-slider').value >= 6", timeout=3000)
    page.click("#gt-play")
    assert "+ / − zoom" in page.inner_text("#gt-help")
    assert w.errors == []
    w.close()


@needs_dot
def test_a_notebook_showing_one_trace_twice_runs_both_cells(browser, tmp_path):
    t = gt.trace(cost).backward()
    first = t._repr_mimebundle_()["text/html"]
    second = t.show()._repr_html_()
    doc = tmp_path / "notebook.html"
    doc.write_text(f"<!DOCTYPE html><html><body><div>{first}</div><div>{second}</div>"
                   "</body></html>", encoding="utf-8")
    w = Watched(browser)
    w.page.goto(doc.as_uri())
    assert w.page.locator("iframe").count() == 2
    assert all(f.is_visible() for f in w.page.locator("iframe").all())
    assert w.page.locator("img").count() == 0
    assert w.errors == []
    w.close()


@pytest.mark.parametrize("heat", [False, True], ids=["plain", "heat"])
@pytest.mark.parametrize("style", sorted(PALETTES))
def test_every_text_colour_has_contrast_of_at_least_4_5(style, heat):
    s = heat_palette(PALETTES[style]) if heat else PALETTES[style]
    _, css = script_and_styles()
    page_vars = {"bg": s["bg"], "fg": s["fg"], "dim": s["dim"], "grad": s["grad"],
                 "value": s["value"], "hi": s["highlight"]}
    # text on the page: every colour the style sheet gives text, on the page background
    text_vars = set(re.findall(r"(?<![-\w])color:var\(--(\w+)\)", css))
    assert text_vars and "opacity:.8" not in css
    pairs = [(page_vars[v], s["bg"], f"page text --{v}") for v in text_vars]
    # text in the drawing: names, values and gradients on every fill, op marks on ops
    fills = {f: s[f] for f in ("bg", "param", "data", "const", "op", "out", "cluster")}
    if heat:       # and on every fill of heat's scale: a box's marks too, the op's dim one
        box_fills, _, bad = heat_fills(s)
        fills.update({f"heat band {b}": f for b, f in enumerate(box_fills)}, nan=bad)
        pairs += [(s["dim"], f, f"dim on {name}") for name, f in fills.items()
                  if name.startswith("heat") or name == "nan"]
    for name, fill in fills.items():
        pairs += [(s[k], fill, f"{k} on {name}") for k in ("fg", "value", "grad")]
    pairs += [(s["dim"], s[f], f"dim on {f}") for f in ("op", "bg", "cluster")]
    low = [(why, round(contrast(a, b), 2)) for a, b, why in pairs if contrast(a, b) < 4.5]
    assert low == []
    assert contrast(s["highlight"], s["bg"]) >= 3          # outlines: non-text, 3:1


@needs_dot
def test_a_click_or_the_find_box_shows_a_nodes_whole_value_and_gradient(browser, tmp_path):
    import numpy as np

    def model(W=np.arange(24.0).reshape(4, 6) / 10, x=np.ones(6)):
        h = np.tanh(W @ x)
        return np.sum(h ** 2)
    t = gt.trace(model).backward()
    path = t.render(tmp_path / "m.html")
    w = Watched(browser)
    page = w.page
    page.goto(path.as_uri())
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "gt-find"
    page.fill("#gt-find", "W")
    page.dispatch_event("#gt-find", "change")
    shown = page.inner_text("#gt-node")
    assert "W" in shown and "4×6" in shown
    values = shown.split("value: ")[1].split("\n")[0].split(", ")
    assert len(values) == 24 and values[-1] == "2.3"            # every element, not a range
    page.focus("#gt-view")
    page.keyboard.press("f")                                   # everything in view
    box = page.locator(f"#n{t.output}").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.inner_text("#gt-node").startswith(t.output_name)
    assert w.errors == []
    w.close()
