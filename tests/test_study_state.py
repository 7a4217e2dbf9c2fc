"""The study's state files: written atomically, and a torn or corrupt one never ends the study in
a traceback (a torn study.json guarding finished runs stops it with one line naming the file; a
torn run result is trained again, the broken file kept aside)."""

import csv
import json
import os
import shutil
import signal
from dataclasses import asdict

import pytest
import torch

from hebbformer.cli import main
from hebbformer.errors import ConfigError, DataError
from hebbformer.experiments import study
from hebbformer.experiments.study import StudyConfig, run_study, summarise
from hebbformer.plasticity import fast_weights
from hebbformer.runlock import RunLock

CFG = dict(modules=["static", "delta"], tasks=["association"], seeds=1, steps=2, batch_size=2, budget=2000,
           eval_batches=1)
NAMES = ("association__static__s0.json", "association__delta__s0.json")


@pytest.fixture
def trained(monkeypatch):
    """train_one replaced by a stand-in that returns a result at once; the runs it trained."""
    calls = []

    def train_one(kind, task, seed, cfg, lr=None, write_rate=1.0, split="test", **_):
        calls.append((task.name, kind, seed))
        return {"task": task.name, "module": kind, "seed": seed, "d_model": 8, "parameters": 100, "train_s": 0.0,
                "loss_curve": [[1, 2.0], [2, 1.5]], "metric": task.metric, "level_name": task.level_name,
                "levels": {str(level): [0.5, 0.25] for level in task.levels}}

    monkeypatch.setattr(study, "train_one", train_one)
    return calls


def run(out, log=None):
    lines = []
    results = run_study(StudyConfig(**CFG), out, log=lines.append if log is None else log)
    return results, lines


def test_every_file_the_study_writes_is_written_atomically(tmp_path, trained, monkeypatch):
    written = []
    real = study.write_atomic
    monkeypatch.setattr(study, "write_atomic", lambda path, data: (written.append(path.name), real(path, data)))
    results, _ = run(tmp_path)
    summarise(results, tmp_path)
    assert set(written) == {"study.json", *NAMES, "results.csv", "summary.md", "levels.png", "loss_curves.png"}
    assert json.loads((tmp_path / "study.json").read_text())["steps"] == 2
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "study.json"
    path.write_text('{"steps": 1}')

    def no_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(study.os, "fsync", no_fsync)
    with pytest.raises(OSError, match="No space left"):
        study.write_atomic(path, b'{"steps": 2}')
    assert path.read_text() == '{"steps": 1}' and os.listdir(tmp_path) == ["study.json"]


def test_finished_runs_are_kept(tmp_path, trained):
    run(tmp_path)
    assert len(trained) == 2
    shutil.rmtree(tmp_path / study.LOCKS)
    results, _ = run(tmp_path)
    assert len(trained) == 2 and [r["module"] for r in results] == ["static", "delta"]
    # a finished run is read without taking its lock: a resume makes no lock file per finished run
    assert [p.name for p in (tmp_path / study.LOCKS).iterdir()] == ["study.lock"]


def test_a_locks_path_that_is_not_a_folder_is_named_not_a_traceback(tmp_path, trained, capsys):
    (tmp_path / study.LOCKS).write_text("a file where the study keeps its locks")
    with pytest.raises(ConfigError, match=r"cannot make the lock file .*\.locks/study\.lock .*must be a folder"):
        run(tmp_path)
    assert main(["study", "--out", str(tmp_path), "--modules", "static", "--tasks", "association", "--steps", "1",
                 "--seeds", "1"]) != 0
    assert "must be a folder this user can write to" in capsys.readouterr().err
    assert (tmp_path / study.LOCKS).read_text() == "a file where the study keeps its locks"  # left as it was


@pytest.mark.parametrize("content", [b"", b'{"task": "association", "mod', b"\xff\xfe", b"[1, 2]",
                                     b'{"task": "association", "module": "static", "seed": 0}',
                                     b'{"task": "copy", "module": "static", "seed": 0, "d_model": 8, "parameters": 1, '
                                     b'"train_s": 0, "loss_curve": [[1, 1.0]], "metric": "m", "level_name": "l", '
                                     b'"levels": {"1": [1.0]}}',
                                     b'{"task": "association", "module": "static", "seed": 0, "d_model": 8, '
                                     b'"parameters": 1, "train_s": 0, "loss_curve": [[1, 1.0]], "metric": "m", '
                                     b'"level_name": "l", "levels": {"1": []}}'])
def test_a_torn_or_foreign_run_result_is_trained_again(tmp_path, trained, content):
    first, _ = run(tmp_path)
    (tmp_path / "runs" / NAMES[0]).write_bytes(content)
    again, lines = run(tmp_path)
    assert trained[2:] == [("association", "static", 0)]  # that run only, trained again
    assert again == first  # the same result in its place
    assert json.loads((tmp_path / "runs" / NAMES[0]).read_text()) == first[0]
    assert (tmp_path / "runs" / (NAMES[0] + ".corrupt")).read_bytes() == content  # nothing lost
    assert len(lines) == 2 and NAMES[0] in lines[0] and "training the run again" in lines[0]
    assert sorted(p.name for p in (tmp_path / "runs").glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("content, words", [(b'{"steps": 2, "batch', "is not valid JSON"), (b"", "is not valid JSON"),
                                            (b"\xff", "is not UTF-8 text"), (b"[]", "holds a JSON list")])
def test_a_torn_study_json_guarding_finished_runs_stops_with_one_line(tmp_path, trained, content, words):
    run(tmp_path)
    (tmp_path / "study.json").write_bytes(content)
    with pytest.raises(DataError) as info:
        run(tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "study.json") in msg and words in msg and "the 2 finished runs" in msg
    assert len(trained) == 2  # nothing trained, nothing overwritten
    assert (tmp_path / "study.json").read_bytes() == content


def test_the_cli_prints_that_as_one_line(tmp_path, trained, capsys):
    out = tmp_path / "s"
    args = ["study", "--out", str(out), "--modules", "static,delta", "--tasks", "association", "--seeds", "1",
            "--steps", "2", "--batch-size", "2", "--budget", "2000"]
    run(out)
    (out / "study.json").write_text('{"steps": ')
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "study.json is not valid JSON" in err and err.count("\n") == 1 and "Traceback" not in err


def test_the_cli_refuses_bad_settings_before_making_the_out_folder(tmp_path, capsys):
    for bad in (["--modules", "hebbian+linear+tide"], ["--tasks", "copy@x"], ["--tuning-from", str(tmp_path / "no")]):
        assert main(["study", "--out", str(tmp_path / "s"), *bad]) == 2
        assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "s").exists()


def test_a_torn_study_json_with_no_finished_runs_is_written_anew(tmp_path, trained):
    (tmp_path / "runs").mkdir()
    (tmp_path / "study.json").write_bytes(b'{"steps": 2, "ba')
    results, lines = run(tmp_path)
    assert len(results) == 2 and "no run finished or in training depends on it, so it is written anew" in lines[0]
    assert json.loads((tmp_path / "study.json").read_text())["modules"] == ["static", "delta"]


def test_a_study_json_with_other_settings_and_no_finished_runs_is_written_anew(tmp_path, trained):
    """A start that failed before its first run (e.g. an unreadable --encoder-from file) does not
    block the corrected command; with a finished run, other settings are still refused."""
    (tmp_path / "study.json").write_text(json.dumps({**asdict(StudyConfig(**CFG)), "steps": 99}))
    results, lines = run(tmp_path)
    assert len(results) == 2 and "has other settings (steps 99 -> 2) but no run finished or in training" in lines[0]
    assert json.loads((tmp_path / "study.json").read_text())["steps"] == 2
    with pytest.raises(ConfigError, match="holds a study trained with other settings"):
        run_study(StudyConfig(**{**CFG, "steps": 3}), tmp_path, log=lambda s: None)


def test_every_module_is_tuned_over_as_many_points_and_trained_at_its_best(tmp_path, monkeypatch):
    """The grid's winner is the point with the best validation score; the final seeds train there."""
    calls = []

    def train_one(kind, task, seed, cfg, lr=None, write_rate=1.0, split="test", **_):
        calls.append((kind, seed, lr, write_rate, split))
        score = -abs(lr - 2e-3) * 100 - abs(write_rate - 2.0)  # best at lr 2e-3, write rate 2
        return {"task": task.name, "module": kind, "seed": seed, "lr": lr, "write_rate": write_rate, "split": split,
                "d_model": 8, "parameters": 100, "train_s": 0.0, "loss_curve": [[1, 2.0], [2, 1.0]],
                "left_plateau": True, "metric": task.metric, "level_name": task.level_name,
                "levels": {str(level): [score] for level in task.levels}}

    monkeypatch.setattr(study, "train_one", train_one)
    cfg = StudyConfig(modules=["matched_hebbian", "lstm"], tasks=["association"], seeds=3, steps=2,
                      tune_lrs=[1e-3, 2e-3], tune_write_rates=[0.5, 2.0], tune_seeds=2)
    results = run_study(cfg, tmp_path, log=lambda s: None)
    tuning = {(kind, split): [c for c in calls if c[0] == kind and c[4] == split] for kind in cfg.modules
              for split in ("val", "test")}
    assert len(tuning["matched_hebbian", "val"]) == len(tuning["lstm", "val"]) == 4 * 2  # 4 points x 2 seeds
    assert {c[1] for c in tuning["lstm", "val"]} == {1000, 1001}
    assert {c[2] for c in tuning["lstm", "val"]} == {1e-3, 1.26e-3, 1.59e-3, 2e-3}  # as many lrs, write rate 1
    assert {(c[2], c[3]) for c in tuning["matched_hebbian", "test"]} == {(2e-3, 2.0)}
    assert {(c[2], c[3]) for c in tuning["lstm", "test"]} == {(2e-3, 1.0)}
    assert [c[1] for c in tuning["lstm", "test"]] == [0, 1, 2]
    saved = json.loads((tmp_path / "tuning.json").read_text())
    assert saved["association|matched_hebbian"]["lr"] == 2e-3 and len(saved["association|lstm"]["grid"]) == 4
    assert "**0.002 / 2:" in summarise(results, tmp_path)
    calls.clear()
    run_study(cfg, tmp_path, log=lambda s: None)  # resumed: nothing trained again
    assert calls == []


def _instant_runs(monkeypatch) -> list[tuple]:
    """train_one replaced by a stand-in that returns a result at once (every score 0.1); the task,
    module, lr, write rate and split of every run it trained."""
    calls = []

    def train_one(kind, task, seed, cfg, lr=None, write_rate=1.0, split="test", **_):
        calls.append((task.name, kind, lr, write_rate, split))
        return {"task": task.name, "module": kind, "seed": seed, "lr": lr, "write_rate": write_rate, "d_model": 8,
                "parameters": 100, "train_s": 0.0, "loss_curve": [[1, 2.0], [2, 1.0]], "left_plateau": True,
                "metric": task.metric, "level_name": task.level_name,
                "levels": {str(level): [0.1] for level in task.levels}}

    monkeypatch.setattr(study, "train_one", train_one)
    return calls


def test_tuning_from_trains_each_level_at_the_winner_tuned_over_all_levels(tmp_path, monkeypatch):
    """--tuning-from: a network per delay (NAME@LEVEL) takes NAME's winner from the other study's
    tuning.json and trains no grid of its own; a missing winner, file, or a grid beside it is refused
    before anything is written."""
    calls = _instant_runs(monkeypatch)
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    grid = [{"lr": 3e-3, "write_rate": 4.0, "val": 0.2, "left_plateau": 2}]
    (tuned / "tuning.json").write_text(json.dumps({
        "reproduction_delay|matched_hebbian": {"task": "reproduction_delay", "module": "matched_hebbian",
                                               "metric": "mse", "grid": grid, "lr": 3e-3, "write_rate": 4.0},
        "reproduction_delay|lstm": {"task": "reproduction_delay", "module": "lstm", "metric": "mse",
                                    "grid": [{**grid[0], "write_rate": 1.0}], "lr": 3e-3, "write_rate": 1.0}}))
    cfg = dict(modules=["matched_hebbian", "lstm"], tasks=["reproduction_delay@0", "reproduction_delay@60"], seeds=2,
               steps=2, tuning_from=str(tuned))
    out = tmp_path / "per-delay"
    results = run_study(StudyConfig(**cfg), out, log=lambda s: None)
    assert len(results) == 8 and {c[4] for c in calls} == {"test"}  # no grid of its own
    assert {(c[1], c[2], c[3]) for c in calls} == {("matched_hebbian", 3e-3, 4.0), ("lstm", 3e-3, 1.0)}
    md = summarise(results, out)
    assert "| reproduction_delay@60 | matched_hebbian | tuned on reproduction_delay in " in md
    assert (out / "paired.png").is_file()
    for bad, match in (({"modules": ["matched_gradient"]}, "no winner for reproduction_delay@0|matched_gradient"),
                       ({"tuning_from": str(tmp_path / "nowhere")}, "no tuning.json there"),
                       ({"tune_lrs": [1e-3], "tune_write_rates": [1.0]}, "cannot be given with a tuning grid")):
        with pytest.raises(ConfigError, match=match):
            run_study(StudyConfig(**{**cfg, **bad}), tmp_path / "refused", log=lambda s: None)
    assert not (tmp_path / "refused").exists()
    (tuned / "tuning.json").write_text("{torn")
    with pytest.raises(DataError, match="is not valid JSON"):
        StudyConfig(**cfg).validate()


def test_tuning_from_prefers_the_levels_own_winner_and_takes_a_one_point_module_as_trained(tmp_path, monkeypatch):
    """A study tuned at one level (reproduction_delay@60) lends that level's winner, ahead of the
    winner tuned over all levels; a module the other study trained at a single point (no grid, so no
    tuning.json entry, but runs of it) takes that point; where it had a grid for it, or never trained it, a
    missing winner is refused."""
    calls = _instant_runs(monkeypatch)
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    point = {"metric": "mse", "grid": [{"lr": 1e-2, "write_rate": 0.25, "val": 0.0, "left_plateau": 1}]}
    (tuned / "tuning.json").write_text(json.dumps({
        "reproduction_delay@60|matched_hebbian": {**point, "task": "reproduction_delay@60", "module": "matched_hebbian",
                                                  "lr": 1e-2, "write_rate": 0.25},
        "reproduction_delay|matched_hebbian": {**point, "task": "reproduction_delay", "module": "matched_hebbian",
                                               "lr": 3e-3, "write_rate": 4.0}}))
    (tuned / "study.json").write_text(json.dumps({"tune_lrs": [1e-2], "tune_write_rates": [0.25, 1.0]}))
    cfg = StudyConfig(modules=["matched_hebbian", "lstm"], tasks=["reproduction_delay@0", "reproduction_delay@60"],
                      seeds=1, steps=2, tuning_from=str(tuned))
    with pytest.raises(ConfigError, match="no winner for reproduction_delay@0[|]lstm"):  # it never trained the LSTM
        run_study(cfg, tmp_path / "refused", log=lambda s: None)
    (tuned / "runs").mkdir()
    (tuned / "runs" / "reproduction_delay__lstm__s0.json").write_text("{}")  # trained over all delays
    cfg = StudyConfig(modules=["matched_hebbian", "lstm"], tasks=["reproduction_delay@0", "reproduction_delay@60"],
                      seeds=1, steps=2, tuning_from=str(tuned))
    out = tmp_path / "borrowed"
    results = run_study(cfg, out, log=lambda s: None)
    assert sorted(calls) == [("reproduction_delay@0", "lstm", 1e-2, 1.0, "test"),
                             ("reproduction_delay@0", "matched_hebbian", 3e-3, 4.0, "test"),
                             ("reproduction_delay@60", "lstm", 1e-2, 1.0, "test"),
                             ("reproduction_delay@60", "matched_hebbian", 1e-2, 0.25, "test")]
    md = summarise(results, out)
    assert f"| reproduction_delay@60 | lstm | not tuned, the one point of {tuned}: **0.01 / 1** |" in md
    (tuned / "study.json").write_text(json.dumps({"tune_lrs": [1e-3, 1e-2], "tune_write_rates": [1.0]}))
    with pytest.raises(ConfigError, match="no winner for reproduction_delay@0[|]lstm, reproduction_delay@60[|]lstm"):
        run_study(cfg, tmp_path / "refused", log=lambda s: None)
    assert not (tmp_path / "refused").exists()


def _killed_at_step(at: int, cfg: StudyConfig, out, monkeypatch) -> None:
    """The study in ``out`` killed in training at step ``at`` (its run's state saved until then)."""
    step = study.optimiser_step

    def killed(model, opt, loss, i, **kw):
        if i == at:
            raise KeyboardInterrupt
        return step(model, opt, loss, i, **kw)

    monkeypatch.setattr(study, "optimiser_step", killed)
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, out, log=lambda s: None)
    monkeypatch.setattr(study, "optimiser_step", step)


@pytest.fixture
def within_a_minute():
    """Fails a test that would otherwise wait forever (on a lock, say)."""
    def stuck(*_):
        raise TimeoutError("the test waited a minute")
    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("other", ["finishes it", "is killed"])
def test_a_run_another_study_is_training_is_taken_up_last_and_not_trained_twice(tmp_path, monkeypatch, other,
                                                                                 within_a_minute):
    """Two studies into one folder (to use two cores): a run whose lock the other holds is passed
    over, the next trained meanwhile, and once the lock is let go its result is read, not trained
    again, or, where the other was killed, its training resumed from the state it saved; the
    results come back in order."""
    cfg = StudyConfig(modules=["lstm"], tasks=["reproduction_delay@0"], seeds=2, steps=12, batch_size=4, budget=3000,
                      eval_batches=1)
    monkeypatch.setattr(study, "PARTIAL_EVERY_S", 0.0)
    [elsewhere, _] = run_study(cfg, tmp_path / "elsewhere", log=lambda s: None)
    out = tmp_path / "shared"
    if other == "is killed":  # seed 0's state saved at step 7
        _killed_at_step(7, StudyConfig(**{**asdict(cfg), "seeds": 1}), out, monkeypatch)
    lock = RunLock(out / study.LOCKS, "runs__reproduction_delay@0__lstm__s0.lock").__enter__()  # the other study's
    logged = []

    def log(line):
        logged.append(line)
        if "seed 1 (lr" in line:  # seed 1 trained here meanwhile; the other study ends
            if other == "finishes it":
                study.write_json_atomic(out / "runs" / "reproduction_delay@0__lstm__s0.json", elsewhere)
            lock.__exit__()

    first, second = run_study(cfg, out, log=log)
    assert "runs/reproduction_delay@0__lstm__s0.json: another process is training it" in logged[0]
    assert _same_run(first, elsewhere) and second["seed"] == 1
    trained_here = [line for line in logged if "seed 0 (lr" in line]
    assert len(trained_here) == (0 if other == "finishes it" else 1)
    assert ("resumed at step 7 of 12" in "\n".join(logged)) == (other == "is killed")


def test_a_study_with_other_settings_is_refused_while_another_trains_into_the_folder(tmp_path):
    """No run finished yet, but one in training under the folder's settings: a second study with
    other settings would rewrite study.json under it, so it is refused."""
    cfg = StudyConfig(modules=["lstm"], tasks=["reproduction_delay@0"], seeds=1, steps=2, batch_size=4, budget=3000,
                      eval_batches=1)
    (tmp_path / "runs").mkdir()
    study.write_json_atomic(tmp_path / "study.json", asdict(cfg))
    with RunLock(tmp_path / study.LOCKS, "runs__reproduction_delay@0__lstm__s0.lock"):  # the first study, training
        with pytest.raises(ConfigError, match="holds a study trained with other settings"):
            run_study(StudyConfig(**{**asdict(cfg), "steps": 3}), tmp_path, log=lambda s: None)
    run_study(StudyConfig(**{**asdict(cfg), "steps": 3}), tmp_path, log=lambda s: None)  # once it is gone: anew


def _same_run(a: dict, b: dict) -> bool:
    """Two runs' results equal but for the wall-clock time and who trained them when."""
    return {k: v for k, v in a.items() if k not in ("train_s", "provenance")} == \
        {k: v for k, v in b.items() if k not in ("train_s", "provenance")}


def test_a_run_killed_mid_training_resumes_from_its_saved_state_to_the_same_result(tmp_path, monkeypatch):
    """A run saves its training state as it goes (here after every step); killed at step 7 of 12 and
    started again, it resumes there and ends with the result of a run never stopped (loss curve and
    scores bit for bit); the state file, the study's own, is gone once the result is written, and one
    saved before a setting existed resumes as trained at its old value. A torn state file, or one of
    other settings, resumes nothing: the run trains from its first step."""
    cfg = StudyConfig(modules=["matched_gradient"], tasks=["reproduction_delay@0"], seeds=1, steps=12, batch_size=4,
                      budget=3000, eval_batches=1)
    monkeypatch.setattr(study, "PARTIAL_EVERY_S", 0.0)
    [whole] = run_study(cfg, tmp_path / "whole", log=lambda s: None)
    # what trained it: a run's rounding, and so at a bifurcation its outcome, depends on the machine
    assert whole["provenance"]["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(whole["provenance"]) == {"command", "commit", "date", "machine"}
    logged = []
    for broken in (None, "saved before --compile", b"torn", "other settings", "an older model",
                   "parameters in another order"):
        out = tmp_path / f"killed-{broken!s:.5}"
        _killed_at_step(7, cfg, out, monkeypatch)
        partial = out / "runs" / "reproduction_delay@0__matched_gradient__s0.partial.pt"
        assert partial.is_file()
        if broken == b"torn":
            partial.write_bytes(partial.read_bytes()[:100])
        elif broken in ("saved before --compile", "an older model", "parameters in another order"):
            state = torch.load(partial, weights_only=True)  # this run's identity
            if broken == "saved before --compile":
                assert state["identity"].pop("compile") is False
            elif broken == "an older model":
                state["model"].pop(next(iter(state["model"])))  # a parameter missing
            else:  # what the optimiser's state, matched by position, would silently misread
                state["parameters"] = state["parameters"][::-1]
            torch.save(state, partial)
        elif broken:  # the same file name, trained at another learning rate
            moved = tmp_path / "lr"
            _killed_at_step(7, StudyConfig(**{**asdict(cfg), "lr": 1e-2}), moved, monkeypatch)
            os.replace(moved / "runs" / partial.name, partial)
        [resumed] = run_study(cfg, out, log=logged.append)
        assert not partial.exists()
        partial.write_bytes(b"left by a kill after the result was written")
        run_study(cfg, out, log=lambda s: None)
        assert not partial.exists()  # the finished run's state removed, nothing trained
        assert _same_run(resumed, whole)
    said = "\n".join(logged)
    assert said.count("resumed at step 7 of 12") == 2 and "seed 0: step 11 of 12, loss " in said  # its progress
    assert "cannot be read" in said and "another run's or other settings' training" in said
    assert "does not fit this run (RuntimeError" in said and "(ValueError: its model has other parameters" in said

    write = study.write_atomic

    def disk_full_for_states(path, data):
        if path.suffix == ".pt":
            raise OSError(28, "No space left on device")
        return write(path, data)

    monkeypatch.setattr(study, "write_atomic", disk_full_for_states)
    logged.clear()
    [unsaved] = run_study(cfg, tmp_path / "disk-full", log=logged.append)  # the state unsaved, training goes on
    assert _same_run(unsaved, whole)
    assert "the training state could not be saved (No space left on device); training goes on" in logged[0]


def test_a_run_on_a_longer_schedule_is_that_runs_first_steps(tmp_path):
    """--schedule-steps N: a run of k steps is the first k steps of an N-step run, step for step (its
    loss curve the longer run's up to step k), and not the k-step run on a schedule of its own."""
    cfg = dict(modules=["matched_gradient"], tasks=["reproduction_delay@0"], seeds=1, batch_size=4, budget=3000,
               eval_batches=1)
    [long] = run_study(StudyConfig(**cfg, steps=40), tmp_path / "long", log=lambda s: None)
    [first] = run_study(StudyConfig(**cfg, steps=22, schedule_steps=40), tmp_path / "first", log=lambda s: None)
    [own] = run_study(StudyConfig(**cfg, steps=22), tmp_path / "own", log=lambda s: None)
    prefix = [point for point in long["loss_curve"] if point[0] <= 22]  # steps 1, 11 and 21
    assert len(prefix) == 3 and first["loss_curve"][:3] == prefix
    assert own["loss_curve"][0] == prefix[0] and own["loss_curve"][1:3] != prefix[1:]  # another schedule's updates
    assert json.loads((tmp_path / "first" / "study.json").read_text())["schedule_steps"] == 40
    with pytest.raises(ConfigError, match="resume it"):  # a folder's runs share their schedule
        run_study(StudyConfig(**cfg, steps=22), tmp_path / "first", log=lambda s: None)
    # the warm-up: a twentieth of the schedule unless given
    [named] = run_study(StudyConfig(**cfg, steps=22, schedule_steps=40, warmup_steps=2), tmp_path / "named",
                        log=lambda s: None)
    [slow] = run_study(StudyConfig(**cfg, steps=22, schedule_steps=40, warmup_steps=10), tmp_path / "slow",
                       log=lambda s: None)
    assert named["loss_curve"] == first["loss_curve"] and slow["loss_curve"][1:] != first["loss_curve"][1:]


@pytest.mark.parametrize("setting, said", [
    (["--schedule-steps", "5"], "schedule_steps must be 0 (the run's steps) or at least steps (10), got 5"),
    (["--schedule-steps", "-1"], "schedule_steps must be 0 (the run's steps) or at least steps (10), got -1"),
    (["--warmup-steps", "10"], "warmup_steps must lie in 0..9 (within the schedule of 10 steps), got 10"),
    (["--warmup-steps", "-1", "--schedule-steps", "20"], "warmup_steps must lie in 0..19 (within the schedule of 20"),
])
def test_a_schedule_shorter_than_the_run_or_its_warm_up_is_refused_in_one_line(tmp_path, capsys, setting, said):
    out = tmp_path / "study"
    assert main(["study", "--out", str(out), "--modules", "static", "--tasks", "association", "--steps", "10",
                 *setting]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and not out.exists()


def _result(module, seed, levels):
    return {"task": "t", "module": module, "seed": seed, "metric": "mse", "level_name": "delay",
            "parameters": 10, "left_plateau": True, "loss_curve": [[1, 1.0], [2, 0.5]],
            "levels": {str(k): v for k, v in levels.items()}}


def test_paired_differences_pair_the_runs_of_one_seed(tmp_path):
    """a - b per seed, over the seeds both ran: gradient is better by 0.1 at delay 0 in every
    seed (CI 0) and by 0.2 / 0.4 at delay 60; seed 2 of the Hebbian module is missing."""
    results = [_result("matched_gradient", 0, {0: [0.1, 0.3], 60: [0.2]}),
               _result("matched_gradient", 1, {0: [0.5], 60: [0.4]}),
               _result("matched_gradient", 2, {0: [9.0], 60: [9.0]}),
               _result("matched_hebbian", 0, {0: [0.3], 60: [0.4]}),
               _result("matched_hebbian", 1, {0: [0.6], 60: [0.8]})]
    diffs = {(d["a"], d["b"], d["level"]): d for d in study.paired_differences(results)}
    assert set(diffs) == {("matched_gradient", "matched_hebbian", lvl) for lvl in ("0", "60", "all")}
    assert diffs[("matched_gradient", "matched_hebbian", "0")]["mean"] == pytest.approx(-0.1)
    assert diffs[("matched_gradient", "matched_hebbian", "0")]["ci95"] == pytest.approx(0, abs=1e-12)
    d60 = diffs[("matched_gradient", "matched_hebbian", "60")]
    assert (d60["mean"], d60["seeds"]) == (pytest.approx(-0.3), 2)
    assert d60["ci95"] == pytest.approx(12.71 * (0.2 ** 2 / 2) ** 0.5 / 2 ** 0.5)
    md = summarise(results, tmp_path)
    assert "| t (mse) | matched_gradient - matched_hebbian | delay=60 | -0.300 ± " in md
    assert (tmp_path / "paired.png").stat().st_size > 0
    assert study.paired_differences([r for r in results if r["module"] == "matched_hebbian"]) == []


def test_paired_differences_pair_each_rule_form_and_every_static_control():
    """Each gradient rule against its Hebbian twin in the same form (variants, the source's untrained pair), each
    plastic-layers rule against its family's write-off layers, and each of their rules and write-off controls
    against the LSTM and attention; no pair for a module without a partner."""
    modules = ["matched_hebbian+tied+A_ones", "matched_gradient+tied+A_ones", "attention", "delta",
               "plastic_gradient", "plastic_off", "chaudhary_hebbian", "chaudhary_gradient", "chaudhary_off"]
    assert study.comparisons(modules) == [
        ("matched_gradient+tied+A_ones", "matched_hebbian+tied+A_ones"), ("chaudhary_gradient", "chaudhary_hebbian"),
        ("plastic_gradient", "plastic_off"), ("chaudhary_hebbian", "chaudhary_off"), ("chaudhary_gradient", "chaudhary_off"),
        ("matched_hebbian+tied+A_ones", "attention"), ("matched_gradient+tied+A_ones", "attention"),
        ("plastic_gradient", "attention"), ("plastic_off", "attention"), ("chaudhary_hebbian", "attention"),
        ("chaudhary_gradient", "attention"), ("chaudhary_off", "attention")]
    results = [_result("matched_gradient+tied+A_ones", 0, {1: [0.5]}), _result("matched_hebbian+tied+A_ones", 0, {1: [0.2]}),
               _result("attention", 0, {1: [0.4]}), _result("lstm", 1, {1: [0.1]})]
    diffs = {(d["a"], d["b"]): d["mean"] for d in study.paired_differences(results)}
    assert diffs == {("matched_gradient+tied+A_ones", "matched_hebbian+tied+A_ones"): pytest.approx(0.3),
                     ("matched_hebbian+tied+A_ones", "attention"): pytest.approx(-0.2),
                     ("matched_gradient+tied+A_ones", "attention"): pytest.approx(0.1)}  # the LSTM ran another seed


def test_paired_differences_pair_each_undone_difference_with_the_update_it_varies():
    """matched_hebbian+tied+A_ones+keep, +A_fixed, ... each against matched_hebbian+tied+A_ones, and
    +only_NAME against +A_fixed+all, where that ran; none is a default module (asked for by name)."""
    undone = ["matched_hebbian+tied+A_ones+keep", "matched_hebbian+tied+A_fixed", "matched_hebbian+tied+A_fixed+all"]
    assert study.comparisons(undone) == []
    assert study.comparisons(undone + ["matched_hebbian+tied+A_ones"]) == [(m, "matched_hebbian+tied+A_ones") for m in undone]
    only = ["matched_hebbian+tied+only_forgetting", "matched_hebbian+tied+only_learned_A"]  # all out but one
    assert study.comparisons(only + undone) == [(m, "matched_hebbian+tied+A_fixed+all") for m in only]
    assert not set(undone + only) & set(study.DEFAULT_MODULES)


@pytest.mark.slow  # inductor compiles the plastic layers' step
@pytest.mark.skipif(shutil.which(study.cpp_compiler()) is None, reason="torch.compile needs a C++ compiler")
def test_a_compiled_run_killed_mid_training_resumes_to_the_same_result(tmp_path, monkeypatch):
    """--compile: each run compiles afresh, so a run resumed (here after other runs in the process)
    runs the same code as the run never stopped, and ends with its result bit for bit."""
    cfg = StudyConfig(modules=["plastic_hebbian"], tasks=["cue_reward"], seeds=1, steps=8, batch_size=4,
                      budget=3000, eval_batches=1, compile=True)
    monkeypatch.setattr(study, "PARTIAL_EVERY_S", 0.0)
    [whole] = run_study(cfg, tmp_path / "whole", log=lambda s: None)
    _killed_at_step(5, cfg, tmp_path / "killed", monkeypatch)
    logged = []
    [resumed] = run_study(cfg, tmp_path / "killed", log=logged.append)
    assert any("resumed at step 5 of 8" in line for line in logged)
    assert _same_run(resumed, whole)


def test_a_saved_state_from_before_a_setting_resumes_only_at_its_old_value(tmp_path):
    """A run's state saved before --compile existed has no "compile" in its identity: it was trained
    eagerly, so it resumes an eager run and not a compiled one."""
    path = tmp_path / "run.partial.pt"
    torch.save({"identity": {"task": "t", "lr": 1e-3}, "step": 3}, path)
    said = []
    assert study._partial_state(path, {"task": "t", "lr": 1e-3, "compile": False}, said.append)["step"] == 3
    assert study._partial_state(path, {"task": "t", "lr": 1e-3, "compile": True}, said.append) is None
    assert study._partial_state(path, {"task": "t", "lr": 2e-3, "compile": False}, said.append) is None
    assert said == [f"{path} holds another run's or other settings' training: the run starts from its first step"] * 2


def test_a_compiled_hebbian_run_resumes_only_a_state_of_its_own_form(tmp_path, monkeypatch):
    """--compile trains the matched Hebbian rule by its loop, eagerly by its whole-sequence form (the
    same function, other rounding); before the run's identity said which, --compile trained the
    whole form. A state saved so is not resumed by the loop; one of the loop is."""
    monkeypatch.setattr(study, "check_compiler", lambda: None)
    monkeypatch.setattr(fast_weights, "compiled_token", lambda token: token)  # the loop, uncompiled: quick
    cfg = StudyConfig(modules=["matched_hebbian"], tasks=["reproduction_delay@0"], seeds=1, steps=6, batch_size=4,
                      budget=3000, eval_batches=1, compile=True)
    monkeypatch.setattr(study, "PARTIAL_EVERY_S", 0.0)
    for saved_before in (False, True):
        out = tmp_path / str(saved_before)
        _killed_at_step(3, cfg, out, monkeypatch)
        partial = out / "runs" / "reproduction_delay@0__matched_hebbian__s0.partial.pt"
        state = torch.load(partial, weights_only=True)
        assert state["identity"]["hebbian_loop"] is True
        if saved_before:
            del state["identity"]["hebbian_loop"]
            torch.save(state, partial)
        logged = []
        run_study(cfg, out, log=logged.append)
        assert any("resumed at step 3 of 6" in line for line in logged) != saved_before


def _level_run(task, module, seed, score):
    return {"task": task, "module": module, "seed": seed, "metric": "mse", "level_name": "delay", "d_model": 8,
            "parameters": 10, "train_s": 0.0, "left_plateau": score < 0.3, "loss_curve": [[1, 1.0], [2, 0.5]],
            "levels": {task.partition("@")[2] or "0": [score]}}


def _study_folder(folder, runs, tuning=None, **settings):
    (folder / "runs").mkdir(parents=True)
    (folder / "study.json").write_text(json.dumps({**asdict(StudyConfig()), **settings}))
    for r in runs:
        (folder / "runs" / f"{r['task']}__{r['module']}__s{r['seed']}.json").write_text(json.dumps(r))
    if tuning is not None:
        (folder / "tuning.json").write_text(json.dumps(tuning))
    return folder


def test_study_combine_reads_one_network_per_delay_from_folders_of_their_own(tmp_path):
    """The delays' folders as one table: the runs of both, seeds that solved each (below 0.02),
    the paired difference per delay, the tuning winners and sources.json; the folders unchanged."""
    d20 = _study_folder(tmp_path / "d20", [_level_run("reproduction_delay@20", m, s, v) for m, s, v in
                                           (("matched_hebbian", 0, 0.001), ("matched_hebbian", 1, 0.3),
                                            ("matched_gradient", 0, 0.01), ("matched_gradient", 1, 0.01))],
                        tuning={"reproduction_delay@20|matched_hebbian": {"task": "reproduction_delay@20",
                                "module": "matched_hebbian", "metric": "mse", "lr": 0.01, "write_rate": 0.25,
                                "grid": [{"lr": 0.01, "write_rate": 0.25, "val": 0.001, "left_plateau": 1}]}})
    d60 = _study_folder(tmp_path / "d60", [_level_run("reproduction_delay@60", m, s, v) for m, s, v in
                                           (("matched_hebbian", 0, 0.25), ("matched_gradient", 0, 0.0))], steps=3000)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["study-combine", str(d20), str(d60), "--out", str(tmp_path / "both")]) == 0
    assert {p: p.read_bytes() for p in before} == before  # nothing written into the studies read
    md = (tmp_path / "both" / "summary.md").read_text()
    solved = md.split("Seeds that solved the task (test mse below 0.02 at every level): ")[1].split("\n")[0].split("; ")
    assert set(solved) == {"reproduction_delay@20 matched_hebbian 1/2", "reproduction_delay@20 matched_gradient 2/2",
                           "reproduction_delay@60 matched_hebbian 0/1", "reproduction_delay@60 matched_gradient 1/1"}
    assert "| reproduction_delay@20 (mse) | matched_gradient - matched_hebbian | delay=20 | -0.140 ± " in md
    assert "all levels |" not in md.split("Paired differences")[1].split("Tuning")[0]  # one level: no repeat
    assert "| reproduction_delay@20 | matched_hebbian | **0.01 / 0.25: 0.001 (1)** |" in md
    assert "Settings that differ between them: steps 1000 / 3000." in md
    sources = json.loads((tmp_path / "both" / "sources.json").read_text())["studies"]
    assert [(s["folder"], len(s["runs"])) for s in sources] == [(str(d20), 4), (str(d60), 2)]
    assert sources[1]["runs"] == ["reproduction_delay@60__matched_gradient__s0.json", "reproduction_delay@60__matched_hebbian__s0.json"]
    for figure in ("levels.png", "paired.png", "solved.png"):
        assert (tmp_path / "both" / figure).stat().st_size > 0


def test_study_combine_refuses_what_it_cannot_combine(tmp_path, capsys):
    """One line naming the problem, exit 2, nothing written: one folder, a folder that is not a
    study, a run in two folders, a torn run, an --out that is a study."""
    a = _study_folder(tmp_path / "a", [_level_run("reproduction_delay@20", "lstm", 0, 0.3)])
    b = _study_folder(tmp_path / "b", [_level_run("reproduction_delay@20", "lstm", 0, 0.2)])
    c = _study_folder(tmp_path / "c", [_level_run("reproduction_delay@40", "lstm", 0, 0.3)])
    (tmp_path / "plain").mkdir()
    torn = _study_folder(tmp_path / "torn", [])
    (torn / "runs" / "x.json").write_text('{"task": ')
    out = str(tmp_path / "out")
    for args, message in (([str(a)], "at least two study folders"),
                          ([str(a), str(tmp_path / "plain")], "is not a study folder (no study.json)"),
                          ([str(a), str(b)], "seed 0 is in both"),
                          ([str(a), str(torn)], "x.json is not valid JSON"),
                          ([str(a), str(a)], "named twice")):
        assert main(["study-combine", *args, "--out", out]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    for inside in (c, c / "runs", c / "combined"):  # an input, or a folder in one
        assert main(["study-combine", str(a), str(c), "--out", str(inside)]) == 2
        assert "one of the study folders or inside one" in capsys.readouterr().err
    assert not (c / "summary.md").exists() and not (c / "combined").exists()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("kept")
    assert main(["study-combine", str(a), str(c), "--out", str(foreign)]) == 2
    assert "files that study-combine did not write" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"]


def test_study_combine_refuses_runs_it_cannot_pool_or_trust(tmp_path, capsys):
    """A task and module trained with other settings in two folders, seeds scored at other levels,
    a run file holding another run than its name says, or one with a seed of the wrong kind."""
    a = _study_folder(tmp_path / "a", [_level_run("reproduction_delay@20", "lstm", 0, 0.3)])
    longer = _study_folder(tmp_path / "longer", [_level_run("reproduction_delay@20", "lstm", 1, 0.3)], steps=5000)
    other = _level_run("reproduction_delay@20", "lstm", 1, 0.3)
    other["levels"] = {"40": [0.3]}
    levels = _study_folder(tmp_path / "levels", [other])
    renamed = _study_folder(tmp_path / "renamed", [_level_run("reproduction_delay@40", "lstm", 0, 0.3)])
    (renamed / "runs" / "reproduction_delay@40__lstm__s0.json").rename(renamed / "runs" / "copy.json")
    odd = _study_folder(tmp_path / "odd", [{**_level_run("reproduction_delay@40", "lstm", 0, 0.3), "seed": [0]}])
    for folder, message in ((longer, "trained with other settings"), (levels, "were scored differently"),
                            (renamed, "not the one its name says"), (odd, "of the wrong kind")):
        assert main(["study-combine", str(a), str(folder), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_study_combine_again_into_its_folder_leaves_nothing_of_the_last(tmp_path):
    """A second combine into the same --out rewrites it: the first's tuning and pairs are gone."""
    gradient_pair = [_level_run("reproduction_delay@20", m, 0, 0.1) for m in ("matched_hebbian", "matched_gradient")]
    tuning = {"reproduction_delay@20|matched_hebbian": {"task": "reproduction_delay@20", "module": "matched_hebbian",
              "metric": "mse", "lr": 0.01, "write_rate": 0.25,
              "grid": [{"lr": 0.01, "write_rate": 0.25, "val": 0.1, "left_plateau": 1}]}}
    a = _study_folder(tmp_path / "a", gradient_pair, tuning=tuning)
    b = _study_folder(tmp_path / "b", [_level_run("reproduction_delay@40", "lstm", 0, 0.3)])
    c = _study_folder(tmp_path / "c", [_level_run("reproduction_delay@60", "lstm", 0, 0.3)])
    out = tmp_path / "out"
    assert main(["study-combine", str(a), str(b), "--out", str(out)]) == 0
    assert (out / "paired.png").exists() and "matched_hebbian" in (out / "summary.md").read_text()
    assert main(["study-combine", str(b), str(c), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    assert "matched_hebbian" not in md and "Tuning" not in md and not (out / "paired.png").exists()


def test_study_combine_takes_only_the_modules_named_for_a_folder(tmp_path, capsys):
    """FOLDER:MODULES: the LSTM tuned again in a folder of its own replaces the first folder's
    LSTM, runs and tuning winner; a module it does not hold, or no module at all, is refused."""
    def tuned(module, lr):
        return {f"reproduction_length@30|{module}": {"task": "reproduction_length@30", "module": module, "metric": "mse",
                "lr": lr, "write_rate": 1.0, "grid": [{"lr": lr, "write_rate": 1.0, "val": 0.3, "left_plateau": 0}]}}
    both = _study_folder(tmp_path / "both", [_level_run("reproduction_length@30", m, 0, v) for m, v in
                                             (("lstm", 0.33), ("matched_hebbian", 0.25))],
                         tuning={**tuned("lstm", 0.01), **tuned("matched_hebbian", 0.01)})
    lstm = _study_folder(tmp_path / "lstm", [_level_run("reproduction_length@30", "lstm", 0, 0.05)],
                         tuning=tuned("lstm", 0.00316), tune_seeds=2)
    out = tmp_path / "out"
    assert main(["study-combine", f"{both}:matched_hebbian,matched_hebbian", str(lstm), "--out", str(out)]) == 0  # once
    rows = {r["module"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert set(rows) == {"lstm", "matched_hebbian"} and float(rows["lstm"]["mean"]) == pytest.approx(0.05)
    assert json.loads((out / "tuning.json").read_text())["reproduction_length@30|lstm"]["lr"] == 0.00316
    sources = json.loads((out / "sources.json").read_text())["studies"]
    assert [(s["modules"], s["runs"]) for s in sources] == [
        (["matched_hebbian"], ["reproduction_length@30__matched_hebbian__s0.json"]),
        (None, ["reproduction_length@30__lstm__s0.json"])]
    assert f"`{both}` (matched_hebbian: 1 runs)" in (out / "summary.md").read_text()
    assert main(["study-combine", str(both), str(lstm), "--out", str(tmp_path / "clash")]) == 2  # both LSTMs
    assert "seed 0 is in both" in capsys.readouterr().err
    for arg, message in ((f"{both}:attention", "holds no run of attention"),
                         (f"{both}:hebian", "'hebian' is not a module"), (f"{both}:", "no module named"),
                         (":lstm", "no study folder before"), (f"{tmp_path}/none:lstm", "none does not exist")):
        assert main(["study-combine", arg, str(lstm), "--out", str(tmp_path / "refused")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "clash").exists() and not (tmp_path / "refused").exists()


def test_summary_rows_take_one_tasks_levels_in_numeric_order(tmp_path):
    """reproduction_length@5 before @10 before @20 whatever order the runs came in, in the table,
    the CSV and the plateau line; fewshot20's levels after fewshot's, not between them."""
    md = summarise([_level_run(f"reproduction_length@{n}", "lstm", 0, 0.1) for n in (20, 5, 10)], tmp_path)
    rows = [line.split(" (")[0] for line in md.splitlines() if line.startswith("| reproduction_length@")]
    assert rows == ["| reproduction_length@5", "| reproduction_length@10", "| reproduction_length@20"]
    assert [r["task"] for r in csv.DictReader((tmp_path / "results.csv").open())][::2] == \
        ["reproduction_length@5", "reproduction_length@10", "reproduction_length@20"]
    assert "plateau (loss in the last tenth of training below 80% of the first tenth): reproduction_length@5 " in md
    tasks = ["fewshot20_omniglot@5", "fewshot_omniglot@5", "fewshot20_omniglot@1", "fewshot_omniglot@1"]
    assert study._in_order([{"task": t, "module": "attention"} for t in tasks])[0] == \
        ["fewshot_omniglot@1", "fewshot_omniglot@5", "fewshot20_omniglot@1", "fewshot20_omniglot@5"]


def test_the_summary_lists_each_modules_parameters_in_the_order_of_its_tasks(tmp_path):
    """One count per task, in the table's task order (cue_reward before the regression), not sorted."""
    results = [{**_result("lstm", 0, {10: [0.5]}), "task": task, "parameters": n}
               for task, n in (("regression_duan_linear", 20), ("cue_reward", 30))]
    md = summarise(results, tmp_path)
    assert "Parameters per model (by task: cue_reward, regression_duan_linear): lstm 30/20" in md


def test_paired_differences_pair_each_sized_read_with_the_update_it_resizes():
    """The update (A from ones) at another's size, and the reads resized to the update's, each against the
    update; their update with A from U(-1, 1) at another's size against that update; none a default module."""
    sized = ["matched_hebbian+tied+A_ones+sized_as_all", "matched_hebbian+tied+A_ones+keep+sized_as_update",
             "matched_hebbian+tied+A_ones+no_clip+sized_as_update", "matched_hebbian+tied+A_fixed+all+sized_as_update"]
    assert study.comparisons(sized + ["matched_hebbian+tied+A_ones"]) == [(m, "matched_hebbian+tied+A_ones") for m in sized]
    assert study.comparisons(["matched_hebbian+tied+sized_as_all", "matched_hebbian+tied"]) == \
        [("matched_hebbian+tied+sized_as_all", "matched_hebbian+tied")]
    assert not {*sized, "matched_hebbian+tied+sized_as_all"} & set(study.DEFAULT_MODULES)
