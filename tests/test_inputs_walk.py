"""Parameters are never dropped silently: objects holding floats are walked like dicts
and named by path, int inputs that meet traced values warn once and say why when their
gradient is asked for, and an object gradtrace cannot walk is named in a warning."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt


class Layer:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.n_out = len(b)              # an int attribute stays a constant

    @property
    def boom(self):                      # never called while walking
        raise AssertionError("a property was called")


@dataclasses.dataclass
class Net:
    layers: list
    scale: float = 0.5


class Slotted:
    __slots__ = ("w", "parent")

    def __init__(self, w):
        self.w = w
        self.parent = None


def forward(net, x):
    h = x
    for layer in net.layers:
        h = np.tanh(h @ layer.W + layer.b)
    return np.sum(h * h) * net.scale


def make_net(seed=0):
    rng = np.random.default_rng(seed)
    return Net([Layer(rng.normal(size=(3, 4)), rng.normal(size=4)),
                Layer(rng.normal(size=(4, 2)), rng.normal(size=2))])


def test_objects_in_lists_and_dataclasses_are_inputs_named_by_path():
    net = make_net()
    before = {id(layer.W) for layer in net.layers}
    t = gt.trace(forward, net, np.ones(3)).backward()
    assert set(t.inputs) == {"net.layers[0].W", "net.layers[0].b", "net.layers[1].W",
                             "net.layers[1].b", "net.scale", "x"}
    # the user's objects are untouched: the function ran on copies
    assert {id(layer.W) for layer in net.layers} == before
    assert all(type(layer.W) is np.ndarray for layer in net.layers)
    report = t.check()
    assert report.ok, report


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_object_gradients_match_finite_differences(seed):
    t = gt.trace(forward, make_net(seed), np.linspace(-1, 1, 3)).backward()
    assert t.check(rtol=1e-5).ok


def test_a_list_of_layers_argument_and_a_shared_layer_keep_identity():
    layer = Layer(np.eye(2) * 0.5, np.zeros(2))
    seen = []

    def f(layers, x):
        seen.append(layers[0] is layers[1])
        return np.sum(x @ layers[0].W @ layers[1].W + layers[1].b)
    t = gt.trace(f, [layer, layer], np.ones(2)).backward()
    assert seen == [True]              # one object met twice is one copy
    assert "layers[0].W" in t.inputs and "layers[0].b" in t.inputs
    np.testing.assert_allclose(t.grads["layers[0].W"], [[1.0, 1.0], [1.0, 1.0]])


def test_slots_cycles_and_class_attributes():
    a = Slotted(1.5)
    a.parent = a                        # a cycle: not walked twice, no recursion error

    class Config:
        lr = 0.1                        # a plain class attribute the instance reads

        def method(self):
            return 1

    t = gt.trace(lambda s, cfg: s.w * cfg.lr, a, Config()).backward()
    assert t.grads == {"s.w": pytest.approx(0.1), "cfg.lr": pytest.approx(1.5)}
    assert a.w == 1.5 and "lr" not in vars(Config())


def test_an_object_whose_copy_is_itself_is_still_never_changed():
    class Singleton:
        def __init__(self):
            self.w = 0.5

        def __copy__(self):
            return self
    s = Singleton()
    t = gt.trace(lambda obj: obj.w * 3.0, s).backward()
    assert t.grads["obj.w"] == 3.0 and type(s.w) is float


def test_an_object_without_floats_is_passed_as_is():
    class Settings:
        def __init__(self):
            self.name, self.depth = "tanh", 2
    s = Settings()
    got = []
    gt.trace(lambda x, cfg: got.append(cfg) or x * 2.0, 1.0, s)
    assert got == [s]


def test_an_int_input_that_meets_a_float_warns_once_and_explains_itself(tmp_path):
    def cost(w=2, b=-1, x=0.5, n=3):
        z = 0.0
        for _ in range(n):             # n is a loop count: never warned about
            z = z + w * x + b
        return z ** 2

    with pytest.warns(gt.GradtraceWarning) as record:
        t = gt.trace(cost).backward()
    texts = [str(r.message) for r in record]
    assert texts == ["w=2 is an int, so it is a constant and gets no gradient; write w=2.0",
                     "b=-1 is an int, so it is a constant and gets no gradient; write b=-1.0"]
    for name in ("w", "b", "n"):
        with pytest.raises(gt.TraceError, match=f"{name}=-?\\d is an int, so it is a constant"):
            t.grad(name)
    with pytest.raises(gt.TraceError, match="w=2 is an int"):
        t.explain("w")
    report = t.check()
    assert report.ok and "not checked: w=2 is an int" in str(report)
    assert "3 inputs are constants" in str(report)
    np.testing.assert_allclose(t.grad("x"), 2 * (3 * (2 * 0.5 - 1)) * 3 * 2)


def test_cli_says_why_an_int_input_has_no_gradient(tmp_path):
    from click.testing import CliRunner

    from gradtrace.cli.main import main
    model = tmp_path / "m.py"
    model.write_text("def cost(w=2, x=0.5):\n    return (w * x - 1.0) ** 2\n")
    r = CliRunner().invoke(main, ["render", f"{model}:cost", "-o", str(tmp_path / "a.svg"),
                                  "--highlight", "w"])
    assert r.exit_code == 2 and "w=2 is an int" in r.output
    r = CliRunner().invoke(main, ["check", f"{model}:cost"])
    assert r.exit_code == 0 and "not checked: w=2 is an int" in r.output


def test_a_micrograd_style_value_argument_is_not_walked_but_named():
    class Value:                        # an autodiff engine's own node: .grad is no parameter
        def __init__(self, data):
            self.data, self.grad, self._prev, self._op = data, 0.0, set(), ""

    with pytest.warns(gt.GradtraceWarning, match="input 'v' is of type Value"):
        t = gt.trace(lambda x, v: x * 2.0, 1.0, Value(3.0))
    assert list(t.inputs) == ["x"]
