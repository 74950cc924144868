"""First-draft models as people write them (numpy by hand, micrograd-style classes,
torch modules): the name audit traces each and checks every name it shows."""

from __future__ import annotations

import math

import numpy as np

_rng = np.random.default_rng(3)


def _r(*shape, scale=0.4):
    return _rng.normal(0, scale, shape)


# ------------------------------------------------------------------ numpy by hand
V, H = 4, 3
_RNN = dict(Wxh=_r(V, H), Whh=_r(H, H), Why=_r(H, V), bh=np.zeros(H), by=np.zeros(V))


def rnn_by_hand(Wxh=_RNN["Wxh"], Whh=_RNN["Whh"], Why=_RNN["Why"], bh=_RNN["bh"],
                by=_RNN["by"], inputs=(0, 2, 1), targets=(2, 1, 3)):
    """Karpathy's min-char-rnn loss: one-hot inputs, dicts of states."""
    xs = [np.eye(V)[i] for i in inputs]
    hs, ps = {}, {}
    hs[-1] = np.zeros(H)
    loss = 0.0
    for t in range(len(inputs)):
        hs[t] = np.tanh(xs[t] @ Wxh + hs[t - 1] @ Whh + bh)
        ys = hs[t] @ Why + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss = loss - np.log(ps[t][targets[t]])
    return loss


_LSTM = dict(W=_r(2 + H, 4 * H), b=np.zeros(4 * H), x=_r(3, 2, scale=1.0))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_by_hand(W=_LSTM["W"], b=_LSTM["b"], x=_LSTM["x"]):
    h = np.zeros(H)
    c = np.zeros(H)
    for t in range(x.shape[0]):
        z = np.concatenate([x[t], h]) @ W + b
        i = sigmoid(z[:H])
        f = sigmoid(z[H:2 * H])
        o = sigmoid(z[2 * H:3 * H])
        g = np.tanh(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum(h ** 2)


_GRU = dict(Wz=_r(2 + H, H), Wr=_r(2 + H, H), Wh=_r(2 + H, H), x=_r(3, 2, scale=1.0))


def gru_by_hand(Wz=_GRU["Wz"], Wr=_GRU["Wr"], Wh=_GRU["Wh"], x=_GRU["x"]):
    h = np.zeros(H)
    for t in range(len(x)):
        xh = np.concatenate([x[t], h])
        zt = sigmoid(xh @ Wz)
        rt = sigmoid(xh @ Wr)
        cand = np.tanh(np.concatenate([x[t], rt * h]) @ Wh)
        h = (1.0 - zt) * h + zt * cand
    return np.sum(h)


_ATT = dict(x=_r(4, 3, scale=1.0), Wq=_r(3, 2), Wk=_r(3, 2), Wv=_r(3, 2))


def attention_by_hand(x=_ATT["x"], Wq=_ATT["Wq"], Wk=_ATT["Wk"], Wv=_ATT["Wv"]):
    Q, K, V_ = x @ Wq, x @ Wk, x @ Wv
    scores = Q @ K.T / np.sqrt(Q.shape[-1])
    mask = np.tril(np.ones((4, 4)))
    scores = np.where(mask == 1, scores, -1e9)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    out = weights @ V_
    return np.mean(out ** 2)


def one_hot_readout(W=_r(3, 2)):
    xs = [np.eye(3)[i] for i in range(3)]
    total = 0.0
    for t in range(3):
        total = total + np.sum(np.tanh(xs[t] @ W))
    return total


def comprehension(xs=np.linspace(-1, 1, 4), w=0.7):
    h = [np.tanh(x * w) for x in xs]
    scaled = [2.0 * v for v in h]
    return h[0] * scaled[1] + sum(scaled)


class Neuron:
    def __init__(self, nin, seed):
        rnd = np.random.default_rng(seed)
        self.w = [float(v) for v in rnd.uniform(-1, 1, nin)]
        self.b = 0.0

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return np.tanh(act)


class Layer:
    def __init__(self, nin, nout, seed):
        self.neurons = [Neuron(nin, seed + k) for k in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs


class MLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], 10 * i) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def micrograd_mlp(model=MLP(3, [4, 1]), xs=([2.0, 3.0, -1.0], [3.0, -1.0, 0.5]),
                  ys=(1.0, -1.0)):
    """micrograd's README model: objects holding Python floats, sum(generator)."""
    ypred = [model(x) for x in xs]
    loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    return loss


class Dense:
    def __init__(self, n_in, n_out, seed):
        rnd = np.random.default_rng(seed)
        self.W = rnd.normal(0, 0.5, (n_in, n_out))
        self.b = np.zeros(n_out)


def object_net(layers=(Dense(3, 4, 1), Dense(4, 2, 2)), x=np.linspace(-1, 1, 3)):
    h = x
    for layer in layers:
        z = h @ layer.W + layer.b
        h = np.tanh(z)
    return np.sum(h * h)


def gelu_tanh(x=np.linspace(-2, 2, 5)):
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    return np.sum(0.5 * x * (1.0 + np.tanh(inner)))


# ------------------------------------------------------------------ weight sharing over many steps
STEPS = 8
xs = _r(STEPS, 2, scale=1.0)           # the data: a constant the loops read, xs[t]
_SEQ = dict(Wxh=_r(2, H), Whh=_r(H, H), bh=np.zeros(H), Why=_r(H, 2), by=np.zeros(2))


def rnn_steps(Wxh=_SEQ["Wxh"], Whh=_SEQ["Whh"], bh=_SEQ["bh"], Why=_SEQ["Why"], by=_SEQ["by"]):
    """A vanilla RNN unrolled over 8 steps with a loss at every step: all five weights
    are used by every step."""
    h = np.zeros(H)
    loss = 0.0
    for t in range(STEPS):
        h = np.tanh(xs[t] @ Wxh + h @ Whh + bh)
        y = h @ Why + by
        loss = loss + np.sum((y - xs[(t + 1) % STEPS]) ** 2)
    return loss


_GRU6 = {name: _r(2 if name[0] == "W" else H, H) for name in ("Wz", "Uz", "Wr", "Ur", "Wh", "Uh")}


def gru_steps(Wz=_GRU6["Wz"], Uz=_GRU6["Uz"], Wr=_GRU6["Wr"], Ur=_GRU6["Ur"], Wh=_GRU6["Wh"],
              Uh=_GRU6["Uh"]):
    """A GRU written by hand, unrolled over 8 steps: six weights shared by every step."""
    h = np.zeros(H)
    for t in range(STEPS):
        z = sigmoid(xs[t] @ Wz + h @ Uz)
        r = sigmoid(xs[t] @ Wr + h @ Ur)
        cand = np.tanh(xs[t] @ Wh + (r * h) @ Uh)
        h = (1.0 - z) * h + z * cand
    return np.sum(h)


NUMPY_MODELS = [rnn_by_hand, lstm_by_hand, gru_by_hand, attention_by_hand, one_hot_readout,
                comprehension, micrograd_mlp, object_net, gelu_tanh]
