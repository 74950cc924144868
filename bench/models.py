"""The workloads the benchmark runs, written once for every tool that runs them."""

from __future__ import annotations

import random

import numpy as np


def scalar_mlp_params(sizes=(2, 16, 16, 1), seed=0):
    """Weights as nested Python lists: layers[i] = list of neurons {"w": [...], "b": float}."""
    rnd = random.Random(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers.append([{"w": [rnd.uniform(-1, 1) for _ in range(fan_in)], "b": 0.0}
                       for _ in range(fan_out)])
    return layers


def scalar_data(n=32, seed=1):
    rnd = random.Random(seed)
    xs = [[rnd.uniform(-2, 2), rnd.uniform(-2, 2)] for _ in range(n)]
    ys = [1.0 if x[0] * x[1] > 0 else -1.0 for x in xs]
    return xs, ys


def scalar_mlp_loss(layers, xs, ys, relu):
    """micrograd's MLP (ReLU hidden layers, linear output) with a mean squared error."""
    total = 0.0
    for x, y in zip(xs, ys):
        act = x
        for li, layer in enumerate(layers):
            last = li == len(layers) - 1
            out = []
            for neuron in layer:
                s = sum((wi * xi for wi, xi in zip(neuron["w"], act)), neuron["b"])
                out.append(s if last else relu(s))
            act = out
        diff = act[0] - y
        total = total + diff * diff
    return total * (1.0 / len(xs))


def scalar_mlp_loss_loop(layers, xs, ys, relu):
    """The same model written with an explicit ``s = s + w * x`` loop."""
    total = 0.0
    for x, y in zip(xs, ys):
        act = x
        for li, layer in enumerate(layers):
            last = li == len(layers) - 1
            out = []
            for neuron in layer:
                s = neuron["b"]
                for wi, xi in zip(neuron["w"], act):
                    s = s + wi * xi
                out.append(s if last else relu(s))
            act = out
        diff = act[0] - y
        total = total + diff * diff
    return total * (1.0 / len(xs))


def dense_params(sizes=(784, 256, 256, 10), seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        params[f"W{i}"] = rng.normal(0, 1 / np.sqrt(a), size=(a, b))
        params[f"b{i}"] = np.zeros(b)
    return params


def dense_data(batch=128, sizes=(784, 256, 256, 10), seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, sizes[0])), rng.normal(size=(batch, sizes[-1]))


def dense_loss(params, X, Y, tanh=np.tanh, mean=np.mean):
    """tanh MLP, linear output, mean squared error; written once for numpy-like tools."""
    n = len([k for k in params if k.startswith("W")])
    h = X
    for i in range(n):
        z = h @ params[f"W{i}"] + params[f"b{i}"]
        h = tanh(z) if i < n - 1 else z
    d = h - Y
    return mean(d * d)


def dense_grads_by_hand(params, X, Y):
    """The floor: the same gradients written out in numpy."""
    n = len([k for k in params if k.startswith("W")])
    hs = [X]
    for i in range(n):
        z = hs[-1] @ params[f"W{i}"] + params[f"b{i}"]
        hs.append(np.tanh(z) if i < n - 1 else z)
    d = hs[-1] - Y
    g = 2.0 * d / d.size
    grads = {}
    for i in reversed(range(n)):
        if i < n - 1:
            g = g * (1.0 - hs[i + 1] ** 2)
        grads[f"W{i}"] = hs[i].T @ g
        grads[f"b{i}"] = g.sum(axis=0)
        if i:
            g = g @ params[f"W{i}"].T
    return grads


def sin_chain(x, steps=2000, sin=np.sin):
    for _ in range(steps):
        x = sin(x) * 1.01 + 0.1
    return x
