"""Data sets as class pools with disjoint meta-train / validation / test classes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import LAKE_TEST_SETS, LAKE_TRAIN_SETS, DataConfig
from ..errors import DataError
from .cache import cache_dir
from .cifar_fs import load_cifar_fs
from .episodes import ClassPool, Episodes, check_fits, episode_generator, sample_episodes
from .files import data_root
from .glyphs import generate_glyphs
from .omniglot import (
    all_runs_pool,
    alphabet_names,
    characters_to_pool,
    load_all_runs,
    omniglot_set,
    read_split_list,
    split_pool,
)

__all__ = ["ClassPool", "Episodes", "Pools", "build_pools", "check_fits", "episode_generator",
           "sample_episodes", "load_all_runs", "describe_split",
           "trains_on_evaluation_alphabets"]


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


def describe_split(cfg: DataConfig, split: str) -> str:
    """The classes of ``split`` in words, for a table's title."""
    if cfg.name != "omniglot":
        return f"{cfg.name} {split} classes"
    if cfg.split == "vinyals":
        listed = cfg.vinyals_train if split == "train" else split
        return f"Omniglot, Vinyals split, {listed}.txt classes (rotations as classes)"
    if split == "test":
        return f"Omniglot {', '.join(cfg.test_sets)}" + (" (Lake's protocol)" if cfg.split == "lake" else "")
    return f"Omniglot, held-out characters of {', '.join(cfg.train_sets)}" if split == "val" else \
        f"Omniglot {', '.join(cfg.train_sets)}"


def trains_on_evaluation_alphabets(cfg: DataConfig) -> bool:
    """Whether a model of this config saw alphabets of ``images_evaluation`` in training or model
    selection: then Lake's all_runs, drawn from those alphabets, is no test of it."""
    if cfg.split == "vinyals":
        return True  # 236 of its 1,200 training characters come from images_evaluation
    return any(s not in LAKE_TRAIN_SETS for s in cfg.train_sets)


def _omniglot_pools(cfg: DataConfig, splits) -> dict[str, ClassPool]:
    root = data_root(cfg.root)
    cache = cache_dir(cfg.cache_dir) if cfg.cache else None
    if cfg.split == "vinyals":
        return _vinyals_pools(cfg, root, cache, splits)
    if cfg.split == "lake":  # checked in Config.validate too; here it cannot be bypassed
        bad = [s for s in cfg.train_sets if s not in LAKE_TRAIN_SETS] + \
              [s for s in cfg.test_sets if s not in LAKE_TEST_SETS]
        if bad:
            raise DataError(f"data.split='lake' cannot use {bad}: only {', '.join(LAKE_TRAIN_SETS)} train and "
                            f"validate, only {', '.join(LAKE_TEST_SETS)} test")
    pools = {}
    if "train" in splits or "val" in splits:
        chars = [c for name in cfg.train_sets for c in omniglot_set(root, name, cfg.image_size, cfg.download, cache)]
        if cfg.split == "lake":
            _check_no_evaluation_alphabets(root, chars)
        # Hold out whole characters (with all their rotations) for validation.
        order = torch.randperm(len(chars), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        n_val = round(cfg.val_fraction * len(chars))
        val_ids = set(order[:n_val])
        train = [c for i, c in enumerate(chars) if i not in val_ids]
        val = [c for i, c in enumerate(chars) if i in val_ids]
        if not train:
            raise DataError(f"data.val_fraction={cfg.val_fraction} leaves none of the {len(chars)} characters of "
                            f"{', '.join(cfg.train_sets)} for meta-training")
        pools["train"] = characters_to_pool(train, cfg.rotations)
        if val:
            pools["val"] = characters_to_pool(val, cfg.rotations)
    if "test" in splits:
        parts = []
        for name in cfg.test_sets:
            if name == "all_runs":
                parts.append(all_runs_pool(load_all_runs(root, cfg.image_size, cfg.download)))
            else:
                parts.append(characters_to_pool(omniglot_set(root, name, cfg.image_size, cfg.download, cache), False))
        pools["test"] = _concat(parts)
    return pools


def _check_no_evaluation_alphabets(root, chars) -> None:
    """Lake's protocol, beyond the set names: no training character may belong to an alphabet of
    images_evaluation (as its files list them), whatever a folder is called."""
    folder, archive = root / "images_evaluation", root / "images_evaluation.zip"
    source = folder if folder.is_dir() else archive if archive.is_file() else None
    if source is None:
        return  # nothing to compare with; the set names were checked
    shared = sorted({c.alphabet for c in chars} & alphabet_names(source))
    if shared:
        raise DataError(f"data.split='lake': the training sets hold alphabets of images_evaluation ({', '.join(shared[:3])}"
                        f"{', ...' if len(shared) > 3 else ''}); Lake's protocol keeps them out of training")


def _vinyals_pools(cfg: DataConfig, root, cache, splits) -> dict[str, ClassPool]:
    """The Vinyals split: the classes its lists name, drawn from both Omniglot sets. The lists
    are checked to share no character between training (train or trainval, val) and test."""
    folder = Path(cfg.split_dir).expanduser() if cfg.split_dir else root / "splits" / "vinyals"
    lists = {"train": cfg.vinyals_train, "val": "val", "test": "test"}
    if cfg.vinyals_train == "trainval":
        lists.pop("val")  # trainval is train + val: nothing is left to validate on
    wanted = {s: read_split_list(folder / f"{lists[s]}.txt") for s in splits if s in lists}
    held = {s: read_split_list(folder / f"{lists[s]}.txt") for s in lists if s not in wanted}
    seen = {**wanted, **held}
    trained = {c for s in ("train", "val") if s in seen for c, _ in seen[s]}
    if "test" in seen and trained & {c for c, _ in seen["test"]}:
        shared = sorted(trained & {c for c, _ in seen["test"]})
        raise DataError(f"the split files in {folder} put {len(shared)} characters both in training and in "
                        f"test, e.g. {shared[0]!r}")
    every = [c for name in ("images_background", "images_evaluation")
             for c in omniglot_set(root, name, cfg.image_size, cfg.download, cache)]
    chars = {c.key: c for c in every}
    if len(chars) != len(every):
        raise DataError(f"images_background and images_evaluation under {root} share alphabet names; "
                        "the split files' Alphabet/characterNN would be ambiguous")
    return {s: split_pool(chars, entries, folder / f"{lists[s]}.txt") for s, entries in wanted.items()}


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
