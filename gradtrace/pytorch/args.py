"""A torch call's arguments as one flat list and back, for the bridge's hot path.

Most calls are flat (``F.linear(x, W, b)``) or hold one list (``torch.cat([a, b])``);
those are flattened here in a few list operations.  Anything nested deeper (dicts,
named tuples, lists of lists) goes through torch's own pytree, which costs about as
much as recording the call itself on small tensors.
"""

from __future__ import annotations

from torch.utils._pytree import tree_flatten, tree_unflatten

_PYTREE = object()        # marks a layout torch's pytree describes


def flatten(args: tuple, kwargs: dict) -> tuple[list, object]:
    """(every leaf, in order; a layout ``unflatten`` rebuilds the call from)."""
    flat: list = []
    layout: list = []
    for a in args:
        t = type(a)
        if t is list or t is tuple:
            for x in a:
                if isinstance(x, (list, tuple, dict)):
                    return _slow(args, kwargs)
            flat.extend(a)
            layout.append((t, len(a)))
        elif isinstance(a, (list, tuple, dict)):      # named tuples, dict arguments
            return _slow(args, kwargs)
        else:
            flat.append(a)
            layout.append(None)
    for v in kwargs.values():
        if isinstance(v, (list, tuple, dict)):
            return _slow(args, kwargs)
        flat.append(v)
    return flat, (layout, tuple(kwargs))


def _slow(args, kwargs):
    flat, spec = tree_flatten((args, kwargs))
    return flat, (_PYTREE, spec)


def unflatten(flat: list, layout) -> tuple[tuple, dict]:
    """The call's (args, kwargs) with the flat leaves put back."""
    shape, keys = layout
    if shape is _PYTREE:
        return tree_unflatten(flat, keys)
    args = []
    i = 0
    for part in shape:
        if part is None:
            args.append(flat[i])
            i += 1
        else:
            t, n = part
            args.append(t(flat[i:i + n]))
            i += n
    return tuple(args), dict(zip(keys, flat[i:]))
