"""Rendering never stalls: shapes that stall Graphviz dot take the fast layout, Graphviz
runs under a memory cap in a child that dies with gradtrace, and its failures and file
errors come back as one clear line."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.render.lesson import for_view

from .conftest import needs_dot
from .svgread import read_fast_svg, read_svg


def shared_constant(x=0.3):
    acc = x
    for _ in range(50):
        acc = gt.sigmoid(acc) * 1.01
    return acc


def shared_weight(x=0.3, w=1.01):
    acc = x
    for _ in range(50):
        acc = gt.sigmoid(acc) * w
    return acc


def rnn40(x=np.linspace(-1, 1, 120).reshape(40, 3), Wx=np.full((3, 4), 0.1),
          Wh=np.eye(4) * 0.5, h0=np.zeros(4)):
    h = h0
    for t in range(40):
        h = np.tanh(x[t] @ Wx + h @ Wh)
    return np.sum(h)


@needs_dot
@pytest.mark.parametrize("view", ["lesson", "ops"])
@pytest.mark.parametrize("fn", [shared_constant, shared_weight, rnn40],
                         ids=["shared_constant", "shared_weight", "rnn40"])
def test_weight_sharing_renders_fast_with_every_label(fn, view, tmp_path):
    t = gt.trace(fn).backward()
    start = time.perf_counter()
    t.render(tmp_path / "d.svg", view=view)
    assert time.perf_counter() - start < 10
    svg = (tmp_path / "d.svg").read_text(encoding="utf-8")
    g = for_view(t, view).graph                       # the graph as drawn
    shown = sum(1 for u, _ in g.edges() if g.nodes[u]["requires_grad"])
    boxes = len(t.drawing(view=view).view.nodes)      # its nodes and the chips of shared inputs
    if 'class="gradtrace fast"' in svg:
        nodes, labels = read_fast_svg(svg)
    else:                                             # few enough boxes for dot
        nodes, edges = read_svg(svg)
        labels = [lines for texts in edges.values() for lines in texts if lines]
    assert len(nodes) == boxes and len(labels) == shown
    assert boxes > g.number_of_nodes() or fn is shared_constant and view == "lesson"


def test_long_fan_out_sums_are_counted_not_listed():
    def many(w=0.5):
        acc = 0.0
        for i in range(2500):
            acc = acc + w * float(i % 7)
        return acc
    t = gt.trace(many).backward()
    dot = t.to_dot(layout="fast")
    assert "Σ of 2,500 paths" in dot
    assert max(len(line) for line in dot.splitlines()) < 16_000


@needs_dot
def test_memory_cap_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADTRACE_GRAPHVIZ_MEMORY_MB", "16")
    t = gt.trace(rnn40).backward()
    with pytest.raises(gt.RenderError, match="memory") as info:
        t.render(tmp_path / "capped.svg", layout="dot", timeout=60, share="edges")
    assert "16 MiB" in str(info.value) and not (tmp_path / "capped.svg").exists()


@needs_dot
def test_timeout_zero_or_inf_means_no_limit(tmp_path):
    t = gt.trace(shared_weight).backward()
    for limit in (0, float("inf")):
        t.render(tmp_path / "x.svg", layout="fast", timeout=limit)
    with pytest.raises(gt.RenderError, match="timeout"):
        t.render(tmp_path / "y.png", layout="dot", timeout=-1)


def test_file_errors_are_not_blamed_on_the_model(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    (tmp_path / "afile").write_text("not a folder")      # fails for root too
    for out in ("x.json", "x.svg", "x.dot"):
        r = CliRunner().invoke(main, ["render", "square", "-o", str(tmp_path / "afile" / out)])
        assert r.exit_code == 2, r.output
        assert "cannot write" in r.output and "raised" not in r.output


@needs_dot
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_killing_gradtrace_leaves_no_graphviz_behind(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, gradtrace as gt
        def f(x=0.3, w=1.01):
            acc = x
            for _ in range(150):
                acc = gt.sigmoid(acc) * w
            return acc
        gt.trace(f).backward().render("out.svg", layout="dot", timeout=0, share="edges")
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    children = []
    deadline = time.time() + 30
    while time.time() < deadline and not children:
        time.sleep(0.2)
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                children = [int(c) for c in fh.read().split()]
        except OSError:
            break
    assert children, "Graphviz never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    alive = [c for c in children if os.path.exists(f"/proc/{c}") and
             open(f"/proc/{c}/stat").read().split()[2] != "Z"]
    for c in alive:
        os.kill(c, signal.SIGKILL)
    assert not alive
