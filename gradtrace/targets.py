"""What the CLI traces: ``model.py:function``, ``package.module:function`` or an example,
with inputs from the function's defaults, ``--set NAME=VALUE`` and ``--inputs FILE``.

Loading a model file imports it, so its top-level code runs (the CLI's help says so).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import GradtraceError
from .examples import EXAMPLES


def load_target(target: str) -> tuple[Callable, str]:
    """The function a TARGET names, and a short name for output files."""
    if ":" not in target:
        if target in EXAMPLES:
            return EXAMPLES[target], target
        hint = (" (to trace a file, say which function: "
                f"{target}:FUNCTION)" if target.endswith(".py") else "")
        raise GradtraceError(
            f"TARGET '{target}' is not a built-in example and has no ':function' part{hint}; "
            f"use FILE.py:FUNCTION, package.module:FUNCTION or one of: {', '.join(EXAMPLES)}")
    where, _, func = target.rpartition(":")
    if not where or not func:
        raise GradtraceError(f"TARGET '{target}' must look like FILE.py:FUNCTION or "
                             "package.module:FUNCTION")
    if where.endswith(".py") or "/" in where or "\\" in where:
        module = _import_file(Path(where))
        origin = where
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise GradtraceError(f"cannot import module '{where}': {e}") from None
        except Exception as e:
            raise GradtraceError(f"importing module '{where}' raised {type(e).__name__}: {e}") \
                from None
        origin = where
    fn = getattr(module, func, None)
    if fn is None:
        defined = sorted(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module.__name__
                         and not n.startswith("_"))
        raise GradtraceError(f"{origin} has no function '{func}'; functions defined there: "
                             f"{', '.join(defined) or '(none)'}")
    if not callable(fn):
        raise GradtraceError(f"{origin}:{func} is a {type(fn).__name__}, not a function")
    return fn, func


def _import_file(path: Path):
    if not path.exists():
        raise GradtraceError(f"model file not found: {path}")
    if path.is_dir():
        raise GradtraceError(f"{path} is a folder; TARGET needs a .py file")
    name = f"gradtrace_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GradtraceError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise GradtraceError(f"{path} line {e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:
        raise GradtraceError(f"importing {path} raised {type(e).__name__}: {e}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def parse_value(name: str, text: str):
    """A --set value: a number, or a JSON list (becomes a float array)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, bool) or value is None or isinstance(value, (str, dict)):
        raise GradtraceError(f"--set {name}={text}: '{text}' is not a number or a JSON list of "
                             "numbers (e.g. 0.5 or [[1, 2], [3, 4]])")
    if isinstance(value, list):
        try:
            arr = np.array(value, dtype=float)
        except (TypeError, ValueError):
            raise GradtraceError(f"--set {name}={text}: the list must be numbers in a regular "
                                 "(rectangular) nesting") from None
        return arr
    return float(value) if isinstance(value, float) else value


def read_inputs_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise GradtraceError(f"--inputs file not found: {p}")
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                return {k: (float(v) if v.ndim == 0 and v.dtype.kind == "f" else
                            (int(v) if v.ndim == 0 else v)) for k, v in data.items()}
        except (OSError, ValueError) as e:
            raise GradtraceError(f"cannot read {p} as .npz: {e}") from None
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise GradtraceError(f"cannot read {p} as JSON: {e}") from None
        if not isinstance(data, dict):
            raise GradtraceError(f"{p} must hold a JSON object of input name -> value")
        return {k: (np.array(v, dtype=float) if isinstance(v, list) else v)
                for k, v in data.items()}
    raise GradtraceError(f"--inputs takes a .npz or .json file, not {p.name}")


def build_inputs(fn: Callable, sets: tuple[str, ...] = (), inputs_file: str | None = None
                 ) -> dict[str, Any]:
    """Keyword arguments for ``fn``: defaults, then --inputs, then --set."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    given: dict[str, Any] = {}
    if inputs_file:
        given.update(read_inputs_file(inputs_file))
    for item in sets:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise GradtraceError(f"--set '{item}' must look like NAME=VALUE")
        value = parse_value(name, text.strip())
        default = params[name].default if name in params else None
        if isinstance(value, int) and not (isinstance(default, int) and not isinstance(default, bool)):
            value = float(value)   # --set w=2 means the float 2.0 unless w counts something
        given[name] = value
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in given:
        if name not in params and not accepts_any:
            raise GradtraceError(f"the function has no parameter '{name}' "
                                 f"(its parameters: {', '.join(params) or 'none'})")
    kwargs = {}
    for name, p in params.items():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if name in given:
            kwargs[name] = given[name]
        elif p.default is inspect.Parameter.empty:
            raise GradtraceError(f"parameter '{name}' has no default; give it with "
                                 f"--set {name}=VALUE or --inputs FILE")
    kwargs.update({k: v for k, v in given.items() if k not in params})
    return kwargs


def trace_target(target: str, sets: tuple[str, ...] = (), inputs_file: str | None = None,
                 wrt=None):
    """Load TARGET, trace it on its inputs and run backward: what every command starts with.

    A non-scalar output is seeded with ones (the gradient of its sum).
    Returns the trace and a short name for output files.
    """
    from .trace import trace
    fn, short = load_target(target)
    t = trace(fn, wrt=list(wrt) if wrt else None, **build_inputs(fn, sets, inputs_file))
    t.backward(seed=None if isinstance(t.value, float) else np.ones(np.shape(t.value)))
    return t, short
