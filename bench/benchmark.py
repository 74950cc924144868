"""gradtrace side by side with micrograd, HIPS autograd, mygrad and hand-written numpy.

    ./dev bench            # the full run (a few minutes)
    ./dev bench --quick    # fewer repeats, no 20,000-node render
    ./dev bench --smoke    # tiny sizes: checks that every case still runs
    ./dev bench --only torch   # one case (scalar, dense, sin, torch, memory, million,
                               # render, whatif, page)

Every case is timed in this one process, tools interleaved round by round, and
reported as the median; ratios compare medians from the same run (the machine is
shared and noisy, so absolute times are context, ratios are the result).
Gradients are compared between tools before anything is timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradtrace as gt  # noqa: E402
from bench import pagetime  # noqa: E402
from bench.render_rows import lesson_view, rendering, weight_sharing, whatif_updates  # noqa: E402
from bench.timing import Table  # noqa: E402
from bench.torch_rows import torch_gpt, torch_mlp  # noqa: E402
from bench.tracing_rows import dense_mlp, memory, million, scalar_mlp, sin_chain  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no 20k-node render")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    ap.add_argument("--only", choices=["scalar", "dense", "sin", "torch", "memory", "million",
                                       "render", "whatif", "page"],
                    action="append", help="run only these cases (repeatable)")
    args = ap.parse_args(argv)
    table = Table()
    print(f"gradtrace {gt.__version__}, Python {platform.python_version()}, numpy "
          f"{np.__version__}, {platform.machine()}, {os.cpu_count()} cores\n")
    if args.smoke:
        scalar_mlp(table, 1, (2, 3, 1), 2)
        dense_mlp(table, 1, (8, 4, 2), 3)
        sin_chain(table, 1, 20, 4)
        memory(table, (2, 3, 1), 2)
        million(table, 100, graph=True)
        torch_mlp(table, 1, (8, 4, 3), 5)
        lesson_view(table, 1, smoke=True)
        torch_gpt(table, 1)
    else:
        repeats = 3 if args.quick else 7
        wanted = set(args.only or ["scalar", "dense", "sin", "torch", "memory", "million",
                                   "render", "whatif", "page"])
        if "scalar" in wanted:
            scalar_mlp(table, repeats, (2, 16, 16, 1), 32)
        if "dense" in wanted:
            dense_mlp(table, repeats * 3, (784, 256, 256, 10), 128)
        if "sin" in wanted:
            sin_chain(table, repeats * 3, 2000, 16)
        if "torch" in wanted:
            torch_mlp(table, repeats * 3, (784, 256, 10), 64)
            torch_gpt(table, repeats * 10)
        if "memory" in wanted:
            memory(table, (2, 16, 16, 1), 32)
        if "million" in wanted:
            million(table, 500_000, graph=not args.quick)
        if "render" in wanted:
            rendering(table, 3 if args.quick else 5, big=not args.quick)
            weight_sharing(table, 3 if args.quick else 5)
            lesson_view(table, 3 if args.quick else 5)
        if "whatif" in wanted:
            whatif_updates(table)
        if "page" in wanted:
            pagetime.rows(table)
    table.show()


if __name__ == "__main__":
    main()
