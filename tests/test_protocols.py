"""The two standard Omniglot protocols (Vinyals split, Lake's) and the cache of decoded sets."""

import numpy as np
import pytest
import torch

from conftest import make_omniglot_folder
from hebbformer.config import Config, DataConfig
from hebbformer.data import build_pools, omniglot, trains_on_evaluation_alphabets
from hebbformer.data.omniglot import read_characters
from hebbformer.errors import ConfigError, DataError

BACKGROUND = {"Alpha": 3, "Beta": 3}
EVALUATION = {"Gamma": 3}


@pytest.fixture
def omniglot_root(tmp_path):
    """Both official sets as folders, and a Vinyals-style split: Alpha and one Gamma character
    train, Beta validates, the other Gamma characters test (the real split mixes sets too)."""
    make_omniglot_folder(tmp_path, "images_background", BACKGROUND, seed=1)
    make_omniglot_folder(tmp_path, "images_evaluation", EVALUATION, seed=2)
    split = tmp_path / "splits" / "vinyals"
    split.mkdir(parents=True)
    rot = lambda chars: "".join(f"{c}/rot{r:03d}\n" for c in chars for r in (0, 90, 180, 270))
    lists = {"train": ["Alpha/character01", "Alpha/character02", "Alpha/character03", "Gamma/character01"],
             "val": ["Beta/character01", "Beta/character02", "Beta/character03"],
             "test": ["Gamma/character02", "Gamma/character03"]}
    lists["trainval"] = lists["train"] + lists["val"]
    for name, chars in lists.items():
        (split / f"{name}.txt").write_text(rot(chars))
    return tmp_path


def data_cfg(root, **kw) -> DataConfig:
    cfg = Config()
    cfg.override(["data.name=omniglot", f"data.root={root}"] + [f"data.{k}={v}" for k, v in kw.items()])
    return cfg.validate().data


def test_vinyals_split_builds_the_listed_classes_with_their_rotations(omniglot_root):
    pools = build_pools(data_cfg(omniglot_root, split="vinyals"))
    assert pools.train.n_classes == 16 and pools.val.n_classes == 12 and pools.test.n_classes == 8
    assert pools.test.names[:4] == ["Gamma/character02@0", "Gamma/character02@90", "Gamma/character02@180",
                                    "Gamma/character02@270"]
    # a rotation class holds the character's drawings turned by that many quarter turns
    for k in range(4):
        assert torch.equal(pools.test.images[k], torch.rot90(pools.test.images[0], k, dims=(-2, -1)))
    # groups are (alphabet, rotation): same-alphabet episodes stay within one turned alphabet
    assert len(set(pools.train.groups.tolist())) == 8
    trainval = build_pools(data_cfg(omniglot_root, split="vinyals", vinyals_train="trainval"))
    assert trainval.train.n_classes == 28 and trainval.val is None
    assert trainsets_overlap_none(pools)


def trainsets_overlap_none(pools) -> bool:
    char = lambda names: {n.split("@")[0] for n in names}
    return not (char(pools.train.names) | char(pools.val.names)) & char(pools.test.names)


def test_vinyals_split_files_are_checked(omniglot_root):
    split = omniglot_root / "splits" / "vinyals"
    with pytest.raises(DataError, match="split file .*train.txt not found.*data.split_dir"):
        build_pools(data_cfg(omniglot_root, split="vinyals", split_dir=str(omniglot_root / "nowhere")))
    (split / "test.txt").write_text("Gamma/character02/rot045\n")
    with pytest.raises(DataError, match=r"test.txt:1: 'Gamma/character02/rot045' is not of the form"):
        build_pools(data_cfg(omniglot_root, split="vinyals"), ("test",))
    (split / "test.txt").write_text("Gamma/character09/rot000\n")
    with pytest.raises(DataError, match="names 1 characters that the Omniglot sets do not hold.*character09"):
        build_pools(data_cfg(omniglot_root, split="vinyals"), ("test",))
    (split / "test.txt").write_text("Alpha/character01/rot090\n")  # a training character
    with pytest.raises(DataError, match="both in training and in test.*Alpha/character01"):
        build_pools(data_cfg(omniglot_root, split="vinyals"), ("test",))


def test_lake_protocol_never_reads_the_evaluation_set_for_training_or_validation(omniglot_root, monkeypatch):
    read = []
    real = omniglot.read_characters
    monkeypatch.setattr(omniglot, "read_characters", lambda path, *a, **k: read.append(path.name) or real(path, *a, **k))
    cfg = data_cfg(omniglot_root, split="lake", rotations="true", val_fraction=0.34)
    pools = build_pools(cfg, ("train", "val"))
    assert read == ["images_background"]
    assert {n.split("/")[0] for n in pools.train.names + pools.val.names} <= set(BACKGROUND)
    assert not trains_on_evaluation_alphabets(cfg)
    assert trains_on_evaluation_alphabets(data_cfg(omniglot_root, split="vinyals"))
    # the test pool is the unseen alphabets
    assert {n.split("/")[0] for n in build_pools(cfg, ("test",)).test.names} == set(EVALUATION)


def test_lake_protocol_refuses_any_leak_by_construction(omniglot_root):
    with pytest.raises(ConfigError, match="trains on background alphabets only.*images_evaluation"):
        data_cfg(omniglot_root, split="lake", train_sets="images_background,images_evaluation")
    with pytest.raises(ConfigError, match="tests on images_evaluation, all_runs.*images_background"):
        data_cfg(omniglot_root, split="lake", test_sets="images_background")
    # a background folder that holds an evaluation alphabet is refused, whatever it is called
    make_omniglot_folder(omniglot_root, "images_background_small1", {"Gamma": 1}, seed=5)
    with pytest.raises(DataError, match="training sets hold alphabets of images_evaluation \\(Gamma\\)"):
        build_pools(data_cfg(omniglot_root, split="lake", train_sets="images_background_small1"), ("train",))
    # a config built around the validation is stopped where the pools are built
    sneaky = DataConfig(name="omniglot", root=str(omniglot_root), split="lake", train_sets=["images_evaluation"])
    with pytest.raises(DataError, match="cannot use \\['images_evaluation'\\]"):
        build_pools(sneaky, ("train",))


def test_all_runs_is_refused_for_a_model_that_saw_evaluation_alphabets(omniglot_root, capsys):
    from hebbformer.cli.eval import all_runs_report

    cfg = Config()
    cfg.override(["data.name=omniglot", f"data.root={omniglot_root}"])
    assert all_runs_report(cfg, model=None, device="cpu", saw_evaluation=True) == {}  # never reaches the model
    assert "all_runs benchmark not run" in capsys.readouterr().out
    cfg.eval.all_runs = str(omniglot_root / "all_runs.zip")
    with pytest.raises(ConfigError, match="eval.all_runs refused"):
        all_runs_report(cfg, model=None, device="cpu", saw_evaluation=True)


def test_the_leak_flag_follows_the_checkpoint_not_the_overrides_and_passes_down_init_from(omniglot_root, tmp_path,
                                                                                         capsys):
    """A Vinyals-split run saw evaluation alphabets; evaluating it with data.split=sets does not
    make it fair for all_runs, a run started from it carries the flag, and Lake's protocol refuses
    to start from it at all."""
    from conftest import tiny_config
    from hebbformer import checkpoint
    from hebbformer.cli import main
    from hebbformer.train import saw_evaluation_alphabets, train

    tiny = ["data.name=omniglot", f"data.root={omniglot_root}", "data.image_size=16", "episode.ways=3",
            "episode.shots=1", "episode.queries=2", "model.max_ways=5", "train.steps=1", "data.rotations=true",
            "data.val_fraction=0.34"]
    vin = tiny_config(tmp_path / "v")
    vin.override(tiny + ["data.split=vinyals"])
    train(vin.validate(), progress=False)
    state = checkpoint.load(tmp_path / "v" / "run")
    assert state["saw_evaluation_alphabets"] is True
    for missing in (None, "absent"):  # a checkpoint from before the flag: judged by its stored config
        if missing is None:
            state["saw_evaluation_alphabets"] = None
        else:
            del state["saw_evaluation_alphabets"]
        assert saw_evaluation_alphabets(state)
    child = tiny_config(tmp_path / "c")
    child.override(tiny + [f"train.init_from={tmp_path / 'v' / 'run'}"])
    train(child.validate(), progress=False)
    assert checkpoint.load(tmp_path / "c" / "run")["saw_evaluation_alphabets"] is True
    lake = tiny_config(tmp_path / "l")
    lake.override(tiny + ["data.split=lake", f"train.init_from={tmp_path / 'v' / 'run'}"])
    with pytest.raises(ConfigError, match="data.split='lake': train.init_from=.* was trained on alphabets of images_evaluation"):
        train(lake.validate(), progress=False)
    capsys.readouterr()
    assert main(["eval", "--quiet", str(tmp_path / "v" / "run"), "data.split=sets",
                 "data.test_sets=images_evaluation", "eval.settings=3w1s", "eval.episodes=2"]) == 0
    assert "all_runs benchmark not run" in capsys.readouterr().out
    assert main(["eval", "--quiet", str(tmp_path / "v" / "run"), "data.split=sets", "data.test_sets=all_runs"]) == 2
    assert "whose alphabets this model saw in training" in capsys.readouterr().err
    # packed and shipped, from a checkpoint that predates the flag, it still carries it
    legacy = checkpoint.load(tmp_path / "v" / "run")
    del legacy["saw_evaluation_alphabets"]
    checkpoint.save_atomic({k: v for k, v in legacy.items() if k != "format"}, tmp_path / "legacy.pt")
    assert main(["pack", str(tmp_path / "legacy.pt"), "legacy", "--description", "d", "--command", "c",
                 "--models", str(tmp_path / "models"), f"data.root={omniglot_root}"]) == 0
    assert checkpoint.load(tmp_path / "models" / "legacy.pt")["saw_evaluation_alphabets"] is True


def test_decoded_sets_are_cached_keyed_by_their_files_and_a_corrupt_entry_is_rebuilt(tmp_path, monkeypatch):
    src = make_omniglot_folder(tmp_path, "my_set", {"Alpha": 2}, seed=3)
    cache = tmp_path / "cache"
    decodes = []
    real = omniglot._decode_set
    monkeypatch.setattr(omniglot, "_decode_set", lambda *a: decodes.append(1) or real(*a))
    first = read_characters(src, 20, cache)
    again = read_characters(src, 20, cache)
    assert len(decodes) == 1 and len(list(cache.glob("*.npz"))) == 1
    assert all(np.array_equal(a.images, b.images) and a.key == b.key for a, b in zip(first, again))
    read_characters(src, 24, cache)  # another image size is another entry
    assert len(decodes) == 2
    # a changed source file misses the cache
    png = sorted(src.rglob("*.png"))[0]
    png.write_bytes(sorted(src.rglob("*.png"))[1].read_bytes())
    changed = read_characters(src, 20, cache)
    assert len(decodes) == 3 and not np.array_equal(changed[0].images, first[0].images)
    assert len(list(cache.glob("*-20px-*.npz"))) == 1  # the stale entry is gone
    # a corrupt entry (bit flipped, or torn) is detected, reported, and rebuilt, never used
    for damage in (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], lambda b: b[: len(b) // 2]):
        entry, = cache.glob("*-20px-*.npz")
        entry.write_bytes(damage(entry.read_bytes()))
        with pytest.warns(UserWarning, match="is corrupt; it is deleted and rebuilt"):
            rebuilt = read_characters(src, 20, cache)
        assert all(np.array_equal(a.images, b.images) for a, b in zip(rebuilt, changed))
    assert len(decodes) == 5


def test_cache_entry_with_tampered_arrays_but_intact_zip_is_rejected(tmp_path):
    src = make_omniglot_folder(tmp_path, "my_set", {"Alpha": 2}, seed=4)
    cache = tmp_path / "cache"
    read_characters(src, 16, cache)
    entry = next(cache.glob("*.npz"))
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["images"] = arrays["images"].copy()
    arrays["images"][0, 0, 0, 0] ^= 255  # a valid npz whose payload no longer matches its digest
    np.savez(entry, **arrays)
    with pytest.warns(UserWarning, match="corrupt"):
        read_characters(src, 16, cache)
