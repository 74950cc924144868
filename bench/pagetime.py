"""The step-through page's speed in headless Chromium: on a ~3,000-node page, how long a
backward step takes to reach the screen (the key press until the next frame is painted),
how long a drag move does, and how long the page takes to load (navigation start until a
step can be taken and painted).  Targets: a step within 200 ms, a drag move within
100 ms, loading within 1 s.

Used by ``benchmark.py --only page`` and by the browser test, which asserts only
generous bounds (the machine is shared)."""

from __future__ import annotations

import os
import re
import shutil
import statistics
from pathlib import Path

import numpy as np

import gradtrace as gt

CHROMIUM = os.environ.get("GRADTRACE_CHROMIUM", "/usr/bin/chromium")
STEP_TARGET_MS, DRAG_TARGET_MS, LOAD_TARGET_MS = 200, 100, 1000

# time from a key press to the frame after it: rAF runs before paint, the timeout after
STEP_JS = """async (key) => { const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent('keydown', {key: key, bubbles: true}));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t0; }"""
# ms from navigation start until a step's frame is painted: the first step possible
READY_JS = """async () => {
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now(); }"""
DRAG_JS = """async (moves) => { const v = document.getElementById('gt-view');
  const r = v.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  const at = (dx, dy) => ({clientX: x + dx, clientY: y + dy, pointerId: 1, bubbles: true});
  v.dispatchEvent(new PointerEvent('pointerdown', at(0, 0)));
  const out = [];
  for (let i = 1; i <= moves; i++) { const t0 = performance.now();
    v.dispatchEvent(new PointerEvent('pointermove', at(9 * i, 4 * i)));
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    out.push(performance.now() - t0); }
  v.dispatchEvent(new PointerEvent('pointerup', at(9 * moves, 4 * moves)));
  return out; }"""


def big_model(X=None, W1=None, W2=None):
    """About 3,000 recorded scalar nodes: a 4-12-1 scalar MLP on 21 samples."""
    total = 0.0
    for x in X:
        hidden = [gt.tanh(sum(w * xi for w, xi in zip(row, x))) for row in W1]
        out = sum(w * h for w, h in zip(W2, hidden))
        total = total + (out - 1.0) ** 2
    return total


def big_trace():
    rng = np.random.default_rng(0)
    X = [[float(v) for v in r] for r in rng.normal(size=(21, 4))]
    W1 = [[float(v) for v in r] for r in rng.normal(size=(12, 4))]
    W2 = [float(v) for v in rng.normal(size=12)]
    return gt.trace(big_model, X, W1, W2, wrt=["W1", "W2"]).backward()


def unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return "chromium"
    return None


def measure_page(page, steps: int = 9, moves: int = 9) -> dict:
    """Median ms of a backward step (→ from mid-backward) and of a drag move, on an open
    page; the first drag move (the layer's first paint) is reported apart."""
    last = int(page.get_attribute("#gt-slider", "max"))
    kinds = page.evaluate("gradtracePage.steps.map(s => s.kind)")
    mid = kinds.index("backward") + kinds.count("backward") // 2
    page.evaluate(f"gradtracePage.go({min(mid, last - steps - 1)}, 'jump')")
    page.wait_for_timeout(200)
    step_ms = [page.evaluate(STEP_JS, "ArrowRight") for _ in range(steps)]
    drag_ms = page.evaluate(DRAG_JS, moves)
    return {"step_ms": statistics.median(step_ms), "step_max_ms": max(step_ms),
            "drag_ms": statistics.median(drag_ms[1:]), "first_drag_ms": drag_ms[0]}


def load_time(page, path) -> float:
    """Ms from navigation start until the page has taken its first step and painted it."""
    page.goto(path.as_uri(), wait_until="commit")
    page.wait_for_function("window.gtPage !== undefined", polling=10)
    return page.evaluate(READY_JS)


def measure(path, viewport=(1280, 800)) -> dict:
    """Open the page at ``path`` in headless Chromium and time it."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = b.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            load_ms = load_time(page, path)
            return {"load_ms": load_ms, **measure_page(page)}
        finally:
            b.close()


def rows(table):
    """The step-through page of a ~3,000-node trace in headless Chromium."""
    missing = unavailable()
    if missing:
        table.missing.add(missing)
        return
    t = big_trace()
    path = t.render(Path(os.environ.get("TMPDIR", "/tmp")) / "gradtrace-bench-page.html",
                    view="ops")              # every op: ~3,000 boxes, as the browser test
    drawn = len(re.findall(r'<g [^>]*class="(?:n|node)"', path.read_text(encoding="utf-8")))
    m = measure(path)
    case = f"step-through page, {t.graph.number_of_nodes():,} nodes ({drawn:,} boxes)"
    for what, ms, target, note in (
            ("loading, to the first step painted", m["load_ms"], LOAD_TARGET_MS,
             "navigation start until → has been taken and painted"),
            ("a backward step, to the next frame", m["step_ms"], STEP_TARGET_MS,
             f"slowest {m['step_max_ms']:.0f} ms"),
            ("a drag move, to the next frame", m["drag_ms"], DRAG_TARGET_MS,
             f"first move {m['first_drag_ms']:.0f} ms")):
        verdict = "meets" if ms <= target else "MISSES"
        table.rows.append((f"{case}: {what}", "Chromium", f"{ms:9.1f} ms", "",
                           f"{verdict} (<= {target} ms)", note))
