"""Input snapshots are copied into reused buffers; no recorded value may ever change
because a buffer was reused while anything still saw it."""

import gc
import weakref

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.record import snapshot as snap

BIG = (300, 100)   # 240 KB: above MIN_POOLED, so it goes through the pool


def loss(W, x):
    return np.sum(np.tanh(x @ W))


def fresh(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=BIG[::-1]), rng.normal(size=(4, BIG[1]))


def test_a_buffer_is_reused_once_its_trace_is_gone():
    W, x = fresh(0)
    t = gt.trace(loss, W, x)
    first = t.tape.value(t.inputs["W"])
    assert first.base is not None and first.base.nbytes == W.nbytes   # a pooled buffer
    buf = weakref.ref(first.base)     # a strong reference would keep it from reuse
    del t, first
    gc.collect()
    t = gt.trace(loss, W * 2.0, x)
    assert t.tape.value(t.inputs["W"]).base is buf()
    assert np.array_equal(t.tape.value(t.inputs["W"]), W * 2.0)


@pytest.mark.parametrize("keeper", ["trace", "value", "view", "memoryview", "graph"])
def test_nothing_that_still_sees_a_snapshot_sees_it_change(keeper):
    W, x = fresh(1)
    t = gt.trace(loss, W, x).backward()
    value = t.tape.value(t.inputs["W"])
    kept = {"trace": t, "value": value, "view": value[::2, 1:].T,
            "memoryview": memoryview(value), "graph": t.graph}[keeper]
    expect = np.array(value)
    grad = np.array(t.grads["W"])
    del value
    if keeper != "trace":
        del t
    gc.collect()
    for k in range(3):                  # later traces of same-sized arrays
        W2, x2 = fresh(10 + k)
        gt.trace(loss, W2, x2).backward()
    if keeper == "trace":
        assert np.array_equal(kept.tape.value(kept.inputs["W"]), expect)
        assert np.array_equal(kept.backward().grads["W"], grad)
    elif keeper == "view":
        assert np.array_equal(kept, expect[::2, 1:].T)
    elif keeper == "memoryview":
        assert np.array_equal(np.asarray(kept), expect)
    elif keeper == "graph":
        W_id = [v for v, a in kept.nodes(data=True) if a["name"] == "W"][0]
        assert np.array_equal(kept.nodes[W_id]["value"], expect)
    else:
        assert np.array_equal(kept, expect)


def test_snapshots_and_their_buffers_are_read_only():
    W, x = fresh(2)
    t = gt.trace(loss, W, x)
    value = t.tape.value(t.inputs["W"])
    with pytest.raises(ValueError):
        value[0, 0] = 1.0
    with pytest.raises(ValueError):
        value.base[0] = 1
    with pytest.raises(ValueError):
        value.flags.writeable = True


def test_the_caller_writing_its_array_after_the_trace_changes_nothing():
    W, x = fresh(3)
    t = gt.trace(loss, W, x).backward()
    before = t.grads["W"].copy()
    W -= 0.5 * before
    assert np.array_equal(t.backward().grads["W"], before)


def test_buffers_no_trace_uses_are_let_go():
    for k in range(4):
        W, x = fresh(20 + k)
        gt.trace(loss, W, x).backward()
    gc.collect()
    held, free = snap.held()
    assert held <= snap.MAX_HELD
    gt.trace(lambda a: a * 2.0, 1.0)      # a trace of other shapes: what the one before
    held, free = snap.held()             # it did not use goes; its own W buffer stays
    assert held <= BIG[0] * BIG[1] * 8
    gt.trace(lambda a: a * 2.0, 1.0)
    assert snap.held() == (0, 0)


def test_over_the_limit_arrays_are_plain_copies(monkeypatch):
    monkeypatch.setattr(snap, "MAX_HELD", 0)
    W, x = fresh(4)
    t = gt.trace(loss, W, x)
    value = t.tape.value(t.inputs["W"])
    assert value.base.base is None and value.base.shape == W.shape   # a copy of its own
    assert not value.flags.writeable and np.array_equal(value, W)
    with pytest.raises(ValueError):
        value.flags.writeable = True
