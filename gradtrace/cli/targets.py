"""What the CLI traces: ``model.py:function``, ``package.module:function`` or an example,
with inputs from the function's defaults, ``--set NAME=VALUE`` and ``--inputs FILE``.

Loading a model file imports it, so its top-level code runs (the CLI's help says so).
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GradtraceError, OutputError
from ..examples import EXAMPLES, TORCH_EXAMPLES
from ..tracing import trace
from ..valuegraph import from_micrograd


def _torch_example(name: str) -> Callable:
    try:
        from ..pytorch import torch_examples  # optional dependency: imported only when asked for
    except ImportError:
        raise GradtraceError(f"the example '{name}' needs PyTorch: pip install "
                             "'gradtrace[torch]'") from None
    return torch_examples.EXAMPLES[name]


def load_target(target: str) -> tuple[Callable[..., Any], str]:
    """The function a TARGET names, and a short name for output files."""
    if ":" not in target:
        if target in EXAMPLES:
            return EXAMPLES[target], target
        if target in TORCH_EXAMPLES:
            return _torch_example(target), target
        hint = (" (to trace a file, say which function: "
                f"{target}:FUNCTION)" if target.endswith(".py") else "")
        raise GradtraceError(
            f"TARGET '{target}' is not a built-in example and has no ':function' part{hint}"
            f"{did_you_mean(target, [*EXAMPLES, *TORCH_EXAMPLES])}; use FILE.py:FUNCTION, "
            f"package.module:FUNCTION or one of: {', '.join([*EXAMPLES, *TORCH_EXAMPLES])}")
    where, _, func = target.rpartition(":")
    if not where or not func:
        raise GradtraceError(f"TARGET '{target}' must look like FILE.py:FUNCTION or "
                             "package.module:FUNCTION")
    if where.endswith(".py") or "/" in where or "\\" in where:
        module = _import_file(Path(where))
        origin = where
    else:
        here = str(Path.cwd())
        added = here not in sys.path      # `gradtrace render mlp:loss` run beside mlp.py
        if added:
            sys.path.insert(0, here)
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise GradtraceError(f"cannot import module '{where}': {e}") from None
        except SystemExit as e:
            raise GradtraceError(f"importing module '{where}' called sys.exit({e.code!r})") \
                from None
        except (Exception, KeyboardInterrupt) as e:
            raise GradtraceError(f"importing module '{where}' raised {type(e).__name__}: {e}") \
                from None
        finally:
            if added and here in sys.path:
                sys.path.remove(here)
        origin = where
    fn = _attribute(module, func)
    if fn is None:
        defined = sorted(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module.__name__
                         and not n.startswith("_"))
        raise GradtraceError(f"{origin} has no function '{func}'{did_you_mean(func, defined)}; "
                             f"functions defined there: {', '.join(defined) or '(none)'}")
    if not callable(fn):
        raise GradtraceError(f"{origin}:{func} is a {type(fn).__name__}, not a function")
    return fn, func.rpartition(".")[2]


def _attribute(module, dotted: str):
    """``net.forward``: a function, or a method of an object made at the file's top level
    (its float attributes are traced as ``self.W``)."""
    value = module
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


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
    except SystemExit as e:
        raise GradtraceError(f"importing {path} called sys.exit({e.code!r}); a model file must "
                             "not exit at import (guard it with if __name__ == '__main__')") \
            from None
    except (Exception, KeyboardInterrupt) as e:
        raise GradtraceError(f"importing {path} raised {type(e).__name__}: {e}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def parse_value(name: str, text: str):
    """A --set value: a number, a JSON list (an array: int if all ints), true/false, or else the
    text itself (a setting such as an activation's name: a constant)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    except (RecursionError, ValueError) as e:     # nested past the limit, 5,000 digits ...
        raise GradtraceError(f"--set {name}: the value ({len(text):,} characters) cannot be "
                             f"read: {str(e)[:120]}") from None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, dict):
        raise GradtraceError(f"--set {name}={text}: a JSON object is not a value; set its "
                             f"entries one by one (--set {name}.KEY=VALUE)")
    if isinstance(value, list):
        arr = json_array(value)
        if arr is None:
            raise GradtraceError(f"--set {name}={text}: the list must be numbers in a regular "
                                 "(rectangular) nesting")
        return arr
    return float(value) if isinstance(value, float) else value


def json_array(value: list) -> np.ndarray | None:
    """A JSON list as an array: all ints stay an int array (labels, indices: constants, as
    ``np.asarray`` gives them), any float makes it a float array; None if not numbers in a
    rectangular nesting."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind in "iu" and arr.size:
            return arr
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None


def read_inputs_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise GradtraceError(f"--inputs file not found: {p}")
    if p.suffix == ".npz":
        _check_npz_size(p)
        try:
            with np.load(p, allow_pickle=False) as data:
                return {k: (float(v) if v.ndim == 0 and v.dtype.kind == "f" else
                            (int(v) if v.ndim == 0 else v)) for k, v in data.items()}
        except (OSError, ValueError) as e:
            raise GradtraceError(f"cannot read {p} as .npz: {e}") from None
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:   # (JSONDecodeError, bad UTF-8 ...)
            raise GradtraceError(f"cannot read {p} as JSON: {e}") from None
        if not isinstance(data, dict):
            raise GradtraceError(f"{p} must hold a JSON object of input name -> value")
        arrays = {k: json_array(v) for k, v in data.items() if isinstance(v, list)}
        for k, arr in arrays.items():
            if arr is None:
                raise GradtraceError(f"{p}: '{k}' must be a number or a list of numbers in a "
                                     "regular (rectangular) nesting")
        return data | arrays
    raise GradtraceError(f"--inputs takes a .npz or .json file, not {p.name}")


_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def _root(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _steps(path: str) -> list:
    """'params.W1' -> ['params', 'W1']; 'layers[0].b' -> ['layers', 0, 'b']."""
    root = _root(path)
    rest = path[len(root):]
    steps: list = [root]
    pos = 0
    for m in _STEP.finditer(rest):
        if m.start() != pos:
            break
        steps.append(m.group(1) if m.group(1) is not None else
                     int(m.group(2)) if m.group(2) is not None else m.group(3))
        pos = m.end()
    if pos != len(rest):
        raise GradtraceError(f"cannot read the input path '{path}'; write it as in the "
                             "input names, e.g. params.W1 or layers[0].b")
    return steps


def _set_path(obj, path: str, steps: list, value):
    """``obj`` with the leaf at ``steps`` replaced by ``value`` (tuples rebuilt)."""
    if not steps:
        return value
    key, rest = steps[0], steps[1:]
    try:
        child = obj[key]
    except (KeyError, IndexError, TypeError):
        raise GradtraceError(f"--set/--inputs {path}: the default value has no "
                             f"{key!r} to set") from None
    new = _set_path(child, path, rest, value)
    if isinstance(obj, tuple):
        items = list(obj)
        items[key] = new
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    obj[key] = new
    return obj


def max_inputs_mb() -> int:
    """The --inputs size limit: $GRADTRACE_MAX_INPUTS_MB, else 1024 (read when used, so
    a bad value is one clear error, not a traceback at import)."""
    env = os.environ.get("GRADTRACE_MAX_INPUTS_MB", "").strip()
    if not env:
        return 1024
    try:
        return max(int(env), 1)
    except ValueError:
        raise GradtraceError(f"GRADTRACE_MAX_INPUTS_MB must be a whole number of MiB, not "
                             f"{env!r:.40}") from None


def _check_npz_size(p: Path) -> None:
    """Refuse an .npz whose arrays would expand past the limit, before reading any of them
    (a small compressed file can declare gigabytes, and an array's header can declare
    far more than its member holds)."""
    limit = max_inputs_mb()
    try:
        with zipfile.ZipFile(p) as z:
            members = z.infolist()
            total = sum(info.file_size for info in members)
            declared = sum(_declared_bytes(z, info) for info in members)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise GradtraceError(f"cannot read {p} as .npz: {e}") from None
    if max(total, declared) > limit * 2**20:
        raise GradtraceError(f"{p} expands to {max(total, declared) / 2**20:,.0f} MiB, over "
                             f"the {limit} MiB limit for --inputs (set "
                             "GRADTRACE_MAX_INPUTS_MB to raise it)")
    if declared > total:
        raise GradtraceError(f"cannot read {p} as .npz: its arrays declare "
                             f"{declared:,} bytes but it holds {total:,} (truncated or corrupt)")


def _declared_bytes(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes an .npy member's header says its array needs (0 for other members)."""
    if not info.filename.endswith(".npy"):
        return 0
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(f))
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def build_inputs(fn: Callable, sets: tuple[str, ...] = (), inputs_file: str | None = None,
                 file_values: dict | None = None) -> dict[str, Any]:
    """Keyword arguments for ``fn``: defaults, then --inputs (or ``file_values``, what it
    held, read already), then --set."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    given: dict[str, Any] = dict(file_values or {})
    if inputs_file:
        given.update(read_inputs_file(inputs_file))
    for item in sets:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise GradtraceError(f"--set '{item}' must look like NAME=VALUE")
        value = parse_value(name, text.strip())
        default = params[name].default if name in params else None
        int_default = isinstance(default, int) and not isinstance(default, bool)
        if isinstance(value, int) and not int_default:
            value = float(value)   # --set w=2 means the float 2.0 unless w counts something
        if isinstance(value, str) and _numeric_default(default):
            raise GradtraceError(
                f"--set {name}={text.strip()}: '{name}' is a number (its default is "
                f"{_short(default)}), and {text.strip()!r} is not one; give a number "
                f"(--set {name}=0.5) or a JSON list of numbers (--set {name}='[1, 2]')")
        given[name] = value
    for name, value in given.items():      # [1, 2] for a float parameter is a float array
        if name in params and _floating_default(params[name].default) and \
                isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            given[name] = value.astype(float)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for path in [k for k in given if _root(k) != k]:     # params.W1, layers[0].b
        root = _root(path)
        if root not in params or params[root].default is inspect.Parameter.empty:
            raise GradtraceError(f"--set/--inputs {path}: the function has no parameter "
                                 f"'{root}' with a default to set it in")
        base = given.get(root, params[root].default)
        given[root] = _set_path(copy.deepcopy(base), path, _steps(path)[1:], given.pop(path))
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


def _numeric_default(default) -> bool:
    if isinstance(default, (int, float, np.number)) and not isinstance(default, bool):
        return True
    return isinstance(default, np.ndarray) and default.dtype.kind in "iuf"


def _floating_default(default) -> bool:
    return isinstance(default, (float, np.floating)) or \
        (isinstance(default, np.ndarray) and default.dtype.kind == "f")


def _short(default) -> str:
    return f"an array of shape {default.shape}" if isinstance(default, np.ndarray) else \
        repr(default)


def trace_target(target: str, sets: tuple[str, ...] = (), inputs_file: str | None = None,
                 wrt=None, pick: str | None = None):
    """Load TARGET, trace it on its inputs and run backward: what every command starts with.

    A non-scalar output is seeded with ones (the gradient of its sum).  A function that
    returns a micrograd-style ``Value`` is read as that Value graph (``gt.from_micrograd``).
    Returns the trace and a short name for output files.
    """
    # the inputs are read (and --set values parsed) before the model file is imported,
    # so an error in them is not met after the model's own top-level code has run
    file_values = read_inputs_file(inputs_file) if inputs_file else None
    for item in sets:
        name, _, text = item.partition("=")
        parse_value(name.strip(), text.strip())
    fn, short = load_target(target)
    try:
        t = trace(fn, wrt=list(wrt) if wrt else None, output=pick,
                  **build_inputs(fn, sets, file_values=file_values))
    except OutputError as e:       # a function that builds a micrograd-style Value graph
        if not (hasattr(e.result, "_prev") and hasattr(e.result, "_op")):
            raise
        t = from_micrograd(e.result)
        t.grade()                  # the engine's own .grad, where it differs, is drawn too
        return t, short
    t.backward(seed=None if isinstance(t.value, float) else np.ones(np.shape(t.value)))
    return t, short
