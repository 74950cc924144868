"""PyTorch as people write it, part 1: in-place activations are new versions of a tensor,
and whatever gradtrace cannot follow faithfully (changes it did not see, torch.jit,
module backward hooks) is refused by name; tensor hooks and checkpoint work.  Every
gradient is compared with torch's own float64 ``.backward()`` at rtol 1e-9."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch tests need the torch extra")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.checkpoint import checkpoint  # noqa: E402

import gradtrace as gt  # noqa: E402
from gradtrace.errors import TraceError  # noqa: E402

RTOL = 1e-9


def torch_grads(fn, *args):
    """Each float tensor argument's gradient from torch's own backward (modules: their
    parameters, prefixed by the argument's name), on copies of the arguments."""
    named, copies = {}, []
    for i, a in enumerate(args):
        if isinstance(a, nn.Module):
            a.zero_grad()
            named.update({f"{fn.__code__.co_varnames[i]}.{n}": p
                          for n, p in a.named_parameters()})
            copies.append(a)
        elif isinstance(a, torch.Tensor) and a.is_floating_point():
            c = a.detach().clone().requires_grad_(True)
            named[fn.__code__.co_varnames[i]] = c
            copies.append(c)
        else:
            copies.append(a)
    fn(*copies).backward()
    return {n: t.grad.detach().numpy().copy() for n, t in named.items()}


def assert_same_as_torch(fn, *args):
    t = gt.trace(fn, *args).backward()
    expected = torch_grads(fn, *args)
    assert set(expected) == set(t.grads)
    for name, g in expected.items():
        np.testing.assert_allclose(t.grads[name], g, rtol=RTOL, atol=1e-13, err_msg=name)
    return t


def x_and_w(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(5, 3, generator=g, dtype=torch.float64),
            torch.randn(3, 4, generator=g, dtype=torch.float64))


# ---------------------------------------------------------------- in-place activations
ACTIVATIONS = {
    "ReLU": lambda: nn.ReLU(inplace=True),
    "LeakyReLU": lambda: nn.LeakyReLU(0.2, inplace=True),
    "Dropout(eval)": lambda: nn.Dropout(0.3, inplace=True),
    "ELU": lambda: nn.ELU(inplace=True),
    "Hardtanh": lambda: nn.Hardtanh(-0.5, 0.5, inplace=True),
    "ReLU6": lambda: nn.ReLU6(inplace=True),
    "SiLU": lambda: nn.SiLU(inplace=True),
}


def seq_loss(model, x):
    return model(x).pow(2).sum()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_sequential_with_an_inplace_activation_matches_torch(name):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 6), ACTIVATIONS[name](), nn.Linear(6, 2)).double().eval()
    x = torch.randn(4, 3, dtype=torch.float64)
    t = assert_same_as_torch(seq_loss, model, x)
    ops = {a["name"]: a for _, a in t.graph.nodes(data=True) if a["kind"] == "op"}
    first, second = ops["model.0"], ops["model.1"]      # the Linear's output, then its new
    assert not np.array_equal(first["value"], second["value"]) or name == "Dropout(eval)"
    assert t.check().ok


def test_dropout_inplace_in_training_mode_uses_torchs_mask():
    model = nn.Sequential(nn.Linear(3, 6), nn.Dropout(0.5, inplace=True),
                          nn.Linear(6, 2)).double().train()
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.manual_seed(3)
    t = gt.trace(seq_loss, model, x).backward()
    torch.manual_seed(3)
    expected = torch_grads(seq_loss, model, x)
    for n, g in expected.items():
        np.testing.assert_allclose(t.grads[n], g, rtol=RTOL, atol=1e-13, err_msg=n)


def relu_forms(x, w):
    h = x @ w
    h += 0.25                     # torch's add_: a new version
    F.relu(h, inplace=True)       # the statement alone changes h
    z = h @ w.T                   # (torch refuses relu_ after tanh, which saves its output)
    z.relu_()
    return (z * z).sum()


def test_functional_and_method_inplace_calls_are_new_versions():
    t = assert_same_as_torch(relu_forms, *x_and_w())
    versions = [a["name"] for _, a in t.graph.nodes(data=True) if a["name"] and
                a["name"].startswith(("h", "z"))]
    assert versions == ["h₁", "h₂", "h₃", "z₁", "z₂"]
    assert t.check().ok


def test_an_inplace_change_leaves_the_old_version_its_values():
    def f(x, w):
        h = x @ w
        before = h.detach().clone()
        h.relu_()
        return h.sum(), before
    x, w = x_and_w(1)
    t = gt.trace(f, x, w, output=0)
    h1 = t.graph.nodes[t.node_id("h₁")]["value"]
    np.testing.assert_array_equal(h1, (x @ w).numpy())
    assert (h1 < 0).any() and (t.graph.nodes[t.node_id("h₂")]["value"] >= 0).all()


@pytest.mark.parametrize("body, message", [
    (lambda x, w: x.relu_().sum(), r"\.relu_\(\) \(test_torch_inplace.py:\d+\) changes 'x', "
                                   "an input of the trace, in place"),
    (lambda x, w: (lambda p: p[:, :2].relu_().sum() + p.sum())(x @ w),
     r"changed in place through its view, by \.relu_\(\) .* and is used again"),
    (lambda x, w: (lambda p: (p * 2).sum() + p[:, :2].relu_().sum())(x @ w),
     "changes a view of .* in place, which .* also used"),
    (lambda x, w: x[:, :2].relu_().sum(), "an input of the trace, in place through a view"),
    (lambda x, w: (lambda h: (h * 2).sum() + h.relu_().sum())(x @ w), "after .* used it"),
    (lambda x, w: (x @ w).zero_().sum(), "no out-of-place form"),
])
def test_inplace_changes_that_cannot_be_new_versions_are_refused(body, message):
    with pytest.raises(TraceError, match=message):
        gt.trace(body, *x_and_w())


def view_then_inplace(x, w):
    p = x @ w
    v = torch.flatten(p.view(5, 2, 2), 1)      # a view whose base nothing else uses
    F.dropout(v, 0.0, True, inplace=True)
    v.relu_()
    return (v * v).sum()


def transposed_then_inplace(x, w):
    return ((x @ w).T.relu_() ** 2).sum()


@pytest.mark.parametrize("fn", [view_then_inplace, transposed_then_inplace])
def test_inplace_on_a_view_whose_base_is_used_nowhere_else_matches_torch(fn):
    x, w = x_and_w(7)
    t = gt.trace(fn, x, w).backward()
    expected = torch_grads(fn, x, w)
    for name, g in expected.items():
        np.testing.assert_allclose(t.grads[name], g, rtol=RTOL, atol=1e-13, err_msg=name)


# ---------------------------------------------------------------- never silently wrong
def changed_unseen(x, w):
    h = torch.tanh(x @ w)
    y = (h * w.sum()).sum()
    h.detach().zero_()              # a change gradtrace does not see
    return y


def test_a_tensor_changed_in_place_after_use_is_refused_with_its_name_and_line():
    with pytest.raises(TraceError, match=r"'h' \(test_torch_inplace.py:\d+\) was modified in "
                                         "place after it was used"):
        gt.trace(changed_unseen, *x_and_w())


def test_a_kept_tensor_changed_after_the_trace_is_refused_at_backward():
    kept = []

    def f(x, w):
        h = torch.tanh(x @ w)
        kept.append(h)                        # held for debugging, changed later
        return (h * h).sum()
    t = gt.trace(f, *x_and_w())
    kept[0].detach().mul_(0.5)
    with pytest.raises(TraceError, match=r"'h' \(test_torch_inplace.py:\d+\) was modified"):
        t.backward()


def test_an_optimizer_step_after_tracing_does_not_change_the_trace():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    t = gt.trace(seq_loss, model, x)
    expected = torch_grads(seq_loss, model, x)
    torch.optim.SGD(model.parameters(), lr=0.5).step()       # weights move in place
    for n, g in expected.items():
        np.testing.assert_allclose(t.grads[n], g, rtol=RTOL, atol=1e-13, err_msg=n)


@torch.jit.script
def scripted_double(h):
    return h * 2


class WithScripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.jit.script(nn.Linear(3, 2).double())

    def forward(self, x):
        return self.inner(x).sum()


@pytest.mark.parametrize("body", [
    lambda x, w: (scripted_double(x @ w) * w.sum()).sum(),
    lambda x, w: (scripted_double(x) @ w).sum(),
    lambda x, w: scripted_double(x @ w).sum(),
])
def test_torch_jit_functions_on_the_path_are_refused(body):
    with pytest.raises(TraceError, match="torch.jit script"):
        gt.trace(body, *x_and_w())


def test_a_torch_jit_module_is_refused_by_path():
    with pytest.raises(TraceError, match="'inner' is a torch.jit script or traced module"):
        gt.trace(WithScripted(), x_and_w()[0])


def test_module_backward_hooks_are_refused_by_path():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).double()
    handle = model[0].register_full_backward_hook(lambda m, gi, go: None)
    try:
        with pytest.raises(TraceError, match="'model.0' has a module backward hook"):
            gt.trace(seq_loss, model, x_and_w()[0])
    finally:
        handle.remove()
    gt.trace(seq_loss, model, x_and_w()[0])              # without it: fine


def hooked(x, w):
    h = x @ w
    h.register_hook(lambda g: g * 3)             # torch: applied to h's whole gradient
    w.register_hook(lambda g: g + 1)
    gone = h.register_hook(lambda g: g * 100)
    gone.remove()
    return (torch.tanh(h) * h).sum()


def test_tensor_hooks_are_applied_as_torch_applies_them():
    t = assert_same_as_torch(hooked, *x_and_w(4))
    g = t.graph.nodes[t.node_id("h")]["grad"]
    assert np.all(np.isfinite(g))


def checkpointed(x, w, reentrant):
    h = checkpoint(lambda a: torch.tanh(a @ w), x, use_reentrant=reentrant)
    return (h * h).sum()


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpointed_functions_are_recorded_once(reentrant):
    x, w = x_and_w(5)
    t = gt.trace(checkpointed, x, w, reentrant).backward()
    expected = torch_grads(checkpointed, x, w, reentrant)
    for n, g in expected.items():
        np.testing.assert_allclose(t.grads[n], g, rtol=RTOL, atol=1e-13, err_msg=n)
    assert sum(1 for _, a in t.graph.nodes(data=True) if a["op"] == "tanh") == 1


class BasicBlock(nn.Module):
    """torchvision's ResNet block: an in-place ReLU shared by two calls, and out += x."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


def resnet_loss(stem, blocks, head, x, y):
    h = F.relu(stem(x), inplace=True)
    h = blocks(h)
    return F.cross_entropy(head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)), y)


def test_a_resnet_style_block_with_inplace_relu_and_residual_add_matches_torch():
    torch.manual_seed(6)
    stem, blocks, head = (nn.Conv2d(1, 2, 3, padding=1).double(),
                          nn.Sequential(BasicBlock(2), BasicBlock(2)).double(),
                          nn.Linear(2, 3).double())
    x, y = torch.randn(2, 1, 6, 6, dtype=torch.float64), torch.tensor([0, 2])
    t = gt.trace(resnet_loss, stem, blocks, head, x, y).backward()
    for m in (stem, blocks, head):
        m.zero_grad()
    resnet_loss(stem, blocks, head, x, y).backward()
    for prefix, m in (("stem", stem), ("blocks", blocks), ("head", head)):
        for n, p in m.named_parameters():
            np.testing.assert_allclose(t.grads[f"{prefix}.{n}"], p.grad.numpy(), rtol=RTOL,
                                       atol=1e-13, err_msg=n)
    assert t.check().ok
