"""The statistics every table of hebbformer reports: a mean and the half-width of its 95%
confidence interval, over many test episodes (normal) or a few seeds (Student's t)."""

from __future__ import annotations

import math

import torch

# Student's t, two-sided 95%, by degrees of freedom (beyond 10: the normal 1.96, within 0.07)
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}


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
    return mean, T95.get(n - 1, 1.96) * sd / math.sqrt(n)
