"""Meta-training throughput: episodes/s and tokens/s of the training step, against a plain
reference PyTorch implementation of the same model, as a fraction of this machine's measured
matmul peak; and the episode sampler's own rate, which must be far above it (the data never
limits training).

The reference is the in-context learner written the obvious way: the same conv encoder, label
embedding and read-out, and ``torch.nn.TransformerEncoder`` (pre-norm, GELU) whose attention is
``scaled_dot_product_attention`` with the same context mask. FLOPs per step are counted by
``torch.utils.flop_counter`` (forward and backward); the peak is the best of a few large float32
matmuls on the same device and threads.

    .venv/bin/python bench/throughput.py                       # the omniglot_small model, glyph data
    .venv/bin/python bench/throughput.py -c configs/omniglot_small.toml --real data.root=../shared/data/omniglot
    .venv/bin/python bench/throughput.py train.device=cuda     # on a GPU
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hebbformer.config import load_config
from hebbformer.data import build_pools
from hebbformer.families import build_model
from hebbformer.machine import describe_line, keep_freed_memory, resolve_precision, save_figures
from hebbformer.models.attention import context_mask
from hebbformer.models.encoder import ConvEncoder
from hebbformer.train import make_optimizer, set_threads, training_batch, training_step


class ReferenceLearner(nn.Module):
    """The same model from stock PyTorch parts (nn.TransformerEncoder), for the speed comparison."""

    def __init__(self, cfg, in_channels, image_size):
        super().__init__()
        self.cfg = cfg
        self.encoder = ConvEncoder(in_channels, cfg.encoder_channels, cfg.encoder_blocks, image_size)
        self.embed = nn.Linear(self.encoder.out_dim, cfg.d_model)
        self.label_embed = nn.Embedding(cfg.max_ways + 1, cfg.d_model)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.mlp_ratio * cfg.d_model, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.max_ways)

    def copy_from(self, learner) -> "ReferenceLearner":
        """Take an InContextLearner's weights (then both compute the same logits)."""
        theirs = learner.state_dict()
        state = {k: v for k, v in theirs.items() if not k.startswith("blocks.")}
        names = (("ln1", "norm1."), ("ln2", "norm2."), ("attn.qkv", "self_attn.in_proj_"),
                 ("attn.proj", "self_attn.out_proj."), ("mlp.0", "linear1."), ("mlp.2", "linear2."))
        for i in range(len(learner.blocks)):
            for src, dst in names:
                for p in ("weight", "bias"):
                    state[f"transformer.layers.{i}.{dst}{p}"] = theirs[f"blocks.{i}.{src}.{p}"]
        self.load_state_dict(state)
        return self

    def forward(self, support, support_labels, query, label_ids):
        b, s = support_labels.shape
        q = query.shape[1]
        z = self.embed(self.encoder(torch.cat([support, query], 1).flatten(0, 1))).view(b, s + q, -1)
        labels = torch.cat([support_labels, torch.full((b, q), self.cfg.max_ways, device=z.device)], 1)
        x = z + self.label_embed(labels)
        # nn.Transformer masks are "True = may not attend"
        x = self.transformer(x, mask=~context_mask(s, q).to(x.device))
        out = self.head(self.norm(x[:, s:]))
        return out.gather(2, label_ids[:, None, :].expand(-1, q, -1))


def matmul_peak(device: str, n: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul rate (FLOP/s) over a few n x n products."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        sync(device)
        tic = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - tic)
    return 2 * n ** 3 / best


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step_times(models, pool, cfg, steps: int) -> list[float]:
    """Median seconds per training step of each model, after two warm-up steps each, the models'
    steps taken in turn (a b a b ...), so that whatever else the machine does weighs on both alike."""
    opts = [make_optimizer(m, cfg.train) for m in models]
    times = [[] for _ in models]
    for i in range(steps + 2):
        for model, opt, own in zip(models, opts, times):
            sync(cfg.train.device)
            start = time.perf_counter()
            training_step(model, opt, pool, cfg, i, cfg.train.lr)
            sync(cfg.train.device)
            own.append(time.perf_counter() - start)
    return [sorted(t[2:])[len(t[2:]) // 2] for t in times]


def step_flops(model, pool, cfg) -> int:
    opt = make_optimizer(model, cfg.train)
    with FlopCounterMode(display=False) as counter:
        training_step(model, opt, pool, cfg, 0, cfg.train.lr)
    return counter.get_total_flops()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="configs/omniglot_small.toml")
    ap.add_argument("--real", action="store_true", help="use the config's data set instead of generated glyphs")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--out", default="runs/bench", help="folder for throughput.json (figures and machine)")
    args = ap.parse_args()
    cfg = load_config(args.config, args.overrides)
    if not args.real:  # same image shape, no data files needed
        cfg.data.name, cfg.data.glyph_classes = "glyphs", 400
    e, t = cfg.episode, cfg.train
    set_threads(cfg)
    keep_freed_memory()  # as training does ($HEBBFORMER_MALLOC=default: glibc's settings, for a before)
    t.precision = resolve_precision(t.precision, t.device)
    print(f"machine: {describe_line()}; training precision {t.precision}", flush=True)
    pool = build_pools(cfg.data, ("train",)).train
    tokens_per_episode = e.ways * (e.shots + e.queries)

    tic = time.perf_counter()
    n_batches = 50
    for i in range(n_batches):
        training_batch(pool, cfg, i)
    sampler_eps = n_batches * t.batch_size / (time.perf_counter() - tic)

    torch.manual_seed(0)
    ours = build_model(cfg.model, pool.image_shape).to(t.device)
    torch.manual_seed(0)
    reference = ReferenceLearner(cfg.model, pool.image_shape[0], pool.image_shape[1]).to(t.device)
    flops = step_flops(ours, pool, cfg)
    ours_s, ref_s = step_times([ours, reference], pool, cfg, args.steps)
    peak = matmul_peak(t.device)

    print(f"config: {args.config} {' '.join(args.overrides)} ({'real data' if args.real else 'glyph data'}, "
          f"{torch.get_num_threads()} threads, {t.device})")
    print(f"episode: {e.ways}-way {e.shots}-shot, {e.queries} queries/class = {tokens_per_episode} tokens; "
          f"batch {t.batch_size}")
    for name, s in (("hebbformer", ours_s), ("reference (nn.TransformerEncoder, SDPA)", ref_s)):
        print(f"training step, {name} (median of {args.steps}): {1000 * s:.0f} ms = {t.batch_size / s:.1f} "
              f"episodes/s, {t.batch_size * tokens_per_episode / s:.0f} tokens/s")
    print(f"speed relative to the reference: {ref_s / ours_s:.2f}x (above 1: hebbformer is faster)")
    print(f"work: {flops / 1e9:.1f} GFLOP per step (forward + backward) -> {flops / ours_s / 1e9:.1f} GFLOP/s; "
          f"measured float32 matmul peak {peak / 1e9:.1f} GFLOP/s: {100 * flops / ours_s / peak:.1f}% of peak")
    print(f"episode sampler{' + augmentation' if t.augment else ''}: {sampler_eps:.0f} episodes/s "
          f"= {sampler_eps / (t.batch_size / ours_s):.0f}x the training step's rate")
    path = save_figures(Path(args.out), "throughput", dict(
        config=args.config, overrides=args.overrides, precision=t.precision, step_ms=1000 * ours_s,
        reference_step_ms=1000 * ref_s, speed_vs_reference=ref_s / ours_s, gflop_per_step=flops / 1e9,
        gflop_per_s=flops / ours_s / 1e9, matmul_peak_gflop_per_s=peak / 1e9, share_of_peak=flops / ours_s / peak))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
