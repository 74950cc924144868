"""Small arrays are shown whole: a tensor node with at most 16 values shows every value
(a matrix one row per line) in the static drawing and on the page; a bigger one keeps
its range and norm; the page's live what-if writes the rows exactly as Python does."""

import re

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.notation import num, value_text

from .conftest import needs_dot
from .svgread import read_svg
from .test_html_browser import Watched
from .test_html_browser import browser as chromium

browser = chromium          # the same module-scoped Chromium fixture

X = np.array([0.5, -1.0, 2.0, 0.25])


def layer(W, x=X):
    h = np.tanh(W @ x)
    return (h ** 2).sum()


def matrix(rows: int) -> np.ndarray:
    return np.arange(rows * 4.0).reshape(rows, 4) / 10 - 0.65


def numbers(text: str) -> list[str]:
    return re.findall(r"−?\d+(?:\.\d+)?(?:e[−+]?\d+)?", text)


def test_value_text_writes_up_to_16_values_and_a_matrix_in_rows():
    w = matrix(4)
    assert numbers(value_text(w)) == [num(x) for x in w.ravel()]
    rows = value_text(w, rows=True).split("\n")
    assert len(rows) == 4 and rows[0].startswith("[[") and rows[-1].endswith("]]")
    assert [numbers(r) for r in rows] == [[num(x) for x in r] for r in w]
    assert value_text(w, rows=True).replace("\n", " ") == value_text(w)
    assert "‖·‖" in value_text(matrix(5)) and "\n" not in value_text(matrix(5), rows=True)
    assert value_text(np.arange(16.0)) == "[" + ", ".join(num(x) for x in range(16)) + "]"
    assert value_text(np.ones((2, 2, 2)), rows=True) == "[[[1, 1], [1, 1]], [[1, 1], [1, 1]]]"


def _w_box(t, path):
    nodes, _ = read_svg(path.read_text(encoding="utf-8"))
    return " ".join(nodes[f"n{t.inputs['W']}"])


def _w_edge(t, path):
    _, edges = read_svg(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(lines) for (u, _), labels in edges.items()
                    if u == f"n{t.inputs['W']}" for lines in labels)


@needs_dot
def test_the_drawing_shows_a_4x4_array_whole_and_elides_a_5x4_one(tmp_path):
    w4, w5 = matrix(4), matrix(5)
    t = gt.trace(layer, w4).backward()
    path = t.render(tmp_path / "w4.svg", layout="dot")
    box = _w_box(t, path)
    for x in np.concatenate([w4.ravel(), np.ravel(t.grads["W"])]):
        assert num(x) in box
    assert len(numbers(box)) >= 32 and "‖·‖" not in box
    assert "‖·‖" in _w_edge(t, path)          # an edge's one-line label stays short
    t5 = gt.trace(layer, w5).backward()
    box5 = _w_box(t5, t5.render(tmp_path / "w5.svg", layout="dot"))
    assert "‖·‖" in box5 and len(numbers(box5)) < 20


@needs_dot
def test_the_page_shows_all_16_values_in_rows(browser, tmp_path):
    w4 = matrix(4)
    t = gt.trace(layer, w4).backward()
    path = t.render(tmp_path / "w4.html")
    w = Watched(browser)
    w.page.goto(path.as_uri())
    w.page.keyboard.press("End")
    v = t.inputs["W"]
    rows = w.page.evaluate(f"""() => [].concat([document.getElementById('v{v}')],
        Array.from(document.querySelectorAll('[id^="v{v}r"]')))
        .filter(e => getComputedStyle(e).visibility !== 'hidden').map(e => e.textContent)""")
    assert len(rows) == 4
    got = [numbers(r.split(" (was")[0]) for r in rows]       # the update's new values
    moved = w4 - 0.1 * np.asarray(t.grads["W"])
    assert got == [[num(x) for x in r] for r in moved]
    w.page.keyboard.press("Home")
    assert w.page.text_content(f"#v{v}").strip() == "= " + value_text(w4, rows=True).split("\n")[0]
    assert w.errors == []
    w.close()


@needs_dot
def test_the_what_if_writes_a_3x4_arrays_rows_as_python_does(browser, tmp_path):
    w3 = matrix(3)
    t = gt.trace(layer, w3).backward()
    path = t.render(tmp_path / "w3.html")
    w = Watched(browser)
    page = w.page
    page.goto(path.as_uri())
    assert page.locator("#gt-whatif.gt-off").count() == 0      # the replay says what was drawn
    page.fill("[data-typed='W[0, 0]']", "0.3")
    page.dispatch_event("[data-typed='W[0, 0]']", "change")
    moved = w3.copy()
    moved[0, 0] = 0.3
    again = gt.trace(layer, moved).backward()
    v = t.inputs["W"]
    said = page.evaluate(f"""() => [document.getElementById('v{v}')].concat(
        Array.from(document.querySelectorAll('[id^="v{v}r"]'))).map(e => e.textContent.trim())""")
    assert "\n".join(said) == "= " + value_text(moved, rows=True)
    grad = page.evaluate(f"""() => [document.getElementById('g{v}')].concat(
        Array.from(document.querySelectorAll('[id^="g{v}r"]'))).map(e => e.textContent.trim())""")
    assert numbers(" ".join(grad).split("=", 1)[1]) == [num(x) for x in
                                                          np.ravel(again.grads["W"])]
    assert w.errors == []
    w.close()


@pytest.mark.parametrize("rows", [4, 5])
def test_the_what_if_check_in_python_passes_for_small_and_big_arrays(rows):
    from gradtrace.render.drawing import make_drawing
    from gradtrace.render.output import svg_of
    from gradtrace.render.page import mark
    from gradtrace.render.whatif import program
    t = gt.trace(layer, matrix(rows)).backward()
    d = make_drawing(t, "html")
    _, marked = mark(svg_of(d, None), d.painter, d.view)
    assert "off" not in program(d.recorded, d.painter, d.view, marked, 0.1)
