"""``hebbformer pack``: ship a run's model in models/, checked and recorded in the manifest."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoint, shipped
from ..machine import describe, git_commit
from ..train import read_metric, saw_evaluation_alphabets


def add(sub) -> None:
    p = sub.add_parser("pack", help="ship a run's model in models/: half-precision weights (integer mantissas for Quant), "
                                     "config, command, and its check counts in the manifest")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("name", help="the shipped model's name, e.g. vinyals-icl")
    p.add_argument("--description", required=True, help="one line: what the model is")
    p.add_argument("--command", required=True, help="the command that trained it")
    p.add_argument("--models", help="folder of shipped models (default: models/ of this repository)")
    p.add_argument("--partial", action="store_true", help="ship a run that has not finished its train.steps")
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.shipped_check import check_counts

    folder = Path(args.models) if args.models else None
    state = checkpoint.load(args.run)
    run_dir = checkpoint.resolve(args.run).parent
    extra = {"trained_steps": state["step"], "machine": first_machine(run_dir),
             "train_seconds": state.get("elapsed_s") or wall_seconds(run_dir), "packed_at_commit": git_commit(),
             "check_machine": describe()}
    entry = shipped.pack(args.run, args.name, args.description, args.command, folder, extra,
                         check=lambda path: check_counts(path, overrides=args.overrides), partial=args.partial,
                         saw_evaluation=saw_evaluation_alphabets(state))
    print(f"packed {args.run} as {(folder or shipped.models_dir()) / entry['file']} ({entry['bytes'] / 1e6:.1f} MB, "
          f"{entry['weights']}); check: " + ", ".join(f"{b} {c['correct']}/{c['queries']}" for b, c in entry["check"].items()))
    print(f"shipped models now take {shipped.total_bytes(folder) / 1e6:.1f} MB")
    return 0


def first_machine(run_dir: Path) -> dict | None:
    path = run_dir / "machines.jsonl"
    if not path.is_file():
        return None
    lines = [m for m in map(read_metric, path.read_text().splitlines()) if m is not None]
    return lines[0] if lines else None


def wall_seconds(run_dir: Path) -> float | None:
    """For a run whose checkpoint predates its own training clock: from its first start
    (machines.jsonl) to its checkpoint's last write, an upper bound if it was ever stopped."""
    first = first_machine(run_dir)
    if not first:
        return None
    from datetime import datetime

    started = datetime.strptime(first["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return (run_dir / "checkpoint.pt").stat().st_mtime - started
