#!/usr/bin/env bash
# The trainings behind the shipped Omniglot models (models/, docs/results/omniglot.md), as run.
# Two tracks of one thread each, side by side on a 2-core CPU; every run resumes where a kill
# left it (run this script again). Usage: scripts/train_omniglot.sh icl|baselines [DATA_ROOT]
set -euo pipefail
cd "$(dirname "$0")/.."
D="data.root=${2:-../shared/data/omniglot}"
H=".venv/bin/hebbformer"
T="train.threads=1"

run() {  # run OUT ARGS...: train into OUT, or resume it when a checkpoint is there
  local out=$1; shift
  if [ -f "$out/checkpoint.pt" ]; then
    $H train --resume --out "$out" --quiet
  else
    $H train "$@" --out "$out" --quiet
  fi
}

case "${1:-}" in
  icl)  # the in-context learner on the Vinyals split: softmax, then relu, then Quant
    run runs/vinyals_icl -c configs/omniglot_vinyals.toml $D $T train.steps=4500
    run runs/vinyals_relu -c configs/omniglot_vinyals.toml $D $T model.attention=relu \
        train.init_from=runs/vinyals_icl train.steps=600 train.warmup_steps=50 train.lr=5e-4
    run runs/vinyals_quant -c configs/omniglot_vinyals.toml $D $T model.attention=relu model.quant=true \
        model.rotate_features=false train.aux_protonet=0 \
        train.init_from=runs/vinyals_relu train.steps=300 train.warmup_steps=20 train.lr=2e-4
    ;;
  baselines)  # ProtoNets on both protocols, the in-context learner under Lake's, MAML
    run runs/vinyals_protonet -c configs/omniglot_vinyals.toml $D $T model.method=protonet \
        model.rotate_features=false train.aux_protonet=0 train.steps=2500
    run runs/lake_protonet -c configs/omniglot_lake.toml $D $T model.method=protonet \
        model.rotate_features=false train.aux_protonet=0 train.steps=2500
    run runs/lake_icl -c configs/omniglot_lake.toml $D $T train.steps=3000
    run runs/vinyals_maml -c configs/omniglot_vinyals.toml $D $T model.method=maml \
        model.rotate_features=false train.aux_protonet=0 episode.ways=5 episode.queries=5 \
        episode.same_alphabet=0 train.augment=false train.steps=1500
    ;;
  *) echo "usage: $0 icl|baselines [DATA_ROOT]" >&2; exit 2 ;;
esac
