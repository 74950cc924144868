"""Shared helpers: an independent central-difference gradient in float64."""

import os
import shutil

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def numeric_grad(f, x, h=1e-6):
    """d f / d x by central differences, for a float or float array x (f returns a float)."""
    if isinstance(x, float):
        return (f(x + h) - f(x - h)) / (2 * h)
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.ravel()
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        g.ravel()[i] = (f(up.reshape(x.shape)) - f(down.reshape(x.shape))) / (2 * h)
    return g


@pytest.fixture
def fd():
    return numeric_grad


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux /proc)."""
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- shared models and checks
import gradtrace as gt  # noqa: E402


def chain_model(w1=0.4, b1=0.1, w2=-0.7, b2=0.3, w3=1.2, b3=-0.2, a0=0.9, y=1.0):
    """The seed's chain: three weights, three biases, four activations, (a(L) - y)^2."""
    z1 = w1 * a0 + b1
    a1 = gt.sigmoid(z1)
    z2 = w2 * a1 + b2
    a2 = gt.sigmoid(z2)
    z = w3 * a2 + b3
    a = gt.sigmoid(z)
    C0 = (a - y) ** 2
    return C0


def layer_model(W=((0.2, -0.5, 0.3), (0.7, 0.1, -0.4)), b=(0.05, -0.1), a_prev=(0.3, 0.8, 0.5),
                y=(1.0, 0.0)):
    """Two neurons fed by three activations: C = Σj (a(L)j − yj)^2."""
    C = 0.0
    for j in range(len(W)):
        zj = sum(W[j][k] * a_prev[k] for k in range(len(a_prev))) + b[j]
        aj = gt.sigmoid(zj)
        C = C + (aj - y[j]) ** 2
    return C


@pytest.fixture
def chain():
    return chain_model


@pytest.fixture
def layer():
    return layer_model


def assert_grads_match(f, *xs, rtol=1e-5, atol=1e-6):
    t = gt.trace(f, *xs).backward()
    for name, x in zip(t.wrt, xs):
        def partial(v, name=name):
            args = [v if n == name else a for n, a in zip(t.wrt, xs)]
            return float(f(*args))
        expected = numeric_grad(partial, x)
        got = t.grads[name]
        assert np.shape(got) == np.shape(x), (name, np.shape(got), np.shape(x))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


def weights_for(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape)
