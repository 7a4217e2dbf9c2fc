#!/usr/bin/env bash
# The studies of docs/results/duan-study/ (issue 15), as run: each writes into its folder there,
# and a rerun resumes it, training only what is missing (a finished study only writes its tables
# and figures again). One thread each; on a 2-core CPU two can run side by side.
# Usage: scripts/duan_study.sh CASE (the cases are listed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
S=".venv/bin/hebbformer study --threads 1"
O="docs/results/duan-study"
# Omniglot on the Vinyals split with the encoder started from the shipped ProtoNet's (the encoder studies)
ENC="--lr 2e-3 --encoder-from models/vinyals-protonet.pt data.name=omniglot data.split=vinyals
     data.root=${DATA_ROOT:-../shared/data/omniglot}"

horizon() {  # claim 2: the gradient rule's advantage over the Hebbian one against the delay
  $S --out $O/horizon --tasks reproduction_delay --modules matched_hebbian,matched_gradient,lstm --steps 1000 \
     --seeds 5 --tune-lrs 1e-3,3e-3 --tune-write-rates 0.5,2 --tune-seeds 2
}
ablation() {  # the Hebbian module's plateau on 5-way 1-shot glyphs, one of Duan et al.'s fixes at a time
  $S --out $O/hebbian-ablation --tasks fewshot@1 --steps 1000 --seeds 2 \
     --modules hebbian,hebbian+all,hebbian+keys,hebbian+rate,hebbian+read_first,matched_hebbian
  $S --out $O/hebbian-ablation --tasks fewshot@1 --steps 1000 --seeds 2 --modules delta,matched_gradient
  $S --out $O/hebbian-ablation --tasks fewshot@1 --steps 1000 --seeds 2 --modules hebbian+all+A_ones
}
write_rate() {  # the same task, Duan et al.'s Hebbian update with larger write rates (eta up to 0.8)
  $S --out $O/fewshot-write-rate --tasks fewshot@1 --modules matched_hebbian --steps 1000 --seeds 2 \
     --tune-lrs 2e-3 --tune-write-rates 1,2,4 --tune-seeds 1
}
long() {  # the same task, three times the steps: does the Hebbian module leave the plateau later?
  $S --out $O/fewshot-long --tasks fewshot@1 --modules matched_hebbian,delta --steps 3000 --seeds 1 --lr 2e-3
}
omniglot() {  # the same comparison on Omniglot 5-way 1-shot (Vinyals split), three seeds each
  $S --out $O/fewshot-omniglot --tasks fewshot@1 --modules delta,matched_hebbian --steps 1000 --seeds 3 --lr 2e-3 \
     data.name=omniglot data.split=vinyals data.root="${DATA_ROOT:-../shared/data/omniglot}"
}
plastic() {  # claim 1 in Duan et al.'s own form: the block's MLP as W + F (Hebbian or gradient-based),
  # against delta, on 5-way 1-shot glyphs and then on Omniglot 5-way 1-shot (Vinyals split)
  $S --out $O/fewshot-plastic --tasks fewshot@1 --modules plastic_hebbian,plastic_gradient,delta --steps 1000 \
     --seeds 3 --lr 2e-3
  $S --out $O/fewshot-plastic-omniglot --tasks fewshot@1 --modules plastic_hebbian,plastic_gradient --steps 1000 \
     --seeds 3 --lr 2e-3 data.name=omniglot data.split=vinyals data.root="${DATA_ROOT:-../shared/data/omniglot}"
}
controls() {  # the same task, the controls: softmax attention, and the Hebbian sum without forgetting
  # (linear attention): can any Hebbian sum learn it in this model, or only with nothing shrinking it?
  $S --out $O/fewshot-controls --tasks fewshot@1 --modules hebbian+linear,attention --steps 1000 --seeds 2 --lr 2e-3
}
encoder() {  # Omniglot 5-way 1-shot with the encoder started from the shipped 32-channel ProtoNet (trained on
  # the Vinyals split's training characters only), so that the mixer does not wait for the encoder;
  # at the study's 25k parameters, then at 250k (600 steps: the runs that left the plateau did by step 401)
  local e="--tasks fewshot@1 $ENC"
  $S --out $O/fewshot-omniglot-encoder --modules attention,hebbian+linear,matched_hebbian,delta --steps 1000 --seeds 3 $e
  $S --out $O/fewshot-omniglot-encoder --modules hebbian+linear,attention --steps 1000 --seeds 5 $e
  $S --out $O/fewshot-omniglot-encoder --modules attention,hebbian+linear,matched_hebbian,delta --steps 1000 --seeds 5 $e
  $S --out $O/fewshot-omniglot-encoder-250k --modules matched_hebbian,hebbian+linear --budget 250000 --steps 600 --seeds 3 $e
  $S --out $O/fewshot-omniglot-encoder-250k --modules attention,delta --budget 250000 --steps 600 --seeds 2 $e
  $S --out $O/fewshot-omniglot-encoder-250k --modules hebbian+all+A_ones --budget 250000 --steps 600 --seeds 3 $e
  $S --out $O/fewshot-omniglot-encoder-250k --modules hebbian+linear+decay --budget 250000 --steps 600 --seeds 3 $e
  $S --out $O/fewshot-omniglot-encoder-250k --modules hebbian+linear,hebbian+linear+decay --budget 250000 --steps 600 \
     --seeds 5 $e   # the one difference, forgetting, at 5 seeds each (their seeds 3 and 4 are in runs/, not the table)
  $S --out $O/fewshot-omniglot-encoder-250k --budget 250000 --steps 600 --seeds 5 $e \
     --modules attention,hebbian+linear,hebbian+linear+decay,matched_hebbian,hebbian+all+A_ones,delta
     # the folder's table over every module at 5 seeds (first run at 3, which trained the third seeds of
     # attention and delta; at 5 it trains seeds 3 and 4 of attention, delta, matched_hebbian, hebbian+all+A_ones)
}
E25="--steps 1000 --seeds 5 --tasks fewshot@1 $ENC"  # the encoder study's 25k-parameter runs
normalised() {  # the same Omniglot runs, 25k parameters: the Hebbian sum read through a divisive normalisation
  # (hebbian+linear+norm: does a read that is a weighted mean of the supports, as softmax's is, leave the
  # plateau where the plain sum does in 2 of 5 seeds?)
  $S --out $O/fewshot-omniglot-encoder --modules hebbian+linear+norm $E25
  reads_table
}
tied() {  # the same runs, the Hebbian sum read with its own keys (hebbian+linear+tied: q = k, as a plastic
  # layer reads F with the presynaptic activity it wrote), a second track beside normalised()
  $S --out $O/fewshot-omniglot-encoder --modules hebbian+linear+tied $E25
  reads_table
}
# The tied reads at 3 seeds each, in a folder of their own (a study's table covers the seeds of its last call)
E3="--steps 1000 --seeds 3 ${E25#--steps 1000 --seeds 5}"
TIED="matched_hebbian+tied,matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones,hebbian+linear+tied+plasticity,\
hebbian+linear+tied+decay"
tied_matched() {  # Duan et al.'s update read the same way, Hebbian and gradient-based (claim 1's comparison),
  # with A from ones (their inner_lr_mode='uniform'), then the Hebbian one from U(-1, 1) (their default)
  $S --out $O/fewshot-omniglot-encoder-tied --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones $E3
  $S --out $O/fewshot-omniglot-encoder-tied --modules matched_hebbian+tied $E3
}
tied_ablation() {  # the tied Hebbian sum with one of Duan et al.'s differences added: A from U(-1, 1), forgetting
  $S --out $O/fewshot-omniglot-encoder-tied --modules hebbian+linear+tied+plasticity,hebbian+linear+tied+decay $E3
  $S --out $O/fewshot-omniglot-encoder-tied --modules $TIED $E3  # the folder's table
}
reads_table() {  # the folder's table over every module of the 25k runs
  $S --out $O/fewshot-omniglot-encoder $E25 \
     --modules attention,hebbian+linear,hebbian+linear+norm,hebbian+linear+tied,matched_hebbian,delta
}
tied_duan() {  # the tied sum with the rest of Duan et al.'s differences, one at a time: read before write, their
  # clip of the update's norm, their write's scale 0.1 (the folder of tied_ablation, 3 seeds)
  $S --out $O/fewshot-omniglot-encoder-tied --modules hebbian+linear+tied+read_first,hebbian+linear+tied+clip,\
hebbian+linear+tied+eta_scale $E3
  $S --out $O/fewshot-omniglot-encoder-tied --modules $TIED,hebbian+linear+tied+read_first,hebbian+linear+tied+clip,\
hebbian+linear+tied+eta_scale $E3  # the folder's table
}
tied_random() {  # the tied sum from a random encoder (no --encoder-from): does it leave the plateau on its own?
  # The same settings as omniglot() (fewshot-omniglot/, where delta is 3/3 and matched_hebbian 0/3)
  $S --out $O/fewshot-omniglot-random-encoder --modules hebbian+linear+tied --steps 1000 --seeds 5 --tasks fewshot@1 \
     --lr 2e-3 data.name=omniglot data.split=vinyals data.root="${DATA_ROOT:-../shared/data/omniglot}"
}
horizon_grid() {  # claim 2 again, the grid widened past horizon()'s corner (lr 3e-3, write rate 2 won there)
  $S --out $O/horizon-grid --tasks reproduction_delay --modules matched_hebbian,matched_gradient,lstm --steps 1000 \
     --seeds 5 --tune-lrs 1e-3,3e-3,1e-2 --tune-write-rates 2,4 --tune-seeds 2
}
per_delay() {  # claim 2 as Duan et al. measure it: one network per delay, at horizon_grid()'s winners, 2,000
  # steps (theirs: 10,000 batches of 64; a delay-60 run of the gradient rule takes about 6 min per 1,000 steps here).
  # As run: each module's delays 0 and 60 in a job of its own, started once horizon_grid() had its winner, then
  # delay 20 for all three in one more job beside them; a run is the same whichever call trains it.
  local m
  for m in matched_hebbian matched_gradient lstm; do
    $S --out $O/horizon-per-delay --tasks reproduction_delay@0,reproduction_delay@60 --modules $m --steps 2000 \
       --seeds 5 --tuning-from $O/horizon-grid
  done
  $S --out $O/horizon-per-delay --tasks reproduction_delay@20 --modules matched_hebbian,matched_gradient,lstm \
     --steps 2000 --seeds 5 --tuning-from $O/horizon-grid
  $S --out $O/horizon-per-delay --tasks reproduction_delay@0,reproduction_delay@20,reproduction_delay@60 --steps 2000 \
     --seeds 5 --tuning-from $O/horizon-grid --modules matched_hebbian,matched_gradient,lstm  # the folder's table
}
per_delay_40() {  # the same, delay 40 (a fourth point on the curve, run 2026-12-03 #4), then the folder's table
  $S --out $O/horizon-per-delay --tasks reproduction_delay@40 --modules matched_hebbian,matched_gradient,lstm \
     --steps 2000 --seeds 5 --tuning-from $O/horizon-grid
  $S --out $O/horizon-per-delay --tasks reproduction_delay@0,reproduction_delay@20,reproduction_delay@40,\
reproduction_delay@60 --steps 2000 --seeds 5 --tuning-from $O/horizon-grid --modules matched_hebbian,matched_gradient,lstm
}
delay_60() {  # delay 60 alone, at horizon_grid()'s learning rate with smaller write rates (0.25, and 1:
  # Duan et al.'s eta = 0.1 at initialisation): at the mixed-delay winner (write rate 4, eta = 0.4 at
  # initialisation) each token keeps 0.6 of the memory, 0.6^60 = 5e-14 after 60 blanks, so nothing
  # survives until the modulator has learnt to close the write
  # (run with --seeds 2 first, 2026-12-03 #4, then taken to 5 seeds, 2026-12-06: a rerun trains only the new seeds)
  $S --out $O/horizon-delay60 --tasks reproduction_delay@60 --modules lstm,matched_hebbian,matched_gradient \
     --steps 2000 --seeds 5 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1
}
delay_60_ten() {  # delay_60() taken to 10 seeds (2026-12-06): with 5, its paired difference was -0.051 ± 0.281,
  # its runs spread from solved to stuck. As run: the gradient rule in a job of its own beside the other two; then the table
  local D="--out $O/horizon-delay60 --tasks reproduction_delay@60 --steps 2000 --seeds 10 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1"
  $S $D --modules matched_gradient
  $S $D --modules lstm,matched_hebbian
  $S $D --modules lstm,matched_hebbian,matched_gradient  # the folder's table
}
delay_40() {  # delay 40 with delay_60()'s grid: at the mixed-delay winner (write rate 4) one seed in five of
  # each module left the plateau at 40 (horizon-per-delay/); is that, too, the write rate?
  $S --out $O/horizon-delay40 --tasks reproduction_delay@40 --modules lstm,matched_hebbian,matched_gradient \
     --steps 2000 --seeds 5 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1
}
claims() {  # claims 1 and 3: cue-reward association and linear regression, tuned, 5 seeds
  $S --out $O/claims --tasks cue_reward,regression_duan_linear --modules matched_hebbian,matched_gradient,lstm \
     --steps 1000 --seeds 5 --tune-lrs 1e-3,3e-3 --tune-write-rates 2,4 --tune-seeds 1
}
claims_full() {  # claims 1 and 3 with the issue's protocol at 25k: two tuning seeds, a grid past claims()'s corner
  # (lr 3e-3 won everything there), and Duan et al.'s 2-unit tanh regression. The runs the two grids share
  # (their seed 1000) and claims()'s final runs were copied from claims/ after two of them, trained again,
  # came out bit-identical (train_s aside); a final run at another winner is trained anew
  $S --out $O/claims-full --tasks regression_duan_mlp,cue_reward,regression_duan_linear \
     --modules matched_hebbian,matched_gradient,lstm --steps 1000 --seeds 5 --tune-lrs 1e-3,3e-3,1e-2 \
     --tune-write-rates 2,4 --tune-seeds 2
}
claims_attention() {  # claims-full/ with softmax attention beside the three (its runs only: a rerun trains what is missing)
  $S --out $O/claims-full --tasks regression_duan_mlp,cue_reward,regression_duan_linear \
     --modules matched_hebbian,matched_gradient,lstm,attention --steps 1000 --seeds 5 --tune-lrs 1e-3,3e-3,1e-2 \
     --tune-write-rates 2,4 --tune-seeds 2
}
beside() {  # a transformer augmented, as Chaudhary (2025): each plastic module beside causal softmax attention in
  # every block (--beside-attention), on claims-full's tasks at claims-full's winners (not tuned anew:
  # the budget), against claims-full's attention alone
  $S --out $O/claims-beside-attention --beside-attention --tasks regression_duan_mlp,cue_reward,regression_duan_linear \
     --modules matched_hebbian,matched_gradient --steps 1000 --seeds 5 --tuning-from $O/claims-full
  .venv/bin/hebbformer study-combine $O/claims-full:attention $O/claims-beside-attention --out $O/claims-beside-attention-table
}
beside_tuned() {  # beside() with the plastic modules tuned on their own, beside attention, on claims_full's grid
  # and two tuning seeds (beside() took claims-full's winners, tuned without attention); then, as beside()'s second
  # line, against claims-full's attention alone, seed by seed, in one table (study-combine trains nothing)
  $S --out $O/claims-beside-attention-tuned --beside-attention --tasks regression_duan_mlp,cue_reward,regression_duan_linear \
     --modules matched_hebbian,matched_gradient --steps 1000 --seeds 5 --tune-lrs 1e-3,3e-3,1e-2 --tune-write-rates 2,4 \
     --tune-seeds 2
  .venv/bin/hebbformer study-combine $O/claims-full:attention $O/claims-beside-attention-tuned \
     --out $O/claims-beside-attention-tuned-table
}
beside_high_lr() {  # beside_tuned() with its learning-rate grid taken above 1e-2, where every rule chose the edge:
  # 1e-2 again (compiled: other rounding than beside_tuned()'s eager runs) and 3e-2, the same write rates and tuning
  # seeds (2026-12-07 #3); then against claims-full's attention alone (its winners inside its grid)
  local D="--out $O/claims-beside-attention-high-lr --beside-attention --tasks regression_duan_mlp,cue_reward,regression_duan_linear
           --steps 1000 --seeds 5 --tune-lrs 1e-2,3e-2 --tune-write-rates 2,4 --tune-seeds 2 --compile"
  $S $D --modules matched_hebbian,matched_gradient  # as run: two of these at once (a run is locked while one trains it)
  .venv/bin/hebbformer study-combine $O/claims-full:attention $O/claims-beside-attention-high-lr \
     --out $O/claims-beside-attention-high-lr-table
}
chaudhary_form() {  # the claims' source's own architecture (Chaudhary 2025, docs/results/duan-study/chaudhary-2025/):
  # each block's feed-forward layers plastic beside causal softmax attention, here with Duan et al.'s rules trained
  # through their writes (plastic_*, --beside-attention), on claims_full's tasks, grid and tuning seeds; then against
  # claims-full's attention alone (the source's static control: the same layout, static feed-forward) in one table.
  # plastic_off: the same plastic layers with the write off, at the rules' width (added 2026-12-07 #2, in a job of
  # its own beside the Hebbian rule's: a folder's jobs may differ in modules). The gradient rule in a folder of its
  # own with --compile (2026-12-07 #2: its 8 eager tuning runs set aside, half the time a run), pooled in the table
  local D="--beside-attention --tasks regression_duan_mlp,cue_reward,regression_duan_linear --steps 1000 --seeds 5
           --tune-lrs 1e-3,3e-3,1e-2 --tune-write-rates 2,4 --tune-seeds 2"
  $S --out $O/claims-chaudhary-form $D --modules plastic_hebbian,plastic_off
  $S --out $O/claims-chaudhary-form-gradient $D --modules plastic_gradient --compile
  .venv/bin/hebbformer study-combine $O/claims-full:attention $O/claims-chaudhary-form $O/claims-chaudhary-form-gradient \
     --out $O/claims-chaudhary-form-table
}
chaudhary_untrained() {  # the claims' source as its code runs it: chaudhary_* (its plastic feed-forward layers beside
  # attention, written outside the task loss's graph: coefficients 0.02, modulator and inner loss never trained), on
  # claims_full's tasks with its learning-rate grid and two tuning seeds, at its write scale (0.2: write rate 1);
  # then against claims-full's attention alone in one table. chaudhary_off: the same layers with the write off, at
  # the rules' width (added 2026-12-07 #2, after the rules' runs)
  $S --out $O/claims-chaudhary-untrained --beside-attention --tasks regression_duan_mlp,cue_reward,regression_duan_linear \
     --modules chaudhary_hebbian,chaudhary_gradient,chaudhary_off --steps 1000 --seeds 5 --tune-lrs 1e-3,3e-3,1e-2 --tune-write-rates 1 \
     --tune-seeds 2
  .venv/bin/hebbformer study-combine $O/claims-full:attention $O/claims-chaudhary-untrained \
     --out $O/claims-chaudhary-untrained-table
}
claims_250k() {  # claims_full at the issue's second size, 250k parameters, at each module's 25k winner (claims-full's
  # tuning: the grid again at this size would cost about 12 runs per module and task more); 5 seeds. As run
  # (2026-12-07): matched_gradient,lstm in one job beside matched_hebbian,attention in another; then the table
  local D="--out $O/claims-full-250k --tasks cue_reward,regression_duan_linear,regression_duan_mlp --steps 1000 --seeds 5
           --budget 250000 --tuning-from $O/claims-full"
  $S $D --modules matched_gradient,lstm
  $S $D --modules matched_hebbian,attention
  $S $D --modules matched_hebbian,matched_gradient,lstm,attention  # the folder's table
}
delays_250k() {  # claim 2 at the issue's second size, 250k parameters: the curve's two ends, delays 0 and 60, each
  # module at its 25k winner of that delay (horizon-delay0/, horizon-delay60/; the LSTM at 60 at its own tuning's,
  # horizon-delay-lstm-tuned/: a folder of its own, as a study takes its winners from one folder); 5 seeds; then as
  # one table. At 25k a run took 30 s (LSTM) to 7 min (gradient rule) here; at 250k about 2.7 times that, the
  # gradient rule's 2.35x less with --compile (its token loop compiled: other rounding than the 25k runs').
  # 2026-12-07 #3: --compile now trains the Hebbian rule by its compiled loop too (3.6x faster here); delay 60's
  # 5 Hebbian seeds trained before in its whole-sequence form are kept in horizon-delay60-250k/hebbian-whole-form/
  # and trained again, so that the folder is what the current code gives
  local D="--steps 2000 --seeds 5 --budget 250000 --compile"
  $S --out $O/horizon-delay60-250k --tasks reproduction_delay@60 --tuning-from $O/horizon-delay60 $D \
     --modules matched_hebbian,matched_gradient  # first: the end where the claim expects the rules apart (as run,
     # 2026-12-07 #2: the gradient rule also in a job of its own, --modules matched_gradient, beside this one)
  $S --out $O/horizon-delay0-250k --tasks reproduction_delay@0 --tuning-from $O/horizon-delay0 $D \
     --modules lstm,matched_hebbian,matched_gradient
  $S --out $O/horizon-delay60-250k-lstm --tasks reproduction_delay@60 --tuning-from $O/horizon-delay-lstm-tuned $D \
     --modules lstm
  .venv/bin/hebbformer study-combine $O/horizon-delay0-250k $O/horizon-delay60-250k $O/horizon-delay60-250k-lstm \
     --out $O/horizon-250k
}
delay_60_250k_ten() {  # delays_250k()'s delay 60 taken to 10 seeds (2026-12-07 #3: at 5 the gradient rule solved 2,
  # the Hebbian rule 0, paired -0.048 ± 0.212: undecided). As run: one job per module, then the folder's table
  local D="--out $O/horizon-delay60-250k --tasks reproduction_delay@60 --tuning-from $O/horizon-delay60 --steps 2000
           --seeds 10 --budget 250000 --compile"
  $S $D --modules matched_gradient
  $S $D --modules matched_hebbian
  $S $D --modules matched_hebbian,matched_gradient  # trains nothing: the folder's table
}
delay_20() {  # delay 20 with delay_60()'s grid, the third point of the small write rates' curve
  $S --out $O/horizon-delay20 --tasks reproduction_delay@20 --modules lstm,matched_hebbian,matched_gradient \
     --steps 2000 --seeds 5 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1
}

delay_60_twenty() {  # delay_60_ten() taken to 20 seeds (2026-12-06 #2): at 10 the rules solved 4 and 3, a count
  # too small to order them. As run: the gradient rule in a job of its own beside the other two (its seeds
  # 10-11 trained before 586e5b4 hoisted its projections out of the token loop, 12-19 after); then the table
  local D="--out $O/horizon-delay60 --tasks reproduction_delay@60 --steps 2000 --seeds 20 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1"
  $S $D --modules matched_gradient
  $S $D --modules lstm,matched_hebbian
  $S $D --modules lstm,matched_hebbian,matched_gradient  # the folder's table
}
delay_0() {  # delay 0 with delay_60()'s grid: the start of the small write rates' curve (2026-12-06 #2)
  $S --out $O/horizon-delay0 --tasks reproduction_delay@0 --modules lstm,matched_hebbian,matched_gradient \
     --steps 2000 --seeds 5 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1
}
delays_table() {  # claim 2's curve: the folders of one network per delay, each delay tuned on its own (delay_0,
  # delay_20, delay_40, delay_60 and its seeds), as one table and figures (study-combine trains nothing)
  .venv/bin/hebbformer study-combine $O/horizon-delay0 $O/horizon-delay20 $O/horizon-delay40 $O/horizon-delay60 \
     --out $O/horizon-tuned-per-delay
}
plastic_regression() {  # Duan et al.'s own claim (their abstract): gradient-based plasticity beats Hebbian on
  # few-shot regression. Their rules in their own form, the block's MLP as W + F (plastic_*), on the
  # linear regression, where the matched mixers had the Hebbian rule nominally ahead. Both on one smaller
  # grid (the budget: a plastic-layer run takes 3.5-5 min here), 1 tuning seed, 5 seeds.
  # As run: each module in a job of its own, then the folder's table
  local P="--out $O/regression-plastic-layers --tasks regression_duan_linear --steps 1000 --seeds 5 --tune-lrs 3e-3,1e-2 --tune-write-rates 2,4 --tune-seeds 1"
  $S $P --modules plastic_gradient
  $S $P --modules plastic_hebbian
  $S $P --modules plastic_hebbian,plastic_gradient  # the folder's table
}
length() {  # sequence reproduction by length (delay 0; Duan et al.: lengths 5-40), one network per length, with
  # delay_60()'s grid: the horizon is the length itself, with every item in between to keep apart. Length 20
  # run 2026-12-06 #2, lengths 5, 10, 30 and 40 in #3 (as run: two jobs side by side, one with
  # --modules lstm,matched_hebbian, one with --modules matched_gradient; runs of one folder never collide)
  $S --out $O/reproduction-length \
     --tasks reproduction_length@20,reproduction_length@5,reproduction_length@10,reproduction_length@30,reproduction_length@40 \
     --modules lstm,matched_hebbian,matched_gradient --steps 2000 --seeds 5 --tune-lrs 1e-2 \
     --tune-write-rates 0.25,1 --tune-seeds 1
}

length_lstm_lr() {  # is the LSTM's plateau at length 30 its learning rate? (the study's grid gave it 1e-2 only)
  $S --out $O/reproduction-length-lstm-lr --tasks reproduction_length@30 --modules lstm --steps 2000 --seeds 3 \
     --tune-lrs 1e-3,3e-3,1e-2 --tune-write-rates 1 --tune-seeds 1  # (the LSTM has no write rate)
}

length_lstm_tuned() {  # the LSTM tuned at every length on its own (length_lstm_lr did length 30 only): four learning
  # rates, two tuning seeds as the issue's protocol asks, 5 seeds; the plastic rules' runs stay in reproduction-length/
  $S --out $O/reproduction-length-lstm-tuned \
     --tasks reproduction_length@5,reproduction_length@10,reproduction_length@20,reproduction_length@30,reproduction_length@40 \
     --modules lstm --steps 2000 --seeds 5 --tune-lrs 1e-3,3.162e-3,1e-2,3.162e-2 --tune-write-rates 1 \
     --tune-seeds 2  # (the LSTM has no write rate: its grid is as many learning rates, log-spread)
}

length_table() {  # the lengths' table with the LSTM tuned at every length: the plastic rules' runs of
  # reproduction-length/, the LSTM's of reproduction-length-lstm-tuned/ (study-combine trains nothing)
  .venv/bin/hebbformer study-combine $O/reproduction-length:matched_hebbian,matched_gradient \
     $O/reproduction-length-lstm-tuned --out $O/reproduction-length-tuned
}

encoder_gradient() {  # Duan et al.'s gradient rule untied, as encoder()'s 25k runs (5 seeds: the first sitting ran
  # 3), in a folder of its own, then beside encoder()'s modules in one table (study-combine trains nothing)
  $S --out $O/fewshot-omniglot-encoder-gradient --modules matched_gradient --steps 1000 --seeds 5 --tasks fewshot@1 \
     $ENC
  .venv/bin/hebbformer study-combine $O/fewshot-omniglot-encoder:attention,hebbian+linear,matched_hebbian,delta \
     $O/fewshot-omniglot-encoder-gradient --out $O/fewshot-omniglot-encoder-both-rules
}

claims_cue_high() {  # cue-reward's grid past claims-full's corner (every winner there at its top lr, 1e-2):
  # lr 1e-2 to 1e-1, the same write rates and seeds; the modules without a write rate over as many lrs
  $S --out $O/claims-cue-reward-high-lr --tasks cue_reward --modules matched_hebbian,matched_gradient,lstm,attention \
     --steps 1000 --seeds 5 --tune-lrs 1e-2,3.162e-2,1e-1 --tune-write-rates 2,4 --tune-seeds 2
}

five_shot() {  # Omniglot 5-way 5-shot in the study (the issue's 1- and 5-shot): the tied Hebbian sum (the one
  # Hebbian read that leaves the 1-shot plateau in every seed), the delta rule and softmax attention, the encoder
  # started trained, 25k parameters, as E25 (first run at 3 seeds; five_shot_duan brings them to 5)
  $S --out $O/fewshot-omniglot-encoder-5shot --modules hebbian+linear+tied,delta,attention --steps 1000 --seeds 3 \
     --tasks fewshot@5 $ENC
}

five_shot_duan() {  # Duan et al.'s two rules as matched fast-weight mixers at 5 shots, beside five_shot's three
  # modules (same folder, same settings), 5 seeds each (the first sitting ran 3); the second call trains
  # five_shot's modules' seeds 3 and 4 and writes the folder's table of all five
  local e="--steps 1000 --seeds 5 --tasks fewshot@5 $ENC"
  $S --out $O/fewshot-omniglot-encoder-5shot --modules matched_hebbian,matched_gradient $e
  $S --out $O/fewshot-omniglot-encoder-5shot --modules hebbian+linear+tied,delta,attention,matched_hebbian,matched_gradient $e
}

twenty_way() {  # Omniglot 20-way 1-shot in the study (the issue's 5- and 20-way): the three modules of five_shot,
  # the encoder started trained, 25k parameters, 5 seeds (the first sitting ran 3; a rerun trains seeds 3 and 4)
  $S --out $O/fewshot-omniglot-encoder-20way --modules hebbian+linear+tied,delta,attention --steps 1000 --seeds 5 \
     --tasks fewshot20@1 $ENC
}

delay_60_duan_budget() {  # claim 2 at Duan et al.'s budget: delay 60, 10,000 batches of 64 (delay_60's runs: 2,000 of
  # 32), at delay_60's winners (tuned at 2,000 steps: the grid at this budget would cost days here). A gradient-rule run
  # takes about an hour here, so the seeds come over several sittings (a rerun trains only the missing seeds; a killed
  # run resumes from its state saved every 5 minutes). As run (2026-12-06 #6, SEEDS=2): the gradient rule in a job of
  # its own beside the Hebbian one, the LSTM once those had 2 seeds each; then the table
  local D="--out $O/horizon-delay60-duan-budget --tasks reproduction_delay@60 --steps 10000 --batch-size 64 --seeds ${SEEDS:-5}
           --tuning-from $O/horizon-delay60"
  $S $D --modules matched_gradient
  $S $D --modules matched_hebbian,lstm
  $S $D --modules matched_hebbian,matched_gradient,lstm  # the folder's table
}

delay_lstm_tuned() {  # the delays' LSTM tuned at every delay on its own (delay_0 .. delay_60 gave it lr 1e-2 only),
  # as length_lstm_tuned: four learning rates, two tuning seeds, 5 seeds, 20 at delay 60 like the plastic rules there
  local D="--out $O/horizon-delay-lstm-tuned --modules lstm --steps 2000 --tune-lrs 1e-3,3.162e-3,1e-2,3.162e-2
           --tune-write-rates 1 --tune-seeds 2"  # (the LSTM has no write rate: its grid is as many learning rates)
  $S $D --tasks reproduction_delay@20,reproduction_delay@40 --seeds 5
  $S $D --tasks reproduction_delay@60 --seeds 20
}

tied_five() {  # the tied ablation at 5 seeds (tied_ablation, tied_matched and tied_duan ran 3): first its undecided rows,
  # Duan et al.'s update read with its key (A from U(-1, 1) and from ones; their gradient rule from ones) and the tied
  # sum with their A, each of which left the plateau in 1 of 3 seeds or none; then the rest (3 of 3 each) and the table
  $S --out $O/fewshot-omniglot-encoder-tied --modules hebbian+linear+tied+plasticity,matched_hebbian+tied+A_ones,\
matched_gradient+tied+A_ones,matched_hebbian+tied $E25
  $S --out $O/fewshot-omniglot-encoder-tied --modules $TIED,hebbian+linear+tied+read_first,hebbian+linear+tied+clip,\
hebbian+linear+tied+eta_scale $E25  # the folder's table
}

tied_ten() {  # claim 1's one Omniglot comparison of Duan et al.'s two rules that leaves the plateau (read with the
  # key, A from ones: 3/5 and 2/5 in tied_five) at 10 seeds: seeds 5-9 into tied_five's folder, its table at 5 seeds
  # again, then the two at 10 seeds beside the tied Hebbian sum (5 seeds) in a table of their own
  local M="matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones"
  $S --out $O/fewshot-omniglot-encoder-tied --modules $M --steps 1000 --seeds 10 --tasks fewshot@1 $ENC
  $S --out $O/fewshot-omniglot-encoder-tied --modules $TIED,hebbian+linear+tied+read_first,hebbian+linear+tied+clip,\
hebbian+linear+tied+eta_scale $E25  # the folder's table, as tied_five left it
  .venv/bin/hebbformer study-combine $O/fewshot-omniglot-encoder-tied:$M $O/fewshot-omniglot-encoder:hebbian+linear+tied \
     --out $O/fewshot-omniglot-encoder-tied-ten
}

plastic_encoder() {  # Duan et al.'s rules in their own layer form (the block's MLP as W + F, plastic_*) on Omniglot
  # 5-way 1-shot from the trained encoder, as encoder()'s 25k runs (5 seeds), in a folder of their own; then beside
  # encoder()'s modules in one table (study-combine trains nothing)
  $S --out $O/fewshot-omniglot-encoder-plastic --modules plastic_hebbian,plastic_gradient $E25
  .venv/bin/hebbformer study-combine $O/fewshot-omniglot-encoder:attention,matched_hebbian,delta \
     $O/fewshot-omniglot-encoder-plastic --out $O/fewshot-omniglot-encoder-plastic-table
}

delays_table_lstm_tuned() {  # claim 2's curve with the LSTM tuned at every delay: the plastic rules' runs of the four
  # per-delay folders, the LSTM's of horizon-delay-lstm-tuned/ (delay 0's LSTM, which solves it, from horizon-delay0/)
  .venv/bin/hebbformer study-combine $O/horizon-delay0 $O/horizon-delay20:matched_hebbian,matched_gradient \
     $O/horizon-delay40:matched_hebbian,matched_gradient $O/horizon-delay60:matched_hebbian,matched_gradient \
     $O/horizon-delay-lstm-tuned --out $O/horizon-tuned-per-delay-lstm-tuned
}

delays_twenty() {  # claim 2's curve at 20 seeds at every delay past 0 (2026-12-07 #4): delays 20 and 40 taken from
  # 5 seeds to 20 like delay 60 (delay_60_twenty), the LSTM tuned at each of them likewise (delay_lstm_tuned's
  # folder), then the curve's two tables. As run: two jobs of this case side by side, the runs shared by their locks
  local G="--steps 2000 --seeds 20 --tune-lrs 1e-2 --tune-write-rates 0.25,1 --tune-seeds 1 --modules lstm,matched_hebbian,matched_gradient"
  $S --out $O/horizon-delay40 --tasks reproduction_delay@40 $G
  $S --out $O/horizon-delay20 --tasks reproduction_delay@20 $G
  local L="--out $O/horizon-delay-lstm-tuned --modules lstm --steps 2000 --tune-lrs 1e-3,3.162e-3,1e-2,3.162e-2
           --tune-write-rates 1 --tune-seeds 2 --seeds 20"
  $S $L --tasks reproduction_delay@20,reproduction_delay@40
  $S $L --tasks reproduction_delay@20,reproduction_delay@40,reproduction_delay@60  # trains nothing: the folder's table
  delays_table
  delays_table_lstm_tuned
}

cue_lengths() {  # claims 1 and 3 against the trial's length (2026-12-07 #4): Duan et al.'s cue-reward at 10, 40,
  # 20 (theirs; claims-full ran it on another grid) and 80 steps, one network per length, each tuned on its own on a grid
  # around claims-full's and claims-cue-reward-high-lr's optimum at 20 (lr 1e-2 for every module), so that no winner
  # sits at its edge there; two tuning seeds, 5 seeds, softmax attention beside. Does the LSTM suffice on short trials?
  # As run: two jobs of this case side by side, the runs shared by their locks; 80 steps added once the others were done
  $S --out $O/claims-cue-reward-lengths --tasks cue_reward@10,cue_reward@40,cue_reward@20,cue_reward@80 \
     --modules matched_hebbian,matched_gradient,lstm,attention --steps 1000 --seeds 5 --tune-lrs 3e-3,1e-2,3.162e-2 \
     --tune-write-rates 2,4 --tune-seeds 2
}

tied_long() {  # the rule's limit or its budget? Duan et al.'s update read with its key, their default A from
  # U(-1, 1) (0/5 at 1,000 steps in tied_five), given five times the steps (Duan et al. train tens of thousands);
  # then the same with A from ones (3/5 at 1,000 steps), the table over both. As run (2026-12-07): the first command in
  # the twelfth session, the second in the thirteenth
  local L="--out $O/fewshot-omniglot-encoder-tied-long --steps 5000 --seeds ${SEEDS:-5} --tasks fewshot@1 $ENC"
  $S $L --modules matched_hebbian+tied
  $S $L --modules matched_hebbian+tied,matched_hebbian+tied+A_ones
}

UNDO="matched_hebbian+tied+A_ones+keep,matched_hebbian+tied+A_ones+tanh,matched_hebbian+tied+A_ones+read_after,\
matched_hebbian+tied+A_ones+no_clip,matched_hebbian+tied+A_fixed,matched_hebbian+tied+A_fixed+all"
ONLY="matched_hebbian+tied+only_forgetting,matched_hebbian+tied+only_raw_value,matched_hebbian+tied+only_learned_A,\
matched_hebbian+tied+only_read_first,matched_hebbian+tied+only_clip"
tied_undo() {  # what holds Duan et al.'s update read with its key (A from ones: 4/10 off the plateau in tied_ten) where
  # the tied Hebbian sum leaves it in every seed: each of its differences from that sum taken out alone (no forgetting,
  # the value through tanh, read after write, no clip, A held at ones) and all at once (+A_fixed+all: the tied sum with
  # their write's scale, less its learned rate and read gain), 5 seeds of every row first, then 10 (tied_only writes the
  # table). As run: +A_fixed+all added once the first of two jobs of this case had begun
  $S --out $O/fewshot-omniglot-encoder-tied-undo --modules $UNDO --steps 1000 --seeds 5 --tasks fewshot@1 $ENC
  $S --out $O/fewshot-omniglot-encoder-tied-undo --modules $UNDO --steps 1000 --seeds 10 --tasks fewshot@1 $ENC
}
tied_only() {  # tied_undo the other way round: Duan et al.'s update read with its key with all of its differences
  # from the tied Hebbian sum taken out but one (forgetting at the write's rate, the raw value, A from ones learned,
  # then read before write and the clip, each alone on +A_fixed+all, 5/5 off the plateau in tied_undo), 5 seeds; then
  # the table of both: each row paired with what it varies (the update itself, 10 seeds; +A_fixed+all), the tied sum
  $S --out $O/fewshot-omniglot-encoder-tied-only --modules $ONLY --steps 1000 --seeds 5 --tasks fewshot@1 $ENC
  undo_table
}
tied_sum_ten() {  # the tied Hebbian sum, the undo tables' reference (5/5 in tied()), taken to 10 seeds in its folder;
  # that folder's table (5 seeds) again, then the undo table with all 10
  $S --out $O/fewshot-omniglot-encoder --modules hebbian+linear+tied --steps 1000 --seeds 10 --tasks fewshot@1 $ENC
  reads_table
  undo_table
}
undo_table() {  # tied_undo's and tied_only's rows, each paired with what it varies, beside the update itself (10 seeds)
  # and the tied sum (study-combine trains nothing)
  .venv/bin/hebbformer study-combine $O/fewshot-omniglot-encoder-tied-undo:$UNDO $O/fewshot-omniglot-encoder-tied-only \
     $O/fewshot-omniglot-encoder-tied:matched_hebbian+tied+A_ones $O/fewshot-omniglot-encoder:hebbian+linear+tied \
     --out $O/fewshot-omniglot-encoder-tied-undo-table
}

SIZED="matched_hebbian+tied+A_ones+sized_as_all,matched_hebbian+tied+A_ones+keep+sized_as_update,\
matched_hebbian+tied+A_fixed+all+sized_as_update"
tied_size() {  # is it the size of the read? The read of every tied row where training starts (nothing trained; the sizes
  # MATCHED_SIZED's gains were set from), then Duan et al.'s update read with its key (A from ones) scaled up to the size
  # of the read with all five differences out, and that read and the one with no forgetting scaled down to the update's,
  # 10 seeds each, each paired with the update; then their update with their A from U(-1, 1) scaled up likewise, 5 seeds
  # (as its unscaled runs), paired with those; then the read with no clip scaled down to the update's, 10 seeds; then the
  # table. As run (2026-12-07, thirteenth session): the second command by one job, then by two; the first with the last
  # two modules added once the first job had begun, the last command added once the second had
  $S --read-size --out $O/fewshot-omniglot-encoder-tied-size --seeds 10 --tasks fewshot@1 $ENC \
     --modules hebbian+linear+tied,matched_hebbian+tied,matched_hebbian+tied+A_ones,$UNDO,$ONLY,$SIZED,matched_hebbian+tied+sized_as_all,\
matched_hebbian+tied+A_ones+no_clip+sized_as_update
  $S --out $O/fewshot-omniglot-encoder-tied-size --modules $SIZED --steps 1000 --seeds 10 --tasks fewshot@1 $ENC
  $S --out $O/fewshot-omniglot-encoder-tied-size --modules matched_hebbian+tied+sized_as_all --steps 1000 --seeds 5 \
     --tasks fewshot@1 $ENC
  $S --out $O/fewshot-omniglot-encoder-tied-size --modules matched_hebbian+tied+A_ones+no_clip+sized_as_update --steps 1000 \
     --seeds 10 --tasks fewshot@1 $ENC
  size_table
}
size_table() {  # tied_size's rows beside the updates they resize and the two rows they are sized from (study-combine
  # trains nothing)
  .venv/bin/hebbformer study-combine $O/fewshot-omniglot-encoder-tied-size \
     $O/fewshot-omniglot-encoder-tied:matched_hebbian+tied+A_ones,matched_hebbian+tied \
     $O/fewshot-omniglot-encoder-tied-undo:matched_hebbian+tied+A_ones+keep,matched_hebbian+tied+A_ones+no_clip,matched_hebbian+tied+A_fixed+all \
     --out $O/fewshot-omniglot-encoder-tied-size-table
}

plastic_long() {  # Duan et al.'s plastic layers (0/5 each at 1,000 steps in plastic_encoder) given five times the steps, as
  # tied_long gave their update read with its key: Omniglot 5-way 1-shot from the trained encoder, 2 seeds each (a run
  # takes about 20 minutes here), two jobs of this case side by side
  $S --out $O/fewshot-omniglot-encoder-plastic-long --modules plastic_hebbian,plastic_gradient --steps 5000 \
     --seeds ${SEEDS:-2} --tasks fewshot@1 $ENC
}

tied_long_gradient() {  # tied_long's other rule: Duan et al.'s gradient update read with its key, A from ones (3/10 at
  # 1,000 steps), at 5,000 steps, beside the Hebbian one's 4/5 there; 2 seeds first (a run takes about 30 minutes here),
  # two jobs of this case side by side
  $S --out $O/fewshot-omniglot-encoder-tied-long --steps 5000 --seeds ${SEEDS:-2} --tasks fewshot@1 $ENC \
     --modules matched_gradient+tied+A_ones
}

tied_ten_thousand() {  # Duan et al.'s update read with its key, their default A from U(-1, 1) (0/5 at 1,000 and at
  # 5,000 steps in tied_long), at 10,000 steps, the least of Duan et al.'s budgets (10,000-40,000): the rule's limit or its
  # budget? About 25 minutes a run here; two jobs of this case side by side share the seeds. As run (fourteenth
  # session): seeds 0-3, then SEEDS=4 for the table
  $S --out $O/fewshot-omniglot-encoder-tied-10k --steps 10000 --seeds ${SEEDS:-5} --tasks fewshot@1 $ENC \
     --modules matched_hebbian+tied
}

tied_schedule() {  # the steps or the schedule? tied_long's two rules with A from ones (4/5 each off the plateau at 5,000
  # steps, 3/5 and 2/5 at 1,000) trained 1,000 steps on the 5,000-step schedule: each run is the first fifth of its
  # tied_long run, step for step (a warm-up of 250 steps, not 50, and the learning rate near its peak at step 1,000),
  # scored there
  $S --out $O/fewshot-omniglot-encoder-tied-schedule --steps 1000 --schedule-steps 5000 --seeds ${SEEDS:-5} \
     --tasks fewshot@1 $ENC --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones
}

tied_warmup() {  # tied_schedule's other half: the warm-up alone. The same two rules, 1,000 steps on their own schedule
  # but with the 5,000-step schedule's warm-up (250 steps, not 50): is a gentler start what frees the seeds? It is; so
  # then the modules the encoder table (omniglot-encoder, 1,000 steps, 50 of warm-up) left on the plateau in some or
  # all seeds, on the same schedule: Duan et al.'s two rules untied, softmax attention, the Hebbian sums; then the first
  # two rules to 10 seeds, and to 15 (their difference's CI at 10 was near 0). Two jobs of this case share the runs
  local W="--out $O/fewshot-omniglot-encoder-tied-warmup --steps 1000 --warmup-steps 250 --tasks fewshot@1 $ENC"
  $S $W --seeds ${SEEDS:-5} --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones
  $S $W --seeds 5 --modules matched_hebbian,matched_gradient
  $S $W --seeds 5 --modules attention,hebbian+linear+norm,hebbian+linear
  $S $W --seeds 10 --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones
  $S $W --seeds 15 --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones
}

tied_warmup_shots() {  # claim 1's Omniglot comparison past 5-way 1-shot: tied_warmup's two rules (Duan et al.'s update
  # read with its key, A from ones; 13/15 and 12/15 off the plateau at 1-shot, Hebbian ahead) on the same schedule (1,000
  # steps, 250 of warm-up) at 5-way 5-shot, then 20-way 1-shot, 5 seeds each (untied, both rules were 0/5 at 5 shots).
  # As run (fifteenth session, AVX2): 5 seeds at 5 shots, then SEEDS=3 for 20 ways (which rewrote the 5-shot tables for
  # 3 seeds: the first command with 5, training nothing, wrote them back), then SEEDS=5 (sixteenth session) for seeds 3
  # and 4 at 20 ways; 8-21 minutes a run; two jobs share the runs
  local W="--steps 1000 --warmup-steps 250 --seeds ${SEEDS:-5} $ENC --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones"
  $S --out $O/fewshot-omniglot-encoder-tied-warmup-5shot --tasks fewshot@5 $W
  $S --out $O/fewshot-omniglot-encoder-tied-warmup-20way --tasks fewshot20@1 $W
}

tied_warmup_twenty_long() {  # tied_warmup_shots' 20 ways (0/3 each at 1,000 steps, at chance) at five times the steps
  # (5,000, 250 of warm-up): the rules' limit at 20 ways or their budget? One seed of each rule first (two jobs of this
  # case side by side take one each; about an hour a run here), then the second seed of each. As run (sixteenth session,
  # AVX2): the first command (0.052 each, at chance); the second was stopped at its start
  local W="--out $O/fewshot-omniglot-encoder-tied-warmup-20way-5k --tasks fewshot20@1 --steps 5000 --warmup-steps 250
           $ENC --modules matched_hebbian+tied+A_ones,matched_gradient+tied+A_ones"
  $S $W --seeds 1
  $S $W --seeds ${SEEDS:-2}
}

case "${1:-}" in
  horizon) horizon ;; ablation) ablation ;; write-rate) write_rate ;; long) long ;; omniglot) omniglot ;; plastic) plastic ;; controls) controls ;; encoder) encoder ;; normalised) normalised ;; tied) tied ;; tied-ablation) tied_ablation ;; tied-matched) tied_matched ;; tied-duan) tied_duan ;; tied-random) tied_random ;; horizon-grid) horizon_grid ;; per-delay) per_delay ;; per-delay-40) per_delay_40 ;; delay-60) delay_60 ;; delay-60-ten) delay_60_ten ;; delay-40) delay_40 ;; claims) claims ;; claims-full) claims_full ;; claims-attention) claims_attention ;; beside) beside ;; delay-20) delay_20 ;; delay-60-twenty) delay_60_twenty ;; delay-0) delay_0 ;; delays-table) delays_table ;; plastic-regression) plastic_regression ;; length) length ;; length-lstm-lr) length_lstm_lr ;; five-shot) five_shot ;; claims-cue-high) claims_cue_high ;; encoder-gradient) encoder_gradient ;; length-lstm-tuned) length_lstm_tuned ;; length-table) length_table ;; twenty-way) twenty_way ;; five-shot-duan) five_shot_duan ;; delay-60-duan-budget) delay_60_duan_budget ;; delay-lstm-tuned) delay_lstm_tuned ;; tied-five) tied_five ;; tied-ten) tied_ten ;; plastic-encoder) plastic_encoder ;; beside-tuned) beside_tuned ;; beside-high-lr) beside_high_lr ;; chaudhary-form) chaudhary_form ;; chaudhary-untrained) chaudhary_untrained ;; claims-250k) claims_250k ;; delays-250k) delays_250k ;; delay-60-250k-ten) delay_60_250k_ten ;; delays-table-lstm-tuned) delays_table_lstm_tuned ;; delays-twenty) delays_twenty ;; cue-lengths) cue_lengths ;; tied-long) tied_long ;; tied-undo) tied_undo ;; tied-only) tied_only ;; tied-sum-ten) tied_sum_ten ;; tied-size) tied_size ;; size-table) size_table ;; plastic-long) plastic_long ;; tied-long-gradient) tied_long_gradient ;; tied-ten-thousand) tied_ten_thousand ;; tied-schedule) tied_schedule ;; tied-warmup) tied_warmup ;; tied-warmup-shots) tied_warmup_shots ;; tied-warmup-twenty-long) tied_warmup_twenty_long ;;
  all) horizon; ablation; write_rate; long; omniglot; plastic; controls; encoder; normalised; tied; tied_ablation; tied_matched; tied_duan; tied_random; horizon_grid; per_delay; per_delay_40; delay_60; delay_60_ten; delay_40; claims; claims_full; claims_attention; beside; delay_20; delay_60_twenty; delay_0; delays_table; plastic_regression; length; length_lstm_lr; length_lstm_tuned; length_table; encoder_gradient; claims_cue_high; five_shot; twenty_way; five_shot_duan; delay_60_duan_budget; delay_lstm_tuned; tied_five; tied_ten; plastic_encoder; beside_tuned; beside_high_lr; chaudhary_form; chaudhary_untrained; claims_250k; delays_250k; delay_60_250k_ten; delays_table_lstm_tuned; delays_twenty; cue_lengths; tied_long; tied_undo; tied_only; tied_sum_ten; tied_size; plastic_long; tied_long_gradient; tied_ten_thousand; tied_schedule; tied_warmup; tied_warmup_shots; tied_warmup_twenty_long ;;
  *) echo "usage: $0 horizon|ablation|write-rate|long|omniglot|plastic|controls|encoder|normalised|tied|tied-ablation|tied-matched|tied-duan|tied-random|horizon-grid|per-delay|per-delay-40|delay-60|delay-60-ten|delay-40|claims|claims-full|claims-attention|beside|delay-20|delay-60-twenty|delay-0|delays-table|plastic-regression|length|length-lstm-lr|length-lstm-tuned|length-table|encoder-gradient|claims-cue-high|five-shot|twenty-way|five-shot-duan|delay-60-duan-budget|delay-lstm-tuned|tied-five|tied-ten|plastic-encoder|beside-tuned|beside-high-lr|chaudhary-form|chaudhary-untrained|claims-250k|delays-250k|delay-60-250k-ten|delays-table-lstm-tuned|delays-twenty|cue-lengths|tied-long|tied-undo|tied-only|tied-sum-ten|tied-size|size-table|plastic-long|tied-long-gradient|tied-ten-thousand|tied-schedule|tied-warmup|tied-warmup-shots|tied-warmup-twenty-long|all" >&2; exit 2 ;;
esac
