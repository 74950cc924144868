"""Checks of what callers hand the public API, so that misuse is a GradtraceError that
names the argument, not a TypeError or RecursionError from deep inside."""

from __future__ import annotations

import contextlib

import numpy as np

from .errors import TraceError, option


def check_call(fn, wrt) -> None:
    """Misuse named before anything runs: a numpy ufunc as the function, a wrt that is
    not input names."""
    if isinstance(fn, np.ufunc):
        xs = ", ".join(f"x{i}" for i in range(1, fn.nin + 1)) if fn.nin > 1 else "x"
        raise TraceError(f"gt.trace(np.{fn.__name__}, ...): a numpy ufunc has no parameter "
                         f"names to call its inputs by; wrap it: gt.trace(lambda {xs}: "
                         f"np.{fn.__name__}({xs}), ...)")
    if isinstance(fn, type) and not any(k.__module__.startswith("torch") for k in fn.__mro__):
        name = fn.__name__
        raise TraceError(
            f"{name} is a class; gradtrace traces a function or a method: make an instance "
            f"and trace its method, " + option(
                f"gt.trace({name}().forward, ...) or gt.trace(obj, ...) for an instance "
                "with __call__",
                f"e.g. FILE.py:NET.forward for an instance NET = {name}() made in the file")
            + ", or write a function that builds it and returns the loss")
    names = [wrt] if isinstance(wrt, str) else wrt
    if wrt is not None and not (isinstance(names, (list, tuple, set, frozenset)) and
                                all(isinstance(n, str) for n in names)):
        raise TraceError(f"wrt must be an input name or a list of input names, not {wrt!r}")


@contextlib.contextmanager
def nesting():
    """Walking the inputs: a structure that contains itself, or nests past Python's
    recursion limit, is refused by name, not met as a RecursionError."""
    try:
        yield
    except RecursionError:
        raise TraceError("the inputs nest too deeply (or a list or dict contains itself); "
                         "gradtrace walks dicts, lists and tuples of inputs, so pass the "
                         "arrays themselves, or a flatter structure") from None
