"""The switchboard: every process-wide switch a running trace throws, in one place.

A trace (numpy or torch) changes state outside itself while it runs: the recorder
this thread records into (``recorder.ACTIVE``), a new generation of the snapshot
buffer pool, numpy's module functions wrapped so that lists of traced values work
(``constructors``; numpy traces only), and the cyclic garbage collector paused
(``gcpause``).  ``tracing`` turns them on in that order and back off in reverse,
whatever the traced function raises, so no switch is ever left thrown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import constructors, gcpause, snapshot
from .recorder import ACTIVE, Recorder


@contextlib.contextmanager
def tracing(rec: Recorder, numpy: bool = True,
            guard: contextlib.AbstractContextManager | None = None) -> Iterator[Recorder]:
    """Record into ``rec`` for the duration; ``numpy``: wrap numpy's list-taking
    functions; ``guard``: one more context the trace runs in (torch's refusal of numpy
    values in a numpy trace)."""
    snapshot.new_trace()
    token = ACTIVE.set(rec)
    if numpy:
        constructors.enter()
    paused = gcpause.pause()
    try:
        with guard if guard is not None else contextlib.nullcontext():
            yield rec
    finally:
        rec.forget_frames()
        rec.finish()
        ACTIVE.reset(token)
        if numpy:
            constructors.leave()
        if paused:
            gcpause.resume()
