"""Parity of the emulator with lava: the same scenario on both, the largest difference per
recorded variable over all steps. fixed_pt must be bit-identical; floating_pt equal within 1e-9
relative (both simulate in float64, so in practice they are identical as well)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .emulator import simulate
from .lava_sim import run_lava
from .scenario import Scenario

FLOAT_RTOL = 1e-9


@dataclass
class Difference:
    name: str
    max_abs: float
    max_rel: float
    ok: bool


def compare(ours: dict, lava: dict, fixed: bool) -> list[Difference]:
    rows = []
    for name in lava:
        a, b = ours[name], lava[name]
        if a.shape != b.shape:
            rows.append(Difference(name, np.inf, np.inf, False))
            continue
        both_nan = np.isnan(a) & np.isnan(b)  # lava's float traces of tau = 0 are NaN; so are ours
        diff = np.where(both_nan, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
        scale = np.maximum(np.abs(np.where(both_nan, 0.0, b)), 1.0)
        max_abs, max_rel = float(diff.max(initial=0)), float((diff / scale).max(initial=0))
        rows.append(Difference(name, max_abs, max_rel, max_abs == 0 if fixed else max_rel <= FLOAT_RTOL))
    return rows


def run_parity(s: Scenario) -> tuple[list[Difference], dict[str, float]]:
    tic = time.perf_counter()
    ours = simulate(s)
    t_emulator = time.perf_counter() - tic
    tic = time.perf_counter()
    lava = run_lava(s)
    t_lava = time.perf_counter() - tic
    return compare(ours, lava, s.fixed), {"emulator_s": t_emulator, "lava_s": t_lava}


def format_parity(rows: list[Difference], s: Scenario, times: dict) -> str:
    n_post, n_pre = s.weights.shape
    lines = [f"parity: {s.mode}, rule {s.rule.type}, {n_pre} -> {n_post} neurons, {s.steps} steps "
             f"(emulator {times['emulator_s']:.3f} s, lava {times['lava_s']:.2f} s)",
             f"{'variable':<10}{'max |diff|':>14}{'max rel':>12}  verdict"]
    for r in rows:
        verdict = "ok" if r.ok else ("DIFFERENT (must be bit-identical)" if s.fixed else f"DIFFERENT (> {FLOAT_RTOL} rel)")
        lines.append(f"{r.name:<10}{r.max_abs:>14.3g}{r.max_rel:>12.3g}  {verdict}")
    return "\n".join(lines)
