"""Where the user's code is: which files are theirs, which names a line of theirs
loads, and what it was doing when an error came up (for messages that name the line
to change, and for the constructors that act only on the user's own calls)."""

from __future__ import annotations

import dis
import os
import sys
import sysconfig

from ..errors import GradtraceError
from .naming import INTERNAL_FILES, PACKAGE_DIR

_LIBRARY_DIRS = tuple({PACKAGE_DIR + os.sep,
                       *(os.path.abspath(p) + os.sep for p in (
                           sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")))})
_user_file: dict[str, bool] = {}
_line_names: dict[tuple, frozenset] = {}


def is_user_file(filename: str) -> bool:
    """Code the user wrote (not gradtrace's, numpy's or another installed library's)."""
    mine = _user_file.get(filename)
    if mine is None:
        path = os.path.abspath(filename)
        mine = _user_file[filename] = not path.startswith(_LIBRARY_DIRS) or (
            path.startswith(PACKAGE_DIR + os.sep) and path not in INTERNAL_FILES)  # examples
    return mine


def called_from_user(fname: str, depth: int = 2) -> bool:
    """Did the user's code (not numpy's, not ours, not a compiled module such as
    numpy.random calling ``np.empty``) call the constructor ``fname`` by that name?"""
    frame = sys._getframe(depth)
    code = frame.f_code
    if not is_user_file(code.co_filename):
        return False
    return fname in _names_on_line(code, frame.f_lineno)


def _names_on_line(code, line: int) -> frozenset:
    key = (code, line)
    names = _line_names.get(key)
    if names is None:
        if len(_line_names) > 4096:
            _line_names.clear()
        names = _line_names[key] = frozenset(
            i.argval for i in dis.get_instructions(code)
            if i.positions is not None and i.positions.lineno == line
            and i.opname.startswith("LOAD_") and isinstance(i.argval, str))
    return names


def user_frame(frame):
    while frame is not None and not is_user_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def storing_subscript(frame) -> bool:
    """Is the user's code at ``arr[i] = ...`` (numpy converting a value it writes)?"""
    frame = user_frame(frame)
    if frame is None:
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == frame.f_lasti:
            return ins.opname == "STORE_SUBSCR"
    return False


def math_culprit(frame) -> str | None:
    """``from math import tanh; tanh(z)``: the math function named on the user's line
    (bound before the trace, so it could not be intercepted), as 'tanh'."""
    frame = user_frame(frame)
    if frame is None:
        return None
    scope = {**frame.f_globals, **frame.f_locals}
    for name in sorted(_names_on_line(frame.f_code, frame.f_lineno)):
        obj = scope.get(name)
        if callable(obj) and getattr(obj, "__module__", None) == "math":
            return getattr(obj, "__name__", name)
    return None


_MATH = {name: name for name in (
    "exp", "expm1", "log1p", "log10", "log2", "sqrt", "sin", "cos", "tan", "sinh", "cosh",
    "tanh", "fabs", "hypot", "degrees", "radians", "atan2", "cbrt", "exp2")} | {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh"}


MATH_NAMES = ("log", "pow", *_MATH)
NUMPY_NAME = {**_MATH, "log": "log", "pow": "power"}


def located(e: GradtraceError) -> GradtraceError:
    """The error with the user's ``file:line:`` in front: the innermost frame of the
    user's own code the error passed through (the line to change)."""
    where = None
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename not in INTERNAL_FILES and is_user_file(code.co_filename):
            where = (code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if where is not None and e.args and isinstance(e.args[0], str):
        prefix = f"{os.path.basename(where[0])}:{where[1]}: "
        if not e.args[0].startswith(prefix):
            e.args = (prefix + e.args[0], *e.args[1:])
    return e
