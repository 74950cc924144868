"""Products, contractions and linear algebra: matmul, dot, einsum, tensordot, inv,
solve, det, slogdet, pinv, and outer/inner/kron/trace/vdot written with them.

Contractions share one rule: the vector-Jacobian product of an einsum is an einsum
of the upstream gradient with the other operands (plus broadcasting along letters
only one operand has, and a scatter onto the diagonal for repeated letters).
"""

from __future__ import annotations

import string
from collections import namedtuple

import numpy as np

from ..errors import TraceError
from .core import (
    CALL,
    INFIX,
    JS,
    NO_VALUE,
    Composite,
    NotReplayable,
    Primitive,
    float_dtype,
    ndim_of,
    plain_only,
    refuse,
    register,
    shape_of,
    value_of,
)


def _mT(x):
    """Swap the last two axes (``.T`` for matrices, the cheap spelling)."""
    return x.T if x.ndim == 2 else np.swapaxes(x, -1, -2)


# ---------------------------------------------------------------- matmul
def _matmul_vjp(k, g, out, v, p):
    a, b = v
    if a.ndim == 1 and b.ndim == 1:
        return g * (b if k == 0 else a)
    if k == 0:
        if b.ndim == 1:
            return np.multiply.outer(g, b)
        if a.ndim == 1:
            return (b @ g[..., None])[..., 0]
        return g @ _mT(b)
    if a.ndim == 1:
        return a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return (_mT(a) @ g[..., None])[..., 0]
    return _mT(a) @ g


def _matmul_js(row, params, shapes):
    if any(not 1 <= len(s) <= 2 for s in shapes):
        raise NotReplayable(f"{row.name} of arrays with {', '.join(str(len(s)) for s in shapes)} "
                            "dimensions (the page replays 1 and 2)")
    return {}


def _bind_matmul(a, b, out=None, **kwargs):
    refuse("np.matmul", out=(out, None))
    for key, val in kwargs.items():
        refuse("np.matmul", **{key: (val, None)})
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        raise TraceError("np.matmul (@): an operand is a scalar; matmul needs arrays with at "
                         "least one dimension (use * to scale)")
    return (a, b), None


MATMUL = register(Primitive(
    "matmul", 2, "{0} @ {1}", INFIX, 60, ("ḡ @ {1}ᵀ", "{0}ᵀ @ ḡ"),
    js=JS("R.matmul(a[0], a[1])", vjp="R.matmulVjp(k, g, a[0], a[1])", prep=_matmul_js),
    array=np.matmul, vjp=_matmul_vjp, symbol="@", numpy=(np.matmul,), bind=_bind_matmul))


# ---------------------------------------------------------------- einsum: the general contraction
def _letters(exclude):
    return [c for c in string.ascii_letters if c not in exclude]


def _parse_einsum(args):
    """(input subscripts, output subscripts, operands) with '...' spelled out as letters."""
    if args and isinstance(args[0], str):
        spec, operands = args[0].replace(" ", ""), list(args[1:])
        if "->" in spec:
            ins, out = spec.split("->")
        else:
            ins, out = spec, None
        subs = ins.split(",")
    else:  # interleaved: op0, sublist0, op1, sublist1, ..., [sublist_out]
        operands, subs, rest = [], [], list(args)
        used = {a for s in rest[1::2] if isinstance(s, (list, tuple)) for a in s
                if a is not Ellipsis}
        table = dict(zip(sorted(used), string.ascii_letters))
        as_text = lambda sl: "".join("..." if a is Ellipsis else table[a] for a in sl)  # noqa
        while len(rest) >= 2:
            operands.append(rest.pop(0))
            subs.append(as_text(rest.pop(0)))
        out = as_text(rest[0]) if rest else None
    if len(subs) != len(operands):
        raise TraceError(f"np.einsum: {len(subs)} subscripts for {len(operands)} operands")
    used = set("".join(subs) + (out or ""))
    spare = _letters(used | {"."})
    ell_dims = 0
    expanded = []
    for s, op in zip(subs, operands):
        nd = ndim_of(op)
        if "..." in s:
            e = nd - (len(s) - 3)
            ell_dims = max(ell_dims, e)
            expanded.append((s, e))
        else:
            if len(s) != nd:
                raise TraceError(f"np.einsum: subscripts '{s}' do not match an operand of "
                                 f"dimension {nd}")
            expanded.append((s, 0))
    ell = "".join(spare[:ell_dims])
    subs = [s.replace("...", ell[ell_dims - e:]) if "..." in s else s for s, e in expanded]
    if out is None:
        counts = {c: "".join(subs).count(c) for c in set("".join(subs))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return subs, out, operands


def contraction_vjp(k, g, vals, subs, out_sub):
    """VJP of ``einsum(','.join(subs) + '->' + out_sub, *vals)`` for operand k."""
    sizes: dict[str, int] = {}
    for s, v in zip(subs, vals):
        for c, n in zip(s, v.shape):
            if n != 1 or c not in sizes:     # a size-1 axis broadcasts; 0 is a real size
                sizes[c] = n
    full = [np.broadcast_to(v, tuple(sizes[c] for c in s)) for s, v in zip(subs, vals)]
    mine = subs[k]
    unique = "".join(dict.fromkeys(mine))
    others = [(s, v) for i, (s, v) in enumerate(zip(subs, full)) if i != k]
    available = set(out_sub) | {c for s, _ in others for c in s}
    keep = "".join(c for c in unique if c in available)
    spec = ",".join([out_sub] + [s for s, _ in others]) + "->" + keep
    r = np.einsum(spec, np.asarray(g), *[v for _, v in others])
    if keep != unique:  # letters only this operand has: the gradient is constant along them
        r = np.broadcast_to(r.reshape([sizes[c] if c in keep else 1 for c in unique]),
                            [sizes[c] for c in unique])
    if len(unique) != len(mine):  # repeated letters: the gradient lives on a diagonal
        grid = np.indices([sizes[c] for c in unique], sparse=True)
        grad = np.zeros([sizes[c] for c in mine])
        grad[tuple(grid[unique.index(c)] for c in mine)] = r
        r = grad
    target = vals[k].shape
    if r.shape != target:  # the operand was broadcast (size-1 axes): sum back
        axes = tuple(i for i, (n, m) in enumerate(zip(target, r.shape)) if n == 1 and m != 1)
        r = np.sum(r, axis=axes, keepdims=True)
    return r


def _bind_einsum(*args, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    refuse("np.einsum", out=(out, None))
    float_dtype("np.einsum", dtype)
    subs, out_sub, operands = _parse_einsum(args)
    return tuple(operands), {"subscripts": ",".join(subs) + "->" + out_sub}


def _einsum_vjp(k, g, out, v, p):
    ins, out_sub = p["subscripts"].split("->")
    return contraction_vjp(k, g, v, ins.split(","), out_sub)


EINSUM = register(Primitive(
    "einsum", -1, "einsum({args})", CALL, 90, ("einsum of ḡ with the others",),
    array=lambda *xs, subscripts: np.einsum(subscripts, *xs), vjp=_einsum_vjp,
    symbol="einsum", numpy=(np.einsum,), bind=_bind_einsum))


# ---------------------------------------------------------------- tensordot, dot
def _tensordot_axes(axes, na, nb):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        return tuple(range(na - n, na)), tuple(range(n))
    ax_a, ax_b = axes
    ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
    ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
    return tuple(int(a) % na for a in ax_a), tuple(int(b) % nb for b in ax_b)


def tensordot_subscripts(na, nb, ax_a, ax_b):
    letters = string.ascii_letters
    sa = list(letters[:na])
    sb = list(letters[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + \
          [c for j, c in enumerate(sb) if j not in ax_b]
    return ["".join(sa), "".join(sb)], "".join(out)


def _bind_tensordot(a, b, axes=2):
    plain_only("np.tensordot", axes=axes)
    na, nb = ndim_of(a), ndim_of(b)
    try:
        ax_a, ax_b = _tensordot_axes(axes, na, nb)
    except (TypeError, ValueError):
        raise TraceError(f"np.tensordot: invalid axes {axes!r}") from None
    if len(ax_a) != len(ax_b):
        raise TraceError("np.tensordot: the two axes lists differ in length")
    return (a, b), {"axes": (ax_a, ax_b)}


def _tensordot_vjp(k, g, out, v, p):
    subs, out_sub = tensordot_subscripts(v[0].ndim, v[1].ndim, *p["axes"])
    return contraction_vjp(k, g, v, subs, out_sub)


TENSORDOT = register(Primitive(
    "tensordot", 2, "tensordot({0}, {1})", CALL, 90,
    ("ḡ contracted with {1}", "ḡ contracted with {0}"),
    array=lambda a, b, axes: np.tensordot(a, b, axes=(list(axes[0]), list(axes[1]))),
    vjp=_tensordot_vjp, symbol="⊗", numpy=(np.tensordot,), bind=_bind_tensordot))


def dot_subscripts(na, nb):
    if na == 0 or nb == 0:
        a = string.ascii_letters[:na]
        b = string.ascii_letters[na:na + nb]
        return [a, b], a + b
    if nb == 1:
        return tensordot_subscripts(na, nb, (na - 1,), (0,))
    return tensordot_subscripts(na, nb, (na - 1,), (nb - 2,))


def _dot_vjp(k, g, out, v, p):
    subs, out_sub = dot_subscripts(v[0].ndim, v[1].ndim)
    return contraction_vjp(k, g, v, subs, out_sub)


def _bind_dot(a, b, out=None):
    refuse("np.dot", out=(out, None))
    return (a, b), None


DOT = register(Primitive(
    "dot", 2, "{0}·{1}", INFIX, 60, ("ḡ·{1}ᵀ", "{0}ᵀ·ḡ"),
    js=JS("R.matmul(a[0], a[1])", vjp="R.matmulVjp(k, g, a[0], a[1])", prep=_matmul_js),
    array=np.dot, vjp=_dot_vjp, symbol="dot", numpy=(np.dot,), method=("dot",), bind=_bind_dot))


# ---------------------------------------------------------------- inverse, solve, determinants
INV = register(Primitive(
    "inv", 1, "{0}⁻¹", CALL, 90, ("−{0}⁻ᵀ ḡ {0}⁻ᵀ",),
    array=np.linalg.inv, vjp=lambda k, g, out, v, p: -_mT(out) @ g @ _mT(out),
    symbol="inv", numpy=(np.linalg.inv,)))


def _solve_vjp(k, g, out, v, p):
    a, b = v
    vector = b.ndim == 1
    g = np.asarray(g)
    gb = np.linalg.solve(_mT(a), g[..., None])[..., 0] if vector else np.linalg.solve(_mT(a), g)
    if k == 1:
        return gb
    if vector:
        return -gb[..., :, None] * out[..., None, :]
    return -gb @ _mT(out)


SOLVE = register(Primitive(
    "solve", 2, "solve({0}, {1})", CALL, 90, ("−solve({0}ᵀ, ḡ)·xᵀ", "solve({0}ᵀ, ḡ)"),
    array=np.linalg.solve, vjp=_solve_vjp, symbol="solve", numpy=(np.linalg.solve,)))


def _det_vjp(k, g, out, v, p):
    g = np.asarray(g)[..., None, None]
    return g * np.asarray(out)[..., None, None] * _mT(np.linalg.inv(v[0]))


DET = register(Primitive(
    "det", 1, "det({0})", CALL, 90, ("det({0})·{0}⁻ᵀ",),
    array=np.linalg.det, vjp=_det_vjp, symbol="det", numpy=(np.linalg.det,)))

LOGABSDET = register(Primitive(
    "logabsdet", 1, "ln|det({0})|", CALL, 90, ("{0}⁻ᵀ",),
    array=lambda a: np.linalg.slogdet(a)[1],
    vjp=lambda k, g, out, v, p: np.asarray(g)[..., None, None] * _mT(np.linalg.inv(v[0])),
    symbol="ln|det|"))

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _slogdet(record, a):
    sign = np.linalg.slogdet(np.asarray(value_of(a)))[0]
    return SlogdetResult(float(sign) if np.ndim(sign) == 0 else sign,
                         record(LOGABSDET, (a,), None))


SLOGDET = register(Composite("slogdet", _slogdet, numpy=(np.linalg.slogdet,)))


def _pinv_vjp(k, g, out, v, p):
    a, x = v[0], out                       # a: m×n, x = a⁺: n×m
    g = np.asarray(g)
    xT = _mT(x)
    eye_m = np.eye(a.shape[-2])
    eye_n = np.eye(a.shape[-1])
    return (-xT @ g @ xT
            + (eye_m - a @ x) @ _mT(g) @ x @ xT
            + xT @ x @ _mT(g) @ (eye_n - x @ a))


def _bind_pinv(a, rcond=NO_VALUE, hermitian=False, *, rtol=NO_VALUE):
    p: dict[str, object] = {"hermitian": bool(hermitian)}
    if rcond is not NO_VALUE and rcond is not None:
        p["rcond"] = float(rcond)
    if rtol is not NO_VALUE and rtol is not None:
        p["rtol"] = float(rtol)
    return (a,), p


PINV = register(Primitive(
    "pinv", 1, "{0}⁺", CALL, 90, ("∂{0}⁺/∂{0}",),
    array=lambda a, **p: np.linalg.pinv(a, **p), vjp=_pinv_vjp, symbol="pinv",
    numpy=(np.linalg.pinv,), bind=_bind_pinv))


# ---------------------------------------------------------------- written with the rows above
def _outer(record, a, b, out=None):
    refuse("np.outer", out=(out, None))
    return np.multiply(np.reshape(a, (-1, 1)), np.reshape(b, (1, -1)))


def _inner(record, a, b):
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return np.multiply(a, b)
    return record(TENSORDOT, (a, b), {"axes": ((ndim_of(a) - 1,), (ndim_of(b) - 1,))})


def _vdot(record, a, b):
    return record(DOT, (np.reshape(a, (-1,)), np.reshape(b, (-1,))), None)


def _kron(record, a, b):
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + tuple(sa)
    sb = (1,) * (nd - len(sb)) + tuple(sb)
    ar = np.reshape(a, [d for n in sa for d in (n, 1)])
    br = np.reshape(b, [d for n in sb for d in (1, n)])
    return np.reshape(ar * br, [m * n for m, n in zip(sa, sb)])


def _trace(record, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    refuse("np.trace", out=(out, None))
    float_dtype("np.trace", dtype)
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1)


for _row in [Composite("outer", _outer, numpy=(np.outer,)),
             Composite("inner", _inner, numpy=(np.inner,)),
             Composite("vdot", _vdot, numpy=(np.vdot,)),
             Composite("kron", _kron, numpy=(np.kron,)),
             Composite("trace", _trace, numpy=(np.trace,), method=("trace",))]:
    register(_row)
