"""Every name a diagram shows comes from the code, and holds what the code's variable
holds: the gallery models, test models and first-draft realistic models (numpy by hand,
micrograd-style classes, torch LSTM/GRU/attention/transformer blocks) are traced, no
displayed text is a made-up id (``v12``, ``const(3,)``, ``forward``), and each named node's
value is a value the variable it is named after really took while the function ran."""

from __future__ import annotations

import ast
import re
import sys
import warnings

import numpy as np
import pytest

import gradtrace as gt
from gradtrace import examples, functions
from gradtrace.cli import gallery
from gradtrace.core.formulas import node_texts
from gradtrace.names.naming import partial_of

from . import realistic_models, test_names

MACHINE = re.compile(r"\bv\d+\b|const\(|\bforward\b")
_SCOPE_NUMBER = re.compile(r"#\d+$")


def _plain(x):
    """A value as the graph stores it (Traced and torch tensors unwrapped)."""
    if getattr(type(x), "__gradtrace_traced__", False):
        return x.value
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return x.detach().numpy()
    return x


def _same(a, b) -> bool:
    try:
        a, b = np.asarray(_plain(a), dtype=float), np.asarray(_plain(b), dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12,
                                                   equal_nan=True))


def _checked_names(t) -> dict[int, str]:
    """Node -> the expression its name says it holds (a variable, ``hs[3]``, ``self.h``,
    ``targets.view(-1)``); module paths, helper names, partial sums and the output are
    checked otherwise."""
    out = {}
    for v, a in t.graph.nodes(data=True):
        name = a["name"]
        if name is None or a["kind"] == "input" or v == t.output or partial_of(name):
            continue
        var = a.get("var") or name
        if var in {_SCOPE_NUMBER.sub("", s) for s in a["scope"]}:
            continue            # a module's or helper's output, named by its path
        out[v] = var
    return out


def _values_seen(fn, args, files: set[str], exprs: set[str]) -> dict[str, list]:
    """Run the trace again, reading every expression in every user frame at every line
    and return: the values each variable (or slot, attribute) really took."""
    seen: dict[str, list] = {e: [] for e in exprs}
    compiled = {}
    for e in exprs:
        try:
            compiled[e] = compile(ast.parse(e, mode="eval"), "<name>", "eval")
        except SyntaxError:
            pass

    def look(frame, event, arg):
        if frame.f_code.co_filename not in files:
            return None
        if event in ("line", "return"):
            for e, code in compiled.items():
                try:
                    value = eval(code, frame.f_globals, dict(frame.f_locals))  # noqa: S307
                except Exception:   # noqa: BLE001 - a name not bound in this frame yet
                    continue
                try:
                    seen[e].append(np.array(_plain(value), dtype=float, copy=True))
                except (TypeError, ValueError):
                    pass               # a list, a function: no value a node holds
        return look

    sys.settrace(look)
    try:
        gt.trace(fn, *args)
    finally:
        sys.settrace(None)
    return seen


def audit(fn, *args, files=(), monkeypatch=None):
    labels: set[str] = set()            # gt.label("z(L)"): a name the user wrote as text
    real_label = gt.label

    def label(x, name):
        labels.add(name)
        return real_label(x, name)
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(gt, "label", label)
        mp.setattr(functions, "label", label)      # (the examples call it from there)
        warnings.simplefilter("ignore")
        t = gt.trace(fn, *args).backward()
        texts = node_texts(t.graph)
        bad = sorted({text for text, _ in texts.values() if MACHINE.search(text)})
        assert not bad, f"made-up names in {getattr(fn, '__name__', fn)}: {bad}"
        names = {v: e for v, e in _checked_names(t).items() if e not in labels}
        src = {getattr(getattr(fn, "__code__", None), "co_filename", None),
               getattr(sys.modules[type(fn).__module__], "__file__", None), *files}
        seen = _values_seen(fn, args, {f for f in src if f}, set(names.values()))
    wrong = [f"{t.graph.nodes[v]['name']} ({expr})" for v, expr in names.items()
             if not any(_same(t.graph.nodes[v]["value"], s) for s in seen.get(expr, []))]
    assert not wrong, f"{getattr(fn, '__name__', fn)}: named nodes that never held their " \
                      f"variable's value: {wrong}"
    for name, nid in t.inputs.items():      # inputs hold what the argument holds
        assert _same(t.graph.nodes[nid]["value"], _argument(t, name)), name
    return t, names


def _argument(t, path):
    if path in t.torch_params:
        return t.torch_params[path]
    return eval(path, {}, dict(t.arguments))   # noqa: S307  (paths are Python: xs[0].W)


def test_every_gallery_target_is_audited():
    audited = set(examples.EXAMPLES) | {"torch_mlp", "torch_ninja", "torch_dcgan"}
    assert {e.target for e in gallery.ENTRIES} <= audited


@pytest.mark.parametrize("name", sorted(examples.EXAMPLES))
def test_gallery_models_name_only_what_the_code_names(name):
    fn = examples.EXAMPLES[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt.trace(fn)
    except gt.TraceError as e:             # a micrograd-style Value graph: its labels
        t = gt.from_micrograd(e.result)    # type: ignore[attr-defined]
        texts = [text for text, _ in node_texts(t.graph).values()]
        assert not [x for x in texts if MACHINE.search(x)]
        return
    audit(fn)


@pytest.mark.parametrize("fn", [test_names.rnn, test_names.mlp4], ids=lambda f: f.__name__)
def test_test_models_name_only_what_the_code_names(fn):
    audit(fn)


@pytest.mark.parametrize("fn", realistic_models.NUMPY_MODELS, ids=lambda f: f.__name__)
def test_realistic_numpy_models_name_only_what_the_code_names(fn):
    audit(fn)


def test_the_audit_catches_a_wrong_name():
    """The value check is no formality: a node named after a variable it never held
    fails it."""
    def f(x=1.5):
        z = x * 2.0
        return z * z
    t = gt.trace(f)
    zid = t.node_id("z")
    t.graph.nodes[zid]["value"] = 4.0     # as if z's node held another value
    seen = _values_seen(f, (), {f.__code__.co_filename}, {"z"})
    assert not any(_same(4.0, s) for s in seen["z"]) and any(_same(3.0, s) for s in seen["z"])


def test_partial_sums_hold_the_running_sums():
    t, _ = audit(realistic_models.micrograd_mlp)
    for _, a in t.graph.nodes(data=True):
        if partial_of(a["name"]):
            assert a["op"] == "add"


torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def torch_cases():
    from . import realistic_torch_models
    return {name: (fn, args, realistic_torch_models.__file__)
            for name, fn, args in realistic_torch_models.torch_models()}


@pytest.mark.parametrize("name", ["torch_mlp", "torch_ninja", "torch_dcgan"])
def test_torch_gallery_models(name):
    from gradtrace.pytorch import torch_examples
    audit(torch_examples.EXAMPLES[name])


@pytest.mark.parametrize("name", ["tiny_gpt", "block", "lstm", "gru", "mha", "encoder",
                                  "plain_list"])
def test_realistic_torch_models_name_only_what_the_code_names(torch_cases, name):
    fn, args, path = torch_cases[name]
    t, names = audit(fn, *args, files=(path,))
    if name in ("lstm", "gru", "mha", "plain_list"):    # (the big ones: test_torch checks)
        assert t.check(max_elements=4).ok
    if name == "lstm":
        assert {"out", "h_n", "c_n"} <= set(names.values())
    if name == "tiny_gpt":
        shown = {a["name"] for _, a in t.graph.nodes(data=True)}
        assert {"q₁", "k₁", "v₁", "targets.view(-1)"} <= shown or \
            {"q", "k", "v"} <= {a.get("var") for _, a in t.graph.nodes(data=True)}
        assert "targets.view(-1)" in shown
