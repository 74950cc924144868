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
