"""Chaudhary (2025)'s own figures, seed by seed, from the result files in their repository
(experiments/results/*_rule-*.json, 3 seeds per rule, each rule on seeds of its own), and the rules'
differences with Welch 95% CIs (unpaired: no seed is shared between rules).

    .venv/bin/python docs/results/duan-study/chaudhary-2025/source_figures.py hebbian-transformer
"""

import json
import math
import sys
from pathlib import Path

from scipy import stats

RESULTS = Path(sys.argv[1]) / "experiments" / "results"
TASKS = {"copy_delay20": "recall_accuracy", "cue": "query_loss", "regression": "query_loss",
         "classification_cifarfs": "accuracy", "classification_omniglot": "accuracy"}


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return ma - mb, stats.t.ppf(0.975, df) * math.sqrt(va + vb)


for task, metric in TASKS.items():
    finals = {rule: [run["final"][metric] for run in json.loads((RESULTS / f"{task}_rule-{rule}.json").read_text())["runs"]]
              for rule in ("none", "hebbian", "gradient")}
    print(f"{task} ({metric}): " + "; ".join(
        f"{rule} {' / '.join(f'{x:.3f}' for x in xs)} (mean {sum(xs) / len(xs):.3f})" for rule, xs in finals.items()))
    for a, b in (("hebbian", "gradient"), ("hebbian", "none"), ("gradient", "none")):
        diff, ci = welch(finals[a], finals[b])
        print(f"    {a} - {b}: {diff:+.3f} ± {ci:.3f}")
