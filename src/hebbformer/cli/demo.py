"""``hebbformer demo``: the main job on an embedded default: meta-train and evaluate on
generated glyphs, no download, a few minutes on 2 CPU cores."""

from __future__ import annotations

import time
from pathlib import Path

from .. import checkpoint
from ..config import load_config
from ..train import prepare_process, train
from .common import fresh_folder, writable_folder
from .eval import run_eval

DEMO = [
    "data.name=glyphs", "data.glyph_classes=1000",
    "episode.ways=5", "episode.shots=1", "episode.queries=5",
    "model.encoder_channels=32", "model.d_model=128", "model.depth=2", "model.heads=4",
    "train.steps=700", "train.batch_size=16", "train.lr=2e-3", "train.warmup_steps=50",
    "train.val_every=175", "train.val_episodes=100", "train.checkpoint_every=175",
    "eval.episodes=200", "eval.queries=5", "eval.settings=5w1s,5w5s,20w1s,20w5s",
]


def add(sub) -> None:
    p = sub.add_parser("demo", help="meta-train and evaluate on generated glyphs (no download, CPU, minutes)")
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); if it holds anything, the "
                                                        "demo writes into runs/demo-2, -3, ... instead")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_config(None, DEMO + args.overrides)
    prepare_process(cfg)  # as train() does, here before the folder: a bad device or $HEBBFORMER_MALLOC leaves none
    out = writable_folder(fresh_folder(Path(args.out)))
    cfg.out_dir = str(out)
    tic = time.perf_counter()
    print(f"hebbformer demo: meta-training a {cfg.model.depth}-layer in-context learner on generated glyphs "
          f"({cfg.episode.ways}-way {cfg.episode.shots}-shot, {cfg.train.steps} steps) ...", flush=True)
    train(cfg, progress=not args.quiet)
    state = checkpoint.load(out / "checkpoint.pt")
    print(f"trained in {time.perf_counter() - tic:.0f} s; evaluating on unseen glyph classes ...", flush=True)
    run_eval(cfg, state, out, args.quiet)
    print(f"demo finished in {time.perf_counter() - tic:.0f} s (chance: 20% at 5-way, 5% at 20-way); run in {out}")
    return 0
