"""What a torch trace can reach: modules and tensors that want a gradient.

``nn.Module.named_parameters`` sees only registered submodules and parameters.  A
model that keeps layers in a plain Python list (``self.layers = [nn.Linear(...)]``),
a bare ``nn.Parameter`` in a dict, or a weight the function closes over is still
trained by torch's autograd, so gradtrace must trace it too: this module walks the
arguments, every reached module's own attributes, and the names the traced function
reads from its closure and globals, and names what it finds by access path
(``model.layers[0].weight``, ``W``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..record import inputs as _inputs


@dataclass
class Reach:
    modules: list[tuple[str, torch.nn.Module]] = field(default_factory=list)
    tensors: list[tuple[str, torch.Tensor]] = field(default_factory=list)  # requires_grad
    params: dict[str, torch.Tensor] = field(default_factory=dict)   # filled by the recorder
    opaque: dict[str, str] = field(default_factory=dict)   # float holders it cannot walk -> why
    _seen: set = field(default_factory=set)

    def module(self, path: str, m: torch.nn.Module) -> None:
        if id(m) in self._seen:
            return
        self.modules.append((path, m))
        own = f"{path}." if path else ""
        for sub in m.modules():
            self._seen.add(id(sub))
            for p in list(sub.parameters(recurse=False)) + list(sub.buffers(recurse=False)):
                self._seen.add(id(p))
        for sub_path, sub in list(m.named_modules()):
            prefix = own + sub_path if sub_path else path
            for attr, value in vars(sub).items():
                if not attr.startswith("_"):           # torch's own bookkeeping
                    self.walk(f"{prefix}.{attr}" if prefix else attr, value)

    def walk(self, path: str, value, tensors: bool = True) -> None:
        """Everything reachable from one value (lists, dicts, plain objects); tensors
        only where the arguments' own walk does not already make them inputs."""
        def visit(p, x):
            if isinstance(x, torch.nn.Module):
                self.module(p, x)
            elif tensors and isinstance(x, torch.Tensor) and x.requires_grad and \
                    x.is_floating_point() and id(x) not in self._seen:
                self._seen.add(id(x))
                self.tensors.append((p, x))
            return x
        _inputs.rebuild(value, path, visit)


def reach(fn, named: dict) -> Reach:
    """Modules (with their path prefix) and unregistered tensors that want a gradient,
    reached from the traced function ``fn`` and its arguments ``named``."""
    found = Reach()
    if isinstance(fn, torch.nn.Module):
        found.module("", fn)
    for k, v in named.items():
        found.walk(k, v, tensors=False)
    for name, value in _free_names(fn):
        if isinstance(value, (torch.nn.Module, torch.Tensor, list, tuple, dict)) or \
                _inputs.walkable(value):
            found.walk(name, value)
    return found


def _free_names(fn) -> list[tuple[str, object]]:
    """The closure variables and globals a plain function's own code reads."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    out = []
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            out.append((name, cell.cell_contents))
        except ValueError:             # an empty cell
            pass
    space = getattr(fn, "__globals__", {})
    out += [(n, space[n]) for n in code.co_names if n in space]
    return out
