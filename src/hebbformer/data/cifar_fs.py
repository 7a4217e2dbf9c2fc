"""CIFAR-FS (Bertinetto et al., ICLR 2019): CIFAR-100's 100 classes split 64/16/20 by class name.

Read from the official python-pickle release (``cifar-100-python/{train,test,meta}``, as a folder
or as ``cifar-100-python.tar.gz``); the train and test files are merged, giving 600 images a class.

The files are pickles, and unpickling runs whatever callable a pickle names, so they are read by
a restricted unpickler (:class:`PlainDataUnpickler`) that builds plain data only (dicts, lists,
strings, bytes, numbers) and numpy arrays through exactly the three globals numpy's own array
pickles name; any other global ends the load with a DataError naming the file, before anything
of it runs. Whatever the layout: a folder is not checksummed, and a tarball's checksum only says
it is the official file when it is.
"""

from __future__ import annotations

import io
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
PIXELS = 3 * 32 * 32


def _plain_dtype(*args):
    """numpy.dtype as an array pickle calls it, refusing object dtypes (whose items are objects)."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"an array of Python objects (dtype {dtype})")
    return dtype


# numpy's array reconstructor, wherever this numpy keeps it (numpy.core in 1.x, numpy._core in 2.x)
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
# (module, name) -> what it may mean: the globals that numpy writes into a pickled array (and the
# official CIFAR-100 files hold no others); ``find_class`` gives out nothing else
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
}


class _Refused(Exception):
    def __init__(self, module: str, name: str):
        super().__init__(module, name)
        self.module, self.name = module, name


class PlainDataUnpickler(pickle.Unpickler):
    """An unpickler for data files: plain containers, strings and numbers are built by the pickle
    opcodes themselves; of the globals (the only way a pickle reaches code) just ALLOWED_GLOBALS."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(str(module), str(name)) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("a persistent id (a reference to an object outside the file)")


def load_plain_pickle(raw: bytes, label: str):
    """Unpickle ``raw`` (the contents of the file named ``label``) with PlainDataUnpickler; a
    DataError naming the file for a refused global or anything else unreadable."""
    try:
        return PlainDataUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _Refused as err:
        raise DataError(f"{label} is not a plain-data pickle: it calls for {err.module}.{err.name}, which no "
                        "CIFAR-100 file does (a crafted pickle runs code that way), so it was not loaded; "
                        "replace it with the official file") from None
    except Exception as err:  # a torn or foreign file: pickle, numpy, EOF, memo and recursion errors
        raise DataError(f"{label} is not a readable CIFAR-100 pickle ({err.__class__.__name__}: {err})") from None


def _reader(path: Path):
    """read(name) -> (bytes, label naming the file), KeyError where it is absent."""
    if path.is_dir():
        def read(name):
            f = path / name
            if not f.is_file():
                raise KeyError(name)
            try:
                return f.read_bytes(), str(f)
            except OSError as err:
                raise DataError(f"{f} cannot be read ({err.strerror or err})") from None
        return read
    try:
        tar = tarfile.open(path)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path} is not a readable tar.gz file ({err})") from None

    def read(name):
        label = f"{path} (member cifar-100-python/{name})"
        try:
            member = tar.extractfile(f"cifar-100-python/{name}")
            if member is None:
                raise KeyError(name)
            return member.read(), label
        except (tarfile.TarError, OSError, EOFError) as err:
            raise DataError(f"{label} cannot be read ({err})") from None
    return read


def _unpickle(read, name: str, where: Path) -> tuple[dict, str]:
    try:
        raw, label = read(name)
    except KeyError:
        raise DataError(f"{where} has no {name}; is it the CIFAR-100 python version?") from None
    d = load_plain_pickle(raw, label)
    if not isinstance(d, dict):
        raise DataError(f"{label} holds a {type(d).__name__}, not the dict of a CIFAR-100 file")
    return d, label


def _entry(d: dict, key: str, label: str):
    if key not in d:
        raise DataError(f"{label} has no {key!r} entry; is it the CIFAR-100 python version?")
    return d[key]


def _label_names(read, path: Path) -> list[str]:
    meta, label = _unpickle(read, "meta", path)
    names = _entry(meta, "fine_label_names", label)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{label}: 'fine_label_names' is not a list of class names")
    if len(set(names)) != len(names):
        raise DataError(f"{label}: 'fine_label_names' names a class twice")
    return names


def _images(read, part: str, path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    d, label = _unpickle(read, part, path)
    data, labels = _entry(d, "data", label), _entry(d, "fine_labels", label)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        shown = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{label}: 'data' is a {shown}, not the uint8 [images, {PIXELS}] array of CIFAR-100")
    if not isinstance(labels, list) or not all(type(x) is int for x in labels):
        raise DataError(f"{label}: 'fine_labels' is not a list of integers")
    if len(labels) != len(data):
        raise DataError(f"{label}: {len(data)} images but {len(labels)} labels")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{label}: labels must lie in 0..{n_classes - 1} (the classes of meta), "
                        f"got {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar_fs(root: Path, download: bool) -> dict[str, ClassPool]:
    folder = root / "cifar-100-python"
    path = folder if folder.is_dir() else locate(root, "cifar-100-python.tar.gz", OFFICIAL, download, "CIFAR-100")
    read = _reader(path)
    label_names = _label_names(read, path)
    data, labels = [], []
    for part in ("train", "test"):
        images, part_labels = _images(read, part, path, len(label_names))
        data.append(images)
        labels.append(part_labels)
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
