"""The Loihi path of the four-variant table: a shipped Quant model's test episodes with every
attention layer on the emulated Loihi 2 networks, the episodes one after another (one copy of
each network) against side by side (lanes: copies of each head's one-head network), in one run. Prints seconds
per 1,000 episodes of each and their ratio, after checking that the logits are identical; the
host's integer part alone (the integer back-end) is timed beside them. ``--workers N`` spreads the
batches of the integer and side-by-side runs over N forked processes of one torch thread each
(``evaluate.forward_batches``); ``$HEBBFORMER_INT8_GEMM`` fixes how the 8-bit products run
(``fixed_point.int8_products``: int8 or float, else the faster, timed); ``--conv im2col`` keeps
every Conv-4 block on the im2col product (the code before float32 and direct convolutions, for a
before/after).

    .venv/bin/python bench/loihi_episodes.py                       # vinyals-quant, 5w1s, generated glyphs
    .venv/bin/python bench/loihi_episodes.py --episodes 1000 --sequential 100 data.root=../shared/data/omniglot

The images only decide what the networks compute, not how long: without ``data.root`` (or when
the data is not there) the episodes are drawn from generated glyphs of the model's image size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from hebbformer import backends, checkpoint, shipped
from hebbformer.config import Config, parse_setting
from hebbformer.data import build_pools
from hebbformer.data.episodes import ClassPool
from hebbformer.data.glyphs import generate_glyphs
from hebbformer.errors import ConfigError, DataError, HebbformerError
from hebbformer.evaluate import check_workers, episode_batches, first_episodes, forward_batches
from hebbformer.families import build_model
from hebbformer.machine import describe_line, save_figures
from hebbformer.neuro.attention_compiler import NetworkMemory, run_emulated
from hebbformer.quant import fixed_point
from hebbformer.quant.fixed_point import int8_products


def test_pool(cfg: Config, data_root: str | None):
    if data_root:
        cfg.data.root = data_root
        try:
            return build_pools(cfg.data, ("test",)).test, f"{cfg.data.name} test split"
        except DataError as err:
            print(f"({err}; generated glyphs instead)")
    images = generate_glyphs(200, 20, cfg.data.image_size, seed=0)
    return ClassPool(images, [f"glyph{c}" for c in range(len(images))]), "generated glyphs"


def timed(model, batches, workers):
    tic = time.perf_counter()
    logits = forward_batches(model, batches, workers)
    return logits, time.perf_counter() - tic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vinyals-quant", help="a shipped Quant model's name, or a run folder")
    ap.add_argument("--setting", default="5w1s")
    ap.add_argument("--episodes", type=int, default=1000, help="episodes side by side")
    ap.add_argument("--sequential", type=int, default=100, help="the first this many also one after another")
    ap.add_argument("--queries", type=int, default=0, help="queries per class (0: the model's eval.queries)")
    ap.add_argument("--batch", type=int, default=250, help="episodes per forward (the lanes of one call)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch's threads for the host's products (0: torch's default). 1 beside other jobs: "
                         "there two threads spent many times their work waiting for each other")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes that share the batches, forked, one torch thread each (default 1)")
    ap.add_argument("--conv", choices=("auto", "im2col"), default="auto",
                    help="auto: the Conv-4's first block as a direct integer convolution, its wider blocks on "
                         "float32 convolution where products run in float (fixed_point.DIRECT_CONV_CHANNELS, "
                         "FLOAT_CONV_CHANNELS); im2col: every block on the im2col product")
    ap.add_argument("--out", default="runs/bench", help="folder for loihi_episodes.json (figures and machine)")
    ap.add_argument("overrides", nargs="*", help="data.root=PATH for real images")
    args = ap.parse_args()
    if min(args.episodes, args.sequential, args.batch) < 1 or args.queries < 0:
        ap.error("--episodes, --sequential and --batch must be at least 1, --queries at least 0")
    try:
        check_workers(args.workers, "--workers")
    except ConfigError as err:
        ap.error(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.conv == "im2col":  # neither float32 convolutions nor the first block's direct one
        fixed_point.FLOAT_CONV_CHANNELS, fixed_point.DIRECT_CONV_CHANNELS = float("inf"), 0
    print(f"machine: {describe_line()}", flush=True)
    try:
        state = checkpoint.load(shipped.resolve(args.model))
    except HebbformerError as err:
        ap.error(str(err))
    cfg = Config.from_dict(state["config"])
    root = next((o.split("=", 1)[1] for o in args.overrides if o.startswith("data.root=")), None)
    model = build_model(cfg.model, (1, cfg.data.image_size, cfg.data.image_size))
    checkpoint.load_into(model, state, args.model)
    pool, where = test_pool(cfg, root)
    ways, shots = parse_setting(args.setting)
    queries = min(args.queries or cfg.eval.queries, pool.n_drawings - shots)
    every = list(episode_batches(pool, ways, shots, queries, args.episodes, cfg.eval.seed, cfg.model.max_ways,
                                 batch=args.batch))
    first = first_episodes(every, args.sequential)
    integer = backends.run(model, "integer")
    lanes = backends.Executed(model, integer.numerics, NetworkMemory(run_emulated, heads_apart=True))
    one = backends.Executed(model, integer.numerics, NetworkMemory(run_emulated, lanes=1))
    print(f"{args.model}, {args.setting} with {queries} queries per class, on {where}; "
          f"--workers {args.workers} (a worker: one torch thread), --threads {torch.get_num_threads()}, "
          f"8-bit products on the {int8_products()} GEMM, --conv {args.conv}", flush=True)
    for backend in (integer, lanes, one):  # numba compiles its kernels on first use (the first run in a fresh
        # checkout: 26 s of 1,000 episodes' 6 s in lanes here), and torch picks its int8 GEMM: not timed
        forward_batches(backend, first_episodes(every, 2), 1)
    host, host_s = timed(integer, every, args.workers)
    side, side_s = timed(lanes, every, args.workers)
    seq, seq_s = timed(one, first, 1)  # one process: its few batches would not spread over the workers
    same = torch.equal(side[:len(seq)], seq) and torch.equal(side, host)  # bit for bit
    per_1000 = lambda seconds, n: 1000 * seconds / n  # noqa: E731
    print(f"logits {'identical' if same else 'DIFFERENT'} (side by side = one after another = integer)\n"
          f"  integer (host only)      {per_1000(host_s, args.episodes):7.1f} s per 1,000 episodes\n"
          f"  Loihi, side by side      {per_1000(side_s, args.episodes):7.1f} s per 1,000 episodes "
          f"({args.episodes} episodes, up to {args.batch} per call)\n"
          f"  Loihi, one after another {per_1000(seq_s, args.sequential):7.1f} s per 1,000 episodes "
          f"({args.sequential} episodes, one process)\n"
          f"  ratio {per_1000(seq_s, args.sequential) / per_1000(side_s, args.episodes):5.1f}x", flush=True)
    figures = dict(model=args.model, setting=args.setting, queries=queries, data=where, batch=args.batch,
                   threads=torch.get_num_threads(), workers=args.workers, int8_products=int8_products(), conv=args.conv,
                   episodes=args.episodes, sequential_episodes=args.sequential, identical=bool(same),
                   integer_s_per_1000=per_1000(host_s, args.episodes),
                   side_by_side_s_per_1000=per_1000(side_s, args.episodes),
                   one_after_another_s_per_1000=per_1000(seq_s, args.sequential),
                   emulated_accuracy=float((side.argmax(-1) == torch.cat([ep.query_labels for ep in every])).float()
                                           .mean()))
    print(f"wrote {save_figures(Path(args.out), 'loihi_episodes', figures)}")


if __name__ == "__main__":
    main()
