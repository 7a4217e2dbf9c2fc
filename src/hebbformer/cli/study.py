"""``hebbformer study``: fast-weight modules x tasks x seeds: table, CSV and plots (resumes)."""

from __future__ import annotations

import time
from dataclasses import asdict

from ..config import Config
from ..errors import ConfigError
from .common import writable_folder


def add(sub) -> None:
    p = sub.add_parser("study", help="fast-weight modules x tasks x seeds: table, CSV and plots (resumes)")
    p.add_argument("--out", default="runs/study", help="study folder; finished runs in it are kept (default runs/study)")
    from ..experiments.study import DEFAULT_MODULES
    from ..plasticity.fast_weights import HEBBIAN_ABLATION, MATCHED_SIZED, MATCHED_TIED, MATCHED_UNDO
    from ..plasticity.plastic_layers import UNTRAINED_PLASTIC_LAYERS, WRITE_OFF_LAYERS
    from ..tasks import TASKS

    p.add_argument("--modules", help=f"comma-separated, default {','.join(DEFAULT_MODULES)}; the Hebbian "
                   f"ablation by name: {','.join(HEBBIAN_ABLATION)}; Duan et al.'s update read with its keys: "
                   f"{','.join(MATCHED_TIED)}, and with its differences from the tied Hebbian sum taken out: "
                   f"{','.join(MATCHED_UNDO)}, and with its read scaled to another's size: {','.join(MATCHED_SIZED)}; "
                   f"the claims' source's plastic layers, untrained (Chaudhary 2025): "
                   f"{','.join(UNTRAINED_PLASTIC_LAYERS)}; Duan et al.'s and the source's plastic layers with the write "
                   f"off (the control at the rules' width): {','.join(WRITE_OFF_LAYERS)}")
    p.add_argument("--tasks", help=f"comma-separated, default all: {','.join(TASKS)}; NAME@LEVEL trains and "
                   "scores one level only (one network per delay, as Duan et al.): reproduction_delay@40")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000, help="training steps per run")
    p.add_argument("--schedule-steps", type=int, default=0, metavar="N",
                   help="the learning-rate schedule's length (a linear warm-up, then cosine decay to its end); 0: "
                   "--steps; more: each run is the first --steps of an N-step run, step for step")
    p.add_argument("--warmup-steps", type=int, default=None, metavar="N",
                   help="the schedule's linear warm-up (default: its first twentieth)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--budget", type=int, default=25_000, help="parameters per model, image encoder aside")
    p.add_argument("--lr", type=float, default=2e-3, help="learning rate when there is no tuning grid")
    p.add_argument("--tune-lrs", help="tuning grid's learning rates, comma-separated, e.g. 5e-4,1e-3,2e-3")
    p.add_argument("--tune-write-rates", help="tuning grid's write-rate multipliers, in (0, 5), e.g. 0.5,1,2")
    p.add_argument("--tune-seeds", type=int, default=2, help="seeds per grid point, scored on validation")
    p.add_argument("--encoder-channels", type=int, default=32, help="image tasks' Conv encoder width (outside the budget)")
    p.add_argument("--encoder-blocks", type=int, default=4, help="its blocks (4: Conv-4)")
    p.add_argument("--encoder-from", default="", metavar="CHECKPOINT",
                   help="start the image encoder from this run's or shipped model's (e.g. models/vinyals-protonet.pt)")
    p.add_argument("--tuning-from", default="", metavar="STUDY",
                   help="take each task's and module's lr and write rate from this study folder's tuning.json "
                   "(NAME@LEVEL's own, else NAME's; a module it trained at one point: that point), e.g. one "
                   "network per delay at the point tuned over all delays")
    p.add_argument("--beside-attention", action="store_true",
                   help="keep causal softmax attention in every block and add the module beside it (default: instead)")
    p.add_argument("--compile", action="store_true",
                   help="compile the token loops of Duan et al.'s plastic layers, matched_hebbian, matched_gradient (and their "
                   "+tied forms) and gradient, and train matched_hebbian by its loop (torch.compile; needs a C++ compiler): "
                   "1.8-2.35x faster training on a 2-core AVX2 CPU, matched_hebbian 0.9-3.6x on an AVX512 one (long sequences, wide models); other rounding, "
                   "so a setting a study's runs must share")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    p.add_argument("--read-size", action="store_true",
                   help="train nothing: measure each module's read where its runs start (the RMS of every block's "
                   "token-mixer output, seeds 0 to --seeds - 1, write rate 1) into --out's read_size.md and .json")
    p.add_argument("overrides", nargs="*", metavar="data.key=value",
                   help="the few-shot task's data set, e.g. data.name=omniglot data.root=PATH (default glyphs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.study import StudyConfig, run_study, summarise
    from ..tasks.fewshot import default_data

    cfg = StudyConfig(seeds=args.seeds, steps=args.steps, schedule_steps=args.schedule_steps,
                      warmup_steps=args.warmup_steps, batch_size=args.batch_size, budget=args.budget, lr=args.lr,
                      beside_attention=args.beside_attention, tune_lrs=_numbers(args.tune_lrs, "--tune-lrs"),
                      tune_write_rates=_numbers(args.tune_write_rates, "--tune-write-rates"),
                      tune_seeds=args.tune_seeds, encoder_channels=args.encoder_channels,
                      encoder_blocks=args.encoder_blocks, encoder_from=args.encoder_from,
                      tuning_from=args.tuning_from, compile=args.compile)
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
    if args.threads < 0:
        raise ConfigError(f"--threads {args.threads}: a number of threads, at least 1 (0: torch's default)")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.read_size:
        return _read_size(cfg.validate(), args.out)
    # made by run_study once the tasks are built: a bad module, task level or --tuning-from leaves no folder
    out = writable_folder(args.out, create=False)
    tic = time.perf_counter()
    results = run_study(cfg.validate(), out)
    print(summarise(results, out))
    print(f"study of {len(results)} runs in {time.perf_counter() - tic:.0f} s: {out}/summary.md, results.csv, "
          "levels.png, loss_curves.png (and paired.png, solved.png where the tasks have them)")
    return 0


def _read_size(cfg, folder: str) -> int:
    from ..experiments.read_size import read_size_markdown, read_sizes
    from ..experiments.study import write_atomic, write_json_atomic
    from ..machine import provenance

    if cfg.tune_lrs or cfg.tune_write_rates or cfg.compile:
        raise ConfigError("--read-size measures the modules as built, eagerly and at write rate 1: it takes no "
                          "tuning grid and no --compile")
    out = writable_folder(folder, create=False)
    rows = read_sizes(cfg)  # (tasks and data checked here, before the folder is made)
    out.mkdir(parents=True, exist_ok=True)
    text = read_size_markdown(rows)
    write_json_atomic(out / "read_size.json", {"study": asdict(cfg), "rows": rows, "provenance": provenance()}, indent=2)
    write_atomic(out / "read_size.md", text.encode())
    print(text + f"\n{out}/read_size.md, read_size.json")
    return 0


def _numbers(text: str | None, flag: str) -> list[float]:
    if not text:
        return []
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated numbers, got {text!r}") from None
