"""Benchmark rows for torch: an MLP and a tiny nanoGPT-shaped transformer, gradtrace's
trace + backward against ``loss.backward()``."""

from __future__ import annotations

import numpy as np

import gradtrace as gt
from bench.timing import peer, timed


def torch_mlp(table, repeats, sizes, batch):
    """gradtrace tracing a torch model (every call recorded, gradtrace's own backward with
    torch's VJP per call) against the same model's plain ``loss.backward()``."""
    torch = peer("torch")
    if torch is None:
        table.missing.add("torch")
        return
    import torch.nn.functional as F
    torch.manual_seed(0)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1])
    x = torch.randn(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))
    case = f"torch MLP {'-'.join(map(str, sizes))}, batch {batch}"

    def loss_fn(model, x, y):
        return F.cross_entropy(model(x), y)

    def ours():
        return gt.trace(loss_fn, model, x, y, wrt=["model"]).backward()

    def plain():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model, x, y)
        loss.backward()
        return [p.grad for p in model.parameters()]
    t = ours()
    for (name, _), g in zip(model.named_parameters(), plain()):
        assert np.allclose(t.grads[f"model.{name}"], g.numpy(), rtol=1e-4, atol=1e-6), name
    med = timed({"loss.backward()": plain, "gradtrace": ours}, repeats)
    base = med["loss.backward()"]
    for tool in ("loss.backward()", "gradtrace"):
        table.add(case, tool, med[tool], base, 3.0 if tool == "gradtrace" else None)


def torch_gpt(table, repeats):
    """A tiny transformer in nanoGPT's shape (embedding 11×16, one attention block, GELU
    MLP, head tied to the embedding; batch 2×8, float64), returning (logits, loss):
    gradtrace's trace + backward (``output=1``) against plain ``loss.backward()``.  Small
    tensors, so this measures gradtrace's cost per recorded call, not torch's kernels."""
    torch = peer("torch")
    if torch is None:
        table.missing.add("torch")
        return
    from bench.torch_models import tiny_gpt_batch
    model, idx, targets = tiny_gpt_batch()
    case = "tiny transformer (nanoGPT shape), batch 2×8, float64"

    def ours():
        return gt.trace(model, idx, targets, output=1).backward()

    def plain():
        model.zero_grad(set_to_none=True)
        model(idx, targets)[1].backward()
        return [p.grad for p in model.parameters()]
    t = ours()
    plain()
    for name, p in model.named_parameters():
        assert np.allclose(t.grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-13), name
    threads = torch.get_num_threads()
    torch.set_num_threads(1)       # tiny tensors: threads only add contention, for both
    try:
        med = timed({"loss.backward()": plain, "gradtrace": ours}, repeats)
    finally:
        torch.set_num_threads(threads)
    base = med["loss.backward()"]
    for tool in ("loss.backward()", "gradtrace"):
        table.add(case, tool, med[tool], base, 4.0 if tool == "gradtrace" else None,
                  f"{len(t.tape)} nodes" if tool == "gradtrace" else "")
