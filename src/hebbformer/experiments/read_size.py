"""How large each module's read is where its training starts (``hebbformer study --read-size``).

A token mixer's read joins the residual stream through its output projection; where the read is
small beside the stream, so is the gradient that would teach the mixer to use it, and training can
sit on its initial plateau until the weights around it grow. The measure: the root mean square of
each block's read (the mixer's output before its projection) over the positions the task's loss
uses, on the first training batch of each seed's run, from that run's own initial model (the same
seed, width and batch as ``hebbformer study`` trains), at write rate 1. Nothing is trained.
"""

from __future__ import annotations

import math

import torch

from .study import StudyConfig, initial_model, task_named, training_batch, training_stream


def read_sizes(cfg: StudyConfig) -> list[dict]:
    """One row per task and module: every seed's read size per block (None for plastic layers,
    whose blocks have no token mixer) and their mean and range over the seeds."""
    rows = []
    for task in (task_named(name, cfg.data) for name in cfg.tasks):
        for kind in cfg.modules:
            per_seed = [_block_sizes(kind, task, seed, cfg) for seed in range(cfg.seeds)]
            row = {"task": task.name, "module": kind, "seeds": cfg.seeds, "per_seed": per_seed}
            if per_seed[0] is not None:
                blocks = list(zip(*per_seed))
                row |= {"mean": [sum(b) / len(b) for b in blocks], "min": [min(b) for b in blocks],
                        "max": [max(b) for b in blocks]}
            rows.append(row)
    return rows


def _block_sizes(kind: str, task, seed: int, cfg: StudyConfig) -> list[float] | None:
    _, model = initial_model(kind, task, seed, cfg)
    mixers = [block.mixer for block in model.blocks]
    if any(m is None for m in mixers):
        return None
    batch = training_batch(task, cfg, training_stream(seed))
    calls: list[list[torch.Tensor]] = [[] for _ in mixers]  # a mixer run token by token projects each token apart
    hooks = [m.proj.register_forward_pre_hook(lambda _, args, c=c: c.append(args[0])) for m, c in zip(mixers, calls)]
    try:
        with torch.no_grad():
            model(batch.x, batch.images)
    finally:
        for h in hooks:
            h.remove()
    reads = [c[0] if len(c) == 1 else torch.stack(c, 1) for c in calls]  # [B, T, D] each
    return [math.sqrt(r[batch.mask].pow(2).mean().item()) for r in reads]


def read_size_markdown(rows: list[dict]) -> str:
    blocks = max((len(r["mean"]) for r in rows if "mean" in r), default=0)
    head = "| task | module | " + " | ".join(f"block {i + 1}: mean (min-max over seeds)" for i in range(blocks)) + " |"
    lines = [head, "|" + "---|" * (2 + blocks)]
    for r in rows:
        cells = [f"{m:.4f} ({lo:.4f}-{hi:.4f})" for m, lo, hi in zip(r["mean"], r["min"], r["max"])] \
            if "mean" in r else ["no token mixer (plastic layers)"] * blocks
        lines.append(f"| {r['task']} | {r['module']} | " + " | ".join(cells) + " |")
    seeds = rows[0]["seeds"] if rows else 0
    return ("Each module's read where training starts: the RMS of every block's token-mixer output before its "
            f"projection, over the positions the loss uses, on the first training batch of seeds 0-{seeds - 1} "
            "(`hebbformer study --read-size`; nothing trained).\n\n" + "\n".join(lines) + "\n")
