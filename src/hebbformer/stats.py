"""The statistics every table of hebbformer reports: a mean and the half-width of its 95%
confidence interval, over many test episodes (normal) or a few seeds (Student's t)."""

from __future__ import annotations

import math

import torch

# Student's t, two-sided 95%, by degrees of freedom (t95 beyond the table)
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20,
       12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13, 16: 2.12, 17: 2.11, 18: 2.10, 19: 2.09, 20: 2.09, 21: 2.08,
       22: 2.07, 23: 2.07, 24: 2.06, 25: 2.06, 26: 2.06, 27: 2.05, 28: 2.05, 29: 2.05, 30: 2.04}
Z975 = 1.959964


def t95(df: int) -> float:
    """Student's t two-sided 95% quantile: the table, then the Cornish-Fisher expansion around the
    normal's (within 0.001 of the exact quantile beyond 30 degrees of freedom)."""
    if type(df) is not int or df < 1:
        raise ValueError(f"Student's t needs a whole number of degrees of freedom, at least 1, got {df!r}")
    if df in T95:
        return T95[df]
    z = Z975
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_ci95(per_episode: torch.Tensor) -> tuple[float, float]:
    """Mean and the 95% half-width 1.96 * std / sqrt(n) over per-episode accuracies (many episodes:
    the normal approximation the few-shot papers report)."""
    n = per_episode.numel()
    mean = per_episode.mean().item()
    std = per_episode.std(unbiased=True).item() if n > 1 else 0.0
    return mean, 1.96 * std / math.sqrt(n)


def mean_ci_seeds(values: list[float]) -> tuple[float, float]:
    """Mean and the 95% half-width t * std / sqrt(n) over a few runs (seeds); NaN for one run."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t95(n - 1) * sd / math.sqrt(n)


def proportion_ci95(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval (low, high) for k successes in n trials (say seeds that solved a task):
    unlike the normal one it stays inside [0, 1] and is not empty at 0 of n or n of n."""
    if type(k) is not int or type(n) is not int or n < 1 or not 0 <= k <= n:
        raise ValueError(f"a proportion needs 0 <= k <= n and n >= 1, got {k} of {n}")
    z2, p = Z975 ** 2, k / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)
