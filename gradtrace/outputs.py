"""Which value of a function's result to differentiate: ``output=``.

Karpathy's models return ``(logits, loss)``; a training step may return a dict.
``output`` picks the value: an index (``1``, or ``"1"`` from the command line), a key
(``"loss"``), or a function of the result (``output=lambda out: out[1]``).  A tuple,
list or dict with exactly one scalar traced value and no ``output=`` uses that value,
with a note saying which; with none or several, the error lists what was returned.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import TraceError, option, warn_user

CONTAINERS = (tuple, list, dict)
PICK = option("output=", "--pick")


def _given(output) -> str:
    """The selector as the caller wrote it: ``output=1`` in Python, ``--pick 1`` on the
    command line."""
    return option(f"output={output!r}", f"--pick {output}")


def pick(result, output, fname: str):
    """The part of ``result`` that ``output`` selects (``result`` itself for None)."""
    if output is None:
        return result
    if callable(output):
        try:
            return output(result)
        except Exception as e:
            raise TraceError(f"output={getattr(output, '__name__', output)} failed on what "
                             f"{fname} returned (a {type(result).__name__}): "
                             f"{type(e).__name__}: {e}") from None
    if isinstance(result, dict):
        if output not in result:
            raise TraceError(f"{_given(output)}: {fname} returned a dict with keys "
                             f"{', '.join(map(repr, result))}; name one of them")
        return result[output]
    if isinstance(result, (tuple, list)):
        index = int(output) if isinstance(output, str) and output.lstrip("-").isdigit() \
            else output
        if type(index) is not int or not -len(result) <= index < len(result):
            raise TraceError(f"{_given(output)}: {fname} returned a {type(result).__name__} "
                             f"of {len(result)} values; give an index 0 .. {len(result) - 1}")
        return result[index]
    raise TraceError(f"{_given(output)} selects from a tuple, list or dict, but {fname} "
                     f"returned a {type(result).__name__}; leave {PICK} out")


def choose(result, output, fname: str, is_scalar: Callable) -> tuple[object, Callable | None]:
    """The value to differentiate and the selector re-runs apply (None: the result
    itself).  ``is_scalar`` says whether a part is a scalar traced value."""
    if output is not None:
        return pick(result, output, fname), lambda r: pick(r, output, fname)
    if not isinstance(result, CONTAINERS):
        return result, None
    parts = list(result.items()) if isinstance(result, dict) else list(enumerate(result))
    scalars = [k for k, v in parts if is_scalar(v)]
    if len(scalars) != 1:
        what = "no scalar traced value" if not scalars else \
            f"{len(scalars)} scalar traced values ({', '.join(map(repr, scalars))})"
        raise TraceError(f"{fname} returned a {type(result).__name__} of {len(parts)} values "
                         f"with {what}; pick the value to differentiate with "
                         + option("output= (an index or key, or a function: output=lambda "
                                  "out: out[1])", "--pick INDEX|KEY (e.g. --pick 1)"))
    key = scalars[0]
    warn_user(f"{fname} returned a {type(result).__name__}; differentiating its "
              f"{'value ' + repr(key) if isinstance(result, dict) else f'element {key}'}, "
              f"the only scalar traced value in it ({PICK} picks another)")
    return result[key], lambda r: r[key]
