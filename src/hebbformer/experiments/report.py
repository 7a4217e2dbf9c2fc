"""``hebbformer report``: one Markdown report, with PNG figures and CSV tables, from the runs it finds.

It reads what the other commands leave behind and computes nothing new:

- a trained run (``config.json`` and one or more ``eval*.json`` from ``hebbformer eval``): one row
  of the method table per evaluation (method and variant: Float, Quant, Quant on the integer path;
  or a baseline), accuracy with 95% CI per N-way K-shot setting and the all_runs error;
  ``metrics.jsonl`` gives its learning curves;
- a fast-weight study (``study.json`` and ``runs/*.json`` from ``hebbformer study``): its table and
  figures;
- per-token cost benchmarks (``token_cost.csv`` / ``fast_weight_cost.csv`` and their ``.png``
  from ``bench/token_cost.py`` and ``bench/fast_weight_cost.py``).

Runs whose evaluation is missing are listed with the command that would evaluate them.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text
from ..config import parse_setting
from ..errors import DataError
from ..registry import model_name


@dataclass
class Evaluation:
    run: str  # the run folder, relative to where the search started
    variant: str
    data: str
    split: str
    results: dict[str, tuple[float, float, int]]  # setting -> (accuracy, ci95, episodes)
    all_runs_error: float | None
    made: str = "?"  # the evaluation's commit, machine and date (its provenance)


@dataclass
class Found:
    evaluations: list[Evaluation] = field(default_factory=list)
    curves: dict[str, list[dict]] = field(default_factory=dict)  # run -> metrics.jsonl lines
    unevaluated: list[str] = field(default_factory=list)
    studies: list[Path] = field(default_factory=list)
    token_costs: list[Path] = field(default_factory=list)
    variant_tables: list[Path] = field(default_factory=list)  # hebbformer variants' variants.md


def variant_of(cfg: dict, backend: str) -> str:
    t = cfg["train"]
    trained = ", bf16 training" if t.get("precision") == "bf16" else ""
    if t.get("freeze_encoder"):  # a transformer (or head) trained over another run's fixed features
        trained += f", encoder frozen ({t.get('init_encoder_from') or t.get('init_from') or 'as initialised'})"
    return model_name(cfg["model"], backend) + trained


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path} is unreadable or not JSON ({err})") from None


def _metric_lines(path: Path) -> list[dict]:
    """A run's metrics; a line cut short by a kill mid-write is left out."""
    from ..train import read_metric

    return [m for m in map(read_metric, path.read_text().splitlines()) if m is not None]


def find(roots: list[Path]) -> Found:
    found = Found()
    for root in roots:
        if not root.exists():
            raise DataError(f"report: {root} does not exist")
        for config_path in sorted(root.rglob("config.json")):
            run = config_path.parent
            name = str(run.relative_to(root.parent) if run != root else run.name)
            cfg = _load_json(config_path)
            if not isinstance(cfg, dict) or not {"model", "data", "train"} <= cfg.keys():
                continue  # some other tool's config.json, not a hebbformer run
            evals = sorted(run.glob("eval*.json"))
            if not evals:
                found.unevaluated.append(name)
            for path in evals:
                rep = _load_json(path)
                # eval.json is the test split on the model's own forward; eval_SPLIT_BACKEND.json others
                split, backend = ("test", "torch") if path.stem == "eval" else path.stem.split("_")[1:3]
                if not isinstance(rep, dict) or "results" not in rep:
                    raise DataError(f"{path} is not an evaluation written by hebbformer eval (no 'results')")
                results = {r["setting"]: (r["accuracy"], r["ci95"], r["episodes"])
                           for r in rep["results"] if r["accuracy"] is not None}
                found.evaluations.append(Evaluation(name, variant_of(cfg, backend), cfg["data"]["name"], split,
                                                    results, rep.get("all_runs_error"), made_by(rep)))
            if (run / "metrics.jsonl").is_file():
                found.curves[name] = _metric_lines(run / "metrics.jsonl")
        found.studies += sorted(p.parent for p in root.rglob("study.json"))
        found.token_costs += sorted(root.rglob("*_cost.csv"))  # bench/token_cost.py, bench/fast_weight_cost.py
        found.variant_tables += sorted(root.rglob("variants.md"))
    return found


def _settings(evals: list[Evaluation]) -> list[str]:
    return sorted({s for e in evals for s in e.results}, key=lambda s: parse_setting(s)[::-1])


def made_by(report: dict) -> str:
    """Commit, machine (CPU, capability, threads, GPU) and date of an evaluation, from its provenance."""
    p = report.get("provenance") or {}
    m = p.get("machine") or {}
    gpu = f", {m['gpu']}" if m.get("gpu") else ""
    return (f"{(p.get('commit') or '?')[:10]} · {m.get('cpu', '?')} ({m.get('cpu_capability', '?')}, "
            f"{m.get('threads', '?')} threads{gpu}) · {p.get('date', '?')}")


def method_table(evals: list[Evaluation]) -> str:
    settings = _settings(evals)
    head = ["run (its config.json)", "method / variant", "data", "split", *[f"{s}" for s in settings],
            "all_runs error", "made by"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for e in evals:
        cells = [f"{100 * e.results[s][0]:.2f} ± {100 * e.results[s][1]:.2f}" if s in e.results else "—"
                 for s in settings]
        err = "—" if e.all_runs_error is None else f"{100 * e.all_runs_error:.2f}%"
        lines.append("| " + " | ".join([e.run, e.variant, e.data, e.split, *cells, err, e.made]) + " |")
    return "\n".join(lines)


def write_method_csv(evals: list[Evaluation], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "variant", "data", "split", "setting", "ways", "shots", "accuracy", "ci95", "episodes"])
        for e in evals:
            for s, (acc, ci, n) in e.results.items():
                w.writerow([e.run, e.variant, e.data, e.split, s, *parse_setting(s), acc, ci, n])
            if e.all_runs_error is not None:
                w.writerow([e.run, e.variant, e.data, e.split, "all_runs", 20, 1, 1 - e.all_runs_error, "", 400])


def _plot_settings(evals: list[Evaluation], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = _settings(evals)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(settings) + 3), 3.6))
    for i, e in enumerate(evals):
        xs = [j for j, s in enumerate(settings) if s in e.results]
        ax.errorbar(xs, [100 * e.results[settings[j]][0] for j in xs],
                    yerr=[100 * e.results[settings[j]][1] for j in xs], marker="o", capsize=3,
                    label=f"{e.run} ({e.variant})")
    ax.set_xticks(range(len(settings)), settings)
    ax.set_ylabel("accuracy (%)")
    ax.set_xlabel("N-way K-shot")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_curves(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, val_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, lines in curves.items():
        loss_ax.plot([m["step"] for m in lines if "loss" in m], [m["loss"] for m in lines if "loss" in m],
                     label=name, alpha=0.8)
        val = [m for m in lines if "val_acc" in m]
        if val:
            val_ax.plot([m["step"] for m in val], [100 * m["val_acc"] for m in val], marker="o", label=name)
    loss_ax.set(xlabel="step", ylabel="training loss", yscale="log")
    val_ax.set(xlabel="step", ylabel="validation accuracy (%)")
    loss_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_report(roots: list[Path], out: Path) -> Path:
    from .study import summarise

    found = find(roots)
    if not (found.evaluations or found.studies or found.token_costs or found.unevaluated or found.variant_tables):
        raise DataError(f"report: no runs, studies or benchmarks under {', '.join(map(str, roots))}")
    out.mkdir(parents=True, exist_ok=True)
    md = ["# hebbformer report", "", f"Collected from: {', '.join(map(str, roots))}.", ""]
    if found.evaluations:
        write_method_csv(found.evaluations, out / "methods.csv")
        _plot_settings(found.evaluations, out / "accuracy_by_setting.png")
        md += ["## Few-shot accuracy by method and variant", "",
               "Accuracy (%) with 95% confidence intervals over the test episodes of each evaluation; "
               "all_runs: Lake's 20-way one-shot error. Also in `methods.csv`.", "",
               method_table(found.evaluations), "", "![accuracy by setting](accuracy_by_setting.png)", ""]
    for table in found.variant_tables:
        md += [f"## Float, Quant, Loihi and Lava: {table.parent}", "", table.read_text(), ""]
    if found.unevaluated:
        md += ["Not evaluated yet (`hebbformer eval RUN`): " + ", ".join(found.unevaluated), ""]
    if found.curves:
        _plot_curves(found.curves, out / "learning_curves.png")
        md += ["## Learning curves", "", "![learning curves](learning_curves.png)", ""]
    for study in found.studies:
        results = [_load_json(p) for p in sorted((study / "runs").glob("*.json"))]
        if not results:
            continue
        target = out / f"study_{study.name}"
        target.mkdir(exist_ok=True)
        table = summarise(results, target)
        md += [f"## Fast-weight study: {study}", "",
               "Mean over seeds ± 95% CI (Student t over the seeds); accuracy: higher is better, mse: lower.", "",
               table, f"![levels]({target.name}/levels.png)", "", f"![loss curves]({target.name}/loss_curves.png)", ""]
    for i, csv_path in enumerate(found.token_costs):
        png = csv_path.with_suffix(".png")
        md += [f"## Cost per token: {csv_path}", ""]
        if png.is_file():
            shutil.copy(png, out / f"token_cost_{i}.png")
            md += [f"![token cost](token_cost_{i}.png)", ""]
        shutil.copy(csv_path, out / f"token_cost_{i}.csv")
        md += [f"Data: `token_cost_{i}.csv`.", ""]
    path = out / "report.md"
    write_text(path, "\n".join(md))
    return path
