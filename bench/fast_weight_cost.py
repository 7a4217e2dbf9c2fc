"""Token-by-token cost of the fast-weight modules as the context grows: the state each keeps
(values in memory) and the time of one token through a 2-block model, on this CPU. The
attention reference keeps a KV cache that grows with the context; the plastic modules keep a
fixed-size matrix (static: a vector). Writes fast_weight_cost.csv and .png.

    .venv/bin/python bench/fast_weight_cost.py                      # d_model 64, contexts 16..1024
    .venv/bin/python bench/fast_weight_cost.py --lengths 16 256 --out runs/bench
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from hebbformer.machine import describe_line, save_figures
from hebbformer.models.sequence import SequenceModel
from hebbformer.plasticity.fast_weights import FAST_WEIGHTS


def state_values(state) -> int:
    """Numbers held in a block's state (tensors, nested in tuples; None for an empty cache)."""
    if state is None:
        return 0
    if isinstance(state, torch.Tensor):
        return state.numel()
    return sum(state_values(s) for s in state)


@torch.no_grad()
def cost(model: SequenceModel, length: int, reps: int) -> tuple[int, float]:
    """(state values after ``length`` tokens, median seconds of the next ``reps`` tokens)."""
    g = torch.Generator().manual_seed(0)
    h = model.embed(torch.randn(1, length + reps, model.embed.in_features, generator=g))
    states = [block.init_state(1, h) for block in model.blocks]

    def token(t):
        z = h[:, t]
        for i, block in enumerate(model.blocks):
            z, states[i] = block.step(z, states[i])

    for t in range(length):
        token(t)
    size = sum(state_values(s) for s in states)
    times = []
    for t in range(length, length + reps):
        tic = time.perf_counter()
        token(t)
        times.append(time.perf_counter() - tic)
    return size, sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--out", default="runs/bench")
    args = ap.parse_args()
    print(f"machine: {describe_line()}", flush=True)
    torch.manual_seed(0)
    rows = []
    for kind in FAST_WEIGHTS:
        model = SequenceModel(kind, d_in=16, d_out=8, d_model=args.d_model, depth=2, heads=4).eval()
        for length in args.lengths:
            size, seconds = cost(model, length, args.reps)
            rows.append(dict(module=kind, context=length, state_values=size, us_per_token=seconds * 1e6))
            print(f"{kind:10s} L={length:5d}  state {size:>9,d} values  {seconds * 1e6:8.0f} us/token", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fast_weight_cost.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "fast_weight_cost.png", args.d_model)
    save_figures(out, "fast_weight_cost_machine", dict(csv="fast_weight_cost.csv"))
    print(f"wrote {out / 'fast_weight_cost.csv'}, {out / 'fast_weight_cost.png'} and {out / 'fast_weight_cost_machine.json'}")


def plot(rows, path, d_model):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind in dict.fromkeys(r["module"] for r in rows):
        rs = [r for r in rows if r["module"] == kind]
        for ax, key in zip(axes, ["state_values", "us_per_token"]):
            ax.plot([r["context"] for r in rs], [r[key] for r in rs], marker="o", label=kind)
    for ax, title in zip(axes, ["state kept (values)", "time per token (us, CPU, 2 blocks)"]):
        ax.set(xscale="log", yscale="log", xlabel="context length (tokens)", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Token-by-token cost of the fast-weight modules (d_model {d_model})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
