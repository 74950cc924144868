"""Built-in models: the lesson's pictures first, then tensors and a real block.

Each is an ordinary function with default inputs, so ``gt.trace(example)`` works
as it is and ``gradtrace render NAME`` draws it.  Names follow the lesson's
notation: w(L), b(L), z(L), a(L), a(L−1), C0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import functions as gt
from .valuegraph.lecture import AssigningValue, Value


def seed_chain(w1=0.8, b1=-0.1, w2=-1.2, b2=0.4, w3=1.5, b3=-0.3, a0=0.6, y=1.0):
    """The lesson's single-neuron chain: three weights, three biases, four activations.

    a(L−2) = σ(w(L−2)·a(L−3) + b(L−2)), and so on to C0 = (a(L) − y)².
    """
    for value, name in ((w1, "w(L−2)"), (b1, "b(L−2)"), (w2, "w(L−1)"), (b2, "b(L−1)"),
                        (w3, "w(L)"), (b3, "b(L)"), (a0, "a(L−3)")):
        gt.label(value, name)
    z1 = gt.label(w1 * a0 + b1, "z(L−2)")
    a1 = gt.label(gt.sigmoid(z1), "a(L−2)")
    z2 = gt.label(w2 * a1 + b2, "z(L−1)")
    a2 = gt.label(gt.sigmoid(z2), "a(L−1)")
    z3 = gt.label(w3 * a2 + b3, "z(L)")
    a3 = gt.label(gt.sigmoid(z3), "a(L)")
    return gt.label((a3 - y) ** 2, "C0")


seed_chain.gradtrace_data = ("a0",)   # type: ignore[attr-defined]  # a(L−3) is the input


def last_layer(w=1.5, a_prev=0.6, b=-0.3, y=1.0):
    """The last layer alone: ∂C0/∂w(L) = ∂C0/∂a(L) · ∂a(L)/∂z(L) · ∂z(L)/∂w(L).

    ∂z(L)/∂w(L) = a(L−1), ∂z(L)/∂b(L) = 1, ∂z(L)/∂a(L−1) = w(L).
    """
    gt.label(w, "w(L)")
    gt.label(a_prev, "a(L−1)")
    gt.label(b, "b(L)")
    z = gt.label(w * a_prev + b, "z(L)")
    a = gt.label(gt.sigmoid(z), "a(L)")
    return gt.label((a - y) ** 2, "C0")


last_layer.gradtrace_data = ("a_prev",)   # type: ignore[attr-defined]


def layer_fanout(W=((0.4, -0.6, 0.2), (0.7, 0.3, -0.5)), b=(0.1, -0.2),
                 a_prev=(0.9, 0.2, 0.6), y=(1.0, 0.0)):
    """A layer of two neurons fed by three activations: C0 = Σj (a(L)j − yj)².

    Every a(L−1)k feeds both neurons, so its gradient is a sum over two paths.
    """
    for k, a in enumerate(a_prev):
        gt.label(a, f"a(L−1){k}")
    terms = []
    for j, row in enumerate(W):
        for k, w in enumerate(row):
            gt.label(w, f"w(L){j}{k}")
        gt.label(b[j], f"b(L){j}")
        z = gt.label(sum(w * a for w, a in zip(row, a_prev)) + b[j], f"z(L){j}")
        a = gt.label(gt.sigmoid(z), f"a(L){j}")
        terms.append((a - y[j]) ** 2)
    return gt.label(sum(terms[1:], terms[0]), "C0")


layer_fanout.gradtrace_data = ("a_prev",)   # type: ignore[attr-defined]  # the layer's input


def square(x=3.0):
    """x · x: one value used twice by one op, so two edges and ∂/∂x = 3 + 3 = 6."""
    f = x * x
    return f


def shared_input(x=2.0, y=5.0):
    """x · y + x: x reaches the output along two paths, ∂f/∂x = y + 1."""
    f = x * y + x
    return f


_rng = np.random.default_rng(0)
_MLP = dict(W1=_rng.normal(0, 0.5, (3, 4)), b1=np.zeros(4), W2=_rng.normal(0, 0.5, (4, 2)),
            b2=np.zeros(2), X=_rng.normal(0, 1, (5, 3)), Y=_rng.normal(0, 1, (5, 2)))


def numpy_mlp(W1=_MLP["W1"], b1=_MLP["b1"], W2=_MLP["W2"], b2=_MLP["b2"], X=_MLP["X"],
              Y=_MLP["Y"]):
    """A numpy MLP, 3 → 4 → 2 with tanh, on a batch of 5: the tensor view.

    Gradients of the weights are matrices; the bias gradient sums over the batch.
    """
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    err = out - Y
    loss = np.mean(err ** 2)
    return loss


_rng = np.random.default_rng(1)
_XENT = dict(W=_rng.normal(0, 0.5, (2, 3)), b=np.zeros(3), X=_rng.normal(0, 1, (4, 2)))


def softmax_xent(W=_XENT["W"], b=_XENT["b"], X=_XENT["X"], labels=(0, 2, 1, 2)):
    """Softmax cross-entropy of a linear classifier on 4 samples and 3 classes.

    loss = mean(logsumexp(logits) − logits[label]); ∂loss/∂logits = (softmax − onehot)/n.
    """
    labels = np.asarray(labels)
    logits = X @ W + b
    picked = logits[np.arange(len(labels)), labels]
    loss = np.mean(gt.logsumexp(logits, axis=1) - picked)
    return loss


def layer_norm(x, gain, bias):
    mu = np.mean(x, axis=-1, keepdims=True)
    centred = x - mu
    var = np.mean(centred ** 2, axis=-1, keepdims=True)
    normed = centred / np.sqrt(var + 1e-5)
    return normed * gain + bias


def attention(x, Wq, Wk, Wv):
    with gt.scope("query"):
        q = x @ Wq
    with gt.scope("key"):
        k = x @ Wk
    with gt.scope("value"):
        v = x @ Wv
    scores = q @ k.T / np.sqrt(q.shape[-1])
    weights = gt.softmax(scores, axis=-1)
    return weights @ v


_rng = np.random.default_rng(2)
_ATT = dict(x=_rng.normal(0, 1, (4, 3)), gain=np.ones(3), bias=np.zeros(3),
            Wq=_rng.normal(0, 0.6, (3, 2)), Wk=_rng.normal(0, 0.6, (3, 2)),
            Wv=_rng.normal(0, 0.6, (3, 2)), target=_rng.normal(0, 1, (4, 2)))


def attention_head(x=_ATT["x"], gain=_ATT["gain"], bias=_ATT["bias"], Wq=_ATT["Wq"],
                   Wk=_ATT["Wk"], Wv=_ATT["Wv"], target=_ATT["target"]):
    """One attention head after a layer norm, on 4 tokens of width 3.

    Scopes (layer_norm, attention, and query/key/value inside it) become clusters;
    ``collapse=True`` folds each into one node with its gradient norm.
    """
    h = layer_norm(x, gain, bias)
    out = attention(h, Wq, Wk, Wv)
    loss = np.mean((out - target) ** 2)
    return loss


_RNN = {"x": np.array([[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8], [0.6, 0.1]]),
        "Wx": np.array([[0.6, -0.4, 0.2], [0.3, 0.5, -0.6]]),
        "Wh": np.array([[0.5, 0.1, -0.2], [-0.3, 0.4, 0.2], [0.2, -0.1, 0.6]]),
        "Wy": np.array([0.7, -0.5, 0.4])}


def rnn(x=_RNN["x"], Wx=_RNN["Wx"], Wh=_RNN["Wh"], Wy=_RNN["Wy"], y=0.5):
    """A vanilla RNN unrolled over 4 steps: h = tanh(x[t] @ Wx + h @ Wh), then a readout.

    The variable h is bound once per step, so its nodes read h₁ … h₄, each with its source
    line (h starts as a constant); Wx and Wh are shared by every step.
    """
    h = np.zeros(3)
    for t in range(len(x)):
        h = np.tanh(x[t] @ Wx + h @ Wh)
    pred = h @ Wy
    return (pred - y) ** 2


_MLP4 = [np.array([[0.5, -0.3], [0.2, 0.6]]) * (1.0 - 0.2 * i) for i in range(4)]


def dense(x, W, b):
    """One layer: x @ W + b."""
    return x @ W + b


def gelu(z):
    """The tanh approximation of GELU."""
    return 0.5 * z * (1.0 + np.tanh(0.7978845608 * (z + 0.044715 * z ** 3)))


def mlp_calls(x=np.array([0.8, -0.4]), W0=_MLP4[0], W1=_MLP4[1], W2=_MLP4[2], W3=_MLP4[3],
              b=np.array([0.1, -0.1])):
    """A 4-layer MLP built with a loop: dense and gelu are each called four times, and every
    call is its own scope instance (dense#1 … dense#4), so collapsing keeps the data flow."""
    h = x
    for W in (W0, W1, W2, W3):
        h = gelu(dense(h, W, b))
    return np.sum(h * h)


def micrograd_neuron():
    """The micrograd lecture's neuron, o = tanh(x1·w1 + x2·w2 + b), as a Value graph."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def student_fanout(value_class=AssigningValue):
    """A student's engine whose + assigns .grad instead of adding: a + a loses a path."""
    a, w = value_class(1.5, label="a"), value_class(-0.5, label="w")
    h = a + a                     # a feeds both slots of one +: its gradient must be a sum
    h.label = "h"
    o = (h * w).tanh()
    o.label = "o"
    o.backward()
    return o


EXAMPLES: dict[str, Callable[..., Any]] = {
    "seed_chain": seed_chain,
    "last_layer": last_layer,
    "layer_fanout": layer_fanout,
    "square": square,
    "shared_input": shared_input,
    "numpy_mlp": numpy_mlp,
    "softmax_xent": softmax_xent,
    "attention_head": attention_head,
    "rnn": rnn,
    "mlp_calls": mlp_calls,
    "micrograd_neuron": micrograd_neuron,
    "student_fanout": student_fanout,
}


# Built-in torch models live in gradtrace.pytorch.torch_examples, imported only when named.
TORCH_EXAMPLES = {
    "torch_mlp": "An nn.Sequential MLP (3 → 4 → 3, tanh) with F.cross_entropy on 4 samples, "
                 "in torch.",
    "torch_ninja": "A \"backprop ninja\" two-layer net: embedding, batch norm and softmax "
                   "written out in torch ops, every intermediate named.",
    "torch_dcgan": "A DCGAN discriminator (8×8 input) with in-place LeakyReLUs, batch norm "
                   "and binary cross-entropy, in torch.",
}


def summary(fn) -> str:
    return (fn.__doc__ or "").strip().splitlines()[0]
