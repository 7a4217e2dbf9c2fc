"""Sequence tasks for the fast-weight study: each a data generator and a metric, usable by every
model (``hebbformer.models.sequence``)."""

from __future__ import annotations

from .association import Association
from .base import Batch, Task
from .copy import Copy
from .duan import CueReward, DuanRegression, Reproduction
from .fewshot import FewShot
from .regression import Regression

__all__ = ["Task", "Batch", "Copy", "Regression", "Association", "FewShot", "CueReward", "Reproduction",
           "DuanRegression", "build_task", "TASKS"]

# Duan et al.'s tasks first (hebbformer.tasks.duan), then the study's earlier ones.
TASKS = ("cue_reward", "reproduction_delay", "reproduction_length", "regression_duan_linear", "regression_duan_mlp",
         "fewshot", "fewshot20", "copy", "regression_linear", "regression_sine", "association")


def build_task(name: str, data=None) -> Task:
    """A task by name; ``data`` (a DataConfig) picks the few-shot data set (default: glyphs).
    ``NAME@LEVEL`` is the task at that one level (trained and scored there only), as Duan et al.
    train one network per delay or length: ``reproduction_delay@40``."""
    base, at, level = name.partition("@")
    if at:
        task = build_task(base, data)
        named = task.named_levels or task.levels
        if not level.isdigit() or int(level) not in named:
            raise ValueError(f"task {name!r}: {task.name}'s {task.level_name} is one of "
                             f"{', '.join(map(str, named))}, not {level!r}")
        task.levels = (int(level),)
        task.name = f"{task.name}@{level}"
        return task
    if name == "cue_reward":
        return CueReward()
    if name.startswith("reproduction_") and name in TASKS:
        return Reproduction(name.removeprefix("reproduction_"))
    if name.startswith("regression_duan_") and name in TASKS:
        return DuanRegression(name.removeprefix("regression_duan_"))
    if name == "copy":
        return Copy()
    if name.startswith("regression_") and name in TASKS:
        return Regression(name.removeprefix("regression_"))
    if name == "association":
        return Association()
    if name == "fewshot":
        return FewShot(data)
    if name == "fewshot20":  # 20-way, 1- and 5-shot
        return FewShot(data, ways=20, shots=(1, 5))
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
