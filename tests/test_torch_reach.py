"""Torch parameters outside registered modules are inputs named by access path, exactly
as torch's autograd trains them, and a number argument that stays a constant says so."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import gradtrace as gt  # noqa: E402

F64 = torch.float64


def _checked(t):
    report = t.check()
    assert report.ok, report
    names = {c.name.split(" (")[0] for c in report.inputs}
    assert names == set(t.wrt)
    return report


class PlainListNet(nn.Module):
    """Layers kept in a plain list: named_parameters() does not see them."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(3, 4).double()
        self.layers = [nn.Linear(4, 4).double(), nn.Linear(4, 1).double()]

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        for layer in self.layers:
            h = torch.tanh(layer(h))
        return h.sum()


def test_layers_in_a_plain_list_inside_a_module_are_inputs_by_path():
    torch.manual_seed(0)
    net = PlainListNet()
    assert len(list(net.parameters())) == 2
    t = gt.trace(net, torch.randn(5, 3, dtype=F64)).backward()
    assert {"inp.weight", "layers[0].weight", "layers[0].bias", "layers[1].weight",
            "layers[1].bias"} <= set(t.inputs)
    _checked(t)
    scopes = {a["scope"][0] for _, a in t.graph.nodes(data=True) if a["scope"]}
    assert {"inp", "layers[0]", "layers[1]"} <= scopes
    assert all(p.grad is None for layer in net.layers for p in layer.parameters())


def test_a_list_of_modules_argument_an_object_and_a_bare_parameter():
    torch.manual_seed(1)

    class Holder:                        # a plain object holding modules and a Parameter
        def __init__(self):
            self.layers = [nn.Linear(3, 3).double(), nn.Linear(3, 2).double()]
            self.scale = nn.Parameter(torch.tensor(0.5, dtype=F64))

    def loss(net, params, x):
        h = x
        for layer in net.layers:
            h = torch.tanh(layer(h))
        return (h @ params["W"]).sum() * net.scale

    net, params = Holder(), {"W": nn.Parameter(torch.randn(2, 2, dtype=F64))}
    t = gt.trace(loss, net, params, torch.randn(4, 3, dtype=F64)).backward()
    assert {"net.layers[0].weight", "net.layers[1].bias", "net.scale", "params.W"} <= \
        set(t.inputs)
    _checked(t)


W_GLOBAL = torch.randn(3, 2, dtype=F64, requires_grad=True)


def _helper(h):
    return h @ W_GLOBAL                  # a global read by a helper, not the traced function


def test_closure_global_and_a_helpers_global_are_inputs():
    V = torch.randn(2, 2, dtype=F64, requires_grad=True)

    def loss(x):
        return torch.tanh(_helper(x) @ V).sum() + (x @ W_GLOBAL).sum()

    t = gt.trace(loss, torch.randn(4, 3, dtype=F64)).backward()
    assert "V" in t.inputs and "W_GLOBAL" in t.inputs
    _checked(t)

    def loss2(x):
        return torch.tanh(_helper(x)).sum()

    t = gt.trace(loss2, torch.randn(4, 3, dtype=F64)).backward()
    late = [n for n in t.inputs if n.startswith("tensor@")]
    assert late == [f"tensor@test_torch_reach.py:{_helper.__code__.co_firstlineno + 1}"]
    _checked(t)


def test_number_arguments_of_a_torch_trace_say_they_are_constants():
    def loss(x, alpha=0.5, k=2, eps=1e-5):
        return (x * alpha).pow(k).sum() + k * x.sum()

    with pytest.warns(gt.GradtraceWarning) as record:
        t = gt.trace(loss, torch.ones(3, dtype=F64)).backward()
    texts = sorted(str(r.message) for r in record)
    assert texts == [
        "alpha=0.5 is a Python float in a torch trace, so it is a constant and gets no "
        "gradient (as in torch); pass torch.tensor(0.5, dtype=torch.float64) to get one",
        "k=2 is an int, so it is a constant and gets no gradient; a Python float is a "
        "constant in a torch trace too: pass torch.tensor(2.0, dtype=torch.float64) (or make "
        "it an nn.Parameter) to get one"]
    with pytest.raises(gt.TraceError, match="alpha=0.5 is a Python float"):
        t.grad("alpha")
    with pytest.raises(gt.TraceError, match="eps=1e-05 is a Python float"):
        t.grad("eps")                    # never met a tensor: no warning, but it says why
    report = _checked(t)
    assert "not checked: alpha=0.5" in str(report)


def test_a_tensor_argument_is_still_an_input_and_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = gt.trace(lambda x: (x * x).sum(), torch.ones(2, dtype=F64)).backward()
    np.testing.assert_allclose(t.grads["x"], [2.0, 2.0])


def test_an_array_like_argument_of_a_torch_trace_is_named_in_a_warning():
    class Table:                         # holds floats gradtrace cannot walk
        def __array__(self, dtype=None, copy=None):
            return np.ones(2)

    with pytest.warns(gt.GradtraceWarning, match="input 'table' is of type Table, which "
                      "gradtrace cannot walk"):
        t = gt.trace(lambda x, table: (x * 2.0).sum(), torch.ones(2, dtype=F64), Table())
    with pytest.raises(gt.TraceError, match="cannot walk"):
        t.grad("table")
