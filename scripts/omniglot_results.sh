#!/usr/bin/env bash
# Every figure of docs/results/omniglot.md from the shipped models (models/), then the page itself.
# Each evaluation writes runs/eval/NAME/; rerun one alone to re-check one row, e.g.
#   .venv/bin/hebbformer eval vinyals-icl
# Usage: scripts/omniglot_results.sh [DATA_ROOT]   (default ../shared/data/omniglot)
set -euo pipefail
cd "$(dirname "$0")/.."
D="data.root=${1:-../shared/data/omniglot}"
H=".venv/bin/hebbformer"
for name in $(.venv/bin/python -c "from hebbformer import shipped; print(' '.join(shipped.manifest()))"); do
  $H eval "$name" "$D" --quiet
done
# the in-context learners' encoders alone, read out as ProtoNets: features vs the transformer's reading
for name in $(.venv/bin/python -c "from hebbformer import shipped; print(' '.join(n for n in shipped.manifest() if '-icl' in n))"); do
  $H eval "$name" "$D" eval.encoder_probe=true --quiet
done
# one model, four back-ends: Float (relu) / Quant / Loihi 2 emulated (1,000 episodes) / lava (200);
# 5 queries per class (lava simulates every token of an episode, one after another)
$H variants vinyals-relu vinyals-quant --episodes 1000 --lava-episodes 200 --out runs/eval/vinyals-quant "$D" eval.queries=5
# the page is made from copies kept beside it, so that its sources are in the repository too
for d in runs/eval/*/; do
  mkdir -p "docs/results/omniglot-evals/$(basename "$d")"
  cp "$d"/*.json "docs/results/omniglot-evals/$(basename "$d")/"
done
$H results
