"""gradtrace's gradients against an independent autodiff (HIPS autograd), same code."""

import numpy as onp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradtrace as gt

ag = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")


def model(np, sigmoid, logsumexp):
    """One model body, run with numpy (traced by gradtrace) or autograd.numpy."""
    def loss(W1, b1, W2, X, labels_onehot):
        h = np.tanh(X @ W1 + b1)
        gate = sigmoid(h) * np.maximum(h, -0.5)
        logits = gate @ W2 + np.sum(W1 ** 2) * 0.01
        lse = logsumexp(logits)
        picked = np.sum(logits * labels_onehot, axis=1)
        stretched = np.concatenate([X[:, :1], np.exp(-X ** 2)], axis=1)
        return np.mean(lse - picked) + np.mean(np.sqrt(stretched ** 2 + 1.0))
    return loss


def ag_sigmoid(x):
    return 0.5 * (1 + anp.tanh(0.5 * x))


def ag_logsumexp(x):
    m = anp.max(x, axis=1, keepdims=True)
    return (m + anp.log(anp.sum(anp.exp(x - m), axis=1, keepdims=True)))[:, 0]


@given(data=st.data())
def test_matches_autograd(data):
    b = data.draw(st.integers(1, 5))
    d, h, c = (data.draw(st.integers(1, 4)) for _ in range(3))
    floats = st.floats(-1.5, 1.5)
    W1 = data.draw(hnp.arrays(onp.float64, (d, h), elements=floats))
    b1 = data.draw(hnp.arrays(onp.float64, (h,), elements=floats))
    W2 = data.draw(hnp.arrays(onp.float64, (h, c), elements=floats))
    X = data.draw(hnp.arrays(onp.float64, (b, d), elements=floats))
    onehot = onp.eye(c)[onp.arange(b) % c]
    # keep maximum(h, -0.5) away from its tie
    ours = gt.trace(model(onp, gt.sigmoid, lambda z: gt.logsumexp(z, axis=1)),
                    W1, b1, W2, X, onehot, wrt=["W1", "b1", "W2", "X"]).backward()
    theirs = model(anp, ag_sigmoid, ag_logsumexp)
    h_vals = onp.tanh(X @ W1 + b1)
    if onp.any(onp.abs(h_vals + 0.5) < 1e-6):
        return
    for i, name in enumerate(["W1", "b1", "W2", "X"]):
        expected = ag.grad(theirs, i)(W1, b1, W2, X, onehot)
        onp.testing.assert_allclose(ours.grads[name], expected, rtol=1e-9, atol=1e-12,
                                    err_msg=name)
