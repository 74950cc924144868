"""Regression tests for the numpy boundary: keywords are implemented or refused by
name, never dropped; floats and 0-d values reach every rule as arrays; numpy's own
errors come back as gradtrace errors naming the function."""

import numpy as np
import pytest

import gradtrace as gt

from .conftest import assert_grads_match

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


@pytest.mark.parametrize("call, keyword", [
    (lambda x: np.sum(x, where=x > 0), "where"),
    (lambda x: np.mean(x, where=x > 0), "where"),
    (lambda x: np.max(x, where=x > 0, initial=0.0), "where"),
    (lambda x: np.var(x, mean=np.mean(x)), "mean"),
    (lambda x: np.sum(x, dtype=np.float32), "dtype"),
    (lambda x: np.sum(np.exp(x, where=x > 0)), "where"),
    (lambda x: np.einsum("ij->i", x, bogus=1), "bogus"),
    (lambda x: np.sum(np.pad(x, 1, mode="mean")), "mode"),
])
def test_unimplemented_keywords_are_refused_by_name(call, keyword):
    with pytest.raises(gt.GradtraceError, match=keyword):
        gt.trace(call, X)


_OUTSIDE = np.empty((2, 3))      # an array the caller owns: a trace never writes it


@pytest.mark.parametrize("call", [
    lambda x: np.sum(x, out=np.empty(())),
    lambda x: np.sum(np.add(x, 1.0, out=_OUTSIDE)),
    lambda x: np.sum(np.cumsum(x, out=np.empty(6))),
    lambda x: np.sum(np.dot(x, x.T, out=np.empty((2, 2)))),
])
def test_out_is_refused(call):
    with pytest.raises(gt.GradtraceError, match="out"):
        gt.trace(call, X)


def test_sum_initial_is_implemented():
    t = gt.trace(lambda x: np.sum(x, initial=10.0), X).backward()
    assert t.value == pytest.approx(X.sum() + 10.0)
    np.testing.assert_allclose(t.grads["x"], np.ones_like(X))


def test_where_with_a_traced_condition_and_constant_branches():
    t = gt.trace(lambda x: np.sum(np.where(x > 0, 1.0, 2.0) * x), X).backward()
    np.testing.assert_allclose(t.grads["x"], np.where(X > 0, 1.0, 2.0))


@pytest.mark.parametrize("fn", [
    lambda x: np.dot(1.5, x), lambda x: np.reshape(x, (1,)) * 2.0, lambda x: gt.logsumexp(x),
    lambda x: np.sum(np.dot(x, np.ones(1)[0])), lambda x: np.linalg.norm(x) + np.var(x),
])
def test_float_inputs_reach_rules_as_arrays(fn):
    assert_grads_match(lambda x: np.sum(fn(x)), 0.7)
    assert_grads_match(lambda x: np.sum(fn(x)), np.array(0.7))


def test_transpose_with_negative_axes():
    x = np.arange(8.0).reshape(2, 2, 2)
    R = np.random.default_rng(1).normal(size=(2, 2, 2))
    assert_grads_match(lambda x: np.sum(np.transpose(x, (0, -1, 1)) * R), x)


@pytest.mark.parametrize("fn", [lambda x: np.power(x, 0.0), lambda x: x ** 0,
                                lambda x: np.power(x, x * 0.0)])
def test_power_zero_at_zero_is_zero_not_nan(fn):
    t = gt.trace(lambda x: np.sum(fn(x)), np.zeros(3)).backward()
    np.testing.assert_array_equal(t.grads["x"], np.zeros(3))


def test_methods_mirror_ndarray():
    def f(x):
        return (x.var() + x.std(axis=0).sum() + x.prod() + x.cumsum()[-1] + x.clip(0, 1).sum()
                + x[None].squeeze().sum() + x.copy().sum() + x.round(1).sum()
                + x.swapaxes(0, 1).sum() + x.repeat(2).sum() + x.flatten().sum()
                + x.astype(np.float64).sum() + x.dot(np.ones(3)).sum()
                + x[:, x.argmax(axis=1)[0]].sum() + (x % 0.7).sum())
    assert_grads_match(f, X + np.array([0.03, 0.02, 0.06]))


def test_item_and_tolist_only_where_no_gradient_is_lost():
    with pytest.raises(gt.TraceError, match="gradient"):
        gt.trace(lambda x: x.sum().item() * x, 1.0)
    t = gt.trace(lambda x, c: x * np.float64(c.item()), 2.0, np.array(3.0), wrt=["x"]).backward()
    assert t.grads["x"] == 3.0


def test_augmented_assignment_on_arrays_is_refused_on_floats_allowed():
    def f(x):
        y = x
        x += 1.0
        return np.sum(x * y)
    with pytest.raises(gt.TraceError, match="x = x"):
        gt.trace(f, np.ones(2))

    def g(x):
        x += 1.0
        x *= 2.0
        return x
    assert gt.trace(g, 1.0).backward().grads["x"] == 2.0


def test_numpy_errors_name_the_function():
    with pytest.raises(gt.TraceError, match="np.sum"):
        gt.trace(lambda x: np.sum(x, axis=5), X)
    with pytest.raises(gt.TraceError, match="add"):
        gt.trace(lambda x: np.sum(x + np.ones(4)), X)
    with pytest.raises(gt.TraceError, match="matmul"):
        gt.trace(lambda x: np.sum(x @ 2.0), X)
    with pytest.raises(gt.TraceError, match="np.take.*constant"):
        gt.trace(lambda x: np.sum(np.take(x, x)), X)


def test_array_of_lists_keeps_gradients_and_refuses_ragged():
    t = gt.trace(lambda a, b: np.sum(np.array([[a, 1.0], [2.0, b]]) ** 2), 3.0, 4.0).backward()
    assert t.grads == {"a": 6.0, "b": 8.0}
    with pytest.raises(gt.TraceError, match="different shapes"):
        gt.trace(lambda a: np.sum(np.array([a, np.ones(2)])), 1.0)
    assert np.array is np.array  # numpy is restored after the trace
    assert np.sum.__module__.startswith("numpy")


def test_numpy_is_untouched_outside_a_trace():
    before = (np.array, np.asarray, np.sum)
    gt.trace(lambda x: np.sum(np.array([x, x])), 1.0)
    assert (np.array, np.asarray, np.sum) == before
