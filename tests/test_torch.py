"""Tracing PyTorch: the same named, annotated graph as for numpy, every gradient equal to
torch's own ``.grad`` (float64, rtol 1e-10), fan-out sums, module paths as names and
scopes, and clear refusals for what cannot be followed."""

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch tests need the torch extra "
                                            "(pip install 'gradtrace[torch]')")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gradtrace as gt  # noqa: E402
from gradtrace.errors import GradtraceError, TraceError  # noqa: E402

RTOL = 1e-10


def assert_matches_torch(t, torch_grads: dict):
    assert set(torch_grads) <= set(t.grads)
    for name, g in torch_grads.items():
        np.testing.assert_allclose(t.grads[name], g.detach().numpy(), rtol=RTOL, atol=1e-14,
                                   err_msg=name)


def assert_fan_out_sums(t):
    g = t.graph
    fans = 0
    for v, a in g.nodes(data=True):
        terms = [e["contribution"] for _, _, e in g.out_edges(v, data=True)
                 if e.get("contribution") is not None]
        if len(terms) > 1:
            fans += 1
            np.testing.assert_allclose(sum(terms), a["grad"], rtol=1e-12, atol=1e-15)
    return fans


def names(t):
    return {a["name"] for _, a in t.graph.nodes(data=True) if a["name"]}


# ---------------------------------------------------------------- nn.Sequential + cross-entropy
def mlp_loss(model, x, y):
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    return loss


def sequential():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    return model, x, y


def test_sequential_mlp_with_cross_entropy_matches_torch():
    model, x, y = sequential()
    t = gt.trace(mlp_loss, model, x, y).backward()
    model.zero_grad()
    mlp_loss(model, x, y).backward()
    assert_matches_torch(t, {f"model.{n}": p.grad for n, p in model.named_parameters()})
    assert {"model.0.weight", "model.2.bias", "x", "logits", "loss"} <= names(t)
    assert t.output_name == "loss"
    scopes = {a["scope"] for _, a in t.graph.nodes(data=True) if a["kind"] == "op"}
    assert ("model.0",) in scopes and ("model.2",) in scopes   # the children: collapse folds them
    tanh = [a for _, a in t.graph.nodes(data=True) if a["op"] == "tanh"]
    assert tanh and tanh[0]["name"] == "model.1"            # known op: its own row
    edges = [e for _, _, e in t.graph.in_edges(
        next(v for v, a in t.graph.nodes(data=True) if a["op"] == "tanh"), data=True)]
    assert edges[0]["formula"] == "1 − tanh²(model.0)" and edges[0]["local"] is not None
    report = t.check()
    assert report.ok, str(report)


def test_module_traced_directly_names_parameters_by_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 5), nn.Linear(5, 2)])

        def forward(self, x, target):
            h = torch.tanh(self.layers[0](x))
            out = self.layers[1](h)
            return ((out - target) ** 2).mean()
    torch.manual_seed(1)
    net = Net().double()
    x, target = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    t = gt.trace(net, x, target, wrt=["layers"]).backward()
    net.zero_grad()
    net(x, target).backward()
    assert_matches_torch(t, {n: p.grad for n, p in net.named_parameters()})
    assert set(t.wrt) == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
    assert {"h", "out"} <= names(t)
    scopes = {s for _, a in t.graph.nodes(data=True) for s in a["scope"]}
    assert scopes == {"layers.0", "layers.1"}


# ---------------------------------------------------------------- backprop ninja
def ninja(C, W1, b1, W2, b2, bngain, bnbias, Xb, Yb, store=None):
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
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
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes.detach()
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    if store is not None:
        store.update({k: v for k, v in locals().items() if isinstance(v, torch.Tensor)
                      and v.requires_grad and k not in ("store",)})
    return loss


def ninja_inputs():
    g = torch.Generator().manual_seed(2147483647)
    d = dict(C=torch.randn(27, 4, generator=g), W1=torch.randn(12, 16, generator=g) * 0.3,
             b1=torch.randn(16, generator=g) * 0.1, W2=torch.randn(16, 27, generator=g) * 0.1,
             b2=torch.randn(27, generator=g) * 0.1,
             bngain=torch.randn(1, 16, generator=g) * 0.1 + 1,
             bnbias=torch.randn(1, 16, generator=g) * 0.1)
    d = {k: v.double() for k, v in d.items()}
    Xb = torch.randint(0, 27, (8, 3), generator=g)
    Yb = torch.randint(0, 27, (8,), generator=g)
    return d, Xb, Yb


def test_backprop_ninja_every_intermediate_matches_retain_grad():
    params, Xb, Yb = ninja_inputs()
    t = gt.trace(ninja, **params, Xb=Xb, Yb=Yb).backward()
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    store = {}
    loss = ninja(**leaves, Xb=Xb, Yb=Yb, store=store)
    for v in store.values():
        v.retain_grad()
    loss.backward()
    assert_matches_torch(t, {k: v.grad for k, v in leaves.items()})
    g = t.graph
    by_name = {a["name"]: a for _, a in g.nodes(data=True) if a["name"]}
    compared = 0
    for name, tensor in store.items():        # the cmp() of every hand-derived gradient
        if name in by_name and tensor.grad is not None and "grad" in by_name[name]:
            np.testing.assert_allclose(by_name[name]["grad"], tensor.grad.numpy(), rtol=RTOL,
                                       atol=1e-14, err_msg=name)
            compared += 1
    assert compared >= 15, sorted(by_name)
    assert assert_fan_out_sums(t) >= 3           # bndiff, counts, hprebn feed several paths
    assert float(t.value) == pytest.approx(loss.item(), rel=1e-12)


# ---------------------------------------------------------------- attention and reuse
def attention(x, Wq, Wk, Wv, Wo):
    q = x @ Wq
    k = x @ Wk
    v = x @ Wv
    scores = q @ k.transpose(-2, -1) / Wq.shape[1] ** 0.5
    weights = F.softmax(scores, dim=-1)
    out = (weights @ v) @ Wo
    return (out ** 2).sum()


def test_attention_block_matches_torch_and_x_fans_out():
    torch.manual_seed(3)
    args = [torch.randn(5, 4, dtype=torch.float64) for _ in range(1)] + \
        [torch.randn(4, 4, dtype=torch.float64) * 0.5 for _ in range(4)]
    t = gt.trace(attention, *args).backward()
    leaves = [a.clone().requires_grad_(True) for a in args]
    attention(*leaves).backward()
    assert_matches_torch(t, dict(zip(["x", "Wq", "Wk", "Wv", "Wo"], (a.grad for a in leaves))))
    x = t.inputs["x"]
    assert t.graph.out_degree(x) == 3
    assert assert_fan_out_sums(t) >= 1
    assert {"q", "k", "v", "scores", "weights", "out"} <= names(t)


def test_a_tensor_used_twice_sums_both_paths():
    def reuse(x, w):
        h = torch.tanh(x * w)
        y = h * h + h.sin()
        return y.sum()
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    w = torch.tensor(0.7, dtype=torch.float64)
    t = gt.trace(reuse, x, w).backward()
    xl, wl = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    reuse(xl, wl).backward()
    assert_matches_torch(t, {"x": xl.grad, "w": wl.grad})
    h = next(v for v, a in t.graph.nodes(data=True) if a["name"] == "h")
    assert t.graph.out_degree(h) == 3            # h * h (two edges) and sin(h)
    assert assert_fan_out_sums(t) >= 1
    g = t.grads["w"]                              # torch in, torch out: w's dtype and shape
    assert isinstance(g, torch.Tensor) and g.shape == () and g.dtype == torch.float64


def test_float32_model_checks_against_torch_at_float32_tolerance():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    t = gt.trace(mlp_loss, model, x, y).backward()
    report = t.check()
    assert report.ok and report.rtol == 1e-4, str(report)
    assert all("finite differences" not in c.name for c in report.inputs)


# ---------------------------------------------------------------- views and files
def test_torch_trace_renders_explains_and_round_trips_json(tmp_path):
    model, x, y = sequential()
    t = gt.trace(mlp_loss, model, x, y).backward()
    assert "F.linear" in t.to_dot()
    text = t.explain("model.0.weight").text
    assert "VJP[F.linear]" in text and "tanh" in text
    data = json.loads(t.to_json())
    assert all("_call" not in (n.get("params") or {}) for n in data["nodes"])
    loaded = gt.load_json(t.to_json())
    assert loaded.grads["model.0.weight"].shape == (8, 4)
    with pytest.raises(GradtraceError, match="trace the model again"):
        loaded.backward()


def test_step_through_update_reruns_the_torch_model(tmp_path):
    from gradtrace.render.page import steps_data
    model, x, y = sequential()
    before = [p.detach().clone() for p in model.parameters()]
    t = gt.trace(mlp_loss, model, x, y, wrt=["model"]).backward()
    last = steps_data(t, lr=0.5)["steps"][-1]
    with torch.no_grad():                  # the same step by hand, in torch
        moved = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
        for p, q in zip(moved.parameters(), model.parameters()):
            p.copy_(q - 0.5 * torch.as_tensor(t.grads[f"model.{_name(model, q)}"]))
        expected = float(mlp_loss(moved, x, y))
    assert any(f"{expected:.3g}" in line for line in last["lines"]), last["lines"]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored


def _name(model, param):
    return next(n for n, p in model.named_parameters() if p is param)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("body, message", [
    (lambda x: x * (2.0 if x.sum().item() > 0 else 3.0), r"\.item\(\) of a traced tensor"),
    (lambda x: x.add_(1.0).sum(), "in place"),
    (lambda x: _no_grad_sum(x), r"torch.no_grad\(\)"),
    (lambda x: torch.tensor(np.tanh(x)).sum(), "numpy"),
    (lambda x: float(x.sum()), r"\.float\(\)"),
])
def test_what_cannot_be_followed_is_refused_by_name(body, message):
    x = torch.tensor([0.5, -0.25], dtype=torch.float64)
    with pytest.raises(TraceError, match=message):
        gt.trace(body, x)


def _no_grad_sum(x):
    with torch.no_grad():
        y = x * 2
    return y.sum()


def test_numpy_arrays_and_torch_tensors_do_not_mix():
    with pytest.raises(TraceError, match="numpy array in a torch trace"):
        gt.trace(lambda x, w: (x * torch.as_tensor(w)).sum(), torch.ones(2),
                 np.array([1.0, 2.0]))


def test_a_numpy_trace_refuses_to_hand_its_values_to_torch():
    def f(x=np.array([0.5, 1.0])):
        h = np.tanh(x)
        return float(torch.tensor(h * 2).sum())
    with pytest.raises(TraceError, match="numpy or torch, not both"):
        gt.trace(f)


def test_detach_is_an_explicit_constant():
    def f(x):
        return (x * x.detach()).sum()
    x = torch.tensor([1.5, -2.0], dtype=torch.float64)
    t = gt.trace(f, x).backward()
    np.testing.assert_allclose(t.grads["x"], x.numpy())          # d/dx x·c = c


def test_import_gradtrace_does_not_import_torch():
    code = ("import sys, numpy as np, gradtrace as gt\n"
            "t = gt.trace(lambda x=0.5: gt.tanh(x) ** 2).backward()\n"
            "t.to_dot(); t.explain('x')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_properties_views_and_library_modules_match_torch():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 4)
            self.norm = nn.LayerNorm(4)
            self.bn = nn.BatchNorm1d(4)
            self.drop = nn.Dropout(0.5)
            self.proj = nn.Linear(4, 4)

        def forward(self, idx, target):
            e = self.emb(idx)
            h = self.bn(self.norm(e))
            h = self.drop(h) @ self.proj.weight.T + self.proj.bias
            scale = h.shape[-1] ** -0.5
            return ((h * scale - target) ** 2).mean() + h.mT.sum(dim=0).pow(2).mean()
    torch.manual_seed(5)
    block = Block().double().eval()
    idx, target = torch.tensor([1, 3, 3, 6, 0]), torch.randn(5, 4, dtype=torch.float64)
    t = gt.trace(block, idx, target).backward()
    block.zero_grad()
    block(idx, target).backward()
    assert_matches_torch(t, {n: p.grad for n, p in block.named_parameters()})
    assert {"emb", "norm", "bn", "drop"} <= {s for _, a in t.graph.nodes(data=True)
                                             for s in a["scope"]}


def test_check_says_when_the_model_is_random():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).double().train()
    x = torch.randn(4, 3, dtype=torch.float64)
    t = gt.trace(lambda model, x: model(x).pow(2).sum(), model, x).backward()
    report = t.check()
    assert not report.deterministic and not report.ok
    assert "NOT DETERMINISTIC" in str(report)


# ---------------------------------------------------------------- many torch calls, one VJP each
CALLS = {
 "cat": lambda a, b: torch.cat([a, b * 2], dim=0).sum(),
 "stack": lambda a, b: torch.stack([a, b]).pow(2).sum(),
 "split": lambda a, b: sum(p.sum() * (i + 1)
                          for i, p in enumerate(torch.split(a, 1, dim=1))) + b.sum(),
 "chunk": lambda a, b: (lambda c: (c[0] * c[1]).sum())(torch.chunk(a, 2, dim=0)) + b.mean(),
 "where": lambda a, b: torch.where(a > 0, a, b).sum(),
 "maxdim": lambda a, b: a.max(dim=1).values.sum() + torch.max(b),
 "softmax": lambda a, b: (F.softmax(a, dim=-1) * b).sum(),
 "logsoftmax": lambda a, b: F.log_softmax(a, dim=1)[:, 0].sum() + b.sum(),
 "mse": lambda a, b: F.mse_loss(a, b),
 "permute": lambda a, b: (a.permute(1, 0) @ b).sum(),
 "reshape": lambda a, b: (a.reshape(-1) * b.reshape(-1)).sum(),
 "einsum": lambda a, b: torch.einsum("ij,ij->", a, b),
 "clamp": lambda a, b: a.clamp(-0.5, 0.5).sum() + b.clamp(min=0).sum(),
 "norm": lambda a, b: torch.linalg.norm(a) + b.norm(dim=1).sum(),
 "cumsum": lambda a, b: a.cumsum(0).sum() * b.sum(),
 "gather": lambda a, b: a.gather(1, torch.tensor([[0], [1]])).sum() + b.sum(),
 "masked": lambda a, b: a.masked_fill(b > 0, 0.0).sum(),
 "index": lambda a, b: a[torch.tensor([1, 0, 1])].sum() + b[:, 1].sum(),
 "rsub": lambda a, b: (1.0 - a).sum() + (2.0 / (b + 3.0)).sum() + (2 ** a).sum(),
 "sigmoidmeth": lambda a, b: a.sigmoid().sum() + torch.sigmoid(b).mean() + F.gelu(a).sum(),
 "unbind": lambda a, b: sum(r.sum() * k for k, r in enumerate(a.unbind(0))) + b.sum(),
 "expand": lambda a, b: (a[:, :1].expand(2, 2) * b).sum(),
 "transposeT": lambda a, b: (a.T @ b).trace(),
 "sort": lambda a, b: torch.sort(a, dim=1).values[:, 0].sum() + b.sum(),
 "var": lambda a, b: a.var() + b.std(dim=0).sum(),
 "abs_neg": lambda a, b: (-a).abs().sum() + abs(b).sum(),
 "exp_pow": lambda a, b: (a.exp() ** 2).sum() + b.sum(),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_torch_calls_match_torch_gradients(name):
    f = CALLS[name]
    g = torch.Generator().manual_seed(sorted(CALLS).index(name))
    a = torch.randn(2, 2, generator=g, dtype=torch.float64)
    b = torch.randn(2, 2, generator=g, dtype=torch.float64)
    t = gt.trace(f, a, b).backward()
    al, bl = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    f(al, bl).backward()
    for n, ref in (("a", al.grad), ("b", bl.grad)):
        expected = np.zeros((2, 2)) if ref is None else ref.numpy()
        np.testing.assert_allclose(t.grads[n], expected, rtol=RTOL, atol=1e-12, err_msg=n)
    assert_fan_out_sums(t)
