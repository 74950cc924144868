"""Loading trace JSON: every malformed file is refused at load time with one
GradtraceError naming the JSON path; anything that loads also runs backward,
renders and explains.  Version 1 files (separate edge list) still load."""

import copy
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt


def model(W=np.array([[0.1, -0.2], [0.3, 0.4]]), b=np.array([0.5, -1.0]), x=np.ones(2)):
    h = np.tanh(W @ x + b)
    return np.sum(h[::-1] * 2.0) + np.sum(np.clip(b, -0.5, 0.5)) + np.var(h)


def data():
    return json.loads(gt.trace(model).backward().to_json())


def test_round_trip_is_equal():
    t = gt.trace(model).backward()
    u = gt.load_json(t.to_json())
    assert u.to_json() == t.to_json()
    u.backward()
    np.testing.assert_allclose(u.grads["W"], t.grads["W"])


def test_a_loaded_trace_keeps_the_formulas_in_its_file():
    d = data()
    _node(d, "tanh")["args"][0][2] = "written by hand"
    u = gt.load_json(json.dumps(d))
    tanh = next(v for v, a in u.graph.nodes(data=True) if a["op"] == "tanh")
    assert [e["formula"] for _, _, e in u.graph.in_edges(tanh, data=True)] == ["written by hand"]


def test_version_1_files_still_load():
    d = data()
    edges = []
    for node in d["nodes"]:
        for k, arg in enumerate(node.pop("args", [])):
            e = {"source": arg[0], "target": node["id"], "key": k, "local": arg[1],
                 "formula": arg[2]}
            if len(arg) == 4:
                e["contribution"] = arg[3]
            edges.append(e)
    d["version"], d["edges"] = 1, edges
    u = gt.load_json(json.dumps(d)).backward()
    np.testing.assert_allclose(u.grads["W"], gt.trace(model).backward().grads["W"])


def _node(d, op):
    return next(n for n in d["nodes"] if n.get("op") == op)


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["nodes"].__setitem__(1, "x"), r"\$\.nodes\[1\]"),
    (lambda d: d["nodes"][2].__setitem__("id", 0), r"\$\.nodes\[2\]\.id"),
    (lambda d: d["nodes"][0].__setitem__("kind", "weird"), r"\.kind"),
    (lambda d: _node(d, "tanh").__setitem__("op", "nosuchop"), r"\.op"),
    (lambda d: _node(d, "tanh").__setitem__("shape", [3]), r"\.value"),
    (lambda d: _node(d, "tanh")["args"][0].__setitem__(0, 10**6), r"args\[0\]\[0\]"),
    (lambda d: _node(d, "tanh")["args"][0].__setitem__(0, _node(d, "tanh")["id"]), "cycles"),
    (lambda d: _node(d, "matmul")["args"].pop(), "arguments"),
    (lambda d: _node(d, "getitem")["params"].__setitem__("index", {"tuple": [7]}), "getitem"),
    (lambda d: _node(d, "var")["params"].__setitem__("axis", {"tuple": [5]}), "var"),
    (lambda d: d["nodes"][0]["value"].__setitem__("dtype", "complex128"), r"\.dtype"),
    (lambda d: d["nodes"][0]["value"].__setitem__("data", [10**400, 1, 2, 3]), r"\.data"),
    (lambda d: d["nodes"][0]["value"].__setitem__("data", [1]), r"\.data"),
    (lambda d: d.__setitem__("output", 999), r"\$\.output"),
    (lambda d: d.__setitem__("wrt", ["nope"]), r"\$\.wrt"),
    (lambda d: d["nodes"][0].__setitem__("grad", {"shape": [3], "dtype": "float64",
                                                 "data": [1, 2, 3]}), r"\.grad"),
])
def test_invalid_traces_are_refused_with_their_json_path(mutate, where):
    d = data()
    mutate(d)
    with pytest.raises(gt.GradtraceError, match=where):
        gt.load_json(json.dumps(d))


def test_unreadable_sources(tmp_path):
    (tmp_path / "p.json").write_bytes(b"\x80\x04\x95pickle")
    with pytest.raises(gt.GradtraceError, match="not UTF-8"):
        gt.load_json(tmp_path / "p.json")
    (tmp_path / "u16.json").write_text('{"format": 1}', encoding="utf-16")
    with pytest.raises(gt.GradtraceError, match="not UTF-8"):
        gt.load_json(tmp_path / "u16.json")
    with pytest.raises(gt.GradtraceError, match="not a regular file"):
        gt.load_json(tmp_path)
    with pytest.raises(gt.GradtraceError, match="not a regular file"):
        gt.load_json("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(gt.GradtraceError, match="not a regular file"):
        gt.load_json(fifo)
    big = tmp_path / "big.json"
    big.write_text(gt.trace(model).to_json())
    with pytest.raises(gt.GradtraceError, match="over the limit"):
        gt.load_json(big, max_bytes=100)
    with pytest.raises(gt.GradtraceError, match="nested"):
        gt.load_json('{"a": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(gt.GradtraceError, match="JSON text or a file path"):
        gt.load_json(42)


def test_lone_surrogates_in_names_round_trip():
    t = gt.trace(lambda x: gt.label(x * 2.0, "bad\udc80name"), 1.0)
    assert gt.load_json(t.to_json()).graph.nodes[t.output]["name"] == "bad\udc80name"


_FIELDS = ["id", "kind", "op", "name", "value", "shape", "scope", "requires_grad", "params",
           "grad", "args"]
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**20), st.floats(),
                  st.text(max_size=5), st.lists(st.integers(-2, 5), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=int(os.environ.get("GT_FUZZ", 150)), deadline=None)
@given(st.data())
def test_mutated_json_loads_cleanly_or_is_refused(draw):
    d = copy.deepcopy(BASE)
    for _ in range(draw.draw(st.integers(1, 3))):
        node = d["nodes"][draw.draw(st.integers(0, len(d["nodes"]) - 1))]
        action = draw.draw(st.sampled_from(["drop", "retype", "swap"]))
        field = draw.draw(st.sampled_from(_FIELDS))
        if action == "drop":
            node.pop(field, None)
        elif action == "retype":
            node[field] = draw.draw(_JUNK)
        else:
            other = d["nodes"][draw.draw(st.integers(0, len(d["nodes"]) - 1))]
            node[field], other[field] = other.get(field), node.get(field)
    try:
        t = gt.load_json(json.dumps(d))
    except gt.GradtraceError:
        return
    except ValueError as e:            # json.dumps of a NaN float the mutation drew
        assert "JSON compliant" in str(e)
        return
    t.backward()
    t.to_dot()
    for name in t.wrt:
        t.explain(name)


BASE = data()
