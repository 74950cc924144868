"""PyTorch as people write it, part 2: custom autograd Functions, models returning
``(logits, loss)``, check() on a BCE model, torch tensors back from ``t.grads``.
Every gradient is compared with torch's own float64 ``.backward()`` at rtol 1e-9."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch tests need the torch extra")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gradtrace as gt  # noqa: E402
from gradtrace.errors import GradtraceWarning, TraceError  # noqa: E402

RTOL = 1e-9


def close(ours, theirs, name=""):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=RTOL,
                               atol=1e-13, err_msg=name)


# ---------------------------------------------------------------- custom autograd.Function
class GradReverse(torch.autograd.Function):
    """The domain-adversarial trick: identity forward, −λ·g backward."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


def dann(x, w):
    features = torch.tanh(x @ w)
    reversed_ = GradReverse.apply(features, 0.5)
    return (reversed_ ** 2).sum() + features.sum()


def test_a_custom_function_is_one_node_differentiated_by_its_own_backward():
    g = torch.Generator().manual_seed(0)
    x, w = (torch.randn(4, 3, generator=g, dtype=torch.float64),
            torch.randn(3, 2, generator=g, dtype=torch.float64))
    t = gt.trace(dann, x, w).backward()
    xl, wl = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    dann(xl, wl).backward()
    close(t.grads["x"], xl.grad, "x")
    close(t.grads["w"], wl.grad, "w")
    node = t.graph.nodes[t.node_id("reversed_")]
    assert node["params"]["fn"] == "GradReverse"
    assert [a["op"] for _, a in t.graph.nodes(data=True)].count("torch") == 1
    assert "∂reversed_/∂features: GradReverse (VJP)" in t.to_dot()


# ---------------------------------------------------------------- (logits, loss)
class TinyLM(nn.Module):
    """Karpathy's shape: forward(idx, targets) returns (logits, loss)."""

    def __init__(self, vocab=7, dim=5):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.lm_head = nn.Linear(dim, vocab)

    def forward(self, idx, targets=None):
        logits = self.lm_head(torch.tanh(self.wte(idx)))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def lm_and_batch():
    torch.manual_seed(3)
    model = TinyLM().double()
    idx = torch.randint(0, 7, (2, 4))
    return model, idx, torch.roll(idx, -1, dims=1)


def torch_param_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("output", [1, "1", lambda out: out[1]])
def test_a_model_returning_logits_and_loss_is_differentiated_at_output(output):
    model, idx, targets = lm_and_batch()
    t = gt.trace(model, idx, targets, output=output).backward()
    expected = torch_param_grads(model, model(idx, targets)[1])
    for n, g in expected.items():
        close(t.grads[n], g, n)
    assert t.check().ok


def test_output_works_for_a_function_of_the_model_too():
    model, idx, targets = lm_and_batch()

    def step(model, idx, targets):
        logits, loss = model(idx, targets)
        return {"logits": logits, "loss": loss}
    t = gt.trace(step, model, idx, targets, output="loss").backward()
    expected = torch_param_grads(model, model(idx, targets)[1])
    for n, g in expected.items():
        close(t.grads[f"model.{n}"], g, n)


def test_a_tuple_with_one_scalar_is_used_with_a_note():
    model, idx, targets = lm_and_batch()
    with pytest.warns(GradtraceWarning, match="differentiating its element 1"):
        t = gt.trace(model, idx, targets)
    assert t.value == pytest.approx(model(idx, targets)[1].item())


def test_a_tuple_without_one_scalar_asks_for_output():
    model, idx, _ = lm_and_batch()
    with pytest.raises(TraceError, match=r"returned a tuple of 2 values with no scalar .*"
                                         r"output="):
        gt.trace(model, idx)          # (logits, None)
    with pytest.raises(TraceError, match="give an index 0 .. 1"):
        gt.trace(model, idx, output=2)


def test_output_picks_from_a_numpy_trace_too():
    def f(x=np.array([0.5, -1.0])):
        y = np.tanh(x)
        return y, (y ** 2).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = gt.trace(f, output=1).backward()
    np.testing.assert_allclose(t.grads["x"], 2 * np.tanh([0.5, -1.0]) /
                               np.cosh([0.5, -1.0]) ** 2)
    assert t.check().ok


def test_the_command_line_picks_with_pick(tmp_path):
    model_file = tmp_path / "lm.py"
    model_file.write_text(textwrap.dedent("""
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        W = torch.randn(3, 4, dtype=torch.float64)
        X = torch.randn(5, 3, dtype=torch.float64)

        def forward(W=W, x=X, y=torch.tensor([0, 1, 2, 3, 0])):
            logits = x @ W
            return logits, F.cross_entropy(logits, y)
    """))
    run = subprocess.run([sys.executable, "-m", "gradtrace", "check", f"{model_file}:forward",
                          "--pick", "1"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("gradients match torch's .grad")


# ---------------------------------------------------------------- check() and torch out
def bce_model():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2, inplace=True), nn.Linear(4, 1),
                          nn.Sigmoid()).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    return model, x, labels


def bce(model, x, labels):
    return F.binary_cross_entropy(model(x).view(-1), labels)


def test_check_on_a_bce_model_compares_with_torch_and_leaves_the_labels_alone():
    model, x, labels = bce_model()
    t = gt.trace(bce, model, x, labels).backward()
    model.zero_grad()
    bce(model, x, labels).backward()
    for n, p in model.named_parameters():
        close(t.grads[f"model.{n}"], p.grad, n)
    report = t.check()
    assert report.ok, str(report)
    text = str(report).splitlines()
    assert text[-1].startswith("gradients match torch's .grad and float64 finite differences")
    assert any("labels was not perturbed" in line for line in text)
    checked = {c.name for c in report.inputs}
    assert "model.0.weight (finite differences)" in checked
    assert "labels (torch .grad)" in checked and "labels (finite differences)" not in checked


def test_grads_are_torch_tensors_of_each_parameters_dtype():
    torch.manual_seed(5)
    model = nn.Linear(3, 2)                                   # float32
    x = torch.randn(4, 3)
    t = gt.trace(lambda model, x: model(x).pow(2).mean(), model, x).backward()
    g = t.grads["model.weight"]
    assert isinstance(g, torch.Tensor) and g.dtype == torch.float32
    assert g.shape == model.weight.shape and g.device == model.weight.device
    model.weight.data -= 0.1 * g                              # usable as torch's .grad is
    h = t.grad("x")
    assert isinstance(h, torch.Tensor) and h.dtype == torch.float32
    assert isinstance(t.graph.nodes[t.inputs["x"]]["value"], np.ndarray)  # drawn from numpy


# ---------------------------------------------------------------- collapse, and a tiny GPT
def test_collapse_folds_a_passed_models_children_and_gradients_match_torch():
    import re
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from bench.torch_models import tiny_gpt_batch
    model, idx, targets = tiny_gpt_batch()

    def loss_fn(model, idx, targets):
        logits, loss = model(idx, targets)
        return loss
    t = gt.trace(loss_fn, model, idx, targets).backward()
    expected = torch_param_grads(model, model(idx, targets)[1])
    for n, g in expected.items():                 # the tied head: one input, both uses
        close(t.grads[f"model.{n}"], g, n)
    boxes = set(re.findall(r"<B>([^<]*)</B>", t.to_dot(collapse=True)))
    assert {"model.transformer.h.0", "model.transformer.wte", "model.lm_head"} <= boxes
    assert "model" not in boxes
