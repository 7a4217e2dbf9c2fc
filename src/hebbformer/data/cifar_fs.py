"""CIFAR-FS (Bertinetto et al., ICLR 2019): CIFAR-100's 100 classes split 64/16/20 by class name.

Read from the official python-pickle release (``cifar-100-python/{train,test,meta}``, as a folder
or as ``cifar-100-python.tar.gz``); the train and test files are merged, giving 600 images a class.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .episodes import ClassPool
from .files import OfficialFile, locate

OFFICIAL = OfficialFile("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "md5",
                        "eb9058c3a382ffc7106e4002c42a8d85")

# The standard split's validation and test classes; the other 64 are meta-train.
VAL_CLASSES = ("beaver", "otter", "flatfish", "shark", "lamp", "television", "beetle", "butterfly", "sea",
               "camel", "cattle", "crab", "crocodile", "maple_tree", "motorcycle", "tractor")
TEST_CLASSES = ("whale", "poppy", "rose", "sweet_pepper", "telephone", "bed", "table", "wardrobe", "leopard",
                "plain", "chimpanzee", "fox", "snail", "worm", "baby", "man", "woman", "bicycle",
                "pickup_truck", "rocket")


def _unpickle(read, name: str, where: Path) -> dict:
    try:
        return pickle.loads(read(name), encoding="latin1")
    except KeyError:
        raise DataError(f"{where} has no {name}; is it the CIFAR-100 python version?") from None
    except Exception as err:
        raise DataError(f"{where}: {name} is not a readable CIFAR-100 pickle ({err})") from None


def _reader(path: Path):
    if path.is_dir():
        def read(name):
            f = path / name
            if not f.is_file():
                raise KeyError(name)
            return f.read_bytes()
        return read
    try:
        tar = tarfile.open(path)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path} is not a readable tar.gz file ({err})") from None

    def read(name):
        member = tar.extractfile(f"cifar-100-python/{name}")
        if member is None:
            raise KeyError(name)
        return member.read()
    return read


def load_cifar_fs(root: Path, download: bool) -> dict[str, ClassPool]:
    folder = root / "cifar-100-python"
    path = folder if folder.is_dir() else locate(root, "cifar-100-python.tar.gz", OFFICIAL, download, "CIFAR-100")
    read = _reader(path)
    label_names = _unpickle(read, "meta", path)["fine_label_names"]
    data, labels = [], []
    for part in ("train", "test"):
        d = _unpickle(read, part, path)
        data.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(d["fine_labels"]))
    data, labels = np.concatenate(data), np.concatenate(labels)
    missing = set(VAL_CLASSES + TEST_CLASSES) - set(label_names)
    if missing:
        raise DataError(f"{path}: CIFAR-100 class names missing: {sorted(missing)}")
    splits = {"train": [n for n in label_names if n not in VAL_CLASSES + TEST_CLASSES],
              "val": list(VAL_CLASSES), "test": list(TEST_CLASSES)}
    pools = {}
    for split, names in splits.items():
        per_class = [data[labels == label_names.index(n)] for n in names]
        counts = {len(x) for x in per_class}
        if len(counts) != 1 or 0 in counts:
            raise DataError(f"{path}: the {split} classes have unequal image counts {sorted(counts)}")
        pools[split] = ClassPool(torch.from_numpy(np.stack(per_class)), names)
    return pools
