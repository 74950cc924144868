"""How the benchmark times and reports: tools interleaved round by round (ABBA),
``gc.collect()`` before every run for every tool alike, medians, one table."""

from __future__ import annotations

import gc
import importlib
import statistics
import time


def peer(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def timed(runs: dict, repeats: int) -> dict:
    """Median seconds per tool; tools take turns so drift hits them all alike.

    Each run returns what a user keeps (a trace, a loss with its graph, gradients);
    it is released after the clock stops, so no tool is charged for freeing the
    previous run's graph.
    """
    times = {name: [] for name in runs}
    order = list(runs.items())
    for round_ in range(repeats):
        for name, fn in (order if round_ % 2 == 0 else order[::-1]):  # ABBA: no tool
            # always runs right after the same neighbour
            gc.collect()
            t0 = time.perf_counter()
            kept = fn()
            times[name].append(time.perf_counter() - t0)
            del kept
    return {name: statistics.median(ts) for name, ts in times.items()}


class Table:
    def __init__(self):
        self.rows = []
        self.missing = set()

    def add(self, case, tool, seconds, base=None, target=None, note=""):
        ratio = seconds / base if base else None
        verdict = ""
        if target is not None and ratio is not None:
            verdict = "meets" if ratio <= target else "MISSES"
            verdict += f" (<= {target:g}x)"
        self.rows.append((case, tool, f"{seconds * 1e3:9.1f} ms",
                          f"{ratio:6.2f}x" if ratio is not None else "", verdict, note))

    def show(self):
        head = ("case", "tool", "median", "ratio", "target", "note")
        widths = [max(len(str(r[i])) for r in self.rows + [head]) for i in range(6)]
        line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa
        print(line(head))
        print(line(["-" * w for w in widths]))
        for r in self.rows:
            print(line(r))
        if self.missing:
            print(f"\npeers not installed (cases skipped): {', '.join(sorted(self.missing))}")
