"""The gradtrace command, through click's CliRunner and as the installed script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradtrace.cli.main import main

from .conftest import needs_dot
from .svgread import read_svg

MODEL = '''
import numpy as np
import gradtrace as gt

def loss(w=0.5, b=0.1, x=2.0, y=1.0):
    z = w * x + b
    a = gt.sigmoid(z)
    return (a - y) ** 2

def net(W=np.array([[0.1, 0.2], [0.3, -0.4]]), x=np.array([1.0, -1.0])):
    h = np.tanh(W @ x)
    return np.sum(h * h)

def kink(x=0.0):
    return gt.relu(x)

def fourier(x=np.ones(4)):
    return np.sum(np.abs(np.fft.fft(x)))

def boom(x=1.0):
    raise ValueError("model exploded")

def needs_input(x, y=1.0):
    return x * y

def helper_not_function():
    pass

NOT_CALLABLE = 3
'''



@pytest.fixture
def model(tmp_path):
    p = tmp_path / "model.py"
    p.write_text(MODEL)
    return p


def run(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


@needs_dot
def test_render_default_output_name(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("render", f"{model}:loss")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "loss.svg"
    nodes, edges = read_svg((tmp_path / "loss.svg").read_text())
    assert any("∂loss/∂w" in " ".join(t) for t in nodes.values())


@needs_dot
def test_render_options_formats_and_quiet(model, tmp_path):
    out = tmp_path / "n.png"
    r = run("render", f"{model}:net", "-o", out, "--style", "heat", "-q")
    assert r.exit_code == 0 and r.output == ""
    assert out.read_bytes()[:4] == b"\x89PNG"
    r = run("render", f"{model}:loss", "--format", "dot", "-o", tmp_path / "l.dot",
            "--set", "w=2", "--wrt", "w", "--highlight", "w")
    assert r.exit_code == 0
    dot = (tmp_path / "l.dot").read_text()
    assert "= 2<" in dot and "penwidth=2.50" in dot
    r = run("render", f"{model}:net", "-o", tmp_path / "n.json", "--set", "x=[0.5, 0.25]")
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["nodes"][1]["value"]["data"] == [0.5, 0.25]


def test_render_inputs_file(model, tmp_path):
    np.savez(tmp_path / "in.npz", W=np.eye(2), x=np.array([3.0, 4.0]))
    r = run("render", f"{model}:net", "--inputs", tmp_path / "in.npz", "-o", tmp_path / "a.json")
    assert r.exit_code == 0, r.output
    (tmp_path / "in.json").write_text(json.dumps({"w": 1.5}))
    r = run("render", f"{model}:loss", "--inputs", tmp_path / "in.json", "-o", tmp_path / "b.json")
    assert r.exit_code == 0
    assert json.loads((tmp_path / "b.json").read_text())["nodes"][0]["value"] == 1.5


@pytest.mark.parametrize("args, message", [
    (["render", "missing.py:f"], "model file not found: missing.py"),
    (["render", "{model}:nope"], "has no function 'nope'; functions defined there: boom, "),
    (["render", "{model}:NOT_CALLABLE"], "is a int, not a function"),
    (["render", "{model}"], "has no ':function' part (to trace a file, say which function"),
    (["render", "no_such_example"], "not a built-in example"),
    (["render", "no_such_pkg.mod:f"], "cannot import module 'no_such_pkg.mod'"),
    (["render", "{model}:loss", "--set", "w=abc"], "--set w=abc: 'w' is a number"),
    (["render", "{model}:loss", "--set", "w"], "--set 'w' must look like NAME=VALUE"),
    (["render", "{model}:loss", "--set", "q=1"],
     "has no parameter 'q' (its parameters: w, b, x, y)"),
    (["render", "{model}:net", "--set", "x=[[1], [2, 3]]"], "regular"),
    (["render", "{model}:needs_input"], "parameter 'x' has no default"),
    (["render", "{model}:fourier"], "cannot differentiate np.fft.fft"),
    (["render", "{model}:boom"], "raised ValueError at model.py:"),
    (["render", "{model}:loss", "--wrt", "zz"], "wrt names 'zz'"),
    (["render", "{model}:loss", "--inputs", "nope.npz"], "--inputs file not found"),
    (["render", "{model}:loss", "-o", "out.bmp"], "cannot tell the format"),
    (["explain", "{model}:loss", "nothing"], "no node named 'nothing'"),
    (["check", "{model}:boom"], "raised ValueError"),
])
def test_errors_are_one_line_exit_2(model, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = run(*[a.format(model=model) for a in args])
    assert r.exit_code == 2, r.output
    err = r.stderr if hasattr(r, "stderr") else r.output
    assert message in err
    assert "Traceback" not in r.output
    assert [line for line in err.splitlines() if line.strip()][-1].startswith("Error:")
    assert not list(tmp_path.glob("*.svg")) and not list(tmp_path.glob("*.tmp"))


def test_syntax_error_in_model(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x=1.0):\n    return x +\n")
    r = run("render", f"{bad}:f")
    assert r.exit_code == 2 and "line 2: syntax error" in r.output


def test_usage_errors_exit_2():
    assert run("render").exit_code == 2
    assert run("render", "seed_chain", "--style", "neon").exit_code == 2
    r = run("explain", "seed_chain", "--wrt", "w(L)")   # the old spelling: NODE is missing
    assert r.exit_code == 2 and "gradtrace explain seed_chain 'w(L)'" in r.output


def test_check_passes_and_fails(model):
    r = run("check", f"{model}:net")
    assert r.exit_code == 0 and "gradients match" in r.output
    r = run("check", f"{model}:kink")   # relu'(0) = 0 by convention, numerically 0.5
    assert r.exit_code == 1
    assert "MISMATCH" in r.output and "x" in r.output


def test_explain_forms(model, tmp_path):
    r = run("explain", f"{model}:loss", "w")
    assert r.exit_code == 0
    assert "∂loss/∂w = ∂loss/∂(w·x) · x" in r.output
    r = run("explain", "layer_fanout", "a(L−1)0", "--form", "paths")
    assert r.exit_code == 0 and "sum over 2 paths" in r.output and "matches backward" in r.output
    r = run("explain", "last_layer", "w(L)", "--latex")
    assert r.output.startswith("\\begin{align*}")
    r = run("explain", f"{model}:net", "W", "--json")
    assert json.loads(r.output)["target"] == "W"


@needs_dot
def test_explain_render(model, tmp_path):
    out = tmp_path / "e.svg"
    r = run("explain", f"{model}:loss", "w", "--render", out)
    assert r.exit_code == 0 and out.exists() and f"wrote {out}" in r.output


def test_info(model):
    r = run("info", "layer_fanout")
    assert r.exit_code == 0
    assert "fan-out nodes (3): a(L−1)0 ×2, a(L−1)1 ×2, a(L−1)2 ×2" in r.output
    assert "nodes 32" in r.output
    r = run("info", f"{model}:net")
    assert "ops:" in r.output and "W" in r.output


def test_examples_and_version_and_help():
    r = run("examples")
    assert "seed_chain" in r.output and "attention_head" in r.output
    assert "version 0.1.0" in run("--version").output
    for cmd in ("render", "explain", "check", "info", "examples", "gallery"):
        text = run(cmd, "--help").output
        assert "Example" in text, cmd
    assert "imported, so its top-level code runs" in run("render", "--help").output


@needs_dot
def test_gallery_check_detects_drift(tmp_path):
    folder = tmp_path / "g"
    assert run("gallery", "-o", folder, "-q").exit_code == 0
    r = run("gallery", "--check", "-o", folder)
    assert r.exit_code == 0, r.output
    (folder / "square.dot").write_text("digraph {}\n")
    (folder / "seed_chain.svg").unlink()
    r = run("gallery", "--check", "-o", folder)
    assert r.exit_code == 1
    assert "square.dot" in r.output and "seed_chain.svg" in r.output


def test_committed_gallery_is_current():
    folder = Path(__file__).resolve().parent.parent / "gallery"
    r = run("gallery", "--check", "-o", folder)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("launcher", ["script", "module"])
def test_installed_script_and_module(model, tmp_path, launcher):
    exe = shutil.which("gradtrace", path=str(Path(sys.executable).parent))
    cmd = [exe] if launcher == "script" else [sys.executable, "-m", "gradtrace"]
    if cmd[0] is None:
        pytest.skip("gradtrace script not installed")
    ok = subprocess.run(cmd + ["info", f"{model}:loss"], capture_output=True, text=True)
    assert ok.returncode == 0 and "loss:" in ok.stdout
    bad = subprocess.run(cmd + ["render", f"{model}:fourier", "-o", str(tmp_path / "f.svg")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("Error:") and "np.fft.fft" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "f.svg").exists()


def test_without_graphviz_svg_is_drawn_with_a_one_line_note(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    r = run("render", "seed_chain", "-o", tmp_path / "c.svg")
    assert r.exit_code == 0, r.output
    assert "note: Graphviz is not installed" in r.output and "Warning" not in r.output
    assert (tmp_path / "c.svg").read_text().startswith("<?xml")
    r = run("render", "seed_chain", "-o", tmp_path / "c.png")
    assert r.exit_code == 2 and "writing PNG needs Graphviz" in r.output
    assert not (tmp_path / "c.png").exists()
