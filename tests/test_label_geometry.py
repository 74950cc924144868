"""Edge labels sit clear of every edge line and every box: measured in a real browser
(Debian's chromium through Playwright, as the page tests do) on every gallery diagram,
drawn by Graphviz and by the fast layout."""

import os
import shutil
import warnings

import pytest

from gradtrace.cli import gallery
from gradtrace.cli.targets import trace_target
from gradtrace.render.output import svg_text

from .conftest import needs_dot
from .svgread import LABEL_COLLISIONS_JS

CHROMIUM = os.environ.get("GRADTRACE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def page():
    pytest.importorskip("playwright.sync_api")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield browser.new_page(viewport={"width": 1280, "height": 800})
        browser.close()


def collisions(page, svg: str) -> dict:
    page.set_content(svg)
    return page.evaluate(LABEL_COLLISIONS_JS)


@needs_dot
@pytest.mark.parametrize("layout", ["dot", "fast"])
@pytest.mark.parametrize("entry", gallery.ENTRIES, ids=lambda e: e.stem)
def test_edge_labels_are_clear_of_lines_and_boxes(page, entry, layout):
    if entry.target.startswith("torch"):
        pytest.importorskip("torch")
    t, _ = trace_target(entry.target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = collisions(page, svg_text(t, **{**entry.options, "layout": layout}))
    assert found["labels"] == 0 or found["lines"] > 0
    assert found["bad"] == [], found["bad"]


def test_the_check_sees_a_label_on_a_line(page):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
           '<g class="edge"><path d="M0,50C50,50 100,50 200,50"/>'
           '<text x="60" y="54" font-size="10">on the line</text></g></svg>')
    assert collisions(page, svg)["bad"] == [["on the line", "line"]]
