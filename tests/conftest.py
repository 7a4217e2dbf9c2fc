import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hebbformer.config import Config
from hebbformer.data import ClassPool

SHARED_OMNIGLOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "omniglot"


def tiny_config(tmp_path, **sections) -> Config:
    """A model and data set small enough to train a few steps in well under a second."""
    cfg = Config()
    cfg.override([
        "data.name=glyphs", "data.glyph_classes=40", "data.glyph_drawings=6", "data.image_size=16",
        "episode.ways=3", "episode.shots=1", "episode.queries=2",
        "model.encoder_channels=8", "model.encoder_blocks=2", "model.d_model=16", "model.depth=1",
        "model.heads=2", "model.mlp_ratio=2", "model.max_ways=5",
        "train.steps=6", "train.batch_size=4", "train.warmup_steps=2", "train.val_every=3",
        "train.val_episodes=4", "train.checkpoint_every=3", "eval.episodes=8", "eval.queries=2",
        "eval.settings=3w1s,5w1s",
        "train.precision=fp32",  # not "auto", which is bf16 on some CPUs: the same numbers on every machine
    ])
    for key, value in sections.items():
        cfg.override([f"{key.replace('__', '.')}={value}"])
    cfg.out_dir = str(tmp_path / "run")
    return cfg.validate()


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def make_omniglot_zip(path: Path, set_name: str, alphabets: dict[str, int], drawings: int = 4, seed: int = 0):
    """A small zip in the official layout: <set>/<alphabet>/characterNN/<id>_<drawer>.png, 105x105,
    black ink on white. Each character is a distinct random blob pattern."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w") as z:
        for alpha, n_chars in alphabets.items():
            for c in range(n_chars):
                base = rng.random((105, 105)) > 0.5
                for d in range(drawings):
                    img = np.where(base ^ (rng.random((105, 105)) > 0.97), 0, 255).astype(np.uint8)
                    z.writestr(f"{set_name}/{alpha}/character{c + 1:02d}/{c:04d}_{d + 1:02d}.png", png_bytes(img))
    return path


@pytest.fixture
def shared_omniglot():
    if not (SHARED_OMNIGLOT / "images_background_small1.zip").is_file():
        pytest.skip("../shared/data/omniglot is not present")
    return SHARED_OMNIGLOT


def blob_pool(classes: int, seed: int, drawings: int = 6, size: int = 16) -> ClassPool:
    """A trivial image set: each class is a smooth random 4x4 pattern blown up to size x size, and
    its drawings add a little noise. Any encoder separates the classes; what remains to learn is
    the in-context part (labels are assigned anew in every episode)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(classes, 1, 1, 4, 4, generator=g).expand(classes, drawings, 1, 4, 4)
    noisy = base + 0.1 * torch.randn(classes, drawings, 1, 4, 4, generator=g)
    img = torch.nn.functional.interpolate(noisy.reshape(-1, 1, 4, 4), size=size, mode="bilinear")
    return ClassPool((img.clamp(0, 1) * 255).to(torch.uint8).view(classes, drawings, 1, size, size),
                     [f"blob{seed}-{i}" for i in range(classes)])


@pytest.fixture(autouse=True)
def _test_cache(tmp_path_factory, monkeypatch):
    """Decoded data sets are cached in the test session's own folder, never in the user's."""
    monkeypatch.setenv("HEBBFORMER_CACHE", str(tmp_path_factory.getbasetemp() / "hebbformer-cache"))


def make_omniglot_folder(root: Path, set_name: str, alphabets: dict[str, int], drawings: int = 4,
                         seed: int = 0) -> Path:
    """An unpacked Omniglot set under root/set_name in the official layout (like the zips of
    make_omniglot_zip); as a folder it may carry an official name, whose zips are checksummed."""
    rng = np.random.default_rng(seed)
    for alpha, n_chars in alphabets.items():
        for c in range(n_chars):
            folder = root / set_name / alpha / f"character{c + 1:02d}"
            folder.mkdir(parents=True)
            base = rng.random((105, 105)) > 0.5
            for d in range(drawings):
                img = np.where(base ^ (rng.random((105, 105)) > 0.97), 0, 255).astype(np.uint8)
                (folder / f"{c:04d}_{d + 1:02d}.png").write_bytes(png_bytes(img))
    return root / set_name
