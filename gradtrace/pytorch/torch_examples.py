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


def _discriminator() -> nn.Module:
    """pytorch/examples' DCGAN discriminator, shrunk to 8×8 grey images: strided
    convolutions, batch norm, and LeakyReLU(0.2, inplace=True) as the original writes it."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return nn.Sequential(
            nn.Conv2d(1, 2, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            # running statistics off: every forward in training mode would move them, and
            # the gallery must draw the same picture however often it is rendered
            nn.Conv2d(2, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4, track_running_stats=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4, 1, 2, 1, 0, bias=False), nn.Sigmoid()).double()


_D = torch.Generator().manual_seed(3)
_IMAGES = torch.randn(2, 1, 8, 8, generator=_D, dtype=torch.float64)
_REAL = torch.ones(2, dtype=torch.float64)


def torch_dcgan(netD=_discriminator(), real=_IMAGES, label=_REAL):
    """A DCGAN discriminator (8×8 input) on a batch of real images, with in-place
    LeakyReLUs and binary cross-entropy, as pytorch/examples writes it."""
    output = netD(real).view(-1)
    errD_real = F.binary_cross_entropy(output, label)
    return errD_real


EXAMPLES = {"torch_mlp": torch_mlp, "torch_ninja": torch_ninja, "torch_dcgan": torch_dcgan}
