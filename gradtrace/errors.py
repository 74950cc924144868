"""The exceptions and warnings gradtrace raises.

Every error a user can cause is a ``GradtraceError`` whose message says what was
wrong and what to do, so the CLI can print it as one line instead of a traceback.
"""

import os
import re
import sys
import warnings
from types import FrameType

# An option named in a message is written in both spellings, the API's and the command
# line's, between private markers; str() shows the API's, ``for_cli`` the flag.
_OPEN, _SEP, _CLOSE = "\x1d", "\x1f", "\x1e"
_OPTION = re.compile(f"{_OPEN}([^{_SEP}]*){_SEP}([^{_CLOSE}]*){_CLOSE}")


def option(api: str, cli: str) -> str:
    """``layout='fast'`` for Python, ``--layout fast`` on the command line: advice that
    names an option reads right wherever the error is shown."""
    return f"{_OPEN}{api}{_SEP}{cli}{_CLOSE}"


def spelled(text: str, cli: bool = False) -> str:
    """A message with each option in one spelling: the command line's when ``cli``."""
    return _OPTION.sub(lambda m: m[2] if cli else m[1], text)


class _Spelled:
    """str() gives the API's spelling of the options a message names; ``for_cli()`` the
    command line's."""

    def __str__(self) -> str:
        return spelled(super().__str__())

    def for_cli(self) -> str:
        return spelled(super().__str__(), cli=True)


class GradtraceError(_Spelled, Exception):
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


class GradtraceWarning(_Spelled, UserWarning):
    """Something suspicious but allowed, such as NaN or inf among the inputs."""


def warn_user(message: str, category: type[Warning] = GradtraceWarning) -> None:
    """A warning (a GradtraceWarning unless ``category`` says) pointing at the first line
    outside gradtrace (however deep in the package it was raised), so the note names the
    user's call."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
