"""Each module of claims-full-250k/ against itself at 25k (claims-full/), paired by seed: a seed
draws the same training batches and evaluation sequences at both sizes. Prints, per task, module
and level, the mean over the seeds of (250k - 25k) with its 95% CI (Student t), as study.py's
paired differences are computed. Run from the repository's root:

    .venv/bin/python docs/results/duan-study/claims-full-250k/sizes.py > docs/results/duan-study/claims-full-250k/sizes.txt
"""

import json
from pathlib import Path

from hebbformer.experiments.study import level_score
from hebbformer.stats import mean_ci_seeds

HERE = Path(__file__).parent
SMALL = HERE.parent / "claims-full"


def runs(folder: Path) -> dict:
    out = {}
    for path in (folder / "runs").glob("*.json"):
        r = json.loads(path.read_text())
        out[(r["task"], r["module"], r["seed"])] = r
    return out


large, small = runs(HERE), runs(SMALL)
print("task | module | level | 250k - 25k (mean ± 95% CI) | seeds | parameters 250k / 25k")
for task, module in sorted({(t, m) for t, m, _ in large}):
    seeds = sorted(s for t, m, s in large if (t, m) == (task, module) and (t, m, s) in small)
    first_large, first_small = large[(task, module, seeds[0])], small[(task, module, seeds[0])]
    levels = list(first_large["levels"])
    for level in levels + (["all"] if len(levels) > 1 else []):
        d = [level_score(large[(task, module, s)], level) - level_score(small[(task, module, s)], level) for s in seeds]
        mean, ci = mean_ci_seeds(d)
        print(f"{task} | {module} | {level} | {mean:+.3f} ± {ci:.3f} | {len(seeds)} | "
              f"{first_large['parameters']} / {first_small['parameters']}")
