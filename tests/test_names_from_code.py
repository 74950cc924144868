"""Every node's name comes from the code: sum()'s partial sums, list comprehension
elements, constants read through a name, torch calls unpacked into several targets, and
modules whose forward returns an expression; gradients are checked on each."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace.core.formulas import node_texts
from gradtrace.names.naming import partial_of

floats = st.floats(-2, 2, allow_nan=False)


def names(t, kind="op"):
    return [a["name"] for _, a in t.graph.nodes(data=True) if a["kind"] == kind and a["name"]]


def dot3(ws, xs):
    z = sum(w * x for w, x in zip(ws, xs))
    return z * z


@settings(max_examples=25, deadline=None)
@given(st.lists(floats, min_size=3, max_size=3), st.lists(floats, min_size=3, max_size=3))
def test_sum_partials_are_the_targets_and_gradients_match(ws, xs):
    t = gt.trace(dot3, ws, xs).backward()
    assert names(t) == ["z (partial 2 of 3)", "z", "dot3"]
    assert names(t, "const") == [] and "0 +" not in " ".join(
        text for text, _ in node_texts(t.graph).values())
    partial = t.node_id("z (partial 2 of 3)")
    assert t.graph.nodes[partial]["value"] == pytest.approx(ws[0] * xs[0] + ws[1] * xs[1])
    assert partial_of("z (partial 2 of 3)") == ("z", 2, 3)
    assert t.check(rtol=1e-5).ok


def test_names_survive_the_interpreter_specialising_the_call():
    """Python 3.11 specialises a call site after a few runs (the PRECALL then makes the
    whole call): the tenth trace of a function names exactly as the first did."""
    def f(ws, xs):
        z = sum(w * x for w, x in zip(ws, xs))
        q, r = np.split(np.array([z, z * 2.0]), 2)
        return np.sum(q * r)
    runs = [names(gt.trace(f, [0.5, 1.5, -1.0], [1.0, 2.0, 3.0])) for _ in range(12)]
    assert runs[0][:2] == ["z (partial 2 of 3)", "z"] and all(r == runs[0] for r in runs)


def test_partials_in_a_loop_take_their_sums_version_and_a_one_term_sum_names_its_term():
    def f(ws=[0.5, -0.3, 0.2], xs=[1.0, 2.0, 3.0]):  # noqa: B006
        out = 0.0
        for k in range(2):
            z = sum(w * x * (k + 1.0) for w, x in zip(ws, xs))
            out = out + z
        one = sum([ws[0] * 2.0])
        return out * one
    t = gt.trace(f).backward()
    shown = names(t)
    assert shown[:4] == ["z₁ (partial 2 of 3)", "z₁", "out₁", "z₂ (partial 2 of 3)"]
    assert "one" in shown and not any("partial" in n for n in shown if n.startswith("one"))
    with pytest.warns(gt.GradtraceWarning, match="using its last binding z₂"):
        t.grad("z")
    assert t.check().ok


def test_generator_sums_keep_their_callers_scope_and_names():
    """Each sum() over a generator makes a new generator frame; its sites are shared by
    code and caller (gradtrace.naming), so two calls of a helper, a gt.scope block and
    the plain function each keep their own scope and names."""
    def dense(ws, xs):
        z = sum(w * x for w, x in zip(ws, xs))
        return z

    def f(ws=[0.5, -0.3, 0.2], xs=[1.0, 2.0, 3.0]):  # noqa: B006
        a = dense(ws, xs)
        b = dense(ws, xs)
        with gt.scope("extra"):
            c = sum(w * x for w, x in zip(ws, xs))
        d = sum(w * x for w, x in zip(ws, xs))
        return a * b + c * d
    t = gt.trace(f).backward()
    ops = [(a["name"], a["scope"]) for _, a in t.graph.nodes(data=True) if a["kind"] == "op"]
    for k, (var, scope) in enumerate([("z₁", ("dense#1",)), ("z₂", ("dense#2",)),
                                      ("c", ("extra",)), ("d", ())]):
        assert ops[5 * k: 5 * k + 5] == [(None, scope), (None, scope),
                                         (f"{var} (partial 2 of 3)", scope), (None, scope),
                                         (var, scope)]
    assert t.check().ok


def test_a_running_sum_loop_versions_its_variable():
    def f(ws=[0.5, -0.3, 0.2], xs=[1.0, 2.0, 3.0]):  # noqa: B006
        s = 0.0
        for w, x in zip(ws, xs):
            s = s + w * x
        return s
    assert names(gt.trace(f)) == ["s₁", "s₂", "s₃"]


def test_list_comprehension_elements_are_named_by_index():
    def neuron(x, w):
        return np.tanh(x * w)

    def f(xs=np.linspace(-1, 1, 3), w=0.7):
        h = [np.tanh(x * w) for x in xs]
        outs = [neuron(x, w) for x in xs]
        return h[0] * h[1] + h[2] * outs[2]
    t = gt.trace(f).backward()
    shown = names(t)
    assert {"h[0]", "h[1]", "h[2]", "outs[0]", "outs[1]", "outs[2]"} <= set(shown)
    np.testing.assert_allclose(t.graph.nodes[t.node_id("h[2]")]["value"], np.tanh(0.7))
    assert t.check().ok


ONE_HOT = [np.eye(3)[i] for i in range(3)]     # made before the trace: plain constants
START = np.zeros(2)


def test_constants_read_through_a_name():
    def f(W=np.full((3, 2), 0.5)):
        xs = ONE_HOT
        h = START
        for t in range(3):
            h = np.tanh(xs[t] @ W + h)
        return np.sum(h * np.array([1.0, -1.0]))
    t = gt.trace(f).backward()
    consts = names(t, "const")
    assert consts[:2] == ["xs[0]", "h₀"] and "xs[2]" in consts     # h₀: h before the loop
    texts = [text for text, _ in node_texts(t.graph).values()]
    assert "[1, -1]" in texts and not any("const(" in x for x in texts)
    assert t.graph.nodes[t.node_id("xs[2]")]["line"] > 0
    with pytest.raises(gt.TraceError, match="has no gradient"):
        t.grad("xs[2]")
    assert t.check().ok


def test_arrays_made_inside_the_function_are_named_by_their_use():
    def f(W=np.full((3, 2), 0.5)):
        xs = [np.eye(3)[i] for i in range(3)]      # rows of a constructor's buffer: xs[k]
        return np.sum(np.tanh(xs[2] @ W))
    t = gt.trace(f).backward()
    assert {"xs[0]", "xs[2]"} <= set(names(t))
    assert t.check().ok


def test_a_long_unnamed_expression_elides_operands_never_a_made_up_id():
    def f(x=np.linspace(0, 1, 3), w_first_layer=0.3, b_first_layer=0.1):
        return np.sum(np.tanh(np.exp(x * w_first_layer + b_first_layer) * 2.0) ** 2)
    texts = [text for text, _ in node_texts(gt.trace(f).graph).values()]
    assert "tanh(…)" in texts and not any(x[0] == "v" and x[1:].isdigit() for x in texts)


torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional
F64 = torch.float64


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True).double()

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return out.sum() + 2.0 * h_n.sum() + 3.0 * c_n.sum()


def test_lstm_parts_are_named_after_their_targets_and_hold_their_values():
    torch.manual_seed(0)
    net, x = LSTMNet(), torch.randn(2, 5, 3, dtype=F64)
    t = gt.trace(net, x).backward()
    out, (h_n, c_n) = net.lstm(x)
    for name, value in (("out", out), ("h_n", h_n), ("c_n", c_n)):
        np.testing.assert_allclose(t.graph.nodes[t.node_id(name)]["value"],
                                   value.detach().numpy(), err_msg=name)
    assert t.check().ok


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(4, 12).double()
        self.mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
        self.act = NewGELU()

    def forward(self, x, targets):
        q, k, v = self.c_attn(x).split(4, dim=2)
        a, _ = self.mha(q, k, v)
        logits = (self.act(a) + q).sum(-1)
        return F.cross_entropy(logits, targets.view(-1))


class NewGELU(nn.Module):
    def forward(self, x):
        return F.gelu(x)


def test_split_unpack_underscore_forward_and_a_constant_through_a_call():
    torch.manual_seed(1)
    net, x = Attn(), torch.randn(1, 3, 4, dtype=F64)
    t = gt.trace(net, x, torch.tensor([[2]])).backward()
    shown = {a["name"] for _, a in t.graph.nodes(data=True)}
    assert {"q", "k", "v", "a", "act", "targets.view(-1)"} <= shown
    assert "_" not in shown and not any(n and "forward" in n for n in shown)
    q, k, v = net.c_attn(x).split(4, dim=2)
    for name, value in (("q", q), ("k", k), ("v", v)):
        np.testing.assert_allclose(t.graph.nodes[t.node_id(name)]["value"],
                                   value.detach().numpy(), err_msg=name)
    assert t.check().ok


def test_a_call_on_an_object_is_the_scope_the_user_would_write():
    """``layer(x)`` inside ``net(x)``: the scopes are ``net`` and ``net.layers[0]``, the
    paths of the objects in the arguments, never ``__call__#2``; an object made inside
    the function is its class; another method keeps its name after the path."""
    from dataclasses import dataclass, field

    @dataclass
    class Layer:
        W: np.ndarray
        def __call__(self, x):
            return np.tanh(x @ self.W)

    @dataclass
    class Net:
        layers: list = field(default_factory=lambda: [Layer(np.full((2, 3), 0.1)),
                                                      Layer(np.full((3, 1), 0.2))])
        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

        def head(self, x):
            return Layer(np.full((1, 1), 0.5))(self(x))

    def loss(net=Net(), x=np.ones((4, 2))):
        return np.sum(net.head(x) ** 2)

    t = gt.trace(loss)
    scopes = {s for _, a in t.graph.nodes(data=True) for s in a["scope"]}
    assert {"net.head", "net", "net.layers[0]", "net.layers[1]", "Layer"} <= scopes
    assert not any("__call__" in s or "#" in s for s in scopes), scopes
    assert set(t.grads) >= {"net.layers[0].W", "net.layers[1].W"}
