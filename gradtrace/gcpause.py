"""Pausing Python's cyclic garbage collector while a big graph is built.

Tracing and loading make millions of small dicts; the cyclic GC scanning them
again and again costs more than building them, and none of them is cyclic
garbage.  Pauses nest across threads, and the collector is always switched back
on when the last one ends (never left off, never frozen).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0


def pause() -> bool:
    """Pause the collector; returns False if it was already off for another reason."""
    global _depth
    with _lock:
        if _depth == 0 and gc.isenabled():
            gc.disable()
            _depth = 1
        elif _depth:
            _depth += 1
        else:
            return False
    return True


def resume() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0:
            gc.enable()


@contextmanager
def paused():
    did = pause()
    try:
        yield
    finally:
        if did:
            resume()
