"""Copying after a delay: the credit-assignment horizon is the sequence length plus the delay.

Write phase: ``length`` random symbols, each with its position. Delay phase: ``delay`` blank
tokens. Recall phase: each position again as a cue; the answer is the symbol written there.
Cueing by position (rather than relying on order) lets every module, attention without
positional encoding included, express the answer.
"""

from __future__ import annotations

import torch

from .base import Batch, Task, one_hot


class Copy(Task):
    name = "copy"
    objective = "classify"
    level_name = "delay"

    def __init__(self, length: int = 6, vocab: int = 8, delays: tuple[int, ...] = (0, 10, 20, 40)):
        self.length, self.vocab, self.levels = length, vocab, tuple(delays)
        self.d_in = vocab + length + 3  # symbol, position, phase (write / delay / recall)
        self.d_out = vocab

    def sample(self, batch, level, g, split="train"):
        n, v = self.length, self.vocab
        symbols = torch.randint(v, (batch, n), generator=g)
        position = one_hot(torch.arange(n), n).expand(batch, n, n)
        phase = lambda p, t: one_hot(torch.full((batch, t), p), 3)  # noqa: E731
        write = torch.cat([one_hot(symbols, v), position, phase(0, n)], -1)
        delay = torch.cat([torch.zeros(batch, level, v + n), phase(1, level)], -1)
        recall = torch.cat([torch.zeros(batch, n, v), position, phase(2, n)], -1)
        x = torch.cat([write, delay, recall], 1)
        target = torch.cat([torch.zeros(batch, n + level, dtype=torch.long), symbols], 1)
        mask = torch.zeros(batch, 2 * n + level, dtype=torch.bool)
        mask[:, n + level:] = True
        return Batch(x, target, mask, mask)
