"""Hostile input, round two: the command line and the API refuse bad options clearly
(issue 30)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from click.testing import CliRunner

import gradtrace as gt
from gradtrace.cli.main import main


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("option, value", [("--rtol", "nan"), ("--rtol", "-1"),
                                           ("--atol", "inf"), ("--eps", "0"),
                                           ("--eps", "nan"), ("--eps", "-1e-6")])
def test_check_refuses_meaningless_tolerances(option, value):
    r = run("check", "seed_chain", option, value)
    assert r.exit_code == 2, r.output
    assert option.lstrip("-") in r.output and "running" not in r.output   # not the model


@pytest.mark.parametrize("options", [{"rtol": float("nan")}, {"eps": 0.0}, {"atol": -1.0},
                                     {"eps": "1e-6"}, {"max_elements": 0}])
def test_trace_check_refuses_meaningless_options(options):
    t = gt.trace(lambda x: x * x, 1.0).backward()
    with pytest.raises(gt.GradtraceError, match="check: "):
        t.check(**options)


@pytest.fixture(scope="module")
def small():
    return gt.trace(lambda w, x: gt.sigmoid(w * x), 0.5, 2.0).backward()


@pytest.mark.parametrize("options", [
    {"timeout": "10"}, {"timeout": True}, {"highlight": 123}, {"collapse": 123},
    {"collapse": [1, 2]}, {"digits": True}, {"digits": 2.5}, {"depth": "x"}, {"depth": -1},
    {"style": 123}, {"style": ["a"]}, {"layout": 5}, {"rankdir": 5}, {"format": 123},
])
def test_render_option_types_are_checked(small, tmp_path, options):
    with pytest.raises(gt.GradtraceError):
        small.render(tmp_path / "a.svg", **options)
    assert not list(tmp_path.iterdir())          # nothing half-written


@pytest.mark.parametrize("call", [
    lambda: gt.trace(lambda w: w * 2.0, 1.0, wrt=123),
    lambda: gt.trace(lambda w: w * 2.0, 1.0, wrt=[1]),
    lambda: gt.trace(lambda w: w * 2.0, 1.0).backward(seed="x"),
    lambda: gt.trace(np.sin, 0.5),
    lambda: gt.trace(np.add, 0.5, 1.0),
    lambda: gt.trace(lambda x: x * 2.0, 1.0).explain(123),
    lambda: gt.trace(lambda x: x * 2.0, 1.0).explain("x", max_paths="x"),
    lambda: gt.trace(lambda x: x * 2.0, 1.0).explain("x", form=None),
])
def test_api_type_misuse_is_a_gradtrace_error(call):
    with pytest.raises(gt.GradtraceError):
        call()


def test_cyclic_and_very_deep_inputs_are_refused_by_name():
    cyclic = {"a": 1.0}
    cyclic["self"] = cyclic
    with pytest.raises(gt.GradtraceError, match="nest too deeply"):
        gt.trace(lambda p: p["a"] * 2.0, cyclic)
    deep = 1.0
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(gt.GradtraceError, match="nest too deeply"):
        gt.trace(lambda p: 2.0, deep)


def module_level_loss(w, x):
    return gt.sigmoid(np.sum(w * x))


def test_a_trace_pickles():
    t = gt.trace(module_level_loss, np.ones(3), np.arange(3.0)).backward()
    back = pickle.loads(pickle.dumps(t))
    np.testing.assert_array_equal(back.grads["w"], t.grads["w"])
    assert back.check().ok                       # its function came along
    t = gt.trace(lambda x: x * x, 2.0).backward()
    back = pickle.loads(pickle.dumps(t))         # a lambda does not pickle: left behind
    assert back.grads == {"x": 4.0} and back.function is None
    assert "x" in back.to_dot() and "x" in str(back.explain("x"))


def test_a_torch_trace_says_why_it_does_not_pickle():
    torch = pytest.importorskip("torch")
    t = gt.trace(lambda x: (x * x).sum(), torch.ones(2, dtype=torch.float64))
    with pytest.raises(gt.GradtraceError, match="to_json"):
        pickle.dumps(t)


TALKATIVE = '''
import numpy as np
print("hello from the model")
def loss(w=0.5, x=2.0):
    print("inside loss")
    return (w * x - 1.0) ** 2
'''


@pytest.fixture()
def talkative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(TALKATIVE)
    return "model.py:loss"


@pytest.mark.parametrize("fmt", ["svg", "html", "json"])
def test_with_o_dash_what_the_model_prints_goes_to_stderr(talkative, fmt):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "gradtrace", "render", talkative, "-o", "-",
                        "--format", fmt], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert b"hello" not in r.stdout and b"inside loss" not in r.stdout
    assert b"hello from the model" in r.stderr
    assert r.stdout.lstrip()[:1] in (b"<", b"{")


def _huge_npz(path):
    import struct
    import zipfile
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += b" " * (118 - len(header)) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", data)


@pytest.mark.parametrize("args, says", [
    (["--inputs", "bad.npz"], "cannot read bad.npz"),
    (["--inputs", "huge.npz"], "over the 1024 MiB limit"),
    (["--inputs", "deep.json"], "cannot read deep.json as JSON"),
    (["--set", "w=" + "[" * 100_000 + "]" * 100_000], "--set w: the value"),
    (["--set", "w=" + "9" * 5000], "--set w: the value"),
])
def test_input_errors_name_the_input_and_the_model_never_runs(talkative, args, says):
    import pathlib
    pathlib.Path("bad.npz").write_bytes(b"garbage")
    _huge_npz("huge.npz")
    pathlib.Path("deep.json").write_text('{"w": ' + "[" * 100_000 + "]" * 100_000 + "}")
    r = run("render", talkative, "-o", "out.svg", *args)
    assert r.exit_code == 2 and says in r.output, r.output
    assert "hello" not in r.output and "running" not in r.output
    assert not pathlib.Path("out.svg").exists()


@pytest.mark.parametrize("var, extra", [
    ("GRADTRACE_MAX_INPUTS_MB", ["--inputs", "ok.npz"]),
    ("GRADTRACE_GRAPHVIZ_MEMORY_MB", ["--layout", "dot"]),
])
def test_garbage_in_gradtrace_environment_variables_is_one_clear_line(talkative, var, extra):
    import os
    import subprocess
    import sys
    np.savez("ok.npz", w=np.float64(0.5))
    env = {**os.environ, var: "lots"}
    r = subprocess.run([sys.executable, "-m", "gradtrace", "render", talkative, "-o",
                        "out.svg", *extra], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert var in r.stderr and len(r.stderr.strip().splitlines()) <= 3
    imported = subprocess.run([sys.executable, "-c",
                               "import gradtrace.cli.main, gradtrace.cli.targets"],
                              capture_output=True, text=True, env=env)
    assert imported.returncode == 0, imported.stderr


SLOW_WRITER = '''
import sys, time
from pathlib import Path
from gradtrace.render.output import write_streamed

def produce(write):
    write("part one\\n")
    print("writing", flush=True)
    time.sleep(60)
    write("part two\\n")

write_streamed(Path(sys.argv[1]), produce)
'''


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_write_leaves_no_hidden_temporary_file(tmp_path, signame):
    import signal
    import subprocess
    import sys
    script = tmp_path / "slow.py"
    script.write_text(SLOW_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out.svg")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(getattr(signal, signame))
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.py"]   # no .out.svg.*.tmp
