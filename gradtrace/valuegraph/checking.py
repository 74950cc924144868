"""``check`` on a micrograd-style Value graph: gradtrace's chain rule over the replayed
graph and the engine's own ``.grad`` on every leaf, each against central finite
differences of the replayed forward pass.

A user who runs ``gradtrace check`` on their engine wants to know whether *its*
gradients are right; the chain rule's row says the replay itself is sound, the
``your .grad`` column says whether the engine's ``backward()`` agrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..calculus.gradcheck import CheckReport, InputCheck
from ..notation import num
from .walk import student_grad

COMPARED = "finite differences of your Value graph's forward pass (replayed)"


@dataclass
class ValueCheckReport(CheckReport):
    """A ``CheckReport`` with the engine's ``.grad`` per leaf beside backward's; ``ok``
    only when both agree with finite differences (the engine's column is left out when
    no ``backward()`` ran: every ``.grad`` still 0)."""

    yours: dict[str, float] = field(default_factory=dict)

    @property
    def backward_ran(self) -> bool:
        return any(g != 0 for g in self.yours.values())

    def yours_ok(self, c: InputCheck) -> bool:
        g = self.yours.get(c.name, math.nan)
        if not self.backward_ran or c.checked == 0:
            return True
        return math.isfinite(g) and abs(g - c.numeric) <= self.atol + self.rtol * max(
            abs(g), abs(c.numeric))

    @property
    def ok(self) -> bool:
        return self.gradients_ok and all(self.yours_ok(c) for c in self.inputs)

    def table(self) -> str:
        lines = super().table().split("\n")
        lines[0] = lines[0].replace("backward", "gradtrace", 1)    # (its chain rule)
        if not self.backward_ran:
            return "\n".join(lines)
        cells = ["your .grad"] + [
            f"{self.yours.get(c.name, math.nan):.6g}"
            + ("" if self.yours_ok(c) else "  YOURS DIFFER") for c in self.inputs]
        width = max(len(line) for line in lines)
        return "\n".join(line.ljust(width) + "  " + cell for line, cell in zip(lines, cells))

    def __str__(self) -> str:
        return super().__str__() + "\n" + self.yours_verdict()

    def yours_verdict(self) -> str:
        if not self.backward_ran:
            return ("your engine's .grad: every one is 0 (no backward() ran), so only "
                    "gradtrace's chain rule was checked")
        wrong = [c for c in self.inputs if not self.yours_ok(c)]
        if not wrong:
            n = len(self.inputs)
            return ("your engine's .grad: " + (f"all {n} leaves match" if n > 1 else
                                               "the leaf matches") + " finite differences")
        w = max(wrong, key=lambda c: abs(self.yours[c.name] - c.numeric))
        return (f"your engine's .grad: MISMATCH on {len(wrong)} of {len(self.inputs)} leaves, "
                f"worst {w.name} (yours {num(self.yours[w.name], 6)}, finite differences "
                f"{num(w.numeric, 6)}); `gradtrace grade` (gt.grade) finds the node where "
                "your backward() goes wrong")


def value_check(t, report: CheckReport) -> ValueCheckReport:
    """``report`` (backward against finite differences) with the engine's ``.grad`` on
    each leaf of the Value graph ``t`` was read from."""
    step_of = {n: i for i, n in enumerate(t.node_of)}
    yours = {name: student_grad(t.steps[step_of[nid]].value)
             for name, nid in t.inputs.items() if nid in step_of}
    fields = {k: getattr(report, k) for k in report.__dataclass_fields__}
    out = ValueCheckReport(**fields, yours=yours)
    out.compared = COMPARED
    return out
