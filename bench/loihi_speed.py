"""The Loihi 2 emulator against lava's own simulation, side by side in one run: a 256x256
LearningDense with a two-factor STDP rule (t_epoch 1), driven by 10%-dense binary spikes into
LIF neurons whose spikes return as bAPs, for 1,000 steps, fixed_pt (and floating_pt with
--float). Prints ms per step of each and their ratio, after checking that the final weights of
the two agree.

    .venv/bin/python bench/loihi_speed.py
    .venv/bin/python bench/loihi_speed.py --size 64 --steps 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hebbformer.machine import describe_line, save_figures
from hebbformer.neuro.loihi import Scenario
from hebbformer.neuro.loihi.emulator import Network
from hebbformer.neuro.loihi.lava_sim import lava_available, time_lava


def scenario(size: int, steps: int, mode: str) -> Scenario:
    rng = np.random.default_rng(0)
    fixed = mode == "fixed_pt"
    return Scenario.from_dict(dict(
        steps=steps, mode=mode, pre=(rng.random((size, steps)) < 0.1).astype(int).tolist(),
        weights=rng.integers(-50, 50, (size, size)).tolist(),
        rule=dict(dw="2^-2*x0*y1 - 2^-2*y0*x1", x1_impulse=16, x1_tau=10, y1_impulse=16, y1_tau=10, rng_seed=1),
        lif=dict(du=400, dv=400, vth=200) if fixed else dict(du=0.1, dv=0.1, vth=200.0), record=["weights"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--float", action="store_true", help="also floating_pt")
    ap.add_argument("--out", default="runs/bench", help="folder for loihi_speed.json (figures and machine)")
    args = ap.parse_args()
    print(f"machine: {describe_line()}", flush=True)
    if not lava_available():
        raise SystemExit("lava-nc is not installed: see docs/loihi.md")
    figures = {}
    for mode in ["fixed_pt"] + (["floating_pt"] if args.float else []):
        s = scenario(args.size, args.steps, mode)
        Network(s).step(1)  # loads (or compiles) the emulator's numba kernels, as lava's warm-up step starts lava
        net = Network(s)
        tic = time.perf_counter()
        for t in range(1, args.steps + 1):
            net.step(t)
        per_step_emulator = (time.perf_counter() - tic) / args.steps
        ours = net.dense.variables(0)["weights"]
        per_step_lava, theirs = time_lava(s)  # after one warm-up step that compiles and starts lava
        same = np.array_equal(ours, theirs) if mode == "fixed_pt" else np.allclose(ours, theirs, rtol=1e-9, atol=0)
        print(f"{mode}: {args.size}x{args.size} LearningDense, STDP, {args.steps} steps; final weights "
              f"{'identical' if same else 'DIFFERENT'}\n"
              f"  emulator {1e3 * per_step_emulator:7.3f} ms/step   lava {1e3 * per_step_lava:7.3f} ms/step"
              f"   ratio {per_step_lava / per_step_emulator:5.1f}x", flush=True)
        figures[mode] = dict(size=args.size, steps=args.steps, emulator_ms_per_step=1e3 * per_step_emulator,
                             lava_ms_per_step=1e3 * per_step_lava, ratio=per_step_lava / per_step_emulator,
                             identical=bool(same))
    print(f"wrote {save_figures(Path(args.out), 'loihi_speed', figures)}")


if __name__ == "__main__":
    main()
