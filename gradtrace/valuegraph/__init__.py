"""micrograd-style Value graphs: draw them, and grade a student's backward pass."""

from .convert import MicrogradTrace, from_micrograd, grade
from .grading import GradeReport, Mismatch
from .names import watch

__all__ = ["from_micrograd", "grade", "watch", "MicrogradTrace", "GradeReport", "Mismatch"]
