"""Every op's gradient against central finite differences, on random shapes.

Each case computes L = Σ op(x, ...) · R for a fixed random R, so every output
element's gradient is exercised; inputs stay away from each op's kinks.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradtrace as gt

from .conftest import assert_grads_match, weights_for


def arrays(shape, lo, hi):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


def away_from_zero(shape):
    return arrays(shape, 0.1, 2.0).map(lambda a: a * np.where(
        np.arange(a.size).reshape(a.shape) % 2 == 0, 1.0, -1.0))


def distinct(shape):
    """Values with no ties (max/min/maximum are smooth there)."""
    return arrays(shape, -1, 1).map(lambda a: a + 0.37 * np.arange(a.size).reshape(a.shape)
                                    * (1 if a.size % 2 else -1))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)

UNARY = {
    "exp": (lambda x: np.exp(x), (-2, 2)),
    "log": (lambda x: np.log(x), (0.5, 3)),
    "log1p": (lambda x: np.log1p(x), (0.0, 2)),
    "expm1": (lambda x: np.expm1(x), (-2, 2)),
    "sqrt": (lambda x: np.sqrt(x), (0.5, 3)),
    "sin": (lambda x: np.sin(x), (-3, 3)),
    "cos": (lambda x: np.cos(x), (-3, 3)),
    "tanh": (lambda x: np.tanh(x), (-3, 3)),
    "gt.tanh": (lambda x: gt.tanh(x), (-3, 3)),
    "sigmoid": (lambda x: gt.sigmoid(x), (-6, 6)),
    "square": (lambda x: np.square(x), (-2, 2)),
    "neg": (lambda x: -x, (-2, 2)),
    "pow3": (lambda x: x ** 3, (-2, 2)),
    "pow_half": (lambda x: x ** 0.5, (0.5, 3)),
    "rdiv": (lambda x: 2.0 / x, (0.5, 3)),
    "rsub": (lambda x: 1.0 - x, (-2, 2)),
    "rpow": (lambda x: 2.0 ** x, (-2, 2)),
    "clip": (lambda x: np.clip(x, -0.5, 0.5) + 0.1 * x, (-2, 2)),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary(op, data):
    fn, (lo, hi) = UNARY[op]
    shape = data.draw(shapes)
    x = data.draw(arrays(shape, lo, hi))
    if op == "clip":  # keep away from the clip kinks at ±0.5
        x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.1, x)
    R = weights_for(np.shape(fn(x)))
    assert_grads_match(lambda x: np.sum(fn(x) * R), x)


@pytest.mark.parametrize("op", ["relu", "abs"])
@given(data=st.data())
def test_kinked_unary_away_from_kinks(op, data):
    fn = {"relu": gt.relu, "abs": np.abs}[op]
    x = data.draw(away_from_zero(data.draw(shapes)))
    R = weights_for(np.shape(x))
    assert_grads_match(lambda x: np.sum(fn(x) * R), x)


BINARY = {
    "add": (lambda x, y: x + y, (-2, 2), (-2, 2)),
    "sub": (lambda x, y: x - y, (-2, 2), (-2, 2)),
    "mul": (lambda x, y: x * y, (-2, 2), (-2, 2)),
    "div": (lambda x, y: x / y, (-2, 2), (0.5, 2)),
    "pow": (lambda x, y: x ** y, (0.5, 2), (-2, 2)),
    "np.power": (lambda x, y: np.power(x, y), (0.5, 2), (-2, 2)),
    "np.add": (lambda x, y: np.add(x, y), (-2, 2), (-2, 2)),
    "np.multiply": (lambda x, y: np.multiply(x, y), (-2, 2), (-2, 2)),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcasting(op, data):
    fn, (xlo, xhi), (ylo, yhi) = BINARY[op]
    bshapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    x = data.draw(arrays(bshapes.input_shapes[0], xlo, xhi))
    y = data.draw(arrays(bshapes.input_shapes[1], ylo, yhi))
    R = weights_for(bshapes.result_shape)
    assert_grads_match(lambda x, y: np.sum(fn(x, y) * R), x, y)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@given(data=st.data())
def test_maximum_minimum_without_ties(op, data):
    fn = getattr(np, op)
    shape = data.draw(shapes)
    x = data.draw(distinct(shape))
    y = x + data.draw(away_from_zero(shape)) * 0.5
    R = weights_for(shape)
    assert_grads_match(lambda x, y: np.sum(fn(x, y) * R), x, y)


@given(data=st.data())
def test_scalar_float_ops(data):
    x = data.draw(st.floats(0.5, 2.0))
    y = data.draw(st.floats(-2.0, 2.0))

    def f(x, y):
        return gt.sigmoid(x * y) + np.exp(-x) / (x + 1.0) - np.log(x) * y ** 2 + abs(y - 5.0) \
            + np.tanh(y) * np.sqrt(x) - gt.relu(x + 3.0) + np.maximum(x, 7.0) + x ** y
    assert_grads_match(f, x, y)


REDUCTIONS = {
    "sum": lambda x, axis, kd: np.sum(x, axis=axis, keepdims=kd),
    "mean": lambda x, axis, kd: np.mean(x, axis=axis, keepdims=kd),
    "method_sum": lambda x, axis, kd: x.sum(axis=axis, keepdims=kd),
    "max": lambda x, axis, kd: np.max(x, axis=axis, keepdims=kd),
    "min": lambda x, axis, kd: np.min(x, axis=axis, keepdims=kd),
    "logsumexp": lambda x, axis, kd: gt.logsumexp(x, axis=axis, keepdims=kd),
}


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(data=st.data())
def test_reductions(op, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(distinct(shape))
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1)
                     | st.just(tuple(range(len(shape)))))
    keepdims = data.draw(st.booleans())
    fn = REDUCTIONS[op]
    R = weights_for(np.shape(fn(x, axis, keepdims)))
    assert_grads_match(lambda x: np.sum(fn(x, axis, keepdims) * R), x)


@given(data=st.data())
def test_softmax(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(arrays(shape, -3, 3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    R = weights_for(shape)
    assert_grads_match(lambda x: np.sum(gt.softmax(x, axis=axis) * R), x)


@given(data=st.data())
def test_matmul_shapes(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(st.sampled_from([(), (2,)]))
    kind = data.draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched", "dot"]))
    shapes_for = {"mm": ((n, k), (k, m)), "mv": ((n, k), (k,)), "vm": ((k,), (k, m)),
                  "vv": ((k,), (k,)), "batched": (batch + (n, k), (k, m)),
                  "dot": ((n, k), (k, m))}
    sa, sb = shapes_for[kind]
    a = data.draw(arrays(sa, -2, 2))
    b = data.draw(arrays(sb, -2, 2))
    op = np.dot if kind == "dot" else (lambda a, b: a @ b)
    R = weights_for(np.shape(op(a, b)))
    assert_grads_match(lambda a, b: np.sum(op(a, b) * R), a, b)


SHAPE_OPS = {
    "transpose": lambda x: np.transpose(x),
    ".T": lambda x: x.T,
    "reshape": lambda x: np.reshape(x, (-1,)),
    "method_reshape": lambda x: x.reshape(x.size, 1),
    "getitem_slice": lambda x: x[..., ::2],
    "getitem_int": lambda x: x[0],
    "getitem_fancy": lambda x: x[np.array([0, 0, -1])],
    "getitem_mask": lambda x: x[np.arange(x.size).reshape(x.shape) % 2 == 0],
    "concatenate": lambda x: np.concatenate([x, 2 * x, x * x], axis=0),
    "stack": lambda x: np.stack([x, np.exp(x)], axis=-1),
    "expand_squeeze": lambda x: np.squeeze(np.expand_dims(x, 0), 0),
}


@pytest.mark.parametrize("op", sorted(SHAPE_OPS))
@given(data=st.data())
def test_shape_ops(op, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(arrays(shape, -2, 2))
    fn = SHAPE_OPS[op]
    R = weights_for(np.shape(fn(x)))
    assert_grads_match(lambda x: np.sum(fn(x) * R), x)


@given(data=st.data())
def test_where(data):
    shape = data.draw(shapes)
    x = data.draw(arrays(shape, -2, 2))
    y = data.draw(arrays(shape, -2, 2))
    cond = np.asarray(data.draw(hnp.arrays(bool, shape)))
    R = weights_for(shape)
    assert_grads_match(lambda x, y: np.sum(np.where(cond, x * y, np.sin(y)) * R), x, y)
