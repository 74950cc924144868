"""Hostile input, round two: numbers that used to come out silently wrong (issue 30)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.errors import GradtraceError


def test_a_closed_over_list_changed_mid_function_is_a_new_constant():
    coef = [2.0, 4.0]

    def f(a):
        p = a * coef
        coef[0] = 10.0
        return (p + a * coef).sum()

    t = gt.trace(f, np.array([1.0, 1.0])).backward()
    assert t.value == 20.0                       # was 12: the stale [2, 4] used twice
    np.testing.assert_array_equal(t.grads["a"], [12.0, 8.0])


def test_a_closed_over_list_unchanged_is_one_node():
    coef = [2.0, 4.0]
    t = gt.trace(lambda a: (a * coef + a * coef).sum(), np.array([1.0, 1.0]))
    consts = [r for r in t.tape.records if r[0] == "const"]
    assert len(consts) == 1


def test_a_closed_over_array_changed_from_plus_to_minus_zero_is_a_new_constant():
    c = np.array([0.0])

    def f(a):
        p = a / c
        c[0] = -0.0
        return (p + a / c).sum()

    with np.errstate(divide="ignore", invalid="ignore"):
        t = gt.trace(f, np.array([1.0]))
    assert math.isnan(t.value)                   # inf + (−inf); was inf (the +0 reused)


@pytest.mark.parametrize("const", [np.complex128(1 + 2j), np.complex64(1j), 1 + 2j])
def test_complex_constants_are_refused(const):
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no ComplexWarning, a refusal
        with pytest.raises(GradtraceError, match="complex"):
            gt.trace(lambda x: (x * const).sum(), np.array([1.0]))
        with pytest.raises(GradtraceError, match="complex"):
            gt.trace(lambda x: np.multiply(x, const).sum(), np.array([1.0]))


NAN = float("nan")
# (function, input, expected value, expected gradient): one rule on floats and arrays
NAN_RULES = [
    (lambda x: np.maximum(x, 1.0), NAN, NAN, NAN),      # numpy and torch: max(nan, 1) = nan
    (lambda x: np.minimum(x, 1.0), NAN, NAN, NAN),
    (lambda x: np.maximum(1.0, x), NAN, NAN, NAN),
    (gt.relu, NAN, NAN, NAN),                           # torch: relu(nan) = nan
    (abs, NAN, NAN, NAN),
    (lambda x: np.clip(x, 0.0, 1.0), NAN, NAN, NAN),
    (lambda x: np.sqrt(x * x), 0.0, 0.0, NAN),          # torch: nan (inf · 0)
    (lambda x: np.log(np.exp(x)), 800.0, math.inf, NAN),  # torch: nan
    (lambda x: np.fmax(x, 1.0), NAN, 1.0, 0.0),         # fmax ignores NaN (numpy's rule)
    (lambda x: np.where(x > 0, np.log(x), 0.0), 0.0, 0.0, 0.0),   # branch not taken stays 0
    (lambda x: np.where(x > 0, np.sqrt(x), 0.0), 0.0, 0.0, 0.0),
    (lambda x: np.maximum(x, 1.0), 1.0, 1.0, 0.5),      # ties still split
    (gt.relu, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize("fn, x, value, grad", NAN_RULES)
def test_floats_and_arrays_follow_one_nan_rule(fn, x, value, grad):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        on_float = gt.trace(fn, x).backward()
        on_array = gt.trace(lambda a: fn(a).sum(), np.array([x, x])).backward()
    np.testing.assert_equal(on_float.value, value)
    np.testing.assert_equal(on_float.grads["x"], grad)
    np.testing.assert_equal(on_array.grads["a"], [grad, grad])


def test_torch_code_gradtrace_cannot_see_is_named_not_a_zero_gradient():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with pytest.raises(GradtraceError, match="depends on x .*vmap"):
        gt.trace(lambda x: torch.func.vmap(torch.sin)(x).sum(), x)
    for fn in (lambda x: (x * (1 + 1j)).abs().sum(), lambda x: torch.fft.fft(x).abs().sum()):
        with pytest.raises(GradtraceError, match="complex tensor"):
            gt.trace(fn, x)
    with pytest.warns(gt.GradtraceWarning, match="does not depend"):   # a true constant
        gt.trace(lambda x: torch.ones(2).sum(), x)


def test_a_module_inside_vmap_is_refused_at_the_call():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(2, 1).double()
    x = torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(GradtraceError, match="F.linear .*torch.func transform"):
        gt.trace(lambda m, x: torch.func.vmap(m)(x).sum(), lin, x)
    assert lin.weight.requires_grad and lin.weight.grad is None
