"""What every sequence task gives the study: batches of tokens with targets, at a chosen level of
difficulty (a delay, a number of pairs, a number of shots), and how its answers are scored."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Batch:
    x: torch.Tensor  # float [B, T, d_in]: the tokens (for image tasks, the non-image part)
    target: torch.Tensor  # [B, T]: class index (long) or value (float) where ``mask``
    mask: torch.Tensor  # bool [B, T]: positions the training loss uses
    score: torch.Tensor  # bool [B, T]: positions evaluation scores at this level
    images: torch.Tensor | None = None  # uint8 [B, T, C, H, W], encoded and joined to x


class Task:
    name: str
    objective: str  # "classify" (cross-entropy, accuracy) or "regress" (squared error)
    d_in: int
    d_out: int
    level_name: str  # what the levels vary
    levels: tuple[int, ...]  # trained on a random one per batch, evaluated at each
    named_levels: tuple[int, ...] | None = None  # the levels ``TASK@LEVEL`` may name, where more than ``levels``

    def sample(self, batch: int, level: int, g: torch.Generator, split: str = "train") -> Batch:
        raise NotImplementedError

    def image_shape(self) -> tuple[int, int, int] | None:
        return None

    @property
    def metric(self) -> str:
        return "accuracy" if self.objective == "classify" else "mse"

    def loss(self, out: torch.Tensor, b: Batch) -> torch.Tensor:
        if self.objective == "classify":
            return F.cross_entropy(out[b.mask], b.target[b.mask])
        return F.mse_loss(out[..., 0][b.mask], b.target[b.mask])

    def per_sequence_metric(self, out: torch.Tensor, b: Batch) -> torch.Tensor:
        """[B]: the metric of each sequence over its scored positions."""
        if self.objective == "classify":
            right = (out.argmax(-1) == b.target).float()
        else:
            right = (out[..., 0] - b.target) ** 2
        return (right * b.score).sum(1) / b.score.sum(1)


def one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(index, n).float()
