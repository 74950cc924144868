"""The switchboard: every process-wide switch a trace throws is back where it was after
the trace, whether the traced function returns or raises, numpy or torch."""

import gc
import os

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.names import naming
from gradtrace.record import snapshot
from gradtrace.record.recorder import ACTIVE


def _switches():
    return (np.sum, np.array, np.linalg.norm, gc.isenabled(), gc.get_threshold(), ACTIVE.get())


def test_a_trace_puts_every_switch_back_even_when_the_function_raises():
    before = _switches()
    seen = {}

    def f(x=1.5):
        seen["inside"] = (np.sum is before[0], gc.get_threshold()[0] != 0,    # (a pause sets
                          ACTIVE.get() is not None)             # threshold 0, not gc.disable)
        return np.sum([x, x * 2.0])

    gen = snapshot._generation
    assert gt.trace(f).backward().grads["x"] == 3.0
    assert seen["inside"] == (False, False, True)      # wrapped, paused, recording
    assert snapshot._generation == gen + 1
    assert _switches() == before

    def bad(x=1.5):
        raise KeyError("boom")
    with pytest.raises(KeyError):
        gt.trace(bad)
    assert _switches() == before


def test_internal_files_are_the_package_minus_the_example_models():
    root = os.path.dirname(os.path.abspath(gt.__file__))
    assert os.path.join(root, "trace.py") in naming.INTERNAL_FILES
    assert os.path.join(root, "ops", "elementwise.py") in naming.INTERNAL_FILES
    assert os.path.join(root, "examples.py") not in naming.INTERNAL_FILES


def test_torch_trace_puts_the_switches_back():
    torch = pytest.importorskip("torch")
    before = _switches()
    lin = torch.nn.Linear(2, 1).double()
    t = gt.trace(lin, torch.ones(1, 2, dtype=torch.float64))
    assert t.value is not None and _switches() == before
