#!/usr/bin/env bash
# The trainings behind the shipped Omniglot models (models/, docs/results/omniglot.md), as run.
# Two tracks of one thread each, side by side on a 2-core CPU (the times in the manifest are of
# that sharing); every run resumes where a kill left it, and a finished one is left as it is, so
# running this script again continues. Usage: scripts/train_omniglot.sh icl|baselines|wide|third|attend|heads|sixth [DATA_ROOT]
# "wide": the second round (2026-12-02), the standard Conv-4 width of 64 channels (Snell et al.,
# Finn et al.) instead of 32, run as two tracks: the learner alone, then the two ProtoNets.
# "third": the third round (2026-12-02), the in-context learner under Lake's protocol at 64
# channels, its encoder started from the shipped lake-protonet-64 (a Lake model: no leak).
# "attend": the fourth round (2026-12-02 #4), both protocols' learners with model.readout=attend
# (the query's output compared with the supports' outputs, a label's logit the attention mass on
# its supports), each encoder started from the shipped 64-channel learner of its own protocol.
# "heads": the fifth round (2026-12-02 #5), both protocols' learners with 2 heads of 128 dimensions
# instead of 8 of 32: with the features randomly rotated in training, a head's score reads only a
# random projection of its rank (32) of the 64 features; at 128 it can read all of them.
# "sixth": the sixth round (2026-12-03 #2), the Vinyals learner with two heads started whole from the
# shipped Lake learner with two heads, which has left the plateau that two heads sat on here.
set -euo pipefail
cd "$(dirname "$0")/.."
D="data.root=${2:-../shared/data/omniglot}"
H=".venv/bin/hebbformer"
T="train.threads=1"
NO_AUX="model.rotate_features=false train.aux_protonet=0"  # the recipe's extras are the learner's own

run() {  # run OUT ARGS...: train into OUT, or resume it when a checkpoint is there
  local out=$1; shift
  if [ -f "$out/checkpoint.pt" ]; then
    $H train --resume --out "$out" --quiet
  else
    $H train "$@" --out "$out" --quiet
  fi
}

both_protocols() {  # both_protocols NAME ARGS...: both protocols' 64-channel learners, side by side,
  # each encoder started from the shipped 64-channel learner of its own protocol, into runs/*_icl64_NAME
  local name=$1; shift
  local a="model.encoder_channels=64 train.steps=3000 train.val_every=500 $*"
  run "runs/vinyals_icl64_$name" -c configs/omniglot_vinyals.toml $D $T $a \
      train.init_encoder_from=models/vinyals-icl-64.pt &
  run "runs/lake_icl64_$name" -c configs/omniglot_lake.toml $D $T $a \
      train.init_encoder_from=models/lake-icl-64.pt episode.same_alphabet=0.75
  wait
}

case "${1:-}" in
  icl)  # the in-context learner on the Vinyals split: softmax, then relu, then Quant
    run runs/vinyals_icl -c configs/omniglot_vinyals.toml $D $T train.steps=4500
    run runs/vinyals_relu -c configs/omniglot_vinyals.toml $D $T model.attention=relu \
        train.init_from=runs/vinyals_icl train.steps=600 train.warmup_steps=50 train.lr=5e-4
    run runs/vinyals_quant -c configs/omniglot_vinyals.toml $D $T model.attention=relu model.quant=true $NO_AUX \
        train.init_from=runs/vinyals_relu train.steps=300 train.warmup_steps=20 train.lr=2e-4
    # Quant's Float twin (shipped as vinyals-relu): the same 300 steps, settings and batches, no quantisation
    run runs/vinyals_relu_twin -c configs/omniglot_vinyals.toml $D $T model.attention=relu $NO_AUX \
        train.init_from=runs/vinyals_relu train.steps=300 train.warmup_steps=20 train.lr=2e-4
    ;;
  baselines)  # ProtoNets on both protocols, the in-context learner under Lake's, MAML, fine-tuning
    run runs/vinyals_protonet -c configs/omniglot_vinyals.toml $D $T model.method=protonet $NO_AUX train.steps=2500
    run runs/lake_protonet -c configs/omniglot_lake.toml $D $T model.method=protonet $NO_AUX train.steps=2500
    run runs/lake_icl -c configs/omniglot_lake.toml $D $T train.steps=2000
    # MAML as Finn et al. train it on Omniglot: 5-way, one inner step of 0.4, no augmentation
    MAML="model.method=maml $NO_AUX episode.ways=5 episode.queries=5 episode.same_alphabet=0 train.augment=false"
    run runs/vinyals_maml -c configs/omniglot_vinyals.toml $D $T $MAML train.steps=1000
    run runs/vinyals_maml_fo -c configs/omniglot_vinyals.toml $D $T $MAML model.maml_first_order=true train.steps=1000
    # fine-tuning: a cosine head fitted on each support set over the ProtoNet's frozen encoder
    run runs/vinyals_finetune -c configs/omniglot_vinyals.toml $D $T model.method=finetune $NO_AUX \
        train.init_from=runs/vinyals_protonet train.freeze_encoder=true train.steps=1
    ;;
  wide)  # 64 channels: the in-context learner (Vinyals), ProtoNets under both protocols
    W="model.encoder_channels=64"
    run runs/vinyals_icl64 -c configs/omniglot_vinyals.toml $D $T $W train.steps=3600 train.val_every=600 &
    run runs/lake_protonet64 -c configs/omniglot_lake.toml $D $T $W model.method=protonet $NO_AUX train.steps=3000
    run runs/vinyals_protonet64 -c configs/omniglot_vinyals.toml $D $T $W model.method=protonet $NO_AUX train.steps=2500
    wait
    ;;
  third)  # 64 channels, Lake's protocol: the learner over the shipped ProtoNet's encoder, trained end to end
    run runs/lake_icl64 -c configs/omniglot_lake.toml $D $T model.encoder_channels=64 \
        train.init_encoder_from=models/lake-protonet-64.pt episode.same_alphabet=0.75 train.steps=3000 train.val_every=500
    ;;
  attend)  # both protocols, model.readout=attend, two tracks of one thread each
    both_protocols attend model.readout=attend
    ;;
  heads)  # both protocols, two heads of 128 dimensions: one head's score spans the 64 features
    both_protocols h2 model.heads=2
    ;;
  sixth)  # the Vinyals learner with two heads, started whole from lake-icl-64-h2 (a Lake model: it saw
    # images_background only, so none of the Vinyals test characters), past the plateau from the start
    run runs/vinyals_icl64_h2_fromlake -c configs/omniglot_vinyals.toml $D $T model.encoder_channels=64 \
        model.heads=2 train.steps=2500 train.val_every=500 train.lr=5e-4 train.warmup_steps=50 \
        train.init_from=models/lake-icl-64-h2.pt
    ;;
  *) echo "usage: $0 icl|baselines|wide|third|attend|heads|sixth [DATA_ROOT]" >&2; exit 2 ;;
esac
