"""``gt.grade(root)``: compare a student's ``.grad`` on every Value with gradtrace's, and
say what went wrong in the lesson's terms.

The first wrong node in backward order is the place to look: every node that feeds
back into it (its consumers) is still right, so what reached it is known exactly and
the error is in how the student combined it: an assignment where a fan-out needs a
sum (``=`` for ``+=``), a wrong local derivative of one op, or gradients never reset
between two ``backward()`` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.graph import consumers, nodes_of, preds_of
from ..notation import num, partial, signed_term
from .walk import student_grad

RTOL, ATOL = 1e-6, 1e-9


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b))


@dataclass
class Mismatch:
    name: str
    student: float
    correct: float


@dataclass
class GradeReport:
    """What ``gt.grade`` found: ``ok``, the ``mismatches`` in backward order, the
    ``first`` wrong node's name, and ``text`` explaining it."""

    ok: bool
    mismatches: list[Mismatch]
    first: str | None
    text: str
    checked: int
    trace: Any = field(repr=False)       # the MicrogradTrace graded

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return self.ok


def grade_trace(t) -> GradeReport:
    """Grade the ``.grad`` values a student's ``backward()`` left on the Values that
    ``t`` was read from (``gt.from_micrograd``)."""
    return _Grader(t).report()


class _Grader:
    def __init__(self, t):
        self.t = t
        self.g = t.graph
        self.nodes = nodes_of(self.g)
        self.step_of = {n: i for i, n in enumerate(t.node_of)}
        grads = t.tape.grads
        assert grads is not None
        self.correct = [float(grads[n]) for n in t.node_of]
        self.student = [student_grad(s.value) for s in t.steps]
        self.names = [self.nodes[n]["name"] or "?" for n in t.node_of]

    def report(self) -> GradeReport:
        order = range(len(self.t.steps) - 1, -1, -1)           # backward order
        wrong = [i for i in order if not _same(self.student[i], self.correct[i])]
        mismatches = [Mismatch(self.names[i], self.student[i], self.correct[i]) for i in wrong]
        first = self.names[wrong[0]] if wrong else None
        n = len(self.t.steps)
        if not wrong:
            text = (f"all {n} gradients match: every .grad equals "
                    f"{partial(self.names[-1], '(that value)')}")
            self.t.headline = (f"✓ gt.grade: your engine's .grad matches the chain rule at "
                               f"all {n} values")
            return GradeReport(True, mismatches, first, text, n, self.t)
        found = self._explain(wrong[0])
        if any(s != 0 for s in self.student):        # (no backward at all: nothing to mark)
            self._mark(wrong, found)
            self.t.headline = (f"✗ gt.grade: {len(wrong)} of {n} .grad values differ from "
                               f"the chain rule (marked ✗); the first, in backward order: "
                               f"{first}")
        else:
            self.t.headline = f"✗ gt.grade: {found}"
        return GradeReport(False, mismatches, first, found + self._listing(mismatches), n, self.t)

    def _mark(self, wrong: list[int], found: str) -> None:
        """Each wrong node carries the student's .grad (drawn beside the right one, in its
        own colour) and the grade's words for it (the page says them at its step)."""
        for i in wrong:
            attrs = self.nodes[self.t.node_of[i]]
            attrs["student"] = self.student[i]
            attrs["graded"] = (f"✗ {found}" if i == wrong[0] else
                               f"✗ your .grad of {self.names[i]} is {num(self.student[i], 4)}, "
                               f"the chain rule gives {num(self.correct[i], 4)} (the first wrong "
                               f".grad, in backward order, is {self.names[wrong[0]]}'s)")

    # ------------------------------------------------------------ diagnoses
    def _explain(self, i: int) -> str:
        if all(s == 0 for s in self.student):
            return ("no backward pass ran: every .grad is 0 (call backward() on the output "
                    "before grading or drawing the gradients)")
        passes = self._repeated_passes()
        if passes:
            return (f"your gradients are what {passes} backward() calls give when .grad is "
                    "never reset in between: each call adds to what the last one left. Set "
                    "every .grad to 0 before calling backward() again (zero_grad)")
        uses = self._uses(i)
        if len(uses) > 1:
            return self._fan_out(i, uses)
        if len(uses) == 1:
            return self._local(i, uses[0])
        return (f"{self.names[i]} is the output: its .grad must be 1 (∂{self.names[i]}/∂"
                f"{self.names[i]}), yours is {num(self.student[i], 4)}")

    def _uses(self, i: int) -> list:
        """(consumer step, edge) for every argument slot that uses step i."""
        return [(self.step_of[v], e) for v, _k, e in consumers(self.g, self.t.node_of[i])]

    def _fan_out(self, i: int, uses) -> str:
        name = self.names[i]
        terms = [float(e["contribution"]) for _j, e in uses]
        total = " + ".join(signed_term(x, 4) for x in terms) + f" = {num(self.correct[i], 4)}"
        head = f"{name} feeds {len(uses)} paths, so its gradient is the sum of what each path "
        head += f"sends back: {total}. "
        s = self.student[i]
        for (j, _e), x in zip(uses, terms):
            if _same(s, x):
                twice = sum(1 for k, _ in uses if k == j)
                path = (f"one of {self.names[j]}'s {twice} uses of {name}" if twice > 1
                        else f"the path through {self.names[j]}")
                return (head + f"Your .grad is {num(s, 4)}: {path} only (assignment "
                        "instead of +=? each path must add to .grad)")
        return head + f"Your .grad is {num(s, 4)}, which is not that sum"

    def _local(self, i: int, use) -> str:
        j, e = use
        step = self.t.steps[j]
        upstream = self.student[j]
        op = step.spelled or step.op
        formula = e.get("formula") or ""
        local = e.get("local")
        right = (f"{partial(self.names[j], self.names[i])} = {formula} = "
                 f"{num(float(local), 4)}" if local is not None else "")
        if upstream == 0 or not math.isfinite(upstream):
            return (f"{self.names[i]}: your .grad is {num(self.student[i], 4)}, the correct "
                    f"value is {num(self.correct[i], 4)} ({right})")
        theirs = self.student[i] / upstream
        return (f"{op}: your local derivative is {num(theirs, 4)}, {formula} = "
                f"{num(float(local), 4)} (at {self.names[j]}: .grad {num(upstream, 4)} "
                f"times the local derivative gives {self.names[i]}'s gradient "
                f"{num(self.correct[i], 4)}, yours is {num(self.student[i], 4)})"
                if local is not None else
                f"{op}: {self.names[i]}'s .grad is {num(self.student[i], 4)}, correct "
                f"{num(self.correct[i], 4)}")

    def _repeated_passes(self) -> int:
        """k (2 to 5) when the student's grads equal k accumulating backward passes."""
        n = len(self.t.steps)
        locals_: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for j in range(n):
            for u, keyed in preds_of(self.g)[self.t.node_of[j]].items():
                for e in keyed.values():
                    locals_[j].append((self.step_of[u], float(e["local"])))
        acc = [0.0] * n
        for k in range(1, 6):
            acc[-1] = 1.0                        # backward() sets the output's grad to 1
            for j in range(n - 1, -1, -1):
                for u, local in locals_[j]:
                    acc[u] += local * acc[j]
            if k >= 2 and all(_same(a, s) for a, s in zip(acc, self.student)):
                return k
        return 0

    def _listing(self, mismatches: list[Mismatch]) -> str:
        rows = [f"  {m.name}: yours {num(m.student, 4)}, correct {num(m.correct, 4)}"
                for m in mismatches[:12]]
        more = f"\n  … and {len(mismatches) - 12} more" if len(mismatches) > 12 else ""
        return (f"\n{len(mismatches)} of {len(self.t.steps)} gradients differ (backward "
                "order):\n" + "\n".join(rows) + more)
