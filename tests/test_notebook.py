"""Jupyter: a notebook executed headless (nbclient) shows traces inline, sized to the cell,
and a graph that would stall Graphviz still displays quickly."""

import re
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the test extra")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the test extra")
pytest.importorskip("ipykernel", reason="notebook tests need the test extra")

from .conftest import needs_dot  # noqa: E402

CELLS = [
    "import numpy as np\nimport gradtrace as gt",
    "def mlp(W=np.full((3, 4), 0.1), x=np.array([0.5, -1.0, 2.0])):\n"
    "    return np.sum(np.tanh(x @ W) ** 2)\n"
    "t = gt.trace(mlp).backward()\nt",
    "t.show(style='3b1b', rankdir='LR')",
    "def shared(x=0.3, w=1.01):\n    acc = x\n    for _ in range(50):\n"
    "        acc = gt.sigmoid(acc) * w\n    return acc\n"
    "gt.trace(shared).backward()",
]


@needs_dot
def test_notebook_shows_diagrams_sized_to_the_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert time.perf_counter() - start < 60
    outputs = [c.outputs for c in nb.cells]
    for out in outputs[1:]:
        assert 'style="max-width:100%;height:auto"' in out[0]["data"]["image/svg+xml"]
    svg = outputs[1][0]["data"]["image/svg+xml"]      # the default orientation of an MLP
    width = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
    height = float(re.search(r'height="([\d.]+)pt"', svg).group(1))
    assert 1 / 3 <= width / height <= 3
    assert "text/html" in outputs[1][0]["data"]
    shared = outputs[3][0]["data"]["image/svg+xml"]   # no stall: w's 50 uses are chips
    assert re.search(r"<title>r\d+_\d+</title>", shared) or 'class="gradtrace fast"' in shared
    html = outputs[1][0]["data"]["text/html"]          # a bare trace: the step-through
    assert "<iframe srcdoc=" in html and '<img src="data:image/svg+xml;base64,' in html
    assert html.count("<script>") == 1                 # the one that swaps them
    static = outputs[2][0]["data"]                     # show(...) of a small trace
    assert "<iframe srcdoc=" in static["text/html"]


@needs_dot
def test_show_static_and_interactive_options():
    import gradtrace as gt
    t = gt.trace(lambda w=0.5, x=2.0: gt.tanh(w * x) ** 2).backward()
    d = t.show(interactive=False, style="3b1b")
    assert d._repr_svg_().startswith("<?xml") and "<iframe" not in d._repr_html_()
    s = t.show(style="compact", lr=0.3)
    assert "η = 0.3" in s.page and "<iframe srcdoc=" in s._repr_html_()
    assert 240 + 70 <= s.height() <= 720 + 70
