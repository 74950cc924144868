"""Writes into arrays (issue 27): buffers the function fills, in-place updates, views
that see the write, math-module functions, one-element outputs, and errors that name
the user's line.  Every gradient is checked against central finite differences."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradtrace as gt

from .conftest import assert_grads_match

RNG = np.random.default_rng(7)


def check(fn, *args, **kwargs):
    report = gt.check(fn, *args, **kwargs)
    assert report.ok, str(report)
    return report


def test_a_buffer_filled_in_a_loop():
    def fill(w):
        out = np.zeros(4)
        for i in range(4):
            out[i] = w[i] * w[(i + 1) % 4]
        return np.sum(out ** 2)
    check(fill, RNG.normal(size=4))


def test_the_loop_convolution_names_each_write_after_its_variable():
    def conv(x, k):
        out = np.zeros((3, 3))
        for i in range(3):
            for j in range(3):
                patch = x[i:i + 2, j:j + 2]
                out[i, j] = np.sum(patch * k)
        return np.sum(out ** 2)
    x, k = RNG.normal(size=(4, 4)), RNG.normal(size=(2, 2))
    check(conv, x, k)
    t = gt.trace(conv, x, k)
    writes = [a["name"] for _, a in t.graph.nodes(data=True) if a["op"] == "setitem"]
    assert writes == [f"out{s}" for s in "₁₂₃₄₅₆₇₈₉"]


def test_the_svm_loss_with_a_fancy_index_write():
    y = np.array([0, 2, 1, 1, 0])

    def svm(W, X):
        n = X.shape[0]
        scores = X @ W
        correct = scores[np.arange(n), y]
        margins = np.maximum(0, scores - correct[:, None] + 1.0)
        margins[np.arange(n), y] = 0
        return np.sum(margins) / n
    W, X = RNG.normal(size=(3, 3)), RNG.normal(size=(5, 3))
    check(svm, W, X)
    def by_hand(W, X):
        n = X.shape[0]
        scores = X @ W
        correct = scores[np.arange(n), y]
        margins = np.maximum(0, scores - correct[:, None] + 1.0)
        keep = np.ones_like(margins)
        keep[np.arange(n), y] = 0
        return np.sum(margins * keep) / n
    np.testing.assert_allclose(gt.trace(svm, W, X).value, by_hand(W, X))


def test_augmented_assignment_chains_and_aliases_see_them():
    def chain(x, w):
        h = x * 1.0
        alias = h
        h += w
        h *= w
        h -= 0.5
        h /= 2.0
        return np.sum(alias * x)          # numpy: alias is h, updated in place
    x, w = RNG.normal(size=3), RNG.normal(size=3)
    check(chain, x, w)
    np.testing.assert_allclose(gt.trace(chain, x, w).value,
                               np.sum(((x + w) * w - 0.5) / 2.0 * x))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_boolean_mask_and_repeated_index_writes(data):
    x = data.draw(hnp.arrays(np.float64, 6, elements=st.floats(-2, 2)))
    w = data.draw(hnp.arrays(np.float64, 3, elements=st.floats(-2, 2)))
    mask = np.array([True, False, True, True, False, False])

    def writes(x, w):
        h = np.exp(x)
        h[mask] = w * 2.0                   # three places, three values
        h[[1, 4, 1]] = w ** 2               # slot 1 written twice: numpy keeps the last
        h[h > 100.0] = 100.0
        return np.sum(h * np.arange(1.0, 7.0))
    assert_grads_match(writes, x, w)


def test_a_write_broadcasts_and_out_is_written():
    def f(w, b):
        out = np.empty((2, 3))
        out[:] = w                          # (3,) broadcast over both rows
        out[1, :2] = b[0]
        np.multiply(out, b[1], out=out)
        return np.sum(out * np.arange(6.0).reshape(2, 3))
    check(f, RNG.normal(size=3), RNG.normal(size=2))


def test_an_earlier_view_sees_the_write():
    def f(w):
        out = np.zeros((2, 2))
        first = out[0:1]
        col = out.T[1]
        out[0] = w
        out[1, 1] = w[0] * 3.0
        return np.sum(first * 2.0) + np.sum(col * 5.0)
    w = np.array([0.5, -1.5])
    check(f, w)
    np.testing.assert_allclose(gt.trace(f, w).value, 2 * w.sum() + 5 * (w[1] + 3 * w[0]))


def test_a_write_into_a_view_lands_in_its_base():
    def f(w):
        out = np.zeros((2, 3))
        row = out[1]
        row[::2] = w                        # numpy writes out[1, 0] and out[1, 2]
        out[0][1] = w[0] * w[1]            # chained indexing writes through too
        return np.sum(out * np.arange(1.0, 7.0).reshape(2, 3))
    w = np.array([0.5, -1.5])
    check(f, w)
    np.testing.assert_allclose(gt.trace(f, w).value, 4 * 0.5 + 6 * -1.5 + 2 * 0.5 * -1.5)


def test_inputs_and_read_only_views_are_never_written():
    def into_input(x):
        x[0] = 1.0
        return np.sum(x)
    with pytest.raises(gt.TraceError, match=r"input 'x'.*x = x.copy\(\)"):
        gt.trace(into_input, np.ones(2))

    def into_input_view(x):
        row = x[0]
        row += 1.0
        return np.sum(x)
    x = np.ones((2, 2))
    with pytest.raises(gt.TraceError, match="input 'x'"):
        gt.trace(into_input_view, x)
    assert (x == 1.0).all()

    def into_broadcast(w):
        b = np.broadcast_to(w * 1.0, (2, 2))
        b[0, 0] = 1.0
        return np.sum(b)
    with pytest.raises(gt.TraceError, match="read-only view"):
        gt.trace(into_broadcast, np.ones(2))


def test_math_module_functions_record_their_numpy_ops_and_are_restored():
    def neuron(w, b, a=0.7):
        z = w * a + b
        return 1 / (1 + math.exp(-z)) + math.tanh(z) * math.log(2.0 + z * z)
    check(neuron, 0.4, -0.3)
    assert math.exp.__module__ == "math" and math.tanh is math.__dict__["tanh"]
    assert isinstance(math.exp(1.0), float)


def test_full_with_a_traced_fill_value_passes_its_gradient():
    """Issue 30: np.full_like(a, b[0]) * a used to drop b's gradient."""
    def f(a, b):
        return np.sum(np.full_like(a, b[0]) * a) + np.sum(np.full((2, 3), b[1]) ** 2)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5])
    check(f, a, b)
    np.testing.assert_allclose(gt.trace(f, a, b).grads["b"], [a.sum(), 2 * 6 * 1.5])


def test_a_one_element_output_is_a_scalar_for_backward():
    def least_squares(w, X=np.arange(6.0).reshape(3, 2), y=np.array([[1.0], [0.0], [2.0]])):
        err = X @ w - y
        return err.T @ err                  # shape (1, 1)
    w = np.array([[0.3], [-0.2]])
    t = gt.trace(least_squares, w).backward()
    X, y = np.arange(6.0).reshape(3, 2), np.array([[1.0], [0.0], [2.0]])
    np.testing.assert_allclose(t.grads["w"], 2 * X.T @ (X @ w - y))
    check(least_squares, w)


def test_errors_name_the_users_line_and_the_fix():
    def model(w=0.5):
        z = w * 2.0
        return np.sum(np.fft.fft(np.array([z, z])))
    with pytest.raises(gt.TraceError, match=r"^test_writes\.py:\d+: .*np\.fft\.fft"):
        gt.trace(model)


def _cli(tmp_path, source, *args):
    (tmp_path / "m.py").write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "gradtrace", "render",
                           f"{tmp_path / 'm.py'}:model", "-o", str(tmp_path / "o.svg"), *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_names_the_line_of_a_math_function_bound_before_the_trace(tmp_path):
    run = _cli(tmp_path, """\
        import numpy as np
        from math import tanh


        def model(w=0.5, x=2.0):
            z = w * x
            return tanh(z)
        """)
    assert run.returncode != 0
    assert "m.py:7: tanh from the math module cannot be traced" in run.stderr
    assert "np.tanh" in run.stderr and "Traceback" not in run.stderr


def test_cli_set_with_a_word_for_a_number_names_the_input(tmp_path):
    run = _cli(tmp_path, """\
        def model(w=0.5, x=2.0):
            return w * x
        """, "--set", "w=banana")
    assert run.returncode != 0
    assert "--set w=banana: 'w' is a number" in run.stderr and "Traceback" not in run.stderr


def test_filling_a_data_buffer_with_plain_numbers_stays_linear():
    def f(w):
        X = np.zeros((3000, 4))
        for i in range(3000):
            X[i] = np.arange(4.0) * (i % 7)      # plain numbers: written in place
        return np.sum(X @ w)
    t = gt.trace(f, np.ones(4))
    assert len(t.tape) < 10
    np.testing.assert_allclose(t.backward().grads["w"], np.zeros((3000, 4)).sum(0)
                               + sum(i % 7 for i in range(3000)) * np.arange(4.0))


def test_buffers_of_constants_still_act_as_arrays():
    def f(w):
        e = np.eye(3)
        assert e.nbytes == 72 and e.ndim == 2
        vals = np.linalg.eigvalsh(e * 2.0)       # not in the op table: fine on constants
        return np.sum(w * vals)
    np.testing.assert_allclose(gt.trace(f, np.ones(3)).backward().grads["w"], [2.0] * 3)

    def attributes(w):
        e = np.eye(3)
        assert e.itemsize == 8 and e.tobytes() == np.eye(3).tobytes()    # a constant's
        with pytest.raises(AttributeError, match="carries a gradient"):
            w.nbytes                             # noqa: B018 - w gets a gradient
        with pytest.raises(AttributeError, match="records versions, not memory"):
            e.base                               # noqa: B018 - would alias the tape's copy
        with pytest.raises(AttributeError):
            e.no_such_attribute                  # noqa: B018
        return np.sum(w * e[0])
    np.testing.assert_allclose(gt.trace(attributes, np.ones(3)).backward().grads["w"],
                               [1.0, 0.0, 0.0])

    outside = np.zeros(2)

    def into_outside(w):
        outside[0] = w[0]
        return np.sum(w)
    with pytest.raises(gt.TraceError, match="made outside the traced function"):
        gt.trace(into_outside, np.ones(2))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fancy_index_writes_match_numpy_and_finite_differences(data):
    idx = data.draw(st.lists(st.integers(-5, 4), min_size=1, max_size=7))
    v_len = data.draw(st.sampled_from([1, len(idx)]))
    x = data.draw(hnp.arrays(np.float64, (5, 2), elements=st.floats(-2, 2)))
    v = data.draw(hnp.arrays(np.float64, (v_len, 1), elements=st.floats(-2, 2)))
    weights = np.arange(1.0, 11.0).reshape(5, 2)

    def f(x, v):
        h = x * 1.0
        h[idx] = v * 3.0                   # (v_len, 1) broadcast over the picked rows
        h[1:4:2, 1] += v[0, 0]
        return np.sum(h * weights)
    assert_grads_match(f, x, v)
    np.testing.assert_allclose(gt.trace(f, x, v).value, f(x, v))


def test_a_plain_write_after_a_read_leaves_the_read_as_it_was():
    def f(w):
        b = np.ones(3)
        first = np.sum(b * w)              # reads b as it is now
        b[0] = 5.0
        return first + np.sum(b * w)
    np.testing.assert_allclose(gt.trace(f, np.ones(3)).backward().grads["w"], [6.0, 2.0, 2.0])


def test_a_value_that_does_not_fit_is_refused_in_numpy_terms_and_leading_ones_fit():
    def too_long(w):
        out = np.zeros(3)
        out[0:2] = w
        return np.sum(out)
    with pytest.raises(gt.TraceError, match=r"out\[0:2\] = \.\.\.: the value has shape \(3,\)"):
        gt.trace(too_long, np.ones(3))

    def leading_one(w):
        out = np.zeros(3)
        out[1:] = w.reshape(1, 2) * 2.0     # numpy accepts (1, 2) for 2 places
        return np.sum(out * np.array([1.0, 2.0, 3.0]))
    check(leading_one, np.array([0.5, 1.5]))
