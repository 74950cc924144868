"""Mutation and aliasing never give a silently wrong gradient: each case is compared
with numpy's own forward value and with central finite differences."""

import gc
import os

import numpy as np
import pytest

import gradtrace as gt

from .conftest import numeric_grad, rss_mb


def agrees_with_numpy(f, x):
    """Trace f, run backward, and compare value and gradient with numpy and FD."""
    t = gt.trace(f, x).backward()
    plain = f(np.array(x, dtype=float))
    assert t.value == pytest.approx(float(plain))
    expected = numeric_grad(lambda v: float(f(np.array(v, dtype=float))), np.array(x, dtype=float))
    np.testing.assert_allclose(t.grads["x"], expected, rtol=1e-6, atol=1e-8)
    return t


def test_reused_buffer():
    data = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(x):
        buf = np.empty(2)
        total = 0.0
        for i in range(3):
            buf[:] = data[i]
            total = total + np.sum(x * buf)
        return total
    t = agrees_with_numpy(f, np.array([0.5, -1.0]))
    np.testing.assert_allclose(t.grads["x"], [9.0, 12.0])


def test_closed_over_constant_mutated_mid_trace():
    def f(x):
        c = np.array([2.0])
        y = x * c
        c[:] = 5.0
        return np.sum(y * c)
    t = agrees_with_numpy(f, np.array([1.0]))
    np.testing.assert_allclose(t.grads["x"], [10.0])


def test_views_of_a_constant():
    base = np.arange(6.0)

    def f(x):
        v = base[::2]
        first = np.sum(x * v)
        base[:] = 1.0               # the view sees this; the first product must not
        return first + np.sum(x * v)
    t = gt.trace(f, np.ones(3)).backward()
    np.testing.assert_allclose(t.grads["x"], [0.0 + 1.0, 2.0 + 1.0, 4.0 + 1.0])


def test_caller_mutates_input_after_the_trace():
    W = np.array([1.0, 2.0])
    t = gt.trace(lambda x: np.sum(x * x), W).backward()
    W -= 0.1 * t.grads["x"]
    assert t.value == pytest.approx(5.0)
    t.backward()
    np.testing.assert_allclose(t.grads["x"], [2.0, 4.0])


def test_index_array_reused_by_the_function():
    def f(x):
        idx = np.array([0, 1])
        a = x[idx]
        idx[:] = [2, 2]
        return np.sum(a * np.array([1.0, 10.0])) + np.sum(x[idx])
    agrees_with_numpy(f, np.array([1.0, 2.0, 3.0]))


def test_augmented_assignment_with_an_alias_is_refused_without_is_allowed():
    def aliased(x):
        y = x
        x += 1.0
        x *= 2.0
        return np.sum(x * y)
    with pytest.raises(gt.TraceError, match="in place"):
        gt.trace(aliased, np.ones(2))

    def rebinding(x):
        x = x + 1.0
        x = x * 2.0
        return np.sum(x)
    agrees_with_numpy(rebinding, np.ones(2))


_OUTSIDE = {n: np.empty(n) for n in (2, 4)}     # the caller's arrays: never written


@pytest.mark.parametrize("f", [
    lambda x: np.sum(x, out=np.empty(())),
    lambda x: np.sum(np.multiply(x, 2.0, out=_OUTSIDE[2])),
    lambda x: np.sum(np.clip(x, 0, 1, out=np.empty(2))),
    lambda x: np.sum(np.concatenate([x, x], out=np.empty(4))),
])
def test_every_out_argument_is_refused(f):
    with pytest.raises(gt.GradtraceError, match="out"):
        gt.trace(f, np.ones(2))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_traced_closures_are_freed():
    def make(i):
        big = np.full(131072, float(i))        # 1 MB

        def f(x):
            return np.sum(x * big[:2])
        return f
    gc.collect()
    before = rss_mb()
    for i in range(1000):
        t = gt.trace(make(i), np.ones(2)).backward()
        del t
    gc.collect()
    assert rss_mb() - before < 50


def test_check_on_an_empty_input_is_trivially_ok():
    report = gt.check(lambda x, y: np.sum(x * 2.0) + y, np.zeros((0, 3)), 1.0)
    assert report.ok
