"""The models shipped in models/: each loads, and gives on a fixed small episode set the counts its
manifest records (exactly for the integer, Loihi and Lava back-ends; within what float differences
between CPUs allow for the float ones); a missing or altered file is a clear error."""


import json

import pytest
import torch

from conftest import SHARED_OMNIGLOT, tiny_config
from hebbformer import checkpoint, shipped
from hebbformer.errors import CheckpointError
from hebbformer.experiments.shipped_check import EXACT, check_counts

ENTRIES = shipped.manifest()
FLOAT_SLACK = 3  # queries of the 2,500 whose argmax may flip between CPUs' float rounding


def test_shipped_models_fit_the_size_budget():
    assert shipped.total_bytes() < 40e6
    for name, entry in ENTRIES.items():
        path = shipped.models_dir() / entry["file"]
        assert path.stat().st_size == entry["bytes"], name
        assert entry["command"] and entry["description"] and entry["check"], name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_shipped_model_gives_its_recorded_accuracy(name):
    if not (SHARED_OMNIGLOT / "images_background").is_dir():
        pytest.skip("../shared/data/omniglot/images_background is not present")
    from hebbformer.neuro.loihi.lava_sim import lava_available

    entry = ENTRIES[name]
    backends = [b for b in entry["check"] if b != "lava" or lava_available()]  # lava alone may be missing
    got = check_counts(shipped.resolve(name), backends, overrides=[f"data.root={SHARED_OMNIGLOT}"])
    for backend in backends:
        want = entry["check"][backend]
        if backend in EXACT:
            assert got[backend] == want, (backend, got[backend], want)
        else:
            assert got[backend]["queries"] == want["queries"]
            assert abs(got[backend]["correct"] - want["correct"]) <= FLOAT_SLACK, (backend, got[backend], want)


def test_missing_or_altered_shipped_file_is_named(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, train__steps=1)
    from hebbformer.train import train
    train(cfg, progress=False)
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(shipped.ENV_VAR, str(folder))
    entry = shipped.pack(tmp_path / "run", "tiny", "a test model", "hebbformer train ...", folder,
                         check=lambda path: {"torch": {"correct": 1, "queries": 2, "episodes": 1}})
    assert entry["weights"] == "float16" and shipped.manifest(folder)["tiny"]["check"]["torch"]["correct"] == 1
    # a check that fails leaves the shipped file and its entry as they were
    def failing_check(path):
        raise RuntimeError("the data are not there")

    with pytest.raises(RuntimeError):
        shipped.pack(tmp_path / "run", "tiny", "other", "...", folder, check=failing_check)
    assert shipped.manifest(folder)["tiny"]["description"] == "a test model" and not list(folder.glob(".*staged"))
    with pytest.raises(CheckpointError, match="use letters, digits"):
        shipped.pack(tmp_path / "run", "a/b", "x", "y", folder)
    unfinished = tiny_config(tmp_path / "u", train__steps=3, train__checkpoint_every=1)
    train(unfinished, progress=False, stop_after=1)
    with pytest.raises(CheckpointError, match="has trained 1 of its 3 steps"):
        shipped.pack(tmp_path / "u" / "run", "half", "x", "y", folder)
    # it loads, in half precision, as a checkpoint does
    state = checkpoint.load(shipped.resolve("tiny"))
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    path = folder / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="shipped model 'tiny'.*is altered.*git checkout"):
        shipped.resolve("tiny")
    path.unlink()
    with pytest.raises(CheckpointError, match="shipped model 'tiny'.*is missing"):
        shipped.resolve("tiny")
    with pytest.raises(CheckpointError, match="does not exist, and is not the name of a shipped model.*shipped: tiny"):
        shipped.resolve("no-such-model")


def test_results_page_puts_our_rows_beside_the_published_ones(tmp_path, monkeypatch):
    from hebbformer.experiments import results
    from hebbformer.train import train

    cfg = tiny_config(tmp_path, train__steps=1)
    train(cfg, progress=False)
    state = checkpoint.load(tmp_path / "run")
    state["config"]["data"]["split"] = "vinyals"  # as if trained on the Vinyals split
    checkpoint.save_atomic({k: v for k, v in state.items() if k != "format"}, tmp_path / "run" / "checkpoint.pt")
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(shipped.ENV_VAR, str(folder))
    shipped.pack(tmp_path / "run", "tiny-vinyals", "a test model", "hebbformer train ...", folder)
    evals = tmp_path / "eval" / "tiny-vinyals"
    evals.mkdir(parents=True)
    report = {"results": [{"setting": "5w1s", "accuracy": 0.9876, "ci95": 0.0012, "episodes": 1000, "queries": 15}],
              "provenance": {"command": "hebbformer eval tiny-vinyals", "commit": "abcdef1234567",
                             "date": "2026-12-01", "machine": {"cpu": "Some CPU", "cpu_capability": "AVX2", "threads": 2}}}
    (evals / "eval.json").write_text(json.dumps(report))
    page = results.build(tmp_path / "eval")
    assert "| Prototypical Networks (Snell et al., NeurIPS 2017) (published) | 98.80 | 99.70 | 96.00 | 98.90 |" in page
    width, heads = state["config"]["model"]["encoder_channels"], state["config"]["model"]["heads"]
    assert f"| **in-context learner, softmax, Float, {heads} heads, {width} ch.** (`tiny-vinyals`) | 98.76 ±0.12 | — | — | — |" in page
    assert "`hebbformer eval tiny-vinyals` · abcdef1234 · Some CPU (AVX2, 2 threads) · 2026-12-01" in page
    assert "Siamese convnet" in page and "CIFAR-FS: no row" in page


def test_pack_never_replaces_a_file_it_did_not_ship_and_reads_the_manifest_first(tmp_path):
    from hebbformer.train import train
    train(tiny_config(tmp_path, train__steps=1), progress=False)
    folder = tmp_path / "models"
    folder.mkdir()
    mine = folder / "x.pt"
    mine.write_bytes(b"the user's own file")
    with pytest.raises(CheckpointError, match=r"x.pt exists and is not the manifest's file of 'x'"):
        shipped.pack(tmp_path / "run", "x", "d", "c", folder)
    for text, words in (("{not json", "is unreadable"), ("[]", "is not a manifest"),
                        ('{"x": "x.pt"}', "the entries 'x' lack their file, sha256 or bytes")):
        (folder / shipped.MANIFEST).write_text(text)
        with pytest.raises(CheckpointError, match=words):
            shipped.pack(tmp_path / "run", "y", "d", "c", folder)  # a new name: nothing may be written either
    assert mine.read_bytes() == b"the user's own file" and sorted(p.name for p in folder.iterdir()) == [
        shipped.MANIFEST, "x.pt"]
    # a models folder that is a file, and one this call made for a check that failed: neither left changed
    with pytest.raises(CheckpointError, match="is a file, not a folder"):
        shipped.pack(tmp_path / "run", "y", "d", "c", mine)
    with pytest.raises(KeyError):
        shipped.pack(tmp_path / "run", "y", "d", "c", tmp_path / "new", check=lambda path: {}["no data"])
    assert not (tmp_path / "new").exists()
    with pytest.raises(CheckpointError, match=r"cannot write the shipped model into .*x.pt/models"):
        shipped.pack(tmp_path / "run", "y", "d", "c", folder / "x.pt" / "models")  # a folder under a file
