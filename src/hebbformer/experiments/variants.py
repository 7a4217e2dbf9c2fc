"""One trained in-context learner in four variants, side by side: Float, Quant, Lava and Loihi.

- **Float**: the float model's own forward (PyTorch).
- **Quant**: its fixed-point twin, trained with quantisation in the loop, through its integer path.
- **Loihi**: the Quant model with every attention layer compiled to a Loihi 2 network
  (``hebbformer.neuro.attention_compiler``) and run on hebbformer's bit-exact emulator.
- **Lava**: the same networks in lava-nc's own simulation, on the first ``lava_episodes`` of the
  same episodes; its logits are compared with Loihi's there, and the table says whether they match.
- **Loihi, board randomness**: the emulated networks with writes on every step, so that the trace
  decay's random draws change some writes by 1, as they would on a board, whose random numbers
  the host cannot know (the other network rows schedule writes around them and are exact).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import backends
from ..atomic import write_text
from ..config import Config, parse_setting
from ..errors import ConfigError
from ..evaluate import episode_batches, first_episodes, forward_batches
from ..stats import mean_ci95


@dataclass
class Row:
    variant: str
    backend: str
    episodes: int
    accuracy: float
    ci95: float
    seconds: float
    note: str = ""


def _run(model, batches, workers: int = 1) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(per-episode accuracy, logits [episodes, queries, ways], seconds) of a model over episode
    batches, in ``workers`` processes (``evaluate.forward_batches``)."""
    tic = time.perf_counter()
    logits = forward_batches(model, batches, workers)
    accs = (logits.argmax(-1) == torch.cat([ep.query_labels for ep in batches])).float().mean(1)
    return accs, logits, time.perf_counter() - tic


def compare(float_model, quant_model, cfg: Config, pool, setting: str, episodes: int, lava_episodes: int,
            progress=print, workers: int = 1) -> list[Row]:
    """The table's rows; the episodes come from ``cfg.eval.seed``, all on the CPU, in ``workers``
    processes (the same logits for any number; lava always in this one: lava-nc runs processes of
    its own, which are not to be forked)."""
    ways, shots = parse_setting(setting)
    queries = min(cfg.eval.queries, pool.n_drawings - shots)
    if ways > pool.n_classes or queries < 1:
        raise ConfigError(f"setting {setting} does not fit the test pool ({pool.n_classes} classes, "
                          f"{pool.n_drawings} drawings each)")

    lava_episodes = min(lava_episodes, episodes)
    every = list(episode_batches(pool, ways, shots, queries, episodes, cfg.eval.seed, quant_model.cfg.max_ways))

    rows, kept = [], {}
    # lava last: the runs before it may fork worker processes, which lava-nc's own processes and
    # threads must not be copied into
    plan = [("Float", float_model, "torch", episodes), ("Quant", quant_model, "integer", episodes),
            ("Loihi (emulated)", quant_model, "loihi", episodes),
            ("Loihi, board randomness (emulated)", quant_model, "board", episodes),
            ("Lava", quant_model, "lava", lava_episodes)]
    from ..neuro.loihi.lava_sim import lava_available
    for name, model, backend, n in plan:
        if n < 1:
            continue
        if backend == "lava" and not lava_available():
            progress("  Lava: left out, lava-nc is not importable here (docs/loihi.md)")
            continue
        accs, logits, seconds = _run(backends.run(model, backend), first_episodes(every, n),
                                     1 if backend == "lava" else workers)
        kept[backend] = logits
        mean, ci = mean_ci95(accs)
        note, other = "", {"lava": "loihi", "loihi": "integer", "board": "integer"}.get(backend)
        if other in kept:
            differ = int((logits != kept[other][:n]).flatten(1).any(1).sum())
            what = {"loihi": "Loihi (emulated)", "integer": "Quant"}[other]
            note = (f"logits identical to {what} in all {n} episodes" if not differ else
                    f"logits differ from {what} in {differ} of {n} episodes")
        rows.append(Row(name, backend, n, mean, ci, seconds, note))
        progress(f"  {name}: {100 * mean:.2f}% ± {100 * ci:.2f} ({n} episodes, {seconds:.0f} s) {note}")
    return rows


def format_table(rows: list[Row], setting: str, where: str, workers: int = 1) -> str:
    timed = "" if workers == 1 else f"; times with {workers} worker processes, lava's with one"
    lines = [f"In-context accuracy, {setting}, on {where} (mean ± 95% CI over episodes{timed})", "",
             "| variant | executed by | episodes | accuracy | time | note |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r.variant} | {r.backend} | {r.episodes} | {100 * r.accuracy:.2f} ±{100 * r.ci95:.2f} | "
                     f"{r.seconds:.0f} s | {r.note} |")
    return "\n".join(lines)


def save(rows: list[Row], table: str, out: Path, setting: str = "", where: str = "", workers: int = 1) -> None:
    from ..machine import provenance
    from ..quant.fixed_point import int8_products

    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "variants.md", table + "\n")
    # the times depend on the workers and on how the 8-bit products ran (fixed_point.int8_products)
    write_text(out / "variants.json", json.dumps({"setting": setting, "where": where, "workers": workers,
                                                   "int8_products": int8_products(),
                                                   "rows": [r.__dict__ for r in rows],
                                                   "provenance": provenance()}, indent=2))
    table_csv = io.StringIO()
    writer = csv.DictWriter(table_csv, fieldnames=list(Row.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(r.__dict__ for r in rows)
    write_text(out / "variants.csv", table_csv.getvalue())
