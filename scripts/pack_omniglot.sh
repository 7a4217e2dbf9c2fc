#!/usr/bin/env bash
# Ships the models that scripts/train_omniglot.sh trained: models/NAME.pt and models/MANIFEST.json
# (sha256, size, training command, machine and time, and the check counts tests/test_shipped.py
# re-measures). Usage: scripts/pack_omniglot.sh [NAME ...]   (default: every shipped model whose run exists)
set -euo pipefail
cd "$(dirname "$0")/.."
H=".venv/bin/hebbformer"
V="hebbformer train -c configs/omniglot_vinyals.toml data.root=../shared/data/omniglot train.threads=1"
L="hebbformer train -c configs/omniglot_lake.toml data.root=../shared/data/omniglot train.threads=1"
NO_AUX="model.rotate_features=false train.aux_protonet=0"
MAML="model.method=maml $NO_AUX episode.ways=5 episode.queries=5 episode.same_alphabet=0 train.augment=false"
declare -A RUN DESC CMD
add() { RUN[$1]=$2; DESC[$1]=$3; CMD[$1]="$4 --out $2"; }
add vinyals-icl runs/vinyals_icl "in-context learner, softmax attention, Float; Vinyals split" \
    "$V train.steps=4500"
add vinyals-quant runs/vinyals_quant "in-context learner, relu attention, Quant (QAT from runs/vinyals_relu, the relu learner fine-tuned from vinyals-icl); Vinyals split" \
    "$V model.attention=relu model.quant=true $NO_AUX train.init_from=runs/vinyals_relu train.steps=300 train.warmup_steps=20 train.lr=2e-4"
add vinyals-protonet runs/vinyals_protonet "Prototypical Network; Vinyals split" \
    "$V model.method=protonet $NO_AUX train.steps=2500"
add vinyals-maml runs/vinyals_maml "MAML, second order, 5-way 1-shot meta-training; Vinyals split" \
    "$V $MAML train.steps=1000"
add vinyals-maml-fo runs/vinyals_maml_fo "MAML, first order, 5-way 1-shot meta-training; Vinyals split" \
    "$V $MAML model.maml_first_order=true train.steps=1000"
add vinyals-finetune runs/vinyals_finetune "fine-tuning: a cosine head per support set on vinyals-protonet's frozen encoder" \
    "$V model.method=finetune $NO_AUX train.init_from=runs/vinyals_protonet train.freeze_encoder=true train.steps=1"
add lake-icl runs/lake_icl "in-context learner, softmax attention, Float; Lake's protocol (images_background only)" \
    "$L train.steps=2000"
add lake-protonet runs/lake_protonet "Prototypical Network; Lake's protocol (images_background only)" \
    "$L model.method=protonet $NO_AUX train.steps=2500"
W="model.encoder_channels=64"  # the second round: the standard Conv-4 width
add vinyals-icl-64 runs/vinyals_icl64 "in-context learner, softmax attention, Float, 64-channel Conv-4; Vinyals split" \
    "$V $W train.steps=3600 train.val_every=600"
add vinyals-protonet-64 runs/vinyals_protonet64 "Prototypical Network, 64-channel Conv-4; Vinyals split" \
    "$V $W model.method=protonet $NO_AUX train.steps=2500"
add lake-protonet-64 runs/lake_protonet64 "Prototypical Network, 64-channel Conv-4; Lake's protocol (images_background only)" \
    "$L $W model.method=protonet $NO_AUX train.steps=3000"
add lake-icl-64 runs/lake_icl64 "in-context learner, softmax attention, Float, 64-channel Conv-4 started from lake-protonet-64's encoder; Lake's protocol (images_background only)" \
    "$L $W train.init_encoder_from=models/lake-protonet-64.pt episode.same_alphabet=0.75 train.steps=3000 train.val_every=500"
A="model.encoder_channels=64 model.readout=attend train.steps=3000 train.val_every=500"  # the fourth round
add vinyals-icl-64-attend runs/vinyals_icl64_attend "in-context learner, softmax attention, Float, attend read-out, 64-channel Conv-4 started from vinyals-icl-64's encoder; Vinyals split" \
    "$V $A train.init_encoder_from=models/vinyals-icl-64.pt"
add lake-icl-64-attend runs/lake_icl64_attend "in-context learner, softmax attention, Float, attend read-out, 64-channel Conv-4 started from lake-icl-64's encoder; Lake's protocol (images_background only)" \
    "$L $A train.init_encoder_from=models/lake-icl-64.pt episode.same_alphabet=0.75"
# the fifth round: 2 heads of 128 dimensions instead of 8 of 32 (docs/results/two-heads/)
add lake-icl-64-h2 runs/lake_icl64_h2 "in-context learner, softmax attention, Float, 2 heads of 128, 64-channel Conv-4 started from lake-icl-64's encoder; Lake's protocol (images_background only)" \
    "$L model.encoder_channels=64 train.steps=3000 train.val_every=500 model.heads=2 train.init_encoder_from=models/lake-icl-64.pt episode.same_alphabet=0.75"
# the sixth round (2026-12-03 #2): the Vinyals learner started whole from lake-icl-64-h2 (a Lake model, so
# nothing of the Vinyals test characters reached it), and vinyals-quant's Float twin (docs/results/vinyals-h2/)
add vinyals-icl-64-h2 runs/vinyals_icl64_h2_fromlake "in-context learner, softmax attention, Float, 2 heads of 128, 64-channel Conv-4, started whole from lake-icl-64-h2; Vinyals split" \
    "$V model.encoder_channels=64 model.heads=2 train.steps=2500 train.val_every=500 train.lr=5e-4 train.warmup_steps=50 train.init_from=models/lake-icl-64-h2.pt"
# (its start, models/vinyals-relu.pt as shipped until this round, was runs/vinyals_relu packed in float16:
#  git show cc26cf4:models/vinyals-relu.pt; scripts/train_omniglot.sh icl starts it from runs/vinyals_relu)
add vinyals-relu runs/vinyals_relu_twin "in-context learner, relu attention, Float: vinyals-quant's twin, the same 300 steps from the relu learner without quantisation; Vinyals split" \
    "$V model.attention=relu $NO_AUX train.init_from=models/vinyals-relu.pt train.steps=300 train.warmup_steps=20 train.lr=2e-4"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(vinyals-icl vinyals-quant vinyals-relu vinyals-protonet vinyals-maml vinyals-maml-fo vinyals-finetune
                                  lake-protonet vinyals-icl-64-h2 vinyals-protonet-64 lake-protonet-64 lake-icl-64 lake-icl-64-h2)
for name in "${names[@]}"; do
  if [ -z "${RUN[$name]+set}" ]; then
    echo "unknown model $name; known: ${!RUN[*]}" >&2; exit 2
  fi
  if [ -f "${RUN[$name]}/checkpoint.pt" ]; then
    $H pack "${RUN[$name]}" "$name" --description "${DESC[$name]}" --command "${CMD[$name]}"
  else
    echo "skipped $name: ${RUN[$name]} has no checkpoint"
  fi
done
