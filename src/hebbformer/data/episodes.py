"""Class pools and the N-way K-shot episode sampler.

A pool holds every image of one split as a single uint8 tensor ``[classes, drawings, C, H, W]``,
so that a whole batch of episodes is drawn with two argsorts and one gather: no Python loop over
classes or images, and the sampler never limits training speed (``bench/throughput.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError


@dataclass
class ClassPool:
    """All images of one split. ``names[c]`` says where class ``c`` came from."""

    images: torch.Tensor  # uint8 [classes, drawings, channels, height, width]
    names: list[str]
    groups: torch.Tensor | None = None  # long [classes]: e.g. the alphabet of each character

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 5:
            raise ValueError("ClassPool.images must be uint8 [classes, drawings, C, H, W]")
        if len(self.names) != self.images.shape[0]:
            raise ValueError("ClassPool needs one name per class")

    @property
    def n_classes(self) -> int:
        return self.images.shape[0]

    @property
    def n_drawings(self) -> int:
        return self.images.shape[1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[2:])


@dataclass
class Episodes:
    """A batch of episodes.

    Episode class n (0..N-1) is the pool class ``classes[b, n]`` and is shown to the model as the
    label token ``label_ids[b, n]``: N distinct tokens drawn at random from ``label_space`` for
    every episode, so that every label token is trained even when N is smaller than the
    vocabulary. ``query_labels`` are the answers as episode classes 0..N-1.
    """

    support: torch.Tensor  # uint8 [B, N*K, C, H, W], in random order
    support_labels: torch.Tensor  # long [B, N*K]: label tokens
    query: torch.Tensor  # uint8 [B, N*Q, C, H, W]
    query_labels: torch.Tensor  # long [B, N*Q]: episode classes 0..N-1
    classes: torch.Tensor  # long [B, N]: pool index of each episode class
    label_ids: torch.Tensor  # long [B, N]: label token of each episode class

    @property
    def ways(self) -> int:
        return self.classes.shape[1]


def check_fits(pool: ClassPool, ways: int, shots: int, queries: int, split: str) -> None:
    """Reject an episode shape the pool cannot supply, naming the numbers involved."""
    if ways > pool.n_classes:
        raise ConfigError(
            f"{ways}-way episodes need {ways} classes, but the {split} pool has only {pool.n_classes}")
    if shots + queries > pool.n_drawings:
        raise ConfigError(
            f"{shots} shots + {queries} queries per class need {shots + queries} drawings per class, "
            f"but the {split} pool has only {pool.n_drawings}")


def episode_generator(seed: int, index: int) -> torch.Generator:
    """The random stream of one batch: a function of (seed, index) alone, so a resumed run
    draws exactly the batches an uninterrupted one would."""
    # torch's CPU generator keeps only the low 32 bits of a seed, so (seed, index) are hashed
    # into 32 well-mixed bits: packing them as seed << 32 | index made every seed draw the same.
    mixed = np.random.SeedSequence([seed & 0xFFFFFFFF, index & 0xFFFFFFFF]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(mixed))


def sample_episodes(pool: ClassPool, ways: int, shots: int, queries: int, batch: int,
                    generator: torch.Generator, label_space: int | None = None,
                    same_group: float = 0.0) -> Episodes:
    """``batch`` N-way K-shot episodes with Q queries per class; label tokens from
    ``range(label_space)`` (default N). A share ``same_group`` of the episodes take all N classes
    from one group of the pool (one alphabet), which makes them harder: Lake's all_runs
    benchmark is built that way."""
    check_fits(pool, ways, shots, queries, "sampled")
    label_space = label_space or ways
    if label_space < ways:
        raise ConfigError(f"{ways}-way episodes need at least {ways} label tokens, the model has {label_space}")
    g = generator
    # Argsort of uniform noise is a uniform random permutation; the first N classes in that
    # random order get labels 0..N-1, which is the per-episode random label assignment.
    noise = torch.rand(batch, pool.n_classes, generator=g)
    if same_group > 0 and pool.groups is not None:
        sizes = torch.bincount(pool.groups)
        big_enough = (sizes >= ways).nonzero().flatten()
        if len(big_enough):
            group = big_enough[torch.randint(len(big_enough), (batch,), generator=g)]
            chosen = torch.rand(batch, generator=g) < same_group
            # Classes outside the episode's group sort after every class inside it.
            outside = (pool.groups[None, :] != group[:, None]) & chosen[:, None]
            noise = noise + outside.float()
    classes = noise.argsort(1)[:, :ways]
    drawings = torch.rand(batch, ways, pool.n_drawings, generator=g).argsort(2)[..., : shots + queries]
    images = pool.images[classes[..., None], drawings]  # [B, N, K+Q, C, H, W]
    labels = torch.arange(ways).view(1, ways, 1)
    shape = images.shape[3:]

    support = images[:, :, :shots].reshape(batch, ways * shots, *shape)
    label_ids = torch.rand(batch, label_space, generator=g).argsort(1)[:, :ways]
    support_labels = label_ids[:, :, None].expand(batch, ways, shots).reshape(batch, ways * shots)
    # Shuffle the context so that a label cannot be read off its position.
    order = torch.rand(batch, ways * shots, generator=g).argsort(1)
    support = support[torch.arange(batch)[:, None], order]
    support_labels = support_labels.gather(1, order)

    query = images[:, :, shots:].reshape(batch, ways * queries, *shape)
    query_labels = labels.expand(batch, ways, queries).reshape(batch, ways * queries)
    return Episodes(support, support_labels, query, query_labels, classes, label_ids)
