"""Sequence tasks for the fast-weight study: each a data generator and a metric, usable by every
model (``hebbformer.models.sequence``)."""

from __future__ import annotations

from .association import Association
from .base import Batch, Task
from .copy import Copy
from .fewshot import FewShot
from .regression import Regression

__all__ = ["Task", "Batch", "Copy", "Regression", "Association", "FewShot", "build_task", "TASKS"]

TASKS = ("copy", "regression_linear", "regression_sine", "association", "fewshot")


def build_task(name: str, data=None) -> Task:
    """A task by name; ``data`` (a DataConfig) picks the few-shot data set (default: glyphs)."""
    if name == "copy":
        return Copy()
    if name.startswith("regression_") and name in TASKS:
        return Regression(name.removeprefix("regression_"))
    if name == "association":
        return Association()
    if name == "fewshot":
        return FewShot(data)
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
