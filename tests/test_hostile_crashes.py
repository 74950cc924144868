"""Hostile input, round two: no crash, blow-up or hang from inside gradtrace (issue 30)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

import gradtrace as gt
from gradtrace.notation import MAX_PATHS


def test_explain_of_wide_fan_out_does_not_pad_every_line_to_the_longest():
    n = 600
    t = gt.trace(lambda x: sum(np.sin(x * float(i)) for i in range(n)), 1.0).backward()
    text = t.explain("x").text
    lines = text.splitlines()
    assert len(lines) > n and len(text) < 400 * n      # linear in n, not n × the longest line
    assert max(len(line) for line in lines) <= 120
    assert f"({n - MAX_PATHS} more terms)" in text
    data = t.explain("x").to_data()
    assert len(data["steps"][-1]["terms"]) == n          # the data keeps every term


@pytest.mark.parametrize("form", ["paths", "recursive"])
def test_explain_of_the_output_itself(form):
    e = gt.trace(lambda x: x, 2.0).backward().explain("x", form=form)
    assert e.gradient == 1.0 and "1" in e.text
    e.to_latex()
    e.to_json()


@pytest.mark.parametrize("assemble", [
    lambda parts: np.stack(parts),
    lambda parts: np.concatenate([np.atleast_1d(p) for p in parts]),
])
def test_stack_and_concatenate_of_many_scalars_have_linear_backward(assemble):
    n = 20_000                             # was ~40 s for stack (quadratic), now < 2 s
    t = gt.trace(lambda x: np.sum(assemble([x * float(i) for i in range(n)])), 1.0)
    start = time.perf_counter()
    t.backward()
    assert time.perf_counter() - start < 15.0
    assert t.grads["x"] == n * (n - 1) / 2


BAD_NAMES = ["a\nb", "a\udc80b", "a\x00b", "a\rb", "\nlead"]


def _renders_everywhere(t, tmp_path):
    for suffix in ("svg", "html", "json", "dot"):
        t.render(tmp_path / f"f.{suffix}")
        (tmp_path / f"f.{suffix}").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_labels_scopes_and_inputs_with_any_name_render_everywhere(tmp_path, name):
    def f(p):
        with gt.scope(name):
            y = gt.label(p[name] * 2.0, name)
        return y * y
    _renders_everywhere(gt.trace(f, {name: 1.0}).backward(), tmp_path)


@pytest.mark.parametrize("name", BAD_NAMES + [""])
def test_a_function_with_any_name_renders_everywhere(tmp_path, name):
    def inner(x):
        return x * 2.0
    inner.__code__ = inner.__code__.replace(co_name=name)

    def f(x):
        return inner(x) + inner(x)
    t = gt.trace(f, 1.0).backward()
    _renders_everywhere(t, tmp_path)
    scopes = {s for _, a in t.graph.nodes(data=True) for s in a["scope"]}
    assert len(scopes) == 2          # inner#1, inner#2: a NUL in the name is not the marker


@pytest.mark.parametrize("make", [lambda: np.matrix([[1.0, 2.0]]),
                                  lambda: np.ma.array([1.0, 2.0], mask=[0, 1])])
def test_ndarray_subclasses_are_refused_as_inputs_and_constants(make):
    with pytest.raises(gt.GradtraceError, match="subclass of ndarray"):
        gt.trace(lambda m: np.sum(m * 2.0), make())
    const = make()
    with pytest.raises(gt.GradtraceError, match="subclass of ndarray"):
        gt.trace(lambda x: np.sum(x * const), np.ones((1, 2)))


def _grads(fn, *args):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gt.trace(fn, *args).backward().grads


@pytest.mark.parametrize("fn, x, expect", [
    (lambda a: np.sum(np.prod(a, axis=1)), np.ones((3, 0)), np.ones((3, 0))),
    (lambda a: np.var(a), np.ones(0), np.ones(0)),
    (lambda a: np.sum(np.var(a, axis=0)), np.ones((0, 2)), np.ones((0, 2))),
    (lambda a: np.var(a, ddof=1), np.ones(1), np.array([np.nan])),   # as torch: no dof
    (lambda a: np.std(a, ddof=1), np.ones(1), np.array([np.nan])),
])
def test_empty_and_degenerate_reductions(fn, x, expect):
    g = _grads(fn, x)["a"]
    assert g.shape == expect.shape and np.array_equal(np.isnan(g), np.isnan(expect))


@pytest.mark.parametrize("sa, sb", [((0, 2, 3), (0, 3, 2)), ((2, 0), (0, 2)),
                                    ((1, 2, 3), (4, 3, 2))])
def test_einsum_with_zero_length_or_broadcast_axes(sa, sb):
    spec = "...ij,...jk->...ik"
    a, b = np.arange(np.prod(sa), dtype=float).reshape(sa), np.ones(sb)
    g = _grads(lambda a, b: np.sum(np.einsum(spec, a, b)), a, b)
    assert g["a"].shape == sa and g["b"].shape == sb
    ref = _grads(lambda a, b: np.sum(a @ b), a, b)
    np.testing.assert_allclose(g["a"], ref["a"])
    np.testing.assert_allclose(g["b"], ref["b"])


def _fake_dot(tmp_path, monkeypatch, body: str):
    import os
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_dot_wrapper_whose_child_keeps_the_pipe_open_is_killed_with_it(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "sleep 300 &\nsleep 300\n")   # the child holds stdout
    t = gt.trace(lambda x: x * 2.0, 1.0).backward()
    start = time.perf_counter()
    with pytest.raises(gt.GradtraceError, match="time limit"):
        t.render(tmp_path / "a.svg", layout="dot", timeout=1)
    assert time.perf_counter() - start < 30                       # was > 120 s
    assert not (tmp_path / "a.svg").exists()


@pytest.mark.parametrize("body", ["exit 0\n", "echo 'not a drawing'\nexit 0\n"])
def test_a_dot_that_succeeds_without_drawing_is_an_error(tmp_path, monkeypatch, body):
    _fake_dot(tmp_path, monkeypatch, "cat > /dev/null\n" + body)
    t = gt.trace(lambda x: x * 2.0, 1.0).backward()
    with pytest.raises(gt.GradtraceError, match="exited successfully but wrote"):
        t.render(tmp_path / "a.svg", layout="dot")
    assert not (tmp_path / "a.svg").exists()


def _trace_json():
    import json

    def f(w, x):
        z = w * x
        return gt.sigmoid(np.sum(z))
    return json.loads(gt.trace(f, np.ones(2), np.arange(2.0)).backward().to_json())


def _gap(j):
    for n in j["nodes"]:
        n["id"] += n["id"] == 4 and 3
        for a in n.get("args", []):
            a[0] += a[0] == 4 and 3
    j["output"] = 7


@pytest.mark.parametrize("mutate, where", [
    (lambda j: j["nodes"][2].pop("line"), r"\$\.nodes\[2\]: both file and line"),
    (_gap, r"\$\.nodes\[4\]\.id"),
    (lambda j: j["nodes"][0]["value"].update(dtype={}), r"\$\.nodes\[0\]\.value\.dtype"),
    (lambda j: j["nodes"][0]["value"].update(dtype=["f8"]), r"\$\.nodes\[0\]\.value\.dtype"),
])
def test_broken_json_is_refused_at_load_with_its_path(mutate, where):
    import json
    j = _trace_json()
    mutate(j)
    with pytest.raises(gt.GradtraceError, match=where):
        gt.load_json(json.dumps(j))


@pytest.mark.parametrize("mutate", [
    lambda j: j.update(output=0),                          # an output that is an input
    lambda j: j["nodes"][2].update(file="/tmp/a\udc80.py"),  # a lone surrogate in a path
    lambda j: j["nodes"][2].update(name="z\udc80"),
])
def test_odd_but_valid_json_works_fully(tmp_path, mutate):
    import json
    j = _trace_json()
    mutate(j)
    t = gt.load_json(json.dumps(j))
    _renders_everywhere(t, tmp_path)
    t.explain("w")
    t.explain("w", form="paths")
