"""Where an op was called from: the user's variable name and enclosing scopes.

``z = w * a + b`` names the add node ``z`` because the bytecode right after the
add stores into ``z``.  We read that once per code object with ``dis`` and keep
a table offset -> what follows, so each op costs a dict lookup and a short frame
walk, not a trace hook.  A ``return`` passes the question to the caller, so a
helper ``def neuron(...): return sigmoid(z)`` names its result after the
caller's variable.
"""

from __future__ import annotations

import dis

RETURN = object()  # the op's value is returned, ask the caller

_STORE_OPS = {"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF", "STORE_ATTR",
              "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST"}
_RETURN_OPS = {"RETURN_VALUE"}
_CALL_OPS = {"CALL", "CALL_FUNCTION_EX", "CALL_KW", "PRECALL", "CALL_FUNCTION",
             "CALL_METHOD", "CALL_FUNCTION_KW"}

_TABLES: dict = {}
_MAX_TABLES = 4096


def _build_table(code) -> dict[int, tuple[bool, object]]:
    # An instruction owns the offsets up to the next one: in 3.11 a frame that is
    # inside a Python-level call reports the CALL's last inline-cache offset.
    instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    table: dict[int, tuple[bool, object]] = {}
    for here, nxt in zip(instrs, instrs[1:]):
        what: object = None
        if nxt.opname in _STORE_OPS:
            what = nxt.argval[0] if isinstance(nxt.argval, tuple) else nxt.argval
        elif nxt.opname in _RETURN_OPS:
            what = RETURN
        entry = (here.opname in _CALL_OPS, what)
        for offset in range(here.offset, nxt.offset, 2):
            table[offset] = entry
    return table


def site_of(frame) -> tuple[bool, object]:
    """(is the current instruction a call?, stored name / RETURN / None) for a frame."""
    code = frame.f_code
    table = _TABLES.get(code)
    if table is None:
        if len(_TABLES) >= _MAX_TABLES:
            _TABLES.clear()
        table = _TABLES[code] = _build_table(code)
    return table.get(frame.f_lasti, (False, None))
