"""Hostile input, round two: the user's objects are never changed by a trace (issue 30)."""

from __future__ import annotations

import gc
import random

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.errors import GradtraceError


def cubes(w):
    return np.sum(w ** 3)


def test_check_uses_the_traces_snapshot_not_the_live_arguments():
    w = np.array([1.0, 2.0])
    t = gt.trace(cubes, w).backward()
    w -= 0.1 * t.grads["w"]                 # the user's update step after tracing
    report = t.check()
    assert report.ok, str(report)           # was MISMATCH on correct gradients


def test_check_leaves_the_global_random_generators_alone():
    def noisy(x=1.0):
        np.random.random()
        random.random()
        return x * x
    t = gt.trace(noisy).backward()
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    assert t.check().ok
    assert np.array_equal(np.random.get_state()[1], np_state) and random.getstate() == py_state


def test_what_a_trace_hands_out_cannot_change_it():
    t = gt.trace(lambda a: a * 2.0, np.array([1.0, 2.0])).backward(np.ones(2))
    for handed in (t.value, t.grads["a"], t.grad("a"), t.seed):
        with pytest.raises(ValueError):
            handed *= 10
    np.testing.assert_array_equal(t.value, [2.0, 4.0])
    np.testing.assert_array_equal(t.grads["a"], [2.0, 2.0])


def test_the_seed_is_the_traces_own_copy():
    seed = np.ones(2)
    t = gt.trace(lambda a: a * 2.0, np.array([1.0, 2.0])).backward(seed)
    seed[0] = 5.0
    assert t.seed[0] == 1.0


@pytest.mark.parametrize("n", [3, 10_000])       # under and over the pooled size
def test_snapshots_cannot_be_made_writable_again(n):
    w = np.ones(n)
    frozen = np.ones(n)
    frozen.flags.writeable = False
    t = gt.trace(lambda w, v: np.sum(w * v), w, frozen)
    for name in ("w", "v"):
        recorded = t.tape.value(t.inputs[name])
        with pytest.raises(ValueError):
            recorded.flags.writeable = True
    frozen.flags.writeable = True            # the owner thaws its own array ...
    frozen[0] = 7.0
    assert t.tape.value(t.inputs["v"])[0] == 1.0   # ... and the trace does not see it


def test_label_on_a_finished_trace_is_refused():
    kept = {}

    def f(x=1.0):
        kept["y"] = y = x * 2.0
        return y + 1.0
    t = gt.trace(f)
    with pytest.raises(GradtraceError, match="finished"):
        gt.label(kept["y"], "renamed")
    assert "renamed" not in {a["name"] for _, a in t.graph.nodes(data=True)}


@pytest.mark.parametrize("inside", [gc.disable, gc.enable])
def test_the_users_gc_switch_inside_the_function_is_kept(inside):
    before = gc.isenabled()

    def f(x=1.0):
        inside()
        return x * 2.0
    try:
        gt.trace(f)
        assert gc.isenabled() == (inside is gc.enable)   # was: always enabled again
    finally:
        if before:
            gc.enable()
        else:
            gc.disable()


def test_gc_is_paused_during_the_trace_and_back_after():
    seen = []

    def f(x=1.0):
        seen.append(gc.get_threshold()[0])
        return x * 2.0
    before = gc.get_threshold()
    gt.trace(f)
    assert seen == [0] and gc.get_threshold() == before and gc.isenabled()


torch = pytest.importorskip("torch")


def test_torch_check_leaves_batchnorm_buffers_rng_and_weights_alone(tmp_path):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).double().train()
    x = torch.randn(4, 3, dtype=torch.float64)
    t = gt.trace(lambda model, x: model(x).pow(2).sum(), model, x).backward()
    bn = model[1]
    assert bn.num_batches_tracked.item() == 1
    stats = bn.running_mean.clone()
    rng = torch.get_rng_state()
    assert t.check().ok
    t.render(tmp_path / "bn.html")           # its update step re-runs the model once
    assert bn.num_batches_tracked.item() == 1             # was 65, then 66
    assert torch.equal(bn.running_mean, stats) and torch.equal(torch.get_rng_state(), rng)
    with torch.no_grad():
        model[0].weight -= 0.1               # the user trains after tracing
    assert t.check().ok                      # was MISMATCH
