"""Benchmark rows for drawing: the fast layout and Graphviz at growing sizes, shared
weights, the lesson view against the every-op view, and what-if updates."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import gradtrace as gt
from bench import models as M
from bench.timing import timed
from gradtrace.render.lesson import for_view, forget


def rendering(table, repeats, big: bool):
    """The fully labelled fast layout at ~300, ~3,000 and ~20,000 nodes, next to Graphviz
    dot on the same graph wherever dot finishes within 60 s; every label is counted."""
    def graph(n_samples, sizes):
        layers = M.scalar_mlp_params(sizes)
        xs, ys = M.scalar_data(n_samples)
        return gt.trace(lambda layers: M.scalar_mlp_loss(layers, xs, ys, gt.relu),
                        layers).backward()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "gradtrace-bench.svg"

    def draw(t, layout, timeout=600):       # every op drawn: every edge label counted
        return lambda: t.render(out, layout=layout, timeout=timeout, view="ops")
    cases = [(1, (2, 6, 6, 1), 1.0), (7, (2, 12, 12, 1), 5.0)]
    if big:
        cases.append((32, (2, 16, 16, 1), 30.0))
    for n_samples, sizes, target in cases:
        t = graph(n_samples, sizes)
        n = t.graph.number_of_nodes()
        runs = {"fast": draw(t, "fast")}
        dot_note = ""
        if n <= 1500 or big:   # does dot finish within 60 s? (one try decides)
            try:
                t0 = time.perf_counter()
                draw(t, "dot", timeout=60)()
                if time.perf_counter() - t0 < 60:
                    runs["dot"] = draw(t, "dot", timeout=60)
            except gt.RenderError:
                dot_note = "Graphviz dot: over 60 s"
        med = timed(runs, repeats if n < 10_000 else 1)
        draw(t, "fast")()
        text = out.read_text(encoding="utf-8")
        shown = sum(1 for u, v in t.graph.edges() if t.graph.nodes[u]["requires_grad"])
        labels = text.count('<g class="l"')
        note = f"{labels}/{shown} edge labels" + (f"; {dot_note}" if dot_note else "")
        base = med.get("dot")
        if base is not None:
            table.add(f"render {n} nodes to SVG", "Graphviz dot layout", base, base)
        table.add(f"render {n} nodes to SVG", "gradtrace fast layout", med["fast"], base,
                  None, note)
        verdict = "meets" if med["fast"] <= target and labels == shown else "MISSES"
        table.rows[-1] = table.rows[-1][:4] + (f"{verdict} (<= {target:g} s)",) + \
            table.rows[-1][5:]


def lesson_view(table, repeats, smoke: bool = False):
    """The lesson view's render (folding, composite formulas, why lines) against the
    every-op view's, both with the fast layout, at about 3,000 nodes: a scalar MLP (most
    ops unnamed, folded away) and a deep chain of named layers (little to fold)."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "gradtrace-bench-lesson.svg"
    layers = M.scalar_mlp_params((2, 3, 1) if smoke else (2, 12, 12, 1))
    xs, ys = M.scalar_data(2 if smoke else 7)
    mlp = gt.trace(lambda layers: M.scalar_mlp_loss(layers, xs, ys, gt.relu), layers)

    def named_chain(a=0.6, depth=30 if smoke else 1000):
        for _ in range(depth):
            z = 0.9 * a + 0.1           # the product and sum fold into z; a is a value
            a = gt.sigmoid(z)
        return (a - 1.0) ** 2
    for what, t in (("scalar MLP", mlp), ("named chain", gt.trace(named_chain))):
        t.backward()
        n = t.graph.number_of_nodes()
        boxes = for_view(t, "lesson").graph.number_of_nodes()
        runs = {view: (lambda t=t, view=view: (forget(t),      # the fold is timed too
                                                t.render(out, layout="fast", view=view)))
                for view in ("ops", "lesson")}
        med = timed(runs, repeats)
        table.add(f"render {what}, {n:,} nodes: lesson view ({boxes:,} boxes)",
                  "gradtrace lesson view", med["lesson"], med["ops"], 1.2,
                  "vs the every-op view, fast layout")


def weight_sharing(table, repeats):
    """Render time with default options of x -> σ(x)·w repeated 50, 200, 1,000 times: one
    weight used by every step, the shape that stalls Graphviz dot."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "gradtrace-bench-shared.svg"
    for steps in (50, 200, 1000):
        def chain(x=0.3, w=1.01, steps=steps):
            acc = x
            for _ in range(steps):
                acc = gt.sigmoid(acc) * w
            return acc
        t = gt.trace(chain).backward()
        sec = timed({"render": lambda t=t: t.render(out)}, repeats)["render"]
        n = t.graph.number_of_nodes()
        table.rows.append((f"render shared-weight chain, {steps} steps ({n} nodes)",
                           "gradtrace, default options", f"{sec * 1e3:9.1f} ms", "",
                           "meets (<= 10 s)" if sec <= 10 else "MISSES (<= 10 s)", ""))


def whatif_updates(table, updates: int = 20):
    """The page's what-if on a 600-node scalar chain, in Chromium: one update (replay
    forward and backward, rewrite every number of the diagram) after each of ``updates``
    typed values; the median and the slowest against the 50 ms target."""
    chromium = os.environ.get("GRADTRACE_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        table.missing.add("playwright (what-if in Chromium)")
        return
    if not os.path.exists(chromium):
        table.missing.add(f"chromium at {chromium} (what-if)")
        return

    def chain(w=0.9, x=0.5):
        h = x
        for _ in range(200):
            h = gt.sigmoid(w * h + 0.1)
        return h
    t = gt.trace(chain).backward()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "gradtrace-bench-whatif.html"
    t.render(path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(path.as_uri())
        ms = []
        for i in range(updates + 1):
            page.evaluate("""(v) => { const el = document.querySelector('[data-typed="w"]');
              el.value = String(v); el.dispatchEvent(new Event('change')); }""", 0.5 + i * 0.03)
            ms.append(page.evaluate("() => window.gtWhatif.lastMs"))
        browser.close()
    ms = ms[1:]          # the first update also lays out every line: not a slider's cost
    med = statistics.median(ms)
    table.rows.append((f"what-if update, {len(t.tape)}-node chain, Chromium", "gradtrace page",
                       f"{med:9.1f} ms", "", "meets (<= 50 ms)" if med <= 50 else
                       "MISSES (<= 50 ms)", f"slowest of {updates}: {max(ms):.1f} ms"))
