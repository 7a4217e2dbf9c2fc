"""Cost per token of each attention kind in its plastic form, as the context grows.

For every kind (softmax and relu: one slot neuron per token, like a KV cache; linear: one
fixed-size outer-product matrix) and the Quant variant's integer path, at each context length L:
the synaptic values one token reads and writes in all attention layers (counted on the live
synapse tensors: the slices the read and the write touch) and the measured
wall time of one token through every attention layer (projections, synaptic write and read;
the MLPs cost the same at every length and are left out), batch 1, on this CPU. Writes a CSV
and a PNG plot.

    .venv/bin/python bench/token_cost.py                 # omniglot_small's model size, L up to 2048
    .venv/bin/python bench/token_cost.py --lengths 16 64 256 --out runs/bench
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from hebbformer.config import load_config
from hebbformer.machine import describe_line, save_figures
from hebbformer.models import build_model
from hebbformer.plasticity.synaptic import _attend_token, synapses_for
from hebbformer.quant.integer import IntegerLearner, SlotMemory

KINDS = ["softmax", "relu", "linear"]


def float_costs(model, length: int, reps: int):
    """(elements read, elements written, seconds) per token after ``length`` tokens."""
    d, heads = model.cfg.d_model, model.cfg.heads
    like = torch.zeros(1, d)
    memories = [synapses_for(model.cfg.attention, 1, heads, d // heads, length + reps + 1, like)
                for _ in model.blocks]
    g = torch.Generator().manual_seed(0)
    for memory in memories:  # fill the context with random keys and values
        for _ in range(length):
            memory.write(torch.randn(1, heads, d // heads, generator=g), torch.randn(1, heads, d // heads, generator=g))
    read = sum(m.read_elements for m in memories)
    written = sum(m.write_elements for m in memories)
    x = torch.randn(1, d, generator=g)
    _step(model, x, memories)  # warm-up
    tic = time.perf_counter()
    for _ in range(reps - 1):
        _step(model, x, memories)
    return read, written, (time.perf_counter() - tic) / (reps - 1)


@torch.no_grad()
def _step(model, x, memories):
    for block, memory in zip(model.blocks, memories):
        _attend_token(block.attn, x, memory, write=True)


def integer_costs(program: IntegerLearner, d: int, length: int, reps: int):
    """Per token, in every layer: the host's projections, one slot written, ``length`` slots read."""
    rng = np.random.default_rng(0)
    memories = []
    for _ in program.blocks:
        memory = SlotMemory(1, program.heads, d // program.heads, length)
        memory.k[:], memory.v[:] = (rng.integers(-127, 128, memory.k.shape) for _ in range(2))
        memories.append(memory)
    read = sum(m.k.size + m.v.size for m in memories)
    written = sum(m.k[:, :, 0].size + m.v[:, :, 0].size for m in memories)  # one slot's key and value synapses
    x = np.clip(rng.integers(-2 ** 12, 2 ** 12, (1, 1, d)), -128, 127)  # an int8 layer-norm output

    def step():
        for layer, memory in enumerate(memories):
            def core(q, k, v, n_support, rate_shift, memory=memory):  # the token overwrites the last slot
                memory.write(length - 1, k[:, 0], v[:, 0])
                return memory.read(q[:, 0], rate_shift)[:, None]
            program.attend(layer, x, 1, core)

    step()  # warm-up
    tic = time.perf_counter()
    for _ in range(reps - 1):
        step()
    return read, written, (time.perf_counter() - tic) / (reps - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="configs/omniglot_small.toml", help="model size to measure")
    ap.add_argument("--lengths", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024, 2048])
    ap.add_argument("--reps", type=int, default=20, help="token steps timed per point")
    ap.add_argument("--out", default="runs/bench", help="folder for token_cost.csv and token_cost.png")
    args = ap.parse_args()
    print(f"machine: {describe_line()}", flush=True)
    cfg = load_config(args.config, [])
    torch.manual_seed(0)
    rows = []
    image = (1, cfg.data.image_size, cfg.data.image_size)
    for kind in KINDS + ["relu (Quant, integer)"]:
        cfg.model.attention, cfg.model.quant = kind.split()[0], kind.startswith("relu (")
        model = build_model(cfg.model, image).eval()
        program = IntegerLearner.from_model(model) if cfg.model.quant else None
        for length in args.lengths:
            if program is None:
                read, written, seconds = float_costs(model, length, args.reps)
            else:
                read, written, seconds = integer_costs(program, cfg.model.d_model, length, args.reps)
            rows.append(dict(kind=kind, context=length, read=read, written=written, us_per_token=seconds * 1e6))
            print(f"{kind:22s} L={length:5d}  read {read:>9,d}  written {written:>7,d}  {seconds * 1e6:9.0f} us/token",
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "token_cost.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "token_cost.png", cfg.model)
    save_figures(out, "token_cost_machine", dict(csv="token_cost.csv"))
    print(f"wrote {out / 'token_cost.csv'}, {out / 'token_cost.png'} and {out / 'token_cost_machine.json'}")


def plot(rows, path, m):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rs = [r for r in rows if r["kind"] == kind]
        xs = [r["context"] for r in rs]
        for ax, key in zip(axes, ["read", "written", "us_per_token"]):
            ax.plot(xs, [r[key] for r in rs], marker="o", label=kind)
    titles = ["synaptic values read per token", "synaptic values written per token",
              "attention time per token (us, CPU)"]
    for ax, title in zip(axes, titles):
        ax.set(xscale="log", yscale="log", xlabel="context length (tokens)", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"Per-token cost of the plastic forms (d_model {m.d_model}, {m.depth} layers, {m.heads} heads)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
