"""``hebbformer eval``: a trained run or shipped model on test episodes (and Lake's all_runs)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import atomic, backends, checkpoint, shipped
from ..baselines import encoder_probe
from ..config import Config, check_device
from ..data import build_pools, describe_split, load_all_runs
from ..data.files import data_root
from ..errors import ConfigError, DataError
from ..evaluate import all_runs_errors, evaluate_settings, format_all_runs, format_results
from ..families import build_model
from ..machine import provenance
from ..registry import model_name
from ..train import saw_evaluation_alphabets, set_threads
from .common import load_run, writable_folder


def add(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run on test episodes (and all_runs for Omniglot)")
    p.add_argument("run", help="run folder, checkpoint file, or the name of a shipped model (models/MANIFEST.json)")
    p.add_argument("--out", help="folder for the eval JSON (default: the run's; runs/eval/NAME for a shipped model)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="e.g. eval.episodes=1000 data.root=PATH data.test_sets=all_runs")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg, state = load_run(args.run, args.overrides)
    if args.out:
        out = Path(args.out)
    elif shipped.is_shipped_name(args.run):  # never write into models/
        out = Path("runs") / "eval" / args.run
    else:
        out = checkpoint.resolve(args.run).parent
    writable_folder(out, create=False)  # made by the write of its results: a failed evaluation leaves none
    run_eval(cfg, state, out, args.quiet)
    return 0


def run_eval(cfg: Config, state: dict, out_dir: Path | None, quiet: bool) -> dict:
    """Evaluate a checkpoint's model on the test pool (and all_runs for Omniglot); print and save."""
    set_threads(cfg)
    split = cfg.eval.split
    if split == "test" and "all_runs" in cfg.data.test_sets and saw_evaluation_alphabets(state):
        raise ConfigError("data.test_sets has all_runs, whose alphabets this model saw in training (it was trained "
                          "on alphabets of images_evaluation); test it on other classes")
    pool = getattr(build_pools(cfg.data, (split,)), split)
    if pool is None:
        raise DataError(f"eval.split={split!r}: this config has no {split} classes (data.val_fraction=0, or "
                        "data.vinyals_train=trainval, which validates on nothing)")
    device = cfg.train.device
    try:
        check_device(device)
    except ConfigError as err:  # trained on a GPU this machine lacks: evaluate on the CPU
        print(f"({err}; evaluating on the CPU)")
        device = "cpu"
    model = build_model(cfg.model, pool.image_shape)
    checkpoint.load_into(model, state, "the checkpoint")
    model.to(device)
    if cfg.eval.backend != "torch":
        model, device = backends.run(model.cpu(), cfg.eval.backend), "cpu"
    if cfg.eval.encoder_probe:
        model = encoder_probe(model, cfg.model, pool.image_shape)
    tic = time.perf_counter()
    where = describe_split(cfg.data, split)
    variant = model_name(cfg.to_dict()["model"], cfg.eval.backend, cfg.eval.encoder_probe)
    title = f"Few-shot accuracy on unseen classes ({where}; {variant})"
    show = None if quiet else (lambda r: print(f"  {r.setting}: {100 * r.accuracy:.2f}% ± {100 * r.ci95:.2f}", flush=True))
    results = evaluate_settings(model, pool, cfg.eval.settings, cfg.eval.episodes, cfg.eval.queries,
                                cfg.eval.seed, device=device, progress=show)
    print(format_results(results, title))
    report = {"results": [r.__dict__ for r in results]}
    if cfg.data.name == "omniglot" and split == "test":
        report.update(all_runs_report(cfg, model, device, saw_evaluation_alphabets(state)))
    report["seconds"] = time.perf_counter() - tic
    report["provenance"] = provenance(device)
    if out_dir is not None:
        name = "eval.json" if split == "test" and cfg.eval.backend == "torch" else f"eval_{split}_{cfg.eval.backend}.json"
        if cfg.eval.encoder_probe:
            name = f"eval_{split}_encoder_probe.json"
        atomic.write_text(out_dir / name, json.dumps(report, indent=2))
    return report


def all_runs_report(cfg: Config, model, device: str, saw_evaluation: bool) -> dict:
    """Lake's all_runs error per run and overall, where it is a fair test of the model: all_runs
    is drawn from images_evaluation's alphabets, so a model that saw any of them in training
    (``saw_evaluation``: from the checkpoint, never from overrides at evaluation) is not scored on
    it (said in a line; an explicit eval.all_runs is refused)."""
    if saw_evaluation:
        why = ("this model was trained on alphabets of images_evaluation, from which all_runs is drawn ("
               + ("the Vinyals split's training classes include characters of both sets)" if cfg.data.split == "vinyals"
                  else f"data.train_sets={cfg.data.train_sets})"))
        if cfg.eval.all_runs:
            raise ConfigError(f"eval.all_runs refused: {why}")
        print(f"(all_runs benchmark not run: {why})")
        return {}
    try:
        runs = load_all_runs(data_root(cfg.data.root), cfg.data.image_size, cfg.data.download, cfg.eval.all_runs)
    except DataError as err:
        if cfg.eval.all_runs:
            raise
        print(f"(all_runs benchmark skipped: {err})")
        return {}
    errors = all_runs_errors(model, runs, cfg.eval.seed, device=device)
    print(format_all_runs(errors))
    return {"all_runs_error": sum(errors) / len(errors), "all_runs_per_run": errors}
