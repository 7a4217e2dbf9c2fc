"""Each module of claims-full-250k/ against itself at 25k (claims-full/), paired by seed: a seed
draws the same training batches and evaluation sequences at both sizes. Prints, per task, module
and level, the mean over the seeds of (250k - 25k) with its 95% CI (Student t), as study.py's
paired differences are computed (``seed_paired``). Run from the repository's root:

    .venv/bin/python docs/results/duan-study/claims-full-250k/sizes.py > docs/results/duan-study/claims-full-250k/sizes.txt
"""

import json
from pathlib import Path

from hebbformer.experiments.study import seed_paired

HERE = Path(__file__).parent
SMALL = HERE.parent / "claims-full"


def runs(folder: Path) -> dict:
    """(task, module) -> {seed: run} of a study folder's final runs."""
    out = {}
    for path in (folder / "runs").glob("*.json"):
        r = json.loads(path.read_text())
        out.setdefault((r["task"], r["module"]), {})[r["seed"]] = r
    return out


large, small = runs(HERE), runs(SMALL)
print("task | module | level | 250k - 25k (mean ± 95% CI) | seeds | parameters 250k / 25k")
for task, module in sorted(large):
    big, little = large[(task, module)], small.get((task, module), {})
    for d in seed_paired(big, little):
        seed = min(big.keys() & little.keys())
        print(f"{task} | {module} | {d['level']} | {d['mean']:+.3f} ± {d['ci95']:.3f} | {d['seeds']} | "
              f"{big[seed]['parameters']} / {little[seed]['parameters']}")
