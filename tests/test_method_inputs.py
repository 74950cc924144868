"""A bound method's object and a callable object's attributes are inputs (named
``self.W``), not constants that silently get no gradient."""

import numpy as np
import pytest

import gradtrace as gt


class MLP:
    def __init__(self):
        rng = np.random.default_rng(1)
        self.W1 = rng.normal(size=(3, 4))
        self.b1 = rng.normal(size=4)
        self.W2 = rng.normal(size=(4, 1))
        self.steps = 2

    def forward(self, x):
        h = np.tanh(x @ self.W1 + self.b1)
        return np.sum(h @ self.W2) * self.steps

    __call__ = forward


X = np.random.default_rng(2).normal(size=(5, 3))


@pytest.mark.parametrize("fn", [lambda n: n.forward, lambda n: n],
                         ids=["bound method", "callable object"])
def test_object_floats_are_inputs_checked_by_finite_differences(fn):
    net = MLP()
    t = gt.trace(fn(net), X)
    assert set(t.grads) == {"self.W1", "self.b1", "self.W2", "x"}
    assert t.check().ok
    same = gt.trace(MLP.forward, net, X)        # named as the unbound call names them
    for name in t.grads:
        np.testing.assert_allclose(t.grads[name], same.grads[name])
    assert net.W1 is not None and type(net.W1) is np.ndarray   # the user's object untouched


def test_wrt_and_retrace_on_a_method():
    net = MLP()
    t = gt.trace(net.forward, X, wrt=["self.W2"])
    assert t.wrt == ["self.W2"]
    moved = t.traced_again({"self.W2": np.zeros((4, 1))})
    assert moved.value == 0.0
