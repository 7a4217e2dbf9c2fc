"""Associative recall: ``pairs`` (key, value) tokens, then a key seen among them; answer its value.

One pair is the boundary condition of the study: the answer is the only value shown, a linear
read-out of any memory that sums its inputs, so static weights suffice. With more pairs the
memory must bind each key to its value.
"""

from __future__ import annotations

import torch

from .base import Batch, Task, one_hot


class Association(Task):
    name = "association"
    objective = "classify"
    level_name = "pairs"

    def __init__(self, keys: int = 16, values: int = 8, pairs: tuple[int, ...] = (1, 2, 4, 8)):
        if max(pairs) > keys:
            raise ValueError(f"association: {max(pairs)} pairs need as many distinct keys, there are {keys}")
        self.keys, self.values, self.levels = keys, values, tuple(pairs)
        self.d_in = keys + values + 1  # key, value, "this is the question"
        self.d_out = values

    def sample(self, batch, level, g, split="train"):
        keys = torch.rand(batch, self.keys, generator=g).argsort(1)[:, :level]  # distinct keys
        values = torch.randint(self.values, (batch, level), generator=g)
        asked = torch.randint(level, (batch,), generator=g)
        pairs = torch.cat([one_hot(keys, self.keys), one_hot(values, self.values), torch.zeros(batch, level, 1)], -1)
        question = torch.cat([one_hot(keys.gather(1, asked[:, None]), self.keys),
                              torch.zeros(batch, 1, self.values), torch.ones(batch, 1, 1)], -1)
        x = torch.cat([pairs, question], 1)
        target = torch.cat([torch.zeros(batch, level, dtype=torch.long), values.gather(1, asked[:, None])], 1)
        mask = torch.zeros(batch, level + 1, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(x, target, mask, mask)
