"""``hebbformer train``: meta-train a model, or resume a run exactly."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoint
from ..config import Config, load_config
from ..errors import HebbformerError
from ..train import prepare_process, train
from .common import writable_folder


def add(sub) -> None:
    p = sub.add_parser("train", help="meta-train an in-context learner")
    p.add_argument("-c", "--config", help="TOML or JSON config file")
    p.add_argument("--out", help="run folder (default: out_dir of the config)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint, exactly")
    p.add_argument("--inexact", action="store_true",
                   help="with --resume: allow train.steps or train.threads to change (then not bit-exact)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.resume:
        if args.config:
            raise HebbformerError("--resume continues a run with its saved config; do not pass --config")
        if not args.out:
            raise HebbformerError("--resume needs --out, the folder of the run to continue")
        state = checkpoint.load(Path(args.out) / "checkpoint.pt")
        cfg = Config.from_dict(state["config"])
        changed = [o for o in args.overrides if not o.startswith(("train.steps=", "train.threads="))]
        if changed:
            raise HebbformerError(f"--resume keeps the run's config; only train.steps and train.threads may change, got {changed}")
        before = (cfg.train.steps, cfg.train.threads)
        cfg.override(args.overrides)
        cfg.validate()
        inexact = [o for o, old, new in zip(("train.steps", "train.threads"), before, (cfg.train.steps, cfg.train.threads))
                   if old != new]
        if cfg.train.steps <= state["step"]:
            print(f"nothing to do: {args.out} has trained {state['step']} of its {cfg.train.steps} steps; "
                  "nothing was changed")
            return 0
        if inexact and not args.inexact:
            raise HebbformerError(
                f"--resume with {', '.join(inexact)} changed would not continue the run exactly (the learning-rate "
                "schedule follows train.steps; the thread count changes float rounding); pass --inexact to do it anyway")
    else:
        cfg = load_config(args.config, args.overrides)
    if args.out:
        cfg.out_dir = args.out
    prepare_process(cfg)  # as train() does, here before the folder: a bad device or $HEBBFORMER_MALLOC leaves none
    writable_folder(cfg.out_dir)
    last = train(cfg, resume=args.resume, progress=not args.quiet)
    print(f"trained {last.get('step', 0)} steps; checkpoint in {cfg.out_dir}/checkpoint.pt")
    return 0
