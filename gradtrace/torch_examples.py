"""Built-in PyTorch models (``gradtrace render torch_mlp``).  Imported only when one is
asked for, so gradtrace itself never needs torch; inputs are fixed by seeded generators
so the gallery is the same on every run."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


def _mlp() -> nn.Module:
    with torch.random.fork_rng():          # seeded here without touching the caller's RNG
        torch.manual_seed(0)
        return nn.Sequential(OrderedDict([("hidden", nn.Linear(3, 4)), ("act", nn.Tanh()),
                                          ("out", nn.Linear(4, 3))])).double()


_G = torch.Generator().manual_seed(7)
_X = torch.randn(4, 3, generator=_G, dtype=torch.float64)
_Y = torch.tensor([0, 2, 1, 2])


def torch_mlp(model=_mlp(), x=_X, target=_Y):
    """An nn.Sequential MLP (3 → 4 → 3, tanh) with F.cross_entropy on 4 samples, in torch."""
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    return loss


_N = torch.Generator().manual_seed(2147483647)
_NINJA = {"C": torch.randn(10, 2, generator=_N), "W1": torch.randn(4, 6, generator=_N) * 0.4,
          "b1": torch.randn(6, generator=_N) * 0.1, "W2": torch.randn(6, 10, generator=_N) * 0.1,
          "b2": torch.randn(10, generator=_N) * 0.1,
          "bngain": torch.randn(1, 6, generator=_N) * 0.1 + 1,
          "bnbias": torch.randn(1, 6, generator=_N) * 0.1}
_NINJA = {k: v.double() for k, v in _NINJA.items()}
_XB = torch.randint(0, 10, (5, 2), generator=_N)
_YB = torch.randint(0, 10, (5,), generator=_N)


def torch_ninja(C=_NINJA["C"], W1=_NINJA["W1"], b1=_NINJA["b1"], W2=_NINJA["W2"],
                b2=_NINJA["b2"], bngain=_NINJA["bngain"], bnbias=_NINJA["bnbias"], Xb=_XB,
                Yb=_YB):
    """A "backprop ninja" two-layer net: embedding, batch norm and softmax written out in torch
    ops, every intermediate named."""
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.view(n, -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2
    counts = logits.exp()
    counts_sum = counts.sum(1, keepdim=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    return loss


EXAMPLES = {"torch_mlp": torch_mlp, "torch_ninja": torch_ninja}
