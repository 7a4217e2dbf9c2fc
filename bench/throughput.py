"""Meta-training throughput: episodes/s and tokens/s of the training step, and the episode
sampler's own rate, which must be far above it (the data never limits training).

    .venv/bin/python bench/throughput.py                       # the omniglot_small model, glyph data
    .venv/bin/python bench/throughput.py -c configs/omniglot_small.toml --real data.root=../shared/data/omniglot
"""

from __future__ import annotations

import argparse
import time

import torch

from hebbformer.config import load_config
from hebbformer.data import build_pools
from hebbformer.models import build_model
from hebbformer.train import make_optimizer, training_batch, training_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="configs/omniglot_small.toml")
    ap.add_argument("--real", action="store_true", help="use the config's data set instead of generated glyphs")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    cfg = load_config(args.config, args.overrides)
    if not args.real:  # same image shape, no data files needed
        cfg.data.name, cfg.data.glyph_classes = "glyphs", 400
    e, t = cfg.episode, cfg.train
    pool = build_pools(cfg.data, ("train",)).train
    model = build_model(cfg.model, pool.image_shape).to(t.device)
    opt = make_optimizer(model, t)
    tokens_per_episode = e.ways * (e.shots + e.queries)

    tic = time.perf_counter()
    n_batches = 50
    for i in range(n_batches):
        training_batch(pool, cfg, i)
    sampler_eps = n_batches * t.batch_size / (time.perf_counter() - tic)

    times = []
    for i in range(args.steps + 2):
        start = time.perf_counter()
        training_step(model, opt, pool, cfg, i, t.lr)
        if t.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    step = sorted(times[2:])[len(times[2:]) // 2]  # median, after two warm-up steps
    print(f"config: {args.config} {' '.join(args.overrides)} ({'real data' if args.real else 'glyph data'}, "
          f"{torch.get_num_threads()} threads, {t.device})")
    print(f"episode: {e.ways}-way {e.shots}-shot, {e.queries} queries/class = {tokens_per_episode} tokens; "
          f"batch {t.batch_size}")
    print(f"training step (median of {args.steps}): {1000 * step:.0f} ms = {t.batch_size / step:.1f} episodes/s, "
          f"{t.batch_size * tokens_per_episode / step:.0f} tokens/s")
    print(f"episode sampler{' + augmentation' if t.augment else ''}: {sampler_eps:.0f} episodes/s "
          f"= {sampler_eps / (t.batch_size / step):.0f}x the training step's rate")


if __name__ == "__main__":
    main()
