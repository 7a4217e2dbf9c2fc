"""The CIFAR-100 loader never runs code from the files it reads: its unpickler builds plain data
and numpy arrays only, and refuses any other global with a DataError naming the file."""

import hashlib
import os
import pickle
import subprocess
import tarfile

import numpy as np
import pytest

from hebbformer.config import DataConfig
from hebbformer.data import build_pools, cifar_fs
from hebbformer.data.cifar_fs import load_plain_pickle
from hebbformer.errors import DataError
from test_data import write_cifar


class Calls:
    """Unpickling this calls ``fn(*args)``: how a crafted pickle runs code."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def crafted(marker) -> list[bytes]:
    """Pickles that would create ``marker`` when loaded by pickle.load, by several routes."""
    touch = f"touch {marker}"
    payloads = [Calls(os.system, touch), Calls(subprocess.call, ["touch", str(marker)]),
                Calls(eval, f"open({str(marker)!r}, 'w').close()")]
    out = [pickle.dumps({"fine_label_names": p}, protocol=proto) for p in payloads for proto in (2, 4)]
    # a dangerous global behind an allowed one: numpy's reconstructor handed os.system as a "subtype"
    out.append(pickle.dumps({"data": Calls(np.zeros(1).__reduce__()[0], Calls(os.system, touch), (0,), b"b")}))
    return out


def test_a_crafted_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    for i, raw in enumerate(crafted(marker)):
        root = tmp_path / f"root{i}"
        write_cifar(root)
        (root / "cifar-100-python" / "meta").write_bytes(raw)
        with pytest.raises(DataError, match=r"cifar-100-python/meta is not a plain-data pickle: it calls for "):
            build_pools(DataConfig(name="cifar_fs", root=str(root)))
        assert not marker.exists()
    with pytest.raises(DataError, match=r"calls for posix\.system|calls for nt\.system"):
        load_plain_pickle(crafted(marker)[0], "meta")
    pickle.loads(crafted(marker)[0])  # the payload is real: pickle itself runs it
    assert marker.exists()


@pytest.mark.parametrize("part", ["train", "test"])
def test_the_tarball_layout_is_read_the_same_safe_way(tmp_path, monkeypatch, part):
    marker = tmp_path / "ran"
    write_cifar(tmp_path)
    (tmp_path / "cifar-100-python" / part).write_bytes(crafted(marker)[1])
    tar_path = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(tmp_path / "cifar-100-python", arcname="cifar-100-python")
    (tmp_path / "cifar-100-python").rename(tmp_path / "unpacked")
    # pass the checksum, as a tampered tarball whose digest was published with it would
    digest = hashlib.md5(tar_path.read_bytes()).hexdigest()
    monkeypatch.setattr(cifar_fs, "OFFICIAL", cifar_fs.OfficialFile(cifar_fs.OFFICIAL.url, "md5", digest))
    with pytest.raises(DataError, match=rf"cifar-100-python.tar.gz \(member cifar-100-python/{part}\) is not a "
                                        "plain-data pickle"):
        build_pools(DataConfig(name="cifar_fs", root=str(tmp_path)))
    assert not marker.exists()


def test_plain_data_and_arrays_load():
    data = np.arange(12, dtype=np.uint8).reshape(2, 6)
    value = {"data": data, "names": ["a", "b"], "raw": b"\x00\xff", "n": 3, "x": 0.5, "nested": [{"k": None}]}
    # Python 3's protocols 3 and 4 (pickle.dump's default); below 3 Python 3 writes bytes through
    # _codecs.encode, at 5 numpy writes arrays through numpy.core.numeric._frombuffer: neither is
    # in the official files, so both are refused
    for proto in (3, 4):
        got = load_plain_pickle(pickle.dumps(value, protocol=proto), "f")
        assert np.array_equal(got.pop("data"), data) and got == {k: v for k, v in value.items() if k != "data"}


def test_a_python_2_pickle_as_the_official_files_are_written_loads():
    """Protocol 2 from Python 2's cPickle: the array's bytes are a str (read as latin-1), and its
    globals are numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype."""
    raw = (b"\x80\x02}q\x00U\x04dataq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00"
           b"\x85U\x01b\x87R(K\x01K\x02\x85cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xff"
           b"J\xff\xff\xff\xffK\x00tb\x89U\x02\xc8\x06tbs.")
    got = load_plain_pickle(raw, "f")
    assert got["data"].dtype == np.uint8 and got["data"].tolist() == [200, 6]


@pytest.mark.parametrize("value, words", [
    (np.array([1, "x"], dtype=object), "not a readable CIFAR-100 pickle"),  # items would be any object
    ({1, 2}.__class__, "calls for builtins.set"),
])
def test_objects_beyond_plain_data_are_refused(value, words):
    with pytest.raises(DataError, match=words):
        load_plain_pickle(pickle.dumps({"data": value}), "f")


@pytest.mark.parametrize("part, content, words", [
    ("meta", b"", "meta is not a readable CIFAR-100 pickle"),
    ("meta", b"\x80\x04garbage", "meta is not a readable CIFAR-100 pickle"),
    ("meta", pickle.dumps([1, 2]), "meta holds a list, not the dict of a CIFAR-100 file"),
    ("meta", pickle.dumps({"coarse_label_names": []}), "meta has no 'fine_label_names' entry"),
    ("meta", pickle.dumps({"fine_label_names": [1, 2]}), "'fine_label_names' is not a list of class names"),
    ("train", pickle.dumps({"data": np.zeros((3, 3072)), "fine_labels": [0, 1, 2]}),
     "'data' is a float64 array of shape (3, 3072), not the uint8 [images, 3072] array"),
    ("train", pickle.dumps({"data": np.zeros((3, 3072), np.uint8), "fine_labels": [0, 1]}), "3 images but 2 labels"),
    ("train", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "fine_labels": [100]}),
     "labels must lie in 0..99"),
])
def test_torn_or_foreign_files_are_named(tmp_path, part, content, words):
    write_cifar(tmp_path)
    (tmp_path / "cifar-100-python" / part).write_bytes(content)
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as info:
        build_pools(DataConfig(name="cifar_fs", root=str(tmp_path)))
    assert str(tmp_path / "cifar-100-python" / part) in str(info.value)
