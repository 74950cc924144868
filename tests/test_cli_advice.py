"""What the command line says, as a new user meets it: advice names the flag
(``--layout fast``, not ``layout='fast'``), JSON and --set int lists stay ints, check names
a NaN input or an overflow, names typed with ASCII look-alikes resolve, and name options
take comma-separated lists."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import gradtrace as gt
from gradtrace.cli.main import main
from gradtrace.errors import spelled

from .conftest import needs_dot

MODEL = '''
import numpy as np

def xent(W=np.ones((3, 4)) * 0.1, x=np.ones((6, 3)), labels=np.array([0, 1, 2, 3, 1, 0])):
    logits = x @ W
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(labels)), labels]))

def weights(w=np.array([0.5, 1.5])):
    return np.sum(w * w)

def tup(w=1.0, b=2.0):
    return w * b, w + b

def one(w=1.0):
    return w * 3.0

def nan_arr(w=np.array([1.0, np.nan, 2.0])):
    return np.sum(np.sqrt(w) * 3.0)

def nan_in(w=float("nan"), b=1.0):
    return (w * b + 1.0) ** 2

def huge(w=1e200, b=1e200):
    return (w * b) ** 2

def ewhere(w=np.array([-1.0, 4.0])):
    return np.sum(np.where(w > 0, np.sqrt(w), 0.0))

def chain(w=0.5, a_prev=0.3, y=1.0):
    z = w * a_prev
    return (z - y) ** 2

class NotFn:
    pass

class Net:
    def __init__(self):
        self.W = np.array([0.5, -0.25])

    def forward(self, x=np.array([1.0, 2.0])):
        return np.sum(np.tanh(self.W * x))

NET = Net()
'''


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(MODEL)
    return "m.py"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def error(*args) -> str:
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    return lines[0]


API_FORMS = re.compile(r"\b(output|format|layout|collapse|timeout|wrt|params|data)=")


@pytest.mark.parametrize("args, flag", [
    (["render", "{m}:one", "-o", "out.xyz"], "--format"),
    (["render", "{m}:tup"], "--pick INDEX|KEY (e.g. --pick 1)"),
    (["render", "{m}:tup", "--pick", "5"], "--pick 5: tup returned a tuple of 2 values"),
    (["render", "{m}:one", "--pick", "1"], "--pick 1 selects from a tuple"),
    (["render", "{m}:one", "--wrt", "zz"], "--wrt names 'zz'"),
    (["render", "{m}:chain", "-o", "c.html", "--data", "nope"], "--data names 'nope'"),
    (["render", "{m}:chain", "-o", "c.html", "--params", "w", "--data", "w"],
     "w named both in --params and in --data"),
    (["render", "{m}:chain", "-o", "c.html", "--wrt", "a_prev", "--params", "w"],
     "--params names w, which has no gradient (not in --wrt)"),
    (["explain", "{m}:chain", "a_prev", "--wrt", "w"],
     "the input a_prev is not among --wrt w; add --wrt a_prev, or leave --wrt out"),
    (["render", "{m}:NotFn"], "e.g. FILE.py:NET.forward for an instance NET = NotFn()"),
])
def test_errors_name_the_flag_not_the_keyword(model, args, flag):
    line = error(*[a.format(m=model) for a in args])
    assert flag in line
    assert not API_FORMS.search(line), line


@needs_dot
def test_graphviz_timeout_advice_names_flags(model):
    line = error("render", "seed_chain", "--timeout", "0.001", "--layout", "dot",
                 "-o", "t.png")
    assert "(--collapse-all), use the fast layout (--layout fast), or allow more time " \
        "(--timeout SECONDS, 0 for no limit)" in line
    assert not Path("t.png").exists()


def test_missing_graphviz_advice_names_flags(model, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    line = error("render", f"{model}:one", "--layout", "dot", "-o", "o.svg")
    assert "--layout dot needs Graphviz" in line and "use --layout auto" in line
    with pytest.raises(gt.GradtraceError, match="layout='dot' needs Graphviz"):
        gt.trace(lambda w: w * 2.0, 1.0).render(tmp_path / "o.svg", layout="dot")


def test_python_callers_see_the_keyword():
    with pytest.raises(gt.TraceError) as e:
        gt.trace(lambda w: (w, w * 2.0), 1.0)
    assert "output=lambda out: out[1]" in str(e.value) and "--pick" not in str(e.value)
    assert "\x1d" not in str(e.value) and "\x1d" not in spelled(e.value.for_cli())


def test_every_flag_advice_names_a_real_flag():
    """Each option(api, cli) in the package names flags the commands define."""
    flags = {o for cmd in main.commands.values() for p in cmd.params
             if isinstance(p, click.Option) for o in p.opts}
    root = Path(gt.__file__).parent
    written = re.findall(r"(?<![\w.])option\(\s*f?[\"'].*?[\"'],\s*f?[\"'](.*?)[\"']\)",
                         "\n".join(p.read_text() for p in root.rglob("*.py")), re.S)
    named = {f for text in written for f in re.findall(r"--[a-z][\w-]*", text)}
    assert len(named) >= 6 and named <= flags, named - flags


@pytest.mark.parametrize("how", [["--set", "labels=[0,1,2,3,1,0]"], ["--inputs", "lab.json"]])
def test_int_lists_stay_int_arrays(model, how):
    Path("lab.json").write_text('{"labels": [0, 1, 2, 3, 1, 0]}')
    r = run("check", f"{model}:xent", *how)
    assert r.exit_code == 0, r.output
    assert "labels" not in r.output.split("gradients match")[0]


def test_int_list_for_a_float_parameter_stays_a_float_input(model):
    r = run("check", f"{model}:weights", "--set", "w=[1,2]")
    assert r.exit_code == 0 and "\nw " in r.output, r.output


@pytest.mark.parametrize("fn, says", [
    ("nan_arr", "NOT CHECKED: input w[1] is nan"),
    ("nan_in", "NOT CHECKED: input w is nan"),
    ("huge", "NOT CHECKED: the output is inf at the traced inputs: it overflowed"),
])
def test_check_says_what_is_not_finite(model, fn, says):
    r = run("check", f"{model}:{fn}")
    assert r.exit_code == 1
    assert says in r.output and "kink" not in r.output and "MISMATCH" not in r.output


def test_numpy_warning_points_at_the_users_line(model):
    import importlib.util
    spec = importlib.util.spec_from_file_location("m_warn", model)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.warns(RuntimeWarning, match="invalid value encountered in sqrt") as rec:
        gt.trace(mod.ewhere)
    assert [Path(w.filename).name for w in rec] == ["m.py"]
    with pytest.warns(gt.GradtraceWarning, match="contain NaN") as rec:
        gt.check(lambda w: w * 2.0, float("nan"))
    assert all(w.filename == __file__ for w in rec if w.category is gt.GradtraceWarning)


def test_ascii_lookalikes_resolve_and_a_miss_names_the_character():
    r = run("explain", "seed_chain", "w(L-2)")
    assert r.exit_code == 0 and "∂C0/∂w(L−2)" in r.output, r.output
    line = error("explain", "seed_chain", "w(L_2)")
    assert "'w(L_2)' is close to 'w(L−2)', whose character 4 is '−' (U+2212" in line


def test_trace_grad_and_highlight_accept_lookalikes(tmp_path):
    def f(w=0.5, a=2.0):
        z = gt.label(w * a, "z(L−1)′")
        return gt.label(z * z, "C₀")
    t = gt.trace(f)
    assert t.grad("z(L-1)'") == t.grad("z(L−1)′") == 2.0
    assert t.grad("C0") == 1.0
    assert t.render(tmp_path / "h.dot", highlight="z(L-1)'").exists()
    with pytest.raises(gt.TraceError, match="character 2 is '\\(' .*not '\\['"):
        t.grad("z[L-1]'")


def test_comma_separated_name_options(model):
    r = run("render", f"{model}:chain", "-o", "c.html", "--data", "a_prev,y",
            "--params", "w")
    assert r.exit_code == 0, r.output
    r = run("check", f"{model}:chain", "--wrt", "w,y")
    assert r.exit_code == 0 and "a_prev" not in r.output.split("\n", 1)[1].split("gradients")[0]


def test_method_of_an_object_as_target(model):
    r = run("check", f"{model}:NET.forward")
    assert r.exit_code == 0 and "self.W" in r.output, r.output


def test_wrt_accepts_lookalikes():
    t = gt.trace(lambda p: p["w−1"] * p["b"], {"w−1": 2.0, "b": 3.0}, wrt=["p.w-1"])
    assert t.wrt == ["p.w−1"] and t.grads == {"p.w−1": 3.0}
