"""The exceptions and warnings gradtrace raises.

Every error a user can cause is a ``GradtraceError`` whose message says what was
wrong and what to do, so the CLI can print it as one line instead of a traceback.
"""

import os
import sys
import warnings
from types import FrameType


class GradtraceError(Exception):
    """Base class: a problem with the user's function, inputs or request."""


class TraceError(GradtraceError):
    """The function could not be traced (bad input, unsupported op, bad output)."""


class OutputError(TraceError):
    """The function returned something that is not a number or float array; the value it
    returned is kept as ``result`` (the CLI reads a micrograd-style Value graph from it)."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class UnsupportedOpError(TraceError):
    """A numpy function or ufunc that gradtrace does not know how to differentiate."""


class BackwardError(GradtraceError):
    """The chain-rule pass cannot run (non-scalar output without a seed, bad seed)."""


class RenderError(GradtraceError):
    """Graphviz is missing, failed, or ran past its time limit."""


class GradtraceWarning(UserWarning):
    """Something suspicious but allowed, such as NaN or inf among the inputs."""


def warn_user(message: str) -> None:
    """A GradtraceWarning pointing at the first line outside gradtrace (however deep in the
    package it was raised), so the note names the user's call."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, GradtraceWarning, stacklevel=level + 1)
