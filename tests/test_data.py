import pickle
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from conftest import make_omniglot_zip
from hebbformer.config import DataConfig
from hebbformer.data import build_pools, load_all_runs
from hebbformer.data.cifar_fs import TEST_CLASSES, VAL_CLASSES
from hebbformer.data.glyphs import generate_glyphs
from hebbformer.data.omniglot import all_runs_pool, read_characters
from hebbformer.errors import DataError


def omniglot_cfg(root, **kw):
    base = dict(name="omniglot", root=str(root), train_sets=["my_background"], test_sets=["my_evaluation"],
                val_fraction=0.25, image_size=28)
    base.update(kw)
    return DataConfig(**base)


@pytest.fixture
def fake_omniglot(tmp_path):
    # Not the official names: those are checked against the official checksums.
    make_omniglot_zip(tmp_path / "my_background.zip", "my_background", {"Alpha": 4, "Beta": 4}, seed=1)
    make_omniglot_zip(tmp_path / "my_evaluation.zip", "my_evaluation", {"Gamma": 3}, seed=2)
    return tmp_path


def test_omniglot_splits_are_disjoint(fake_omniglot):
    pools = build_pools(omniglot_cfg(fake_omniglot, rotations=True))
    train, val, test = set(pools.train.names), set(pools.val.names), set(pools.test.names)
    assert len(train) == 6 * 4 and len(val) == 2 * 4 and len(test) == 3  # rotations on meta-train only
    strip = lambda names: {n.split("@")[0] for n in names}
    assert not strip(train) & strip(val)
    assert {n.split("/")[0] for n in test} == {"Gamma"}
    assert pools.train.images.shape[1:] == (4, 1, 28, 28) and pools.train.images.dtype == torch.uint8
    # a rotated class is the same drawings turned by 90 degrees
    i0 = pools.train.names.index(pools.train.names[0].replace("@0", "@90"))
    assert torch.equal(pools.train.images[i0], torch.rot90(pools.train.images[0], 1, dims=(-2, -1)))


def test_folder_and_zip_read_the_same(fake_omniglot):
    zpath = fake_omniglot / "my_background.zip"
    with zipfile.ZipFile(zpath) as z:
        z.extractall(fake_omniglot / "unpacked")
    a = read_characters(zpath, 20)
    b = read_characters(fake_omniglot / "unpacked", 20)
    assert [(c.alphabet, c.name) for c in a] == [(c.alphabet, c.name) for c in b]
    assert all(np.array_equal(x.images, y.images) for x, y in zip(a, b))
    assert a[0].images.shape == (4, 20, 20)


def test_missing_set_error_names_paths(tmp_path):
    with pytest.raises(DataError) as err:
        build_pools(omniglot_cfg(tmp_path, train_sets=["images_background"]))
    msg = str(err.value)
    assert "images_background" in msg and str(tmp_path) in msg and "data.download=true" in msg


def test_corrupt_official_zip_is_named(tmp_path):
    bad = tmp_path / "images_background_small1.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="images_background_small1.zip is corrupt.*sha256"):
        build_pools(omniglot_cfg(tmp_path, train_sets=["images_background_small1"]), ("train",))


def test_unreadable_zip_and_png_are_named(tmp_path):
    (tmp_path / "mine.zip").write_bytes(b"garbage")
    with pytest.raises(DataError, match="mine.zip is not a readable zip"):
        read_characters(tmp_path / "mine.zip", 28)
    with zipfile.ZipFile(tmp_path / "broken.zip", "w") as z:
        z.writestr("s/A/character01/01.png", b"\x89PNG broken")
    with pytest.raises(DataError, match="character01/01.png is not a readable image"):
        read_characters(tmp_path / "broken.zip", 28)


def test_shared_omniglot_and_all_runs(shared_omniglot):
    runs = load_all_runs(shared_omniglot, 28)
    assert len(runs) == 20
    for run in runs:
        assert run.train.shape == run.test.shape == (20, 1, 28, 28)
        assert sorted(run.answers.tolist()) == list(range(20))  # one test image per class
    pool = all_runs_pool(runs)
    assert pool.images.shape == (400, 2, 1, 28, 28)
    # the test image of a class resembles its training image more than other classes' images
    x = pool.images[:20, :, 0].flatten(2).float()
    d = torch.cdist(x[:, 1], x[:, 0])
    assert (d.argmin(1) == torch.arange(20)).float().mean() > 0.25
    pools = build_pools(DataConfig(name="omniglot", root=str(shared_omniglot),
                                   train_sets=["images_background_small1"], test_sets=["all_runs"]))
    assert pools.train.n_drawings == 20 and pools.test.n_classes == 400


def write_cifar(root, per_class=3):
    from hebbformer.data.cifar_fs import TEST_CLASSES, VAL_CLASSES
    names = list(TEST_CLASSES + VAL_CLASSES) + [f"train_class_{i}" for i in range(64)]
    rng = np.random.default_rng(0)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    pickle.dump({"fine_label_names": names}, open(folder / "meta", "wb"))
    for part, n in (("train", per_class), ("test", 1)):
        labels = np.repeat(np.arange(100), n)
        data = (labels[:, None] + rng.integers(0, 2, (len(labels), 3072))).astype(np.uint8)
        pickle.dump({"data": data, "fine_labels": labels.tolist()}, open(folder / part, "wb"))
    return names


def test_cifar_fs_fixture(tmp_path):
    write_cifar(tmp_path)
    pools = build_pools(DataConfig(name="cifar_fs", root=str(tmp_path), image_size=32))
    assert (pools.train.n_classes, pools.val.n_classes, pools.test.n_classes) == (64, 16, 20)
    assert pools.train.images.shape[1:] == (4, 3, 32, 32)
    assert set(pools.test.names) == set(TEST_CLASSES) and set(pools.val.names) == set(VAL_CLASSES)
    # the images of a class are that class's images (label encoded in the fixture's pixel values)
    names = write_cifar(tmp_path / "again")
    i = names.index("whale")
    assert pools.test.images[pools.test.names.index("whale")].min() >= i
    # the same files as a tar.gz read the same
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "cifar-100-python", arcname="cifar-100-python")
    import shutil
    shutil.rmtree(tmp_path / "cifar-100-python")
    with pytest.raises(DataError, match="corrupt"):  # our fixture is not the official tarball
        build_pools(DataConfig(name="cifar_fs", root=str(tmp_path)))


def test_cifar_missing_is_named(tmp_path):
    with pytest.raises(DataError, match="CIFAR-100 not found.*cifar-100-python"):
        build_pools(DataConfig(name="cifar_fs", root=str(tmp_path)))


def test_glyphs_deterministic_and_distinct():
    a = generate_glyphs(10, 5, 28, seed=3)
    assert torch.equal(a, generate_glyphs(10, 5, 28, seed=3))
    assert not torch.equal(a, generate_glyphs(10, 5, 28, seed=4))
    # drawings of one class look alike: a pixel-space nearest neighbour mostly finds the class
    x = a[:, :, 0].flatten(2).float()
    nearest = torch.cdist(x[:, 1], x[:, 0]).argmin(1)
    assert (nearest == torch.arange(10)).float().mean() >= 0.4  # chance: 0.1
    assert a.float().mean() > 10  # there is ink


def test_download_verifies_checksum_and_lands_atomically(tmp_path):
    """A download (here from a file:// URL) is renamed into place only when its checksum matches."""
    from hebbformer.data.files import OfficialFile, file_digest, locate

    src = tmp_path / "server" / "thing.zip"
    src.parent.mkdir()
    src.write_bytes(b"payload")
    good = OfficialFile(src.as_uri(), "sha256", file_digest(src, "sha256"))
    root = tmp_path / "data"
    assert locate(root, "thing", good, True, "thing").read_bytes() == b"payload"

    bad = OfficialFile(src.as_uri(), "sha256", "0" * 64)
    with pytest.raises(DataError, match="corrupt or not the official file"):
        locate(tmp_path / "other", "thing", bad, True, "thing")
    assert not any((tmp_path / "other").iterdir())  # no partial or wrong file left behind
    with pytest.raises(DataError, match="could not download"):
        locate(tmp_path / "third", "thing", OfficialFile((tmp_path / "nope.zip").as_uri(), "sha256", "0"), True, "x")
