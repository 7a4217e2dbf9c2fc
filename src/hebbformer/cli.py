"""The ``hebbformer`` command: train, eval, demo, study, variants, pack, results, report, loihi.

Every command takes ``section.key=value`` overrides after its options (see ``hebbformer.config``).
Bad input ends with one line naming the problem and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import atomic, backends, checkpoint, shipped
from .baselines import encoder_probe
from .config import Config, check_device, load_config
from .data import build_pools, describe_split, load_all_runs
from .data.files import data_root
from .errors import ConfigError, DataError, HebbformerError
from .evaluate import all_runs_errors, evaluate_settings, format_all_runs, format_results
from .families import build_model
from .machine import describe, git_commit, provenance
from .registry import BACKENDS
from .train import read_metric, saw_evaluation_alphabets, set_threads, train

# The main job on an embedded default: generated glyphs, no download, a few minutes on 2 CPU cores.
BACKEND_HELP = "; ".join(f"{name}: {entry.summary}" for name, entry in BACKENDS.items())
DEMO = [
    "data.name=glyphs", "data.glyph_classes=1000",
    "episode.ways=5", "episode.shots=1", "episode.queries=5",
    "model.encoder_channels=32", "model.d_model=128", "model.depth=2", "model.heads=4",
    "train.steps=700", "train.batch_size=16", "train.lr=2e-3", "train.warmup_steps=50",
    "train.val_every=175", "train.val_episodes=100", "train.checkpoint_every=175",
    "eval.episodes=200", "eval.queries=5", "eval.settings=5w1s,5w5s,20w1s,20w5s",
]


def build_parser() -> argparse.ArgumentParser:
    """Every command's arguments (also what docs/cli.md is generated from)."""
    parser = argparse.ArgumentParser(prog="hebbformer", description=__doc__.splitlines()[0])
    from . import __version__
    parser.add_argument("--version", action="version", version=f"hebbformer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="meta-train an in-context learner")
    p.add_argument("-c", "--config", help="TOML or JSON config file")
    p.add_argument("--out", help="run folder (default: out_dir of the config)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint, exactly")
    p.add_argument("--inexact", action="store_true",
                   help="with --resume: allow train.steps or train.threads to change (then not bit-exact)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a trained run on test episodes (and all_runs for Omniglot)")
    p.add_argument("run", help="run folder, checkpoint file, or the name of a shipped model (models/MANIFEST.json)")
    p.add_argument("--out", help="folder for the eval JSON (default: the run's; runs/eval/NAME for a shipped model)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="e.g. eval.episodes=1000 data.root=PATH data.test_sets=all_runs")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("demo", help="meta-train and evaluate on generated glyphs (no download, CPU, minutes)")
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); if it holds anything, the "
                                                        "demo writes into runs/demo-2, -3, ... instead")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("study", help="fast-weight modules x tasks x seeds: table, CSV and plots (resumes)")
    p.add_argument("--out", default="runs/study", help="study folder; finished runs in it are kept (default runs/study)")
    p.add_argument("--modules", help="comma-separated, default all: static,hebbian,gradient,delta,attention")
    p.add_argument("--tasks", help="comma-separated, default all: copy,regression_linear,regression_sine,association,fewshot")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--budget", type=int, default=25_000, help="parameters per model, image encoder aside")
    p.add_argument("--beside-attention", action="store_true",
                   help="keep causal softmax attention in every block and add the module beside it (default: instead)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    p.add_argument("overrides", nargs="*", metavar="data.key=value",
                   help="the few-shot task's data set, e.g. data.name=omniglot data.root=PATH (default glyphs)")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("variants", help="one learner as Float, Quant, Loihi (emulated) and Lava: the accuracy table")
    p.add_argument("float_run", help="the Float run (relu attention) the Quant run was fine-tuned from")
    p.add_argument("quant_run", help="the Quant run (model.quant=true)")
    p.add_argument("--setting", default="5w1s", help="ways and shots, e.g. 5w1s (default)")
    p.add_argument("--episodes", type=int, default=1000, help="test episodes for Float, Quant and Loihi (default 1000)")
    p.add_argument("--lava-episodes", type=int, default=200,
                   help="the first this many of those episodes also on lava (default 200; 0: skip lava)")
    p.add_argument("--out", help="folder for variants.md and variants.csv (default: the Quant run's)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="for both runs, e.g. data.root=PATH")
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("classify", help="label your own images in context: support folders per class, query images")
    p.add_argument("model", help="a shipped model's name, a run folder or a checkpoint file")
    p.add_argument("--support", required=True, help="folder with one sub-folder per class (named by its label) of images")
    p.add_argument("--query", required=True, help="folder of images to label")
    p.add_argument("--backend", default="torch", help=BACKEND_HELP)
    p.add_argument("--out", help="also write the answers to this CSV file")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("pack", help="ship a run's model in models/: half-precision weights (float32 for Quant), "
                                     "config, command, and its check counts in the manifest")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("name", help="the shipped model's name, e.g. vinyals-icl")
    p.add_argument("--description", required=True, help="one line: what the model is")
    p.add_argument("--command", required=True, help="the command that trained it")
    p.add_argument("--models", help="folder of shipped models (default: models/ of this repository)")
    p.add_argument("--partial", action="store_true", help="ship a run that has not finished its train.steps")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("results", help="the Omniglot results page from the shipped models' evaluations")
    p.add_argument("--evals", default="docs/results/omniglot-evals",
                   help="folder of the evaluations, one sub-folder per model (default docs/results/omniglot-evals, "
                        "the copies of runs/eval/ that the committed page was made from)")
    p.add_argument("--out", default="docs/results/omniglot.md", help="the page to write (default docs/results/omniglot.md)")
    p.add_argument("--readme", default="README.md",
                   help="README whose headline table (between <!-- omniglot-headline --> markers) to rewrite; '' for none")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("report", help="one Markdown report with figures and CSV from the runs, studies and benchmarks found")
    p.add_argument("roots", nargs="*", default=["runs"], help="folders to search (default: runs)")
    p.add_argument("--out", default="report", help="report folder (default: report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("loihi", help="the Loihi 2 emulator: run a scenario, or check it against lava")
    loihi = p.add_subparsers(dest="loihi_command", required=True)
    q = loihi.add_parser("parity", help="run SCENARIO.json on lava and on the emulator; exit 0 only if they agree")
    q.add_argument("scenario", help="scenario file (docs/loihi.md)")
    q.set_defaults(func=cmd_loihi_parity)
    q = loihi.add_parser("run", help="run SCENARIO.json on the emulator alone; save the recordings")
    q.add_argument("scenario")
    q.add_argument("--out", default="loihi_run.npz", help="where to save the recordings (npz)")
    q.set_defaults(func=cmd_loihi_run)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra  # overrides given after an option: train -c F a.b=1 --out D c.d=2
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except HebbformerError as err:
        print(f"hebbformer: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hebbformer: interrupted; the last checkpoint is kept (resume with --resume)", file=sys.stderr)
        return 130


def cmd_train(args) -> int:
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
    writable_folder(cfg.out_dir)
    last = train(cfg, resume=args.resume, progress=not args.quiet)
    print(f"trained {last.get('step', 0)} steps; checkpoint in {cfg.out_dir}/checkpoint.pt")
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
    checkpoint.load_into(model, state["model"], "the checkpoint")
    model.to(device)
    if cfg.eval.backend != "torch":
        model, device = backends.run(model.cpu(), cfg.eval.backend), "cpu"
    if cfg.eval.encoder_probe:
        model = encoder_probe(model, cfg.model, pool.image_shape)
    tic = time.perf_counter()
    where = describe_split(cfg.data, split)
    if cfg.model.method != "icl":
        variant = f"baseline {cfg.model.method}"
    else:
        variant = {"integer": "Quant, integer path", "loihi": "Quant on Loihi 2 networks (emulated)",
                   "lava": "Quant on Loihi 2 networks (lava)"}.get(cfg.eval.backend, "Quant" if cfg.model.quant else "Float")
        variant = f"{cfg.model.attention} attention, {variant}"
    if cfg.eval.encoder_probe:
        variant = f"its encoder alone, as a ProtoNet ({variant})"
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


def cmd_eval(args) -> int:
    cfg, state = _load_run(args.run, args.overrides)
    if args.out:
        out = Path(args.out)
    elif shipped.is_shipped_name(args.run):  # never write into models/
        out = Path("runs") / "eval" / args.run
    else:
        out = checkpoint.resolve(args.run).parent
    writable_folder(out)
    run_eval(cfg, state, out, args.quiet)
    return 0


def cmd_classify(args) -> int:
    import csv

    from .predict import check_backend, image_files, load, read_image, read_support_folder

    check_backend(args.backend)
    if args.out:
        writable_file(args.out)
    images, labels = read_support_folder(Path(args.support))
    query_dir = Path(args.query)
    if not query_dir.is_dir():
        raise DataError(f"query folder {query_dir} does not exist")
    files = image_files(query_dir)
    if not files:
        raise DataError(f"query folder {query_dir} holds no images")
    model = load(args.model, args.backend)
    answers, probs = model.predict(images, labels, [read_image(f) for f in files])
    rows = [(f.name, a, float(p)) for f, a, p in zip(files, answers, probs)]
    width = max(len(r[0]) for r in rows)
    for name, answer, prob in rows:
        print(f"{name:<{width}}  {answer}  {prob:.3f}")
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["query", "label", "probability"])
            writer.writerows(rows)
    return 0


def cmd_pack(args) -> int:
    from .experiments.shipped_check import check_counts

    folder = Path(args.models) if args.models else None
    state = checkpoint.load(args.run)
    run_dir = checkpoint.resolve(args.run).parent
    extra = {"trained_steps": state["step"], "machine": _first_machine(run_dir),
             "train_seconds": state.get("elapsed_s") or _wall_seconds(run_dir), "packed_at_commit": git_commit(),
             "check_machine": describe()}
    entry = shipped.pack(args.run, args.name, args.description, args.command, folder, extra,
                         check=lambda path: check_counts(path, overrides=args.overrides), partial=args.partial,
                         saw_evaluation=saw_evaluation_alphabets(state))
    print(f"packed {args.run} as {(folder or shipped.models_dir()) / entry['file']} ({entry['bytes'] / 1e6:.1f} MB, "
          f"{entry['weights']}); check: " + ", ".join(f"{b} {c['correct']}/{c['queries']}" for b, c in entry["check"].items()))
    print(f"shipped models now take {shipped.total_bytes(folder) / 1e6:.1f} MB")
    return 0


def _first_machine(run_dir: Path) -> dict | None:
    path = run_dir / "machines.jsonl"
    if not path.is_file():
        return None
    lines = [m for m in map(read_metric, path.read_text().splitlines()) if m is not None]
    return lines[0] if lines else None


def _wall_seconds(run_dir: Path) -> float | None:
    """For a run whose checkpoint predates its own training clock: from its first start
    (machines.jsonl) to its checkpoint's last write, an upper bound if it was ever stopped."""
    first = _first_machine(run_dir)
    if not first:
        return None
    from datetime import datetime

    started = datetime.strptime(first["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return (run_dir / "checkpoint.pt").stat().st_mtime - started


def _load_run(run: str, overrides: list[str]) -> tuple[Config, dict]:
    state = checkpoint.load(shipped.resolve(run))
    cfg = Config.from_dict(state["config"])
    cfg.override(overrides)
    cfg.validate()
    return cfg, state


def cmd_variants(args) -> int:
    from .experiments.variants import compare, format_table, save
    if args.episodes < 1 or args.lava_episodes < 0:
        raise ConfigError(f"--episodes must be at least 1 and --lava-episodes at least 0, got {args.episodes}, {args.lava_episodes}")
    qcfg, qstate = _load_run(args.quant_run, args.overrides)
    fcfg, fstate = _load_run(args.float_run, args.overrides)
    if not qcfg.model.quant:
        raise ConfigError(f"{args.quant_run} is not a Quant run (its model.quant is false)")
    if fcfg.model.quant or fcfg.model.method != "icl":
        raise ConfigError(f"{args.float_run} is not a Float in-context learner run")
    set_threads(qcfg)
    split = qcfg.eval.split
    pool = getattr(build_pools(qcfg.data, (split,)), split)
    models = []
    for cfg, state in ((fcfg, fstate), (qcfg, qstate)):
        model = build_model(cfg.model, pool.image_shape)
        checkpoint.load_into(model, state["model"], "the checkpoint")
        models.append(model)
    where = describe_split(qcfg.data, split)
    print(f"hebbformer variants: {args.setting} on {where}", flush=True)
    rows = compare(*models, qcfg, pool, args.setting, args.episodes, args.lava_episodes)
    table = format_table(rows, args.setting, where)
    print(table)
    out = writable_folder(Path(args.out) if args.out else (Path("runs") / "eval" / args.quant_run
                                                           if shipped.is_shipped_name(args.quant_run)
                                                           else checkpoint.resolve(args.quant_run).parent))
    save(rows, table, out, args.setting, where)
    print(f"saved {out / 'variants.md'}, variants.csv and variants.json")
    return 0


def cmd_demo(args) -> int:
    cfg = load_config(None, DEMO + args.overrides)
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


def writable_folder(path: str | Path, what: str = "--out") -> Path:
    """A folder this command may write into, checked before any work: created if missing; an
    existing file or an unwritable place is an error naming it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what} {folder} cannot be created: {err.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {folder} is not writable")
    return folder


def writable_file(path: str | Path, what: str = "--out") -> Path:
    """A file this command may write, checked before any work (its folder is created if missing)."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{what} {file} is a folder, not a file")
    writable_folder(file.parent if str(file.parent) else ".", f"the folder of {what}")
    if file.exists() and not os.access(file, os.W_OK):
        raise ConfigError(f"{what} {file} is not writable")
    return file


def fresh_folder(out: Path) -> Path:
    """``out`` when it is new or empty, else its first free sibling ``out-2``, ``out-3``, ...: a
    command that writes a new run never deletes or mixes with what is there."""
    candidate, n = out, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = out.with_name(f"{out.name}-{n}")
    return candidate


def cmd_study(args) -> int:
    from .experiments.study import StudyConfig, run_study, summarise
    from .tasks.fewshot import default_data

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


def cmd_results(args) -> int:
    from .experiments.results import update_readme, write

    print(f"wrote {write(writable_file(args.out), Path(args.evals))}")
    if args.readme and update_readme(Path(args.readme), Path(args.evals)):
        print(f"updated the headline table of {args.readme}")
    return 0


def cmd_report(args) -> int:
    from .experiments.report import build_report

    path = build_report([Path(r) for r in args.roots], writable_folder(args.out))
    print(f"wrote {path} (figures and CSV beside it)")
    return 0


def cmd_loihi_parity(args) -> int:
    from .neuro.loihi import Scenario
    from .neuro.loihi.lava_sim import lava_available
    from .neuro.loihi.parity import format_parity, run_parity

    scenario = Scenario.load(args.scenario)
    if not lava_available():
        raise HebbformerError("lava-nc is not importable here, so there is nothing to compare with; install "
                              "it as docs/loihi.md says, or run bash scripts/setup.sh")
    rows, times = run_parity(scenario)
    print(format_parity(rows, scenario, times))
    return 0 if all(r.ok for r in rows) else 1


def cmd_loihi_run(args) -> int:
    import numpy as np

    from .neuro.loihi import Scenario, simulate

    writable_file(args.out)
    scenario = Scenario.load(args.scenario)
    tic = time.perf_counter()
    recordings = simulate(scenario)
    np.savez(args.out, **recordings)
    print(f"emulated {scenario.steps} steps in {time.perf_counter() - tic:.3f} s; "
          f"recorded {', '.join(recordings)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
