"""Pausing Python's cyclic garbage collector while a big graph is built.

Tracing and loading make millions of small dicts; the cyclic GC scanning them
again and again costs more than building them, and none of them is cyclic
garbage.  Pauses nest across threads.  A pause sets the collector's first
threshold to 0 (no automatic collection) rather than calling ``gc.disable()``,
so the on/off switch stays the user's: a traced function that calls
``gc.disable()`` (or ``gc.enable()``) finds it as it left it after the trace, and
a threshold it sets is kept.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


def pause() -> bool:
    """Pause automatic collection; returns False if it was already off (the user's
    ``gc.disable()``, or a threshold of 0)."""
    global _depth, _saved
    with _lock:
        if _depth:
            _depth += 1
            return True
        threshold = gc.get_threshold()
        if not gc.isenabled() or threshold[0] == 0:
            return False
        _saved = threshold
        gc.set_threshold(0, *threshold[1:])
        _depth = 1
    return True


def resume() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0 and gc.get_threshold()[0] == 0:   # (else the user set one: theirs)
            gc.set_threshold(*_saved)


@contextmanager
def paused():
    did = pause()
    try:
        yield
    finally:
        if did:
            resume()
