"""The study's training step with its modules' token loops eager against compiled
(``hebbformer study --compile``), side by side in one run: for each module, the model a study
builds for the task (its budget's width), one batch at one level forward and backward, the steps
of the two taken in turn. Prints milliseconds per step, their ratio and the first compiled step's seconds
(the compiling; inductor's disk cache shortens it in later processes), and writes them with the
machine to study_step.json.

    .venv/bin/python bench/study_step.py                                   # cue_reward, beside attention
    .venv/bin/python bench/study_step.py --task regression_duan_mlp --modules plastic_gradient
    .venv/bin/python bench/study_step.py --task reproduction_delay --level 60 --alone --budget 250000 --modules matched_gradient
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch

from hebbformer.errors import ConfigError
from hebbformer.experiments.study import StudyConfig, build, compile_token_steps, width_for_budget
from hebbformer.machine import describe_line, keep_freed_memory, save_figures
from hebbformer.tasks import TASKS, build_task


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="cue_reward", choices=sorted(TASKS))
    ap.add_argument("--modules", default="plastic_hebbian,plastic_gradient")
    ap.add_argument("--level", type=int, help="the task's level of the batch (default: its first)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps of each, taken in turn")
    ap.add_argument("--budget", type=int, default=25_000)
    ap.add_argument("--alone", action="store_true", help="the module instead of attention (default: beside it)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/bench")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error("--steps must be at least 1")
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the study does ($HEBBFORMER_MALLOC=default: glibc's settings, for a before)
    print(f"machine: {describe_line()}", flush=True)
    task = build_task(args.task)
    level = task.levels[0] if args.level is None else args.level
    if level not in task.levels:
        ap.error(f"--level {level}: {args.task}'s levels are {task.levels}")
    try:  # an unknown module named, as the study names it
        cfg = StudyConfig(modules=args.modules.split(","), budget=args.budget, beside_attention=not args.alone).validate()
    except ConfigError as err:
        ap.error(str(err))
    batch = task.sample(cfg.batch_size, level, torch.Generator().manual_seed(0))
    figures = {"task": args.task, "level": level, "beside_attention": cfg.beside_attention, "budget": args.budget,
               "threads": args.threads, "steps": args.steps, "modules": {}}
    for kind in cfg.modules:
        torch.manual_seed(0)
        eager = build(kind, task, width_for_budget(kind, task, cfg), cfg)
        compiled = copy.deepcopy(eager)
        compile_token_steps(compiled)

        def step(model):
            tic = time.perf_counter()
            model.zero_grad()
            task.loss(model(batch.x, batch.images), batch).backward()
            return time.perf_counter() - tic

        step(eager)
        first = step(compiled)  # the compiling, and a step
        times = {"eager": [], "compiled": []}
        for _ in range(args.steps):
            times["eager"].append(step(eager))
            times["compiled"].append(step(compiled))
        ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
        figures["modules"][kind] = {"eager_ms": ms["eager"], "compiled_ms": ms["compiled"],
                                    "ratio": ms["eager"] / ms["compiled"], "first_compiled_s": first}
        print(f"{kind:18s} eager {ms['eager']:7.1f} ms, compiled {ms['compiled']:7.1f} ms per step: "
              f"{ms['eager'] / ms['compiled']:.2f}x (first compiled step {first:.1f} s)", flush=True)
    print(f"wrote {save_figures(Path(args.out), 'study_step', figures)}")


if __name__ == "__main__":
    main()
