"""Nothing lost, nothing silent: bad values stop before any work, a run that goes non-finite stops
with its last good checkpoint, a run folder has one writer, torn files are survived, and no command
deletes what it did not create."""

import json
import multiprocessing
import time

import pytest
import torch

from conftest import tiny_config
from hebbformer import checkpoint
from hebbformer.cli import main
from hebbformer.config import load_config
from hebbformer.errors import ConfigError, RunInUseError, TrainingError
from hebbformer.runlock import RunLock
from hebbformer.train import train
from test_cli import TINY, check_error


@pytest.mark.parametrize("override, words", [
    ("train.lr=inf", "train.lr must be a finite number"),
    ("train.weight_decay=nan", "train.weight_decay must be a finite number"),
    ("model.method=finetune model.finetune_steps=-5", "model.finetune_steps must be at least 1"),
    ("eval.settings=", "eval.settings is empty"),
    ("train.seed=99999999999999999999", "train.seed must fit in 64 bits"),
    ("train.grad_clip=nan", "train.grad_clip must be a finite number"),
])
def test_bad_values_are_refused_by_name(override, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("*", r"\*")):
        load_config(None, override.split())


def test_a_device_this_machine_lacks_is_named_when_training(tmp_path):
    from hebbformer.config import check_device

    with pytest.raises(ConfigError, match="train.device='quantum' is not a device name"):
        check_device("quantum")
    with pytest.raises(ConfigError, match="train.device='cuda:99'"):
        check_device("cuda:99")
    with pytest.raises(ConfigError, match="train.device='cuda:99'"):
        train(tiny_config(tmp_path, train__device="cuda:99"), progress=False)
    assert not (tmp_path / "run").exists()  # before any work
    load_config(None, ["train.grad_clip=inf"])  # no clipping: allowed


def test_a_bad_device_stops_train_and_demo_before_their_folder(tmp_path, capsys):
    for argv in (["train", "--quiet", "--out", str(tmp_path / "run"), "train.device=quantum"],
                 ["demo", "--quiet", "--out", str(tmp_path / "demo"), "train.device=quantum"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("hebbformer: error: train.device='quantum' is not a device name") and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no empty run folder left behind


def test_a_world_that_is_not_torchruns_stops_training_before_its_folder(tmp_path, capsys, monkeypatch):
    for env, words in (({"WORLD_SIZE": "abc"}, "$WORLD_SIZE='abc' is not a number of processes"),
                       ({"WORLD_SIZE": "2"}, "$WORLD_SIZE=2 without $RANK: start data-parallel training with torchrun")):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("RANK", raising=False)
        assert main(["train", "--quiet", "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hebbformer: error: {words}") and "Traceback" not in err
    assert not any(tmp_path.iterdir())
    monkeypatch.delenv("WORLD_SIZE")
    assert main(["study", "--out", str(tmp_path / "s"), "--tasks", "copy", "--modules", "attention", "--threads", "-1"]) == 2
    assert "--threads -1: a number of threads, at least 1" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_config_files_that_are_not_tables_or_not_text_are_refused(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "latin1.toml").write_bytes(b"out_dir = \"caf\xe9\"\n")
    with pytest.raises(ConfigError, match="must hold a table of sections, not a list"):
        load_config(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(tmp_path / "latin1.toml")


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, train__steps=6, train__checkpoint_every=3)
    import hebbformer.train as training

    real = training.F.cross_entropy
    calls = {"n": 0}

    def poisoned(*a, **k):  # the loss of the fifth step is NaN
        calls["n"] += 1
        loss = real(*a, **k)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(training.F, "cross_entropy", poisoned)
    with pytest.raises(TrainingError, match="step 4: the loss .* is not finite"):
        train(cfg, progress=False)
    state = checkpoint.load(tmp_path / "run")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def _hold(folder, ready):
    with RunLock(folder):
        ready.set()
        time.sleep(30)


@pytest.mark.slow
def test_a_second_writer_of_a_run_folder_is_refused_naming_the_first(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(tmp_path / "run", ready))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(RunInUseError, match=f"is in use by .*\"pid\": {holder.pid}"):
            train(tiny_config(tmp_path), progress=False)
    finally:
        holder.kill()
        holder.join()
    train(tiny_config(tmp_path, train__steps=1), progress=False)  # a killed holder leaves no stale lock


def test_resume_survives_a_metrics_line_torn_by_a_kill(tmp_path):
    cfg = tiny_config(tmp_path)
    train(cfg, progress=False, stop_after=3)
    metrics = tmp_path / "run" / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"step": 4, "loss": 0.9')  # torn mid-write
    train(tiny_config(tmp_path), resume=True, progress=False)
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [m["step"] for m in lines][-1] == 6


def test_demo_never_deletes_what_is_in_its_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "checkpoint.pt").write_text("someone else's")
    (out / "notes.txt").write_text("mine")
    assert main(["demo", "--quiet", "--out", str(out), *TINY]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "checkpoint.pt").read_text() == "someone else's"
    assert (tmp_path / "demo-2" / "checkpoint.pt").is_file()
    assert "demo-2" in capsys.readouterr().out


def test_a_checkpoint_whose_config_does_not_match_its_weights_is_named(tmp_path, capsys):
    assert main(["train", "--quiet", "--out", str(tmp_path / "run"), *TINY]) == 0
    state = checkpoint.load(tmp_path / "run")
    state["config"]["model"]["d_model"] = 32
    checkpoint.save_atomic({k: v for k, v in state.items() if k != "format"}, tmp_path / "run" / "checkpoint.pt")
    check_error(capsys, ["eval", "--quiet", str(tmp_path / "run")], "weights do not fit the model its config describes")


def test_an_output_path_that_cannot_be_written_is_named_before_any_work(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    check_error(capsys, ["train", "--quiet", "--out", str(tmp_path / "a_file"), *TINY], "is a file, not a folder")
    check_error(capsys, ["report", "--out", str(tmp_path / "a_file")], "is a file, not a folder")
    check_error(capsys, ["loihi", "run", "examples/loihi/stdp_2f.json", "--out", str(tmp_path)], "is a folder, not a file")
    assert not (tmp_path / "a_file" / "checkpoint.pt").exists()


def test_a_failing_eval_or_classify_leaves_no_folder_it_made(tmp_path, capsys):
    missing = tmp_path / "no-data"
    assert main(["eval", "--quiet", "vinyals-icl", "--out", str(tmp_path / "e" / "x"), f"data.root={missing}",
                 "data.download=false"]) == 2
    assert main(["classify", "vinyals-icl", "--support", str(missing), "--query", str(missing),
                 "--out", str(tmp_path / "c" / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("hebbformer: error: ") == 2 and "Traceback" not in err
    assert not any(tmp_path.iterdir())
