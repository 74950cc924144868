"""What the CLI says when something goes wrong: gradtrace's errors and exceptions from
the user's code as one-line errors (exit status 2), gradtrace's warnings as one-line
notes on stderr."""

from __future__ import annotations

import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import GradtraceError, GradtraceWarning


class InputError(click.ClickException):
    """An error in what the user asked for: one line on stderr, exit status 2."""

    exit_code = 2


@contextmanager
def reported(what: str = ""):
    """Turn gradtrace errors and exceptions from the user's code into one-line errors,
    and gradtrace's warnings into one-line notes."""
    try:
        with notes():
            yield
    except click.ClickException:
        raise
    except GradtraceError as e:
        raise InputError(e.for_cli()) from None
    except SystemExit as e:
        raise InputError(f"running {what} called sys.exit({e.code!r}); a traced function must "
                         "return its result") from None
    except KeyboardInterrupt:
        raise InputError(f"running {what} raised KeyboardInterrupt") from None
    except Exception as e:  # the user's own function raised
        raise InputError(f"running {what} raised {type(e).__name__}{where_in_user_code(e)}: "
                         f"{e}") from None


@contextmanager
def notes():
    """GradtraceWarnings print as ``note: …`` on stderr (not with a file and line of click's
    or gradtrace's code); other warnings as Python shows them."""
    with warnings.catch_warnings():          # restores showwarning afterwards
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, GradtraceWarning):
                text = message.for_cli() if isinstance(message, GradtraceWarning) else message
                click.echo(f"note: {text}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)
        warnings.showwarning = show
        yield


def where_in_user_code(e: BaseException) -> str:
    """' at model.py:12' for the innermost frame of the traceback outside gradtrace."""
    own = str(Path(__file__).resolve().parent.parent)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(own)
              and "site-packages" not in f.filename and not f.filename.startswith("<frozen")]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {Path(f.filename).name}:{f.lineno}"
