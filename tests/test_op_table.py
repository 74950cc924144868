"""One line per op: every row of the op table against central finite differences.

Each case is ``name: (fn, domain)``; hypothesis draws shapes (0-d and Python
floats included where the op takes them) and values in the domain, and the test
compares backward's gradient of Σ fn(x)·R with float64 central differences.
Adding an op to ``gradtrace.ops`` means adding its line here.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradtrace as gt
from gradtrace.ops import ROWS, Composite, Constant, Primitive

from . import test_ops_gradients as OLD
from .conftest import assert_grads_match, weights_for

V4 = np.array([0.3, -0.7, 1.1, 0.5])
T3 = np.linspace(-1, 1, 24).reshape(2, 3, 4)

# ---- elementwise: (fn, (lo, hi)); drawn on shapes from () to 3-D, and on Python floats
ELEMENTWISE = {
    "tan": (np.tan, (-1.2, 1.2)), "arcsin": (np.arcsin, (-0.9, 0.9)),
    "arccos": (np.arccos, (-0.9, 0.9)), "arctan": (np.arctan, (-3, 3)),
    "sinh": (np.sinh, (-2, 2)), "cosh": (np.cosh, (-2, 2)), "arcsinh": (np.arcsinh, (-3, 3)),
    "arccosh": (np.arccosh, (1.1, 4)), "arctanh": (np.arctanh, (-0.9, 0.9)),
    "log2": (np.log2, (0.2, 3)), "log10": (np.log10, (0.2, 3)), "exp2": (np.exp2, (-2, 2)),
    "reciprocal": (np.reciprocal, (0.5, 3)), "fabs": (np.fabs, (0.1, 2)),
    "abs": (np.abs, (0.1, 2)),
    "sinc": (np.sinc, (-2, 2)), "deg2rad": (np.deg2rad, (-9, 9)), "radians": (np.radians, (-9, 9)),
    "rad2deg": (np.rad2deg, (-2, 2)), "degrees": (np.degrees, (-2, 2)), "cbrt": (np.cbrt, (0.3, 3)),
    "nan_to_num": (lambda x: np.nan_to_num(x, nan=1.0), (-2, 2)),
    "floor": (lambda x: np.floor(x) + x, (-2, 2)), "ceil": (lambda x: np.ceil(x) * x, (-2, 2)),
    "sign": (lambda x: np.sign(x) * x, (0.1, 2)), "rint": (lambda x: np.rint(x) + x, (-2, 2)),
    "trunc": (lambda x: np.trunc(x) + x, (-2, 2)), "fix": (lambda x: np.fix(x) + x, (-2, 2)),
    "round": (lambda x: np.round(x, 1) + x, (-2, 2)), "around": (lambda x: np.around(x) * x, (-2, 2)),
    "mod": (lambda x: x % 0.7, (0.1, 3)), "rmod": (lambda x: 5.0 % x, (1.3, 1.6)),
    "remainder": (lambda x: np.remainder(x, -0.7), (0.1, 3)), "fmod": (lambda x: np.fmod(x, 0.7), (0.1, 3)),
    "floordiv": (lambda x: x // 0.7 + x, (0.1, 3)), "hypot": (lambda x: np.hypot(x, 0.5), (-2, 2)),
    "arctan2": (lambda x: np.arctan2(x, 0.7) + np.arctan2(0.3, x), (0.2, 2)),
    "logaddexp": (lambda x: np.logaddexp(x, 0.5), (-3, 3)),
    "logaddexp2": (lambda x: np.logaddexp2(0.5, x), (-3, 3)),
    "fmax": (lambda x: np.fmax(x, 0.05), (0.1, 2)), "fmin": (lambda x: np.fmin(x, 2.5), (0.1, 2)),
    "power0": (lambda x: np.power(x, 0.0) * x, (-2, 2)), "copy": (lambda x: np.copy(x) * x, (-2, 2)),
    "real": (lambda x: np.real(x) * x, (-2, 2)), "conj": (lambda x: np.conj(x) * x, (-2, 2)),
}


JUMPS = {"mod", "remainder", "fmod", "floordiv", "rmod", "floor", "ceil", "rint", "trunc", "fix",
         "round", "around"}


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
@given(data=st.data())
def test_elementwise(op, data):
    fn, (lo, hi) = ELEMENTWISE[op]
    as_float = data.draw(st.booleans())
    shape = () if as_float else data.draw(
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))
    if op in JUMPS:   # keep away from the jumps (multiples of 0.1 cover 0.7 and the rounding points)
        x = np.where(np.abs(x * 20 - np.round(x * 20)) < 0.2, x + 0.013, x)
    if as_float:
        x = float(x)
        assert_grads_match(lambda x: fn(x) * 1.3, x)
        return
    R = weights_for(np.shape(fn(x)))
    assert_grads_match(lambda x: np.sum(fn(x) * R), x)


# ---- everything else: (fn, input); each input is checked as given and (where it has
# several elements) with a random perturbation drawn by hypothesis
A = np.array([[0.6, -0.3, 0.9, 0.2], [0.1, 0.8, -0.5, 0.4], [-0.7, 0.35, 0.15, 1.2]])
SQ = np.array([[2.0, 0.3, -0.4], [0.1, 1.5, 0.2], [0.5, -0.6, 2.5]])
def _written(x):
    """setitem: basic, fancy (a repeated slot: the last write wins) and masked writes."""
    h = x * 1.0
    h[0] = x[1] * 2.0
    h[[1, 2, 1], :2] = x[2, :2] * x[0, :2]
    h[h > 1.5] = 1.5
    return h


STRUCTURED = {
    "setitem": (_written, A),
    "var": (lambda x: np.var(x, axis=-1, ddof=1), A), "std": (lambda x: np.std(x, axis=(0, 1),
                                                                             keepdims=True), A),
    "var_method": (lambda x: x.var(), A), "std_correction": (lambda x: np.std(x, correction=1), A),
    "prod": (lambda x: np.prod(x, axis=0), A), "prod_zero": (lambda x: np.prod(x * (x > 0)), A),
    "prod_initial": (lambda x: np.prod(x, axis=1, initial=2.0), A),
    "cumsum": (lambda x: np.cumsum(x, axis=-1), A), "cumsum_flat": (np.cumsum, A),
    "cumprod": (lambda x: np.cumprod(x, axis=0), A), "cumprod_zero": (lambda x: np.cumprod(
        x * np.array([1, 0, 1, 1.0])), A),
    "norm": (np.linalg.norm, V4), "norm_1": (lambda x: np.linalg.norm(x, 1), V4),
    "norm_inf": (lambda x: np.linalg.norm(x, np.inf), V4),
    "norm_p3": (lambda x: np.linalg.norm(x, 3), V4), "norm_fro": (lambda x: np.linalg.norm(x, "fro"), A),
    "norm_nuc": (lambda x: np.linalg.norm(x, "nuc"), A), "norm_2m": (lambda x: np.linalg.norm(x, 2), A),
    "norm_-2m": (lambda x: np.linalg.norm(x, -2), A), "norm_1m": (lambda x: np.linalg.norm(x, 1), A),
    "norm_infm": (lambda x: np.linalg.norm(x, -np.inf), A),
    "norm_axis": (lambda x: np.linalg.norm(x, axis=1, keepdims=True), A),
    "norm_axes": (lambda x: np.linalg.norm(T3 * x.sum(), axis=(2, 0)), A),
    "average": (lambda x: np.average(x, axis=1, weights=[1, 2, 3, 4.0]), A),
    "sum_list": (lambda x: np.sum([x[0, 0], x[1, 1], 2.0]), A),
    "max_list": (lambda x: np.max([x[0, 0], x[1, 1]]), A),
    "sum_initial": (lambda x: np.sum(x, initial=10.0), A),
    "einsum": (lambda x: np.einsum("ij,jk->ik", x, x.T), A),
    "einsum_trace": (lambda x: np.einsum("ii", x @ x.T), A),
    "einsum_diag": (lambda x: np.einsum("ii->i", x[:, :3]), A),
    "einsum_ellipsis": (lambda x: np.einsum("...j,j->...", x, V4), A),
    "einsum_implicit": (lambda x: np.einsum("ij,kj", x, x), A),
    "einsum_interleaved": (lambda x: np.einsum(x, [0, 1], x, [2, 1], [0, 2]), A),
    "einsum_broadcast_letter": (lambda x: np.einsum("ij,k->ik", x, V4), A),
    "tensordot": (lambda x: np.tensordot(x, x, axes=([1], [1])), A),
    "tensordot_int": (lambda x: np.tensordot(T3, x, 2), A),
    "outer": (lambda x: np.outer(x, V4), A), "inner": (lambda x: np.inner(x, x), A),
    "kron": (lambda x: np.kron(x, x[:2, :2]), A), "vdot": (lambda x: np.vdot(x, x), A),
    "trace": (lambda x: np.trace(x, 1), A), "diag": (np.diag, A), "diag_1d": (lambda x: np.diag(
        x[0], 1), A), "diagonal": (lambda x: np.diagonal(x, -1), A), "diagflat": (np.diagflat, V4),
    "tril": (np.tril, A), "triu": (lambda x: np.triu(x, -1), A),
    "dot_float": (lambda x: np.dot(1.5, x), A), "dot_nd": (lambda x: np.dot(T3, x.T), A),
    "dot_vec": (lambda x: np.dot(x, V4), A), "dot_method": (lambda x: x.dot(V4), A),
    "matmul_nd": (lambda x: np.matmul(T3, x.T), A),
    "inv": (np.linalg.inv, SQ), "solve_vec": (lambda x: np.linalg.solve(x, V4[:3]), SQ),
    "solve_mat": (lambda x: np.linalg.solve(x, A), SQ), "solve_b": (lambda x: np.linalg.solve(
        SQ, x), A), "det": (np.linalg.det, SQ), "slogdet": (lambda x: np.linalg.slogdet(x)[1], SQ),
    "pinv": (np.linalg.pinv, A),
    "array": (lambda x: np.array([x[0, 0], 1.0, x[1, 2]]), A),
    "array_nested": (lambda x: np.array([[x[0, 0], 1.0], [2.0, x[1, 2]]]), A),
    "asarray": (lambda x: np.asarray(x) * 2, A),
    "hstack": (lambda x: np.hstack([x, x]), A), "vstack": (lambda x: np.vstack([x, V4]), A),
    "column_stack": (lambda x: np.column_stack([x[0], x[1]]), A),
    "dstack": (lambda x: np.dstack([x, x]), A),
    "split": (lambda x: np.split(x, 2, axis=1)[1], A),
    "array_split": (lambda x: np.array_split(x, 3, axis=1)[2], A),
    "hsplit": (lambda x: np.hsplit(x, 2)[0], A), "vsplit": (lambda x: np.vsplit(x, 3)[1], A),
    "tile": (lambda x: np.tile(x, (2, 1)), A), "repeat": (lambda x: np.repeat(x, 2, axis=0), A),
    "repeat_method": (lambda x: x.repeat(3), A),
    "broadcast_to": (lambda x: np.broadcast_to(x[0], (5, 4)), A),
    "pad": (lambda x: np.pad(x, 1, constant_values=2.0), A),
    "pad_reflect": (lambda x: np.pad(x, ((1, 2), (0, 1)), mode="reflect"), A),
    "roll": (lambda x: np.roll(x, 1, axis=-1), A), "roll_flat": (lambda x: np.roll(x, 5), A),
    "flip": (np.flip, A), "flipud": (np.flipud, A), "fliplr": (np.fliplr, A), "rot90": (np.rot90, A),
    "swapaxes": (lambda x: np.swapaxes(x, 0, -1), A),
    "moveaxis": (lambda x: np.moveaxis(T3 * x.sum(), 0, -1), A),
    "rollaxis": (lambda x: np.rollaxis(T3 * x.sum(), 2), A),
    "atleast_3d": (np.atleast_3d, A), "atleast_1d": (lambda x: np.atleast_1d(x[0, 0]), A),
    "atleast_2d": (lambda x: np.atleast_2d(x[0]), A), "real_if_close": (np.real_if_close, A), "squeeze": (lambda x: np.squeeze(x[None]), A),
    "expand_dims": (lambda x: np.expand_dims(x, -1), A),
    "transpose_negative": (lambda x: np.transpose(T3 * x.sum(), (0, -1, 1)), A),
    "sort": (lambda x: np.sort(x, axis=0), A), "sort_flat": (lambda x: np.sort(x, axis=None), A),
    "partition": (lambda x: np.partition(x.ravel(), 3), A),
    "take": (lambda x: np.take(x, [0, 2, 2], axis=1), A),
    "take_along_axis": (lambda x: np.take_along_axis(x, np.argsort(x, axis=1), axis=1), A),
    "diff": (lambda x: np.diff(x, axis=0), A), "diff_prepend": (lambda x: np.diff(x, n=2,
                                                                                prepend=0.0), A),
    "append": (lambda x: np.append(x, V4), A), "append_axis": (lambda x: np.append(x, x, axis=0), A),
    "convolve_full": (lambda x: np.convolve(x, V4[:3]), V4),
    "convolve_same": (lambda x: np.convolve(V4[:3], x, mode="same"), V4),
    "convolve_valid": (lambda x: np.convolve(x, V4[:2], mode="valid"), V4),
    "sliding_window_view": (lambda x: np.lib.stride_tricks.sliding_window_view(x, (2, 2)), A),
    "delete": (lambda x: np.delete(x, 1, axis=1), A), "resize": (lambda x: np.resize(x, (5, 3)), A),
    "astype": (lambda x: x.astype(np.float64) * x, A), "copy_method": (lambda x: x.copy() * x, A),
    "clip_method": (lambda x: x.clip(-0.25, 0.55), A), "squeeze_method": (lambda x: x[None].squeeze(), A),
    "swapaxes_method": (lambda x: x.swapaxes(0, 1), A), "flatten": (lambda x: x.flatten(), A),
    "argmax_index": (lambda x: x[np.argmax(x, axis=0), np.arange(4)], A),
    "where_traced_condition": (lambda x: np.where(x > 0.5, 1.0, 2.0) * x, A),
    "add_reduce": (lambda x: np.add.reduce(x, axis=1), A),
    "multiply_outer": (lambda x: np.multiply.outer(x[0], x[1]), A),
    "max_keepdims": (lambda x: x.max(axis=-1, keepdims=True), A),
    "float_reshape": (lambda x: np.reshape(x, (1,)), 0.7), "float_logsumexp": (gt.logsumexp, 0.7),
    "float_dot": (lambda x: np.dot(x, 2.0), 0.7), "float_var": (np.var, 0.7),
    "float_norm": (np.linalg.norm, -0.7), "float_cumsum": (np.cumsum, 0.3),
    "ravel": (np.ravel, A), "matrix_transpose": (lambda x: np.matrix_transpose(T3 * x.sum()), A), "dsplit": (lambda x: np.dsplit(T3 * x.sum(), 2)[1], A),
    "zero_d_arctan": (np.arctan, np.array(0.4)), "zero_d_prod": (np.prod, np.array(0.4)),
}


@pytest.mark.parametrize("op", sorted(STRUCTURED))
@given(data=st.data())
def test_structured(op, data):
    fn, x0 = STRUCTURED[op]
    if np.ndim(x0):
        noise = data.draw(hnp.arrays(np.float64, np.shape(x0), elements=st.floats(-0.02, 0.02)))
        x = x0 + noise
    else:
        x = x0
    R = weights_for(np.shape(fn(x)))
    assert_grads_match(lambda x: np.sum(fn(x) * R), x, rtol=1e-4, atol=1e-5)


def test_every_numpy_row_has_a_test_line():
    """A row added to the op table without a line here fails this test."""
    older = [*OLD.UNARY, *OLD.BINARY, *OLD.REDUCTIONS, *OLD.SHAPE_OPS, "maximum", "minimum",
             "matmul", "where", "softmax", "logsumexp"]
    tested = {*ELEMENTWISE, *STRUCTURED, *older}    # a row's name, or name_variant
    missing = [row.name for row in ROWS
               if not isinstance(row, Constant) and row.numpy and row.name not in tested
               and not any(t.startswith(row.name + "_") for t in tested)]
    assert not missing, f"op rows without a gradient test line: {missing}"


def test_constant_rows_give_plain_values():
    x = np.array([0.3, -1.2, 2.5])
    t = gt.trace(lambda x: np.sum(x * np.argmax(x) + np.isclose(x, 0.3)), x).backward()
    np.testing.assert_allclose(t.grads["x"], [2.0, 2.0, 2.0])
    assert all(isinstance(r, (Primitive, Composite, Constant)) for r in ROWS)


def test_readme_lists_the_op_table():
    from pathlib import Path

    from gradtrace.ops.listing import supported_markdown
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    listed = readme.split("<!-- ops:start -->\n")[1].split("<!-- ops:end -->")[0]
    assert listed == supported_markdown(), "README's op list is stale: paste `gradtrace ops`"


def test_a_row_states_its_local_derivative_once():
    from gradtrace.ops import MUL, PRIMITIVES
    assert MUL.dscalar is MUL.local and MUL.darray is MUL.local
    with pytest.raises(ValueError, match="not both"):
        Primitive("twice", 1, "{0}", "call", 90, ("1",), array=np.negative,
                  local=lambda out, x: (1.0,), darray=lambda out, x: (1.0,))
    # a row never states the same derivative twice: dscalar beside darray only where the
    # float form differs (math on floats), so no two are the very same function
    assert not [p.name for p in PRIMITIVES.values() if p.local is None and
                p.dscalar is not None and p.dscalar is p.darray]
