"""In-context regression: (x, f(x)) pairs from a function drawn per sequence; predict f at each
new x from the pairs before it. Tokens alternate: an x token, then its y token.

- ``linear``: f(x) = w . x, w ~ N(0, I / dim) (Garg et al., 2022).
- ``sine``: f(x) = A sin(x + phase), A in [0.1, 5], phase in [0, pi], x in [-5, 5] (the few-shot
  regression of Finn et al., 2017, and of Duan et al.).
"""

from __future__ import annotations

import math

import torch

from .base import Batch, Task


class Regression(Task):
    objective = "regress"
    level_name = "pairs"

    def __init__(self, family: str = "linear", dim: int = 4, pairs: tuple[int, ...] = (1, 2, 4, 8, 16)):
        if family not in ("linear", "sine"):
            raise ValueError(f"unknown regression family {family!r}; known: linear, sine")
        self.family, self.levels = family, tuple(pairs)
        self.dim = dim if family == "linear" else 1
        self.name = f"regression_{family}"
        self.d_in = self.dim + 3  # x, y, and which of the two the token is
        self.d_out = 1

    def _draw(self, batch, n, g):
        if self.family == "linear":
            x = torch.randn(batch, n, self.dim, generator=g)
            w = torch.randn(batch, self.dim, 1, generator=g) / math.sqrt(self.dim)
            return x, (x @ w)[..., 0]
        x = 10 * torch.rand(batch, n, 1, generator=g) - 5
        amplitude = 0.1 + 4.9 * torch.rand(batch, 1, generator=g)
        phase = math.pi * torch.rand(batch, 1, generator=g)
        return x, amplitude * torch.sin(x[..., 0] + phase)

    def sample(self, batch, level, g, split="train"):
        """``level`` pairs, then one more x: every x token is a prediction from the pairs before
        it (trained on all), and the last one, after ``level`` pairs, is the one scored."""
        n = level + 1
        x, y = self._draw(batch, n, g)
        tokens = torch.zeros(batch, n, 2, self.d_in)
        tokens[:, :, 0, : self.dim] = x
        tokens[:, :, 0, self.dim + 1] = 1
        tokens[:, :, 1, self.dim] = y
        tokens[:, :, 1, self.dim + 2] = 1
        tokens = tokens.flatten(1, 2)[:, :-1]  # the last y is the answer, not a token
        target = torch.stack([y, torch.zeros_like(y)], 2).flatten(1)[:, :-1]
        mask = torch.zeros(batch, 2 * n - 1, dtype=torch.bool)
        mask[:, 0::2] = True
        score = torch.zeros_like(mask)
        score[:, -1] = True
        return Batch(tokens, target, mask, score)
