"""Your own images through a trained model: ``hebbformer.load(model).predict(...)``.

The model labels each query image from the labelled support images alone, in context, with no
gradient step, on any back-end it supports (a Quant model also on its integer path and on Loihi 2
networks, emulated or on lava). Images may be numpy arrays (H x W grey, H x W x 3 or 4 colour;
uint8, or floats in [0, 1]) or PIL images, of any size: they are converted as the model's training
images were. For Omniglot and the generated glyphs that is grey, resized by area to the model's
image size, and ink bright on black: an image whose border is light (dark ink on paper, as
Omniglot's own files are) is inverted. For CIFAR-FS it is colour, resized.

    import hebbformer
    model = hebbformer.load("vinyals-icl")          # a shipped model, a run folder or a checkpoint
    labels, probs = model.predict(support_images, ["a", "b", "c"], query_images)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import backends, checkpoint, shipped
from .config import Config
from .errors import ConfigError, DataError
from .families import build_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def load(ref: str | Path, backend: str = "torch") -> "Predictor":
    """A shipped model's name, a run folder or a checkpoint file, ready to predict."""
    state = checkpoint.load(shipped.resolve(ref))
    cfg = Config.from_dict(state["config"])
    cfg.eval.backend = backend
    cfg.validate()
    d = cfg.data
    channels = 3 if d.name == "cifar_fs" else 1
    model = build_model(cfg.model, (channels, d.image_size, d.image_size))
    checkpoint.load_into(model, state, ref)
    model.eval()
    if backend != "torch":
        model = backends.run(model, backend)
    return Predictor(cfg, model, channels)


@dataclass
class Predictor:
    cfg: Config
    model: torch.nn.Module
    channels: int

    @property
    def max_ways(self) -> int:
        return self.cfg.model.max_ways

    def convert(self, image, where: str = "an image", invert: bool | None = None) -> np.ndarray:
        """One image as the model's input: uint8 [C, size, size]. ``invert`` (grey models): None
        inverts an image whose border is light, True or False decide for it."""
        size = self.cfg.data.image_size
        if isinstance(image, Image.Image):
            img = image
        else:
            a = np.asarray(image)
            if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
                raise DataError(f"{where} has shape {a.shape}; expected H x W, or H x W x 1, 3 or 4")
            if a.dtype == bool:
                a = a.astype(np.uint8) * 255
            elif np.issubdtype(a.dtype, np.integer) and a.dtype != np.uint8:
                if a.min() < 0 or a.max() > 255:
                    raise DataError(f"{where}: integer pixels must lie in 0..255")
                a = a.astype(np.uint8)
            elif a.dtype != np.uint8:
                if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
                    raise DataError(f"{where}: float pixels must lie in [0, 1]")
                a = np.round(a * 255).astype(np.uint8)
            img = Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)
        img = img.convert("RGB" if self.channels == 3 else "L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BOX)
        a = np.asarray(img, dtype=np.uint8)
        if self.channels == 1:
            border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
            if invert or (invert is None and border.mean() > 127):  # dark ink on a light page: the
                a = 255 - a  # training images are bright ink on black
            return a[None]
        return a.transpose(2, 0, 1).copy()

    @torch.no_grad()
    def predict(self, support_images, support_labels, query_images, invert: bool | None = None) -> tuple[list, np.ndarray]:
        """Each query's label (one of ``support_labels``' values) and its probability. ``invert``:
        as in :meth:`convert`."""
        classes = list(dict.fromkeys(support_labels))  # in order of first appearance
        if len(support_images) != len(support_labels):
            raise DataError(f"{len(support_images)} support images but {len(support_labels)} labels")
        if len(classes) < 2:
            raise DataError(f"the support set has {len(classes)} class; the model needs at least 2")
        if len(classes) > self.max_ways:
            raise DataError(f"the support set has {len(classes)} classes; this model answers at most "
                            f"{self.max_ways} (its model.max_ways)")
        if len(query_images) == 0:
            raise DataError("no query images")
        support = np.stack([self.convert(x, f"support image {i}", invert) for i, x in enumerate(support_images)])
        query = np.stack([self.convert(x, f"query image {i}", invert) for i, x in enumerate(query_images)])
        tokens = torch.arange(len(classes))  # label token of each class: any distinct tokens will do
        labels = tokens[[classes.index(y) for y in support_labels]]
        logits = self.model(torch.from_numpy(support)[None], labels[None], torch.from_numpy(query)[None],
                            tokens[None])[0].double()
        probs = torch.softmax(logits, -1)
        best = probs.argmax(-1)
        return [classes[i] for i in best.tolist()], probs.gather(1, best[:, None])[:, 0].numpy()


def read_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except Exception as err:  # PIL raises several types for a bad file
        raise DataError(f"{path} is not a readable image: {err}") from None


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_support_folder(folder: Path) -> tuple[list[Image.Image], list[str]]:
    """One sub-folder per class, named by its label, holding one or a few images."""
    if not folder.is_dir():
        raise DataError(f"support folder {folder} does not exist")
    images, labels = [], []
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"support folder {folder} has no class sub-folders (one per class, holding its images)")
    for c in classes:
        files = image_files(c)
        if not files:
            raise DataError(f"class folder {c} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        images += [read_image(f) for f in files]
        labels += [c.name] * len(files)
    return images, labels


def check_backend(backend: str) -> None:
    from .registry import BACKENDS
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r} is not one of: {', '.join(BACKENDS)}")
