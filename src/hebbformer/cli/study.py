"""``hebbformer study``: fast-weight modules x tasks x seeds: table, CSV and plots (resumes)."""

from __future__ import annotations

import time

from ..config import Config
from ..errors import ConfigError
from .common import writable_folder


def add(sub) -> None:
    p = sub.add_parser("study", help="fast-weight modules x tasks x seeds: table, CSV and plots (resumes)")
    p.add_argument("--out", default="runs/study", help="study folder; finished runs in it are kept (default runs/study)")
    from ..plasticity.fast_weights import FAST_WEIGHTS
    from ..tasks import TASKS

    p.add_argument("--modules", help=f"comma-separated, default all: {','.join(FAST_WEIGHTS)}")
    p.add_argument("--tasks", help=f"comma-separated, default all: {','.join(TASKS)}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--budget", type=int, default=25_000, help="parameters per model, image encoder aside")
    p.add_argument("--beside-attention", action="store_true",
                   help="keep causal softmax attention in every block and add the module beside it (default: instead)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    p.add_argument("overrides", nargs="*", metavar="data.key=value",
                   help="the few-shot task's data set, e.g. data.name=omniglot data.root=PATH (default glyphs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.study import StudyConfig, run_study, summarise
    from ..tasks.fewshot import default_data

    cfg = StudyConfig(seeds=args.seeds, steps=args.steps, batch_size=args.batch_size, budget=args.budget,
                      beside_attention=args.beside_attention)
    if args.modules:
        cfg.modules = [m.strip() for m in args.modules.split(",")]
    if args.tasks:
        cfg.tasks = [t.strip() for t in args.tasks.split(",")]
    if args.overrides:
        if any(not o.startswith("data.") for o in args.overrides):
            raise ConfigError("study overrides set the few-shot data set only: data.key=value")
        data_cfg = Config(data=default_data())
        data_cfg.override(args.overrides)
        cfg.data = data_cfg.validate().data
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    out = writable_folder(args.out)
    tic = time.perf_counter()
    results = run_study(cfg.validate(), out)
    print(summarise(results, out))
    print(f"study of {len(results)} runs in {time.perf_counter() - tic:.0f} s: {out}/summary.md, results.csv, "
          "levels.png, loss_curves.png")
    return 0
