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

from hebbformer.backends.synaptic import OuterProductSynapses, SlotSynapses
from hebbformer.config import load_config
from hebbformer.families import build_model
from hebbformer.machine import describe_line, save_figures
from hebbformer.models.forward import FloatNumerics
from hebbformer.quant.integer import IntegerNumerics

KINDS = ["softmax", "relu", "linear"]


def token_costs(numerics, length: int, reps: int):
    """(elements read, elements written, seconds) per token after ``length`` tokens, in every
    layer: the projections, the synaptic write (into the spare slot) and read, the read's output."""
    cfg = numerics.cfg
    d, heads = cfg.d_model, cfg.heads
    integer = getattr(numerics, "on_numpy", False)
    rng = np.random.default_rng(0)
    draw = (lambda: rng.integers(-127, 128, (1, heads, d // heads))) if integer else \
        (lambda: torch.from_numpy(rng.standard_normal((1, heads, d // heads)).astype(np.float32)))
    memories = []
    for layer in range(numerics.depth):
        rule = numerics.memory_rule(layer)
        if rule.kind == "linear":
            memory = OuterProductSynapses(1, heads, d // heads, draw())
        else:
            memory = SlotSynapses(1, heads, d // heads, length + 1, draw(), rule)
        for i in range(length):  # fill the context with random keys and values
            if rule.kind == "linear":
                memory.write(draw(), draw())
            else:
                memory.write(i, draw(), draw())
        memories.append(memory)
    read = sum(m.read_elements for m in memories)
    written = sum(m.write_elements for m in memories)
    x = np.clip(rng.integers(-2 ** 12, 2 ** 12, (1, 1, d)), -128, 127) if integer else \
        torch.from_numpy(rng.standard_normal((1, 1, d)).astype(np.float32))  # a layer-norm output

    @torch.no_grad()
    def step():
        for layer, memory in enumerate(memories):
            q, k, v = (t[:, 0] for t in numerics.qkv(layer, x))
            if isinstance(memory, OuterProductSynapses):
                memory.write(k, v)
            else:
                memory.write(length, k, v)  # the token takes the spare slot
            numerics.attention_out(layer, memory.read(q)[:, None], length)

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
        numerics = IntegerNumerics.from_model(model) if cfg.model.quant else FloatNumerics(model)
        for length in args.lengths:
            read, written, seconds = token_costs(numerics, length, args.reps)
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
