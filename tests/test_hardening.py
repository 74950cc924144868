"""Hostile input and faults: each case gets a clear error, nothing is lost, nothing hangs."""

import gc
import json
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradtrace as gt
from gradtrace.cli.main import main
from gradtrace.render.output import svg_text

from .conftest import needs_dot, rss_mb
from .svgread import all_text, read_fast_svg

WEIRD = "a\\b\\\\n\\N\\G\\l\\L\\E"


def run(*args, cwd=None):
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def model(tmp_path, body: str, name="model.py") -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


# ---------------------------------------------------------------- labels and names
@needs_dot
def test_backslashes_render_exactly_as_written():
    t = gt.trace(lambda x: gt.label(x * 2.0, WEIRD), 1.0).backward()
    assert WEIRD in all_text(svg_text(t, layout="dot"))
    nodes, _ = read_fast_svg(svg_text(t, layout="fast"))
    assert any(WEIRD in " ".join(lines) for _, lines in nodes.values())


def test_long_names_are_shortened_for_display_only():
    long = "n" * 10_000
    t = gt.trace(lambda x: gt.label(x * 2.0, long), 1.0).backward()
    dot = t.to_dot(layout="dot")
    assert "n" * 10_000 not in dot.replace('tooltip="' + long, "")
    assert f'tooltip="{long} — test_hardening.py:' in dot
    assert t.graph.nodes[t.output]["name"] == long
    assert json.loads(t.to_json())["nodes"][-1]["name"] == long


@pytest.mark.parametrize("make", [lambda x: gt.label(x, ""), lambda x: gt.label(x, "  ")])
def test_empty_labels_are_refused(make):
    with pytest.raises(gt.TraceError, match="visible character"):
        gt.trace(make, 1.0)


def test_empty_scopes_are_refused():
    def f(x):
        with gt.scope(""):
            return x * 2.0
    with pytest.raises(gt.TraceError, match="visible character"):
        gt.trace(f, 1.0)


# ---------------------------------------------------------------- the CLI
@pytest.mark.parametrize("body, said", [
    ("import sys\nsys.exit(3)\ndef f(x=1.0):\n    return x\n", "sys.exit(3)"),
    ("import sys\ndef f(x=1.0):\n    sys.exit(4)\n", "sys.exit(4)"),
    ("def f(x=1.0):\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
])
def test_models_that_exit_or_interrupt_get_one_line(tmp_path, body, said):
    m = model(tmp_path, body)
    r = run("info", f"{m}:f")
    assert r.exit_code == 2 and said in r.output and len(r.output.strip().splitlines()) == 1


def test_output_is_resolved_before_the_model_runs(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    m = model(tmp_path, "import os\ndef f(x=1.0):\n    os.chdir('elsewhere')\n    return x * 2.0\n")
    r = run("render", f"{m}:f", "-o", "out.json", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out.json").exists() and not (tmp_path / "elsewhere" / "out.json").exists()


def test_dash_output_writes_to_stdout(tmp_path):
    r = run("render", "square", "-o", "-", "--format", "json", cwd=tmp_path)
    assert r.exit_code == 0
    assert json.loads(r.output)["format"] == "gradtrace-trace"
    assert not (tmp_path / "-").exists()


def test_npz_that_expands_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADTRACE_MAX_INPUTS_MB", "1")
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros(2_000_000))
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    m = model(tmp_path, "import numpy as np\ndef f(x=np.ones(3)):\n    return np.sum(x)\n")
    r = run("info", f"{m}:f", "--inputs", tmp_path / "bomb.npz")
    assert r.exit_code == 2 and "over the 1 MiB limit" in r.output


def test_check_never_calls_a_non_finite_gradient_ok(tmp_path):
    m = model(tmp_path, "import numpy as np\ndef f(x=0.0):\n    return np.sqrt(x)\n")
    r = run("check", f"{m}:f")
    assert r.exit_code == 1 and "kink or a pole" in r.output


def test_check_notices_a_function_that_is_not_deterministic():
    rng = np.random.default_rng()

    def dropout(x=2.0 ** np.arange(20)):   # every mask gives a different sum
        return np.sum(x * (rng.random(20) > 0.5))
    report = gt.check(dropout)
    assert not report.ok and "NOT DETERMINISTIC" in str(report)


def test_output_files_get_ordinary_modes(tmp_path):
    t = gt.trace(lambda x: x * 2.0, 1.0).backward()
    mask = os.umask(0o022)
    try:
        t.render(tmp_path / "new.json")
        assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644
        (tmp_path / "kept.json").write_text("{}")
        os.chmod(tmp_path / "kept.json", 0o640)
        t.render(tmp_path / "kept.json")
        assert stat.S_IMODE((tmp_path / "kept.json").stat().st_mode) == 0o640
    finally:
        os.umask(mask)


def test_module_targets_did_you_mean_and_model_lines(tmp_path):
    model(tmp_path, "def loss(x=2.0):\n    return x * x\n"
                    "def boom(x=1.0):\n    return x * undefined_name\n", name="mlp.py")
    assert run("info", "mlp:loss", cwd=tmp_path).exit_code == 0
    r = run("info", "seed_chian")
    assert r.exit_code == 2 and "did you mean 'seed_chain'" in r.output
    r = run("info", "mlp:los", cwd=tmp_path)
    assert "did you mean 'loss'" in r.output
    r = run("info", "mlp:boom", cwd=tmp_path)
    assert "NameError at mlp.py:4" in r.output


def test_set_and_inputs_reach_nested_inputs_and_settings(tmp_path):
    m = model(tmp_path, "import numpy as np\n"
              "def f(params={'W1': np.ones(2), 'b': 0.5}, act='tanh'):\n"
              "    z = params['W1'] * 2.0 + params['b']\n"
              "    return np.sum(np.tanh(z) if act == 'tanh' else z)\n")
    r = run("info", f"{m}:f", "--set", "params.W1=[1, 3]", "--set", "act=linear")
    assert r.exit_code == 0, r.output
    assert "f = 9\n" in r.output          # (1 + 3)·2 + 2·0.5, linear
    np.savez(tmp_path / "in.npz", **{"params.b": np.float64(1.0)})
    r = run("info", f"{m}:f", "--inputs", tmp_path / "in.npz", "--set", "act=linear")
    assert r.exit_code == 0 and "f = 6" in r.output
    r = run("info", f"{m}:f", "--set", "params.W9=1")
    assert r.exit_code == 2 and "W9" in r.output


def test_an_object_holding_floats_is_walked_and_an_opaque_one_is_named():
    class Config:
        scale = 2.0

    t = gt.trace(lambda x, cfg: x * cfg.scale, 1.0, Config()).backward()
    assert t.grads["cfg.scale"] == 1.0 and "scale" not in vars(Config())

    class Opaque:                 # array-like: not walked, passed through with a warning
        def __array__(self, dtype=None, copy=None):
            return np.ones(2)

    with pytest.warns(gt.GradtraceWarning, match="input 'cfg' is of type Opaque, which gradtrace "
                      "cannot walk"):
        t = gt.trace(lambda x, cfg: x * 2.0, 1.0, Opaque())
    with pytest.raises(gt.TraceError, match="cannot walk"):
        t.grad("cfg")


def test_non_scalar_output_is_announced(tmp_path):
    m = model(tmp_path, "import numpy as np\ndef f(x=np.ones(3)):\n    return x * 2.0\n")
    r = CliRunner().invoke(main, ["info", f"{m}:f"])
    assert r.exit_code == 0 and "gradients shown are those of its sum" in r.output


# ---------------------------------------------------------------- load and leaks
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_a_thousand_traces_do_not_grow_memory():
    def f(x=np.linspace(0, 1, 50), w=0.5):
        h = np.tanh(x * w)
        return np.sum(h * h)
    for _ in range(100):
        gt.trace(f).backward()
    gc.collect()
    after_100 = rss_mb()
    for _ in range(900):
        gt.trace(f).backward()
    gc.collect()
    assert rss_mb() <= after_100 * 1.05


def _traced_in_a_process(i):
    t = gt.trace(lambda x: np.sum(np.sin(x) * float(i)), np.linspace(0, 1, 8)).backward()
    return float(t.value), np.asarray(t.grads["x"]).tolist()


def test_traces_in_separate_processes():
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_traced_in_a_process, range(6)))
    x = np.linspace(0, 1, 8)
    for i, (value, grad) in enumerate(results):
        assert value == pytest.approx(np.sum(np.sin(x) * i))
        np.testing.assert_allclose(grad, np.cos(x) * i)
