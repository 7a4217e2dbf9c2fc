"""Data sets as class pools with disjoint meta-train / validation / test classes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import DataConfig
from .cifar_fs import load_cifar_fs
from .episodes import ClassPool, Episodes, check_fits, episode_generator, sample_episodes
from .files import data_root
from .glyphs import generate_glyphs
from .omniglot import all_runs_pool, characters_to_pool, load_all_runs, omniglot_set

__all__ = ["ClassPool", "Episodes", "Pools", "build_pools", "check_fits", "episode_generator",
           "sample_episodes", "load_all_runs"]


@dataclass
class Pools:
    train: ClassPool
    val: ClassPool
    test: ClassPool


def build_pools(cfg: DataConfig, splits: tuple[str, ...] = ("train", "val", "test")) -> Pools:
    """The three pools a config names. Splits not asked for are left empty (None) to save time."""
    if cfg.name == "glyphs":
        sizes = {"train": cfg.glyph_classes, "val": max(cfg.glyph_classes // 5, 1), "test": max(cfg.glyph_classes // 5, 1)}
        # Each split is generated from its own seed: new characters, never seen in another split.
        pools = {s: ClassPool(generate_glyphs(sizes[s], cfg.glyph_drawings, cfg.image_size, cfg.seed * 3 + i),
                              [f"glyph-{s}-{c}" for c in range(sizes[s])])
                 for i, s in enumerate(("train", "val", "test")) if s in splits}
    elif cfg.name == "omniglot":
        pools = _omniglot_pools(cfg, splits)
    elif cfg.name == "cifar_fs":
        pools = load_cifar_fs(data_root(cfg.root), cfg.download)
        if cfg.image_size != 32:
            pools = {s: _resize(p, cfg.image_size) for s, p in pools.items()}
    else:  # validated earlier; kept for direct callers
        raise ValueError(f"unknown data set {cfg.name!r}")
    return Pools(pools.get("train"), pools.get("val"), pools.get("test"))


def _omniglot_pools(cfg: DataConfig, splits) -> dict[str, ClassPool]:
    root = data_root(cfg.root)
    pools = {}
    if "train" in splits or "val" in splits:
        chars = [c for name in cfg.train_sets for c in omniglot_set(root, name, cfg.image_size, cfg.download)]
        # Hold out whole characters (with all their rotations) for validation.
        order = torch.randperm(len(chars), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        n_val = round(cfg.val_fraction * len(chars))
        val_ids = set(order[:n_val])
        train = [c for i, c in enumerate(chars) if i not in val_ids]
        val = [c for i, c in enumerate(chars) if i in val_ids]
        pools["train"] = characters_to_pool(train, cfg.rotations)
        if val:
            pools["val"] = characters_to_pool(val, cfg.rotations)
    if "test" in splits:
        parts = []
        for name in cfg.test_sets:
            if name == "all_runs":
                parts.append(all_runs_pool(load_all_runs(root, cfg.image_size, cfg.download)))
            else:
                parts.append(characters_to_pool(omniglot_set(root, name, cfg.image_size, cfg.download), False))
        pools["test"] = _concat(parts)
    return pools


def _concat(pools: list[ClassPool]) -> ClassPool:
    if len(pools) == 1:
        return pools[0]
    drawings = min(p.n_drawings for p in pools)  # sets with fewer drawings limit the shots
    return ClassPool(torch.cat([p.images[:, :drawings] for p in pools]), [n for p in pools for n in p.names])


def _resize(pool: ClassPool, size: int) -> ClassPool:
    c, d = pool.images.shape[:2]
    x = pool.images.flatten(0, 1).float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return ClassPool(x.round().clamp(0, 255).to(torch.uint8).view(c, d, *x.shape[1:]), pool.names, pool.groups)
