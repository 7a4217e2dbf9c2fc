"""Few-shot classification as a plain causal sequence: the core issue's N-way K-shot episodes
(same pools, sampler and label permutation), supports as (image, label) tokens in random order,
then the queries as (image, "no label") tokens. Every query is scored; the module must learn
not to let a query's own write disturb the next."""

from __future__ import annotations

import torch

from ..config import DataConfig
from ..data import build_pools, sample_episodes
from .base import Batch, Task, one_hot


def default_data() -> DataConfig:
    """The study's few-shot data when none is given: generated glyphs, small enough for the CPU.
    ``data.`` overrides on the command line start from it."""
    return DataConfig(name="glyphs", glyph_classes=400, glyph_drawings=10, image_size=20)


class FewShot(Task):
    objective = "classify"
    level_name = "shots"

    def __init__(self, data: DataConfig | None = None, ways: int = 5, shots: tuple[int, ...] = (1, 2, 5),
                 queries: int = 2):
        self.data = data or default_data()
        self.name = f"fewshot{'' if ways == 5 else ways}_{self.data.name}"
        self.ways, self.levels, self.queries = ways, tuple(shots), queries
        self.pools = build_pools(self.data)  # validation for the tuning grid, test for the table
        self.d_in = ways + 1  # the label (one-hot) and "this is a query"; the image is encoded
        self.d_out = ways

    def image_shape(self):
        return self.pools.train.image_shape

    def sample(self, batch, level, g, split="train"):
        pool = {"train": self.pools.train, "val": self.pools.val, "test": self.pools.test}[split]
        ep = sample_episodes(pool, self.ways, level, self.queries, batch, g)
        n_s, n_q = ep.support_labels.shape[1], ep.query_labels.shape[1]
        # label tokens are drawn from range(ways): they are the episode's labels, permuted per episode
        x = torch.cat([torch.cat([one_hot(ep.support_labels, self.ways), torch.zeros(batch, n_s, 1)], -1),
                       torch.cat([torch.zeros(batch, n_q, self.ways), torch.ones(batch, n_q, 1)], -1)], 1)
        answers = ep.label_ids.gather(1, ep.query_labels)  # each query's label token
        target = torch.cat([torch.zeros(batch, n_s, dtype=torch.long), answers], 1)
        mask = torch.zeros(batch, n_s + n_q, dtype=torch.bool)
        mask[:, n_s:] = True
        return Batch(x, target, mask, mask, images=torch.cat([ep.support, ep.query], 1))
