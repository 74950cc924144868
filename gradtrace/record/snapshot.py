"""Read-only copies of the arrays a trace records, made into memory that is reused.

A trace keeps its inputs and constant arrays as they were when they entered it, so
nothing the caller or the function writes later changes a recorded value; every
writable array is copied.  Into fresh memory that copy costs far more than the
copying: each new page faults (a 784×256 weight matrix is 392 pages), and glibc
returns big freed blocks to the system, so every trace of a training loop pays it
again (on the benchmark's tanh MLP, 2.1 ms of a 6.7 ms trace + backward).

So copies go into buffers kept here, and a buffer is handed out again only when
nothing else refers to it.  Every array made from a buffer holds a reference to
it (numpy points each view's ``base`` at the buffer that owns the memory), so its
reference count says when the last trace and the last view using it are gone: no
recorded value can change under anyone.  The buffers themselves are read-only
whenever they are not being filled.  Buffers the previous trace did not use are
released when the next trace starts, and at most ``MAX_HELD`` bytes are kept.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

MAX_HELD = 64 * 2**20   # bytes of buffers this module refers to, in use or free
MIN_POOLED = 64 * 1024  # smaller arrays come from malloc's own free lists cheaply

_lock = threading.Lock()
_pool: dict[int, list[list]] = {}   # nbytes -> [[buffer, generation it was last handed out]]
_held = 0
_generation = 0


def _refs(entry: list) -> int:
    return sys.getrefcount(entry[0])


_FREE = _refs([object()])   # the count of a buffer only the pool refers to (measured, not
                            # assumed: interpreters count borrowed references differently)


def snapshot(value: np.ndarray) -> np.ndarray:
    """``value`` as it is now, read-only for good: always a copy (the owner of a
    read-only array can make it writable again), handed out as a view of memory that
    is read-only itself, so the view's flag cannot be turned back on."""
    # a subclass (np.matrix ...) keeps its type through .copy(); the pool makes ndarrays
    pooled = type(value) is np.ndarray and value.nbytes >= MIN_POOLED
    buf = _take(value.nbytes) if pooled else None
    if buf is None:
        return frozen(value.copy())
    buf.flags.writeable = True
    copy = buf.view(value.dtype).reshape(value.shape)
    np.copyto(copy, value, casting="no")
    buf.flags.writeable = False
    copy.flags.writeable = False
    return copy


def frozen(owned: np.ndarray) -> np.ndarray:
    """A read-only view of an array nobody else refers to, itself made read-only."""
    owned.flags.writeable = False
    view = owned.view()
    view.flags.writeable = False
    return view


def _take(nbytes: int) -> np.ndarray | None:
    """A free buffer of exactly ``nbytes``, or a new one (None: over ``MAX_HELD``)."""
    global _held
    with _lock:
        entries = _pool.setdefault(nbytes, [])
        for entry in entries:
            if _refs(entry) == _FREE:
                entry[1] = _generation
                return entry[0]
        if _held + nbytes > MAX_HELD:
            return None
        buf = np.empty(nbytes, dtype=np.uint8)
        entries.append([buf, _generation])
        _held += nbytes
        return buf


def new_trace() -> None:
    """A trace starts: let go of the free buffers the previous one did not use."""
    global _generation, _held
    with _lock:
        _generation += 1
        for nbytes, entries in list(_pool.items()):
            keep = [e for e in entries if e[1] >= _generation - 1 or _refs(e) != _FREE]
            _held -= nbytes * (len(entries) - len(keep))
            if keep:
                _pool[nbytes] = keep
            else:
                del _pool[nbytes]


def held() -> tuple[int, int]:
    """(bytes of buffers kept, bytes of them free now): for tests and the benchmark."""
    with _lock:
        free = sum(n for n, es in _pool.items() for e in es if _refs(e) == _FREE)
        return _held, free
