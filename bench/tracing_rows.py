"""Benchmark rows for tracing and backward: the scalar MLP (two spellings) against
micrograd, the dense MLP against hand-written numpy, the sin chain against HIPS
autograd and mygrad, memory per node, and the million-node chain."""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

import gradtrace as gt
from bench import models as M
from bench.timing import peer, timed

ROOT = str(Path(__file__).resolve().parent.parent)


def scalar_mlp(table, repeats, sizes, n):
    """The same Python model code run by both tools (only the number type differs), in
    the two spellings users write: ``sum(w * x for ...)`` and ``s = s + w * x``."""
    layers = M.scalar_mlp_params(sizes)
    xs, ys = M.scalar_data(n)
    mg = peer("micrograd.engine")
    if mg is None:
        table.missing.add("micrograd")
    nodes = 0
    for spelling, loss in (("sum(generator)", M.scalar_mlp_loss),
                           ("s = s + w * x", M.scalar_mlp_loss_loop)):
        def ours(loss=loss):
            t = gt.trace(lambda layers: loss(layers, xs, ys, gt.relu), layers)
            t.backward()
            return t
        t = ours()
        nodes = t.graph.number_of_nodes()
        case = f"scalar MLP {'-'.join(map(str, sizes))}, {n} samples, {spelling} ({nodes} nodes)"
        runs = {"gradtrace": ours}
        if mg is not None:
            params = [[{"w": [mg.Value(w) for w in neuron["w"]], "b": mg.Value(neuron["b"])}
                       for neuron in layer] for layer in layers]
            flat = [p for layer in params for neuron in layer for p in [*neuron["w"], neuron["b"]]]

            def micrograd(loss=loss, params=params, flat=flat):
                for p in flat:
                    p.grad = 0.0
                out = loss(params, xs, ys, lambda v: v.relu())
                out.backward()
                return out
            micrograd()
            ref = [p.grad for p in flat]
            mine = [t.grads[f"layers[{li}][{ni}].{k}"] for li, layer in enumerate(layers)
                    for ni, neuron in enumerate(layer)
                    for k in [f"w[{i}]" for i in range(len(neuron["w"]))] + ["b"]]
            assert np.allclose(ref, mine), "micrograd and gradtrace disagree"
            runs["micrograd"] = micrograd
        med = timed(runs, repeats)
        base = med.get("micrograd")
        table.add(case, "micrograd", base, base) if base else None
        table.add(case, "gradtrace", med["gradtrace"], base, 0.7,
                  f"{med['gradtrace'] / nodes * 1e6:.1f} µs/node")
    return nodes


def dense_mlp(table, repeats, sizes, batch):
    params = M.dense_params(sizes)
    X, Y = M.dense_data(batch, sizes)
    case = f"tanh MLP {'-'.join(map(str, sizes))}, batch {batch}"
    ref = M.dense_grads_by_hand(params, X, Y)

    def ours():
        t = gt.trace(M.dense_loss, params, X, Y, wrt="params")
        t.backward()
        return t
    for k, v in ours().grads.items():
        assert np.allclose(v, ref[k.split(".")[1]]), k
    runs = {"numpy by hand": lambda: M.dense_grads_by_hand(params, X, Y), "gradtrace": ours}
    ag = peer("autograd")
    if ag is not None:
        import autograd.numpy as anp
        grad_fn = ag.grad(lambda p: M.dense_loss(p, X, Y, tanh=anp.tanh, mean=anp.mean))
        for k, v in grad_fn(params).items():
            assert np.allclose(v, ref[k]), k
        runs["autograd"] = lambda: grad_fn(params)
    else:
        table.missing.add("autograd")
    mgd = peer("mygrad")
    if mgd is not None:
        def mygrad():
            ps = {k: mgd.tensor(v) for k, v in params.items()}
            loss = M.dense_loss(ps, X, Y, tanh=mgd.tanh, mean=mgd.mean)
            loss.backward()
            return {k: p.grad for k, p in ps.items()}
        for k, v in mygrad().items():
            assert np.allclose(v, ref[k]), k
        runs["mygrad"] = mygrad
    else:
        table.missing.add("mygrad")
    med = timed(runs, repeats)
    base = med["numpy by hand"]
    for tool in runs:
        table.add(case, tool, med[tool], base, 1.15 if tool == "gradtrace" else None)


def sin_chain(table, repeats, steps, width):
    x0 = np.linspace(-1, 1, width)
    case = f"{steps}× x = sin(x)·1.01 + 0.1 on a {width}-vector"

    def ours():
        t = gt.trace(lambda x: np.sum(M.sin_chain(x, steps)), x0)
        t.backward()
        return t
    runs = {"gradtrace": ours}
    ag = peer("autograd")
    if ag is not None:
        import autograd.numpy as anp
        grad_fn = ag.grad(lambda x: anp.sum(M.sin_chain(x, steps, sin=anp.sin)))
        assert np.allclose(grad_fn(x0), ours().grads["x"])
        runs["autograd"] = lambda: grad_fn(x0)
    else:
        table.missing.add("autograd")
    med = timed(runs, repeats)
    base = med.get("autograd")
    if base:
        table.add(case, "autograd", base, base)
    table.add(case, "gradtrace", med["gradtrace"], base, 0.4,
              f"{med['gradtrace'] / (3 * steps) * 1e6:.1f} µs/op")


def memory(table, sizes, n):
    """Bytes per node a trace holds once backward has run (values, locals, names, scopes,
    source lines, gradients and every edge's contribution), then once the networkx graph
    a view reads has been built as well."""
    layers = M.scalar_mlp_params(sizes)
    xs, ys = M.scalar_data(n)
    warm = gt.trace(lambda layers: M.scalar_mlp_loss(layers, xs, ys, gt.relu), layers)
    assert warm.graph.number_of_nodes() == len(warm.tape)   # caches filled, not measured
    gc.collect()
    tracemalloc.start()
    t = gt.trace(lambda layers: M.scalar_mlp_loss(layers, xs, ys, gt.relu), layers)
    traced, _ = tracemalloc.get_traced_memory()
    t.backward()
    after_backward, peak = tracemalloc.get_traced_memory()
    assert t.graph.number_of_nodes() == len(t.tape)
    with_graph, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nodes = len(t.tape)
    per = after_backward / nodes
    table.rows.append((f"memory, scalar MLP ({nodes} nodes)", "gradtrace",
                       f"{per:6.0f} B/node", "", "meets (<= 900 B)" if per <= 900 else
                       "MISSES (<= 900 B)",
                       f"after backward; {traced / nodes:.0f} B/node traced, "
                       f"{with_graph / nodes:.0f} B/node once the graph is built too, "
                       f"peak {peak / 2**20:.1f} MiB"))


MILLION = """
import resource, sys, time
sys.path.insert(0, {root!r})
import gradtrace as gt
def chain(x, w, steps={steps}):
    acc = x
    for _ in range(steps):
        acc = acc * w + 0.0001
    return acc
t0 = time.perf_counter()
t = gt.trace(chain, 0.5, 0.999999)
t1 = time.perf_counter()
t.backward()
t2 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {graph}:
    t.graph
print(len(t.tape), t1 - t0, t2 - t1, rss, time.perf_counter() - t2,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def million(table, steps, graph: bool):
    """A scalar trace of 2·steps + 3 nodes, traced and differentiated in a fresh process so
    its peak RSS is its own; with ``graph``, the first ``t.graph`` (networkx graph, names,
    formulas) is timed after it."""
    code = MILLION.format(root=ROOT, steps=steps, graph=graph)
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True).stdout.split()
    nodes, trace_s, back_s, rss_kb = int(out[0]), float(out[1]), float(out[2]), int(out[3])
    graph_s, rss2_kb = float(out[4]), int(out[5])
    note = (f"trace {trace_s:.2f} s, backward {back_s:.2f} s, peak RSS "
            f"{rss_kb / 2**20:.2f} GiB (whole process)")
    if graph:
        note += f"; then first t.graph {graph_s:.1f} s, peak RSS {rss2_kb / 2**20:.2f} GiB"
    table.rows.append((f"{nodes:,}-node scalar chain, trace + backward", "gradtrace",
                       f"{(trace_s + back_s) * 1e3:9.1f} ms", "", "completes", note))
