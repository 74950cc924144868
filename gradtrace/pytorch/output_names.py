"""Naming the parts of a torch module call unpacked into several targets.

``out, (h_n, c_n) = self.lstm(x)``: the module's own code makes its output tensors in
an order of its choosing (``nn.LSTM`` makes h_n and c_n inside one call), so naming
the parts in creation order can give ``c_n``'s name to ``h_n``.  When the call
returns to the user's code, each output tensor is matched by identity to the target
the bytecode unpacks it into.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

import torch

from ..names.bytecode import unpack_targets
from ..names.naming import INTERNAL_FILES, OWN_DIR

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_CALL_MACHINERY = os.path.join(TORCH_DIR, "nn", "modules", "module.py")


def name_parts(rec, node_of, output, start: int) -> None:
    """Name each tensor of a module call's ``output`` after the target the user's code
    unpacks it into (nodes from ``start`` on are the call's own); no other node of the
    call keeps those names.  Only for a module the user's code called directly."""
    caller = _module_caller()
    targets = unpack_targets(caller) if caller is not None else None
    if targets is None:
        return
    rec.commit_pending()
    found: dict[int, str] = {}
    _match(output, targets, lambda t, name: found.setdefault(node_of(t) or -1, name))
    found.pop(-1, None)
    names = rec.names
    taken = set(found.values())
    for nid in range(start, rec.n):
        if names[nid] in taken:
            names[nid] = None
    for nid, name in found.items():
        names[nid] = name


def _match(value, targets, name) -> None:
    if isinstance(targets, str) and isinstance(value, torch.Tensor):
        name(value, targets)
    elif isinstance(targets, tuple) and isinstance(value, (tuple, list)) and \
            len(value) == len(targets):
        for v, t in zip(value, targets):
            _match(v, t, name)


def _module_caller() -> FrameType | None:
    """The user's frame that called the module whose forward hook runs now, if the
    user's code called it directly (not another module's torch code)."""
    f: FrameType | None = sys._getframe(3)
    while f is not None and (f.f_code.co_filename.startswith(OWN_DIR) or
                             f.f_code.co_filename == _CALL_MACHINERY):
        f = f.f_back
    if f is None or f.f_code.co_filename in INTERNAL_FILES or \
            f.f_code.co_filename.startswith(TORCH_DIR):
        return None
    return f
