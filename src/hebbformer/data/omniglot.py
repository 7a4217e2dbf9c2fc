"""Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015) from its official files.

Reads the ``images_background`` / ``images_evaluation`` sets and the ``images_background_small1/2``
subsets, as zips or as unpacked folders (``<set>/<alphabet>/<characterNN>/<id>_<drawer>.png``), and
Lake's 20-way one-shot benchmark ``all_runs.zip`` (20 runs, each 20 training and 20 test images with
an answer key in ``class_labels.txt``), and the class lists of the Vinyals et al. (2016) split
(``Alphabet/characterNN/rotDDD`` a line, as published with Prototypical Networks).
Decoded sets are cached (:mod:`hebbformer.data.cache`).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .cache import cached_arrays, path_tag, source_key
from .episodes import ClassPool
from .files import OfficialFile, locate

_REPO = "https://github.com/brendenlake/omniglot/raw/master/python/"
OFFICIAL = {
    "images_background": OfficialFile(_REPO + "images_background.zip", "md5", "68d2efa1b9178cc56df9314c21c6e718"),
    "images_evaluation": OfficialFile(_REPO + "images_evaluation.zip", "md5", "6b91aef0f799c5bb55b94e3f2daec811"),
    "images_background_small1": OfficialFile(
        _REPO + "images_background_small1.zip", "sha256",
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4"),
    "images_background_small2": OfficialFile(
        _REPO + "images_background_small2.zip", "sha256",
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f"),
    "all_runs": OfficialFile(_REPO + "one-shot-classification/all_runs.zip", "sha256",
                             "437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325"),
}


@dataclass
class Character:
    alphabet: str
    name: str
    images: np.ndarray  # uint8 [drawings, H, W], ink bright
    source: str = ""  # the Omniglot set it came from, e.g. "images_background"

    @property
    def key(self) -> str:
        """``Alphabet/characterNN``: unique across the two sets, as the split files name it."""
        return f"{self.alphabet}/{self.name}"


def decode(data: bytes, size: int, where: str) -> np.ndarray:
    """An Omniglot PNG (black ink on white, 105x105) as bright ink on black, resized by area."""
    try:
        img = Image.open(io.BytesIO(data)).convert("L")
    except Exception as err:  # PIL raises several types for a bad file
        raise DataError(f"{where} is not a readable image: {err}") from None
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BOX)
    return 255 - np.asarray(img, dtype=np.uint8)


class _Source:
    """Uniform read access to a zip or a folder, with paths relative to it."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.zip = None
            self.names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        else:
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataError(f"{path} is not a readable zip file ({err}); delete it and fetch it again") from None
            self.names = sorted(n for n in self.zip.namelist() if not n.endswith("/"))

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(name) if self.zip else (self.path / name).read_bytes()
        except (zipfile.BadZipFile, OSError, KeyError) as err:
            raise DataError(f"cannot read {name} from {self.path}: {err}") from None


def read_characters(path: Path, size: int, cache: Path | None = None, source: str = "") -> list[Character]:
    """Every character of one Omniglot set, in a stable (sorted) order; decoded once and then
    read from ``cache`` (a folder; None: decode every time)."""
    key = source_key(path, size, decoder=(decode, _decode_set))
    arrays = cached_arrays(cache, f"omniglot-{path.name}-{path_tag(path)}-{size}px", key, lambda: _decode_set(path, size))
    return [Character(str(a), str(n), imgs, source)
            for a, n, imgs in zip(arrays["alphabets"], arrays["characters"], arrays["images"])]


def _decode_set(path: Path, size: int) -> dict[str, np.ndarray]:
    src = _Source(path)
    groups: dict[tuple[str, str], list[str]] = {}
    for name in src.names:
        parts = PurePosixPath(name).parts
        if name.endswith(".png") and len(parts) >= 3:
            groups.setdefault((parts[-3], parts[-2]), []).append(name)
    if not groups:
        raise DataError(f"{path} holds no Omniglot images (<alphabet>/<character>/<drawing>.png)")
    counts = {len(v) for v in groups.values()}
    if len(counts) != 1:
        raise DataError(f"{path}: characters have different numbers of drawings ({sorted(counts)}); "
                        "the set is incomplete or corrupt")
    keys = sorted(groups)
    images = np.stack([np.stack([decode(src.read(n), size, f"{path}:{n}") for n in groups[k]]) for k in keys])
    return {"images": images, "alphabets": np.array([a for a, _ in keys]), "characters": np.array([c for _, c in keys])}


def alphabet_names(path: Path) -> set[str]:
    """The alphabets of an Omniglot set (zip or folder) from its listing alone, nothing decoded."""
    parts = (PurePosixPath(n).parts for n in _Source(path).names if n.endswith(".png"))
    return {p[-3] for p in parts if len(p) >= 3}


def omniglot_set(root: Path, name: str, size: int, download: bool, cache: Path | None = None) -> list[Character]:
    path = locate(root, name, OFFICIAL.get(name), download, f"Omniglot set {name!r}")
    return read_characters(path, size, cache, source=name)


def characters_to_pool(chars: list[Character], rotations: bool) -> ClassPool:
    """One class per character; with rotations, its 90/180/270-degree turns as three more."""
    images = torch.from_numpy(np.stack([c.images for c in chars]))[:, :, None]  # [C, D, 1, H, W]
    names = [f"{c.alphabet}/{c.name}" for c in chars]
    alphabets = sorted({c.alphabet for c in chars})
    groups = torch.tensor([alphabets.index(c.alphabet) for c in chars])
    if rotations:  # a rotated alphabet counts as an alphabet of its own
        images = torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)])
        names = [f"{n}@{90 * k}" for k in range(4) for n in names]
        groups = torch.cat([groups + k * len(alphabets) for k in range(4)])
    return ClassPool(images.contiguous(), names, groups)


# ---------------------------------------------------------------------------- the Vinyals split

VINYALS_LISTS = ("train", "val", "test", "trainval")
_ROTATIONS = {"rot000": 0, "rot090": 1, "rot180": 2, "rot270": 3}


def read_split_list(path: Path) -> list[tuple[str, int]]:
    """A Vinyals split file as (``Alphabet/characterNN``, quarter turns) pairs, one per class;
    a missing file or a malformed line is an error that names it."""
    if not path.is_file():
        raise DataError(f"Vinyals split file {path} not found; point data.split_dir at the folder that "
                        f"holds {', '.join(n + '.txt' for n in VINYALS_LISTS)}")
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"Vinyals split file {path} is unreadable: {err}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.strip().split("/")
        if len(parts) != 3 or parts[2] not in _ROTATIONS or not all(parts[:2]):
            raise DataError(f"{path}:{number}: {line.strip()!r} is not of the form Alphabet/characterNN/rotDDD "
                            f"(DDD one of 000, 090, 180, 270)")
        entries.append((f"{parts[0]}/{parts[1]}", _ROTATIONS[parts[2]]))
    if not entries:
        raise DataError(f"Vinyals split file {path} lists no classes")
    if len(set(entries)) != len(entries):
        raise DataError(f"Vinyals split file {path} lists a class twice")
    return entries


def split_pool(chars: dict[str, Character], entries: list[tuple[str, int]], where: Path) -> ClassPool:
    """The classes a split list names: each an (unrotated character, turn) pair. Its groups are
    (alphabet, turn), as in :func:`characters_to_pool`, for same-alphabet episodes."""
    missing = [c for c, _ in entries if c not in chars]
    if missing:
        raise DataError(f"{where} names {len(missing)} characters that the Omniglot sets do not hold, "
                        f"e.g. {missing[0]!r}; it needs both images_background and images_evaluation")
    images = torch.stack([torch.rot90(torch.from_numpy(chars[c].images), k, dims=(-2, -1)) for c, k in entries])
    group_names = sorted({(chars[c].alphabet, k) for c, k in entries})
    groups = torch.tensor([group_names.index((chars[c].alphabet, k)) for c, k in entries])
    names = [f"{c}@{90 * k}" for c, k in entries]
    return ClassPool(images[:, :, None].contiguous(), names, groups)


# ---------------------------------------------------------------------------- all_runs


@dataclass
class OneShotRun:
    """One of Lake's 20-way one-shot runs: classify each test image as one of the training ones."""

    name: str
    train: torch.Tensor  # uint8 [20, 1, H, W], one image per class
    test: torch.Tensor  # uint8 [20, 1, H, W]
    answers: torch.Tensor  # long [20]: index into train of each test image's class


def load_all_runs(root: Path, size: int, download: bool = False, path: str | Path = "") -> list[OneShotRun]:
    where = Path(path) if path else locate(root, "all_runs", OFFICIAL["all_runs"], download,
                                             "Omniglot one-shot benchmark 'all_runs'")
    if path and not where.exists():
        raise DataError(f"all_runs not found at {where}")
    src = _Source(where)
    keys = sorted(n for n in src.names if n.endswith("class_labels.txt"))
    if not keys:
        raise DataError(f"{where} holds no runNN/class_labels.txt answer keys; is it all_runs.zip?")
    runs = []
    for key in keys:
        run_dir = PurePosixPath(key).parent
        pairs = []
        for line in src.read(key).decode().split("\n"):
            if line.strip():
                fields = line.split()
                if len(fields) != 2:
                    raise DataError(f"{where}:{key}: malformed line {line!r}")
                pairs.append(fields)
        # Paths in the key start at the run folder's name ("run01/test/item01.png").
        base = run_dir.parent
        train_names = sorted({t for _, t in pairs})
        index = {t: i for i, t in enumerate(train_names)}
        test_img = [decode(src.read(str(base / q)), size, f"{where}:{q}") for q, _ in pairs]
        train_img = [decode(src.read(str(base / t)), size, f"{where}:{t}") for t in train_names]
        runs.append(OneShotRun(
            name=run_dir.name,
            train=torch.from_numpy(np.stack(train_img))[:, None],
            test=torch.from_numpy(np.stack(test_img))[:, None],
            answers=torch.tensor([index[t] for _, t in pairs]),
        ))
    return runs


def all_runs_pool(runs: list[OneShotRun]) -> ClassPool:
    """The benchmark's characters as a test pool: each class has its training image and its one
    test image (drawn by another person), so 1-shot episodes with one query per class fit."""
    images, names = [], []
    for run in runs:
        for c in range(run.train.shape[0]):
            matches = (run.answers == c).nonzero().flatten()
            if len(matches) != 1:
                raise DataError(f"all_runs {run.name}: class {c + 1} has {len(matches)} test images, expected 1")
            images.append(torch.stack([run.train[c], run.test[matches[0]]]))
            names.append(f"{run.name}/class{c + 1:02d}")
    return ClassPool(torch.stack(images), names)
