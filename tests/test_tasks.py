import json
import shutil

import pytest
import torch

from hebbformer.config import DataConfig
from hebbformer.errors import ConfigError
from hebbformer.experiments.study import StudyConfig, check_compiler, cpp_compiler, run_study, summarise, train_one
from hebbformer.tasks import Association, Copy, CueReward, DuanRegression, FewShot, Regression, Reproduction, build_task


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_copy_recall_targets_are_the_symbols_written_at_the_cued_positions():
    task = Copy(length=5, vocab=7)
    b = task.sample(4, 3, g())
    n, v = 5, 7
    written = b.x[:, :n, :v].argmax(-1)
    cues = b.x[:, n + 3:, v:v + n].argmax(-1)
    assert b.x.shape == (4, 2 * n + 3, task.d_in)
    assert torch.equal(b.target[:, n + 3:], written.gather(1, cues))
    assert b.mask.sum(1).tolist() == [n] * 4 and not b.mask[:, : n + 3].any()
    assert (b.x[:, n:n + 3, : v + n] == 0).all()  # the delay carries nothing


def test_association_answer_is_the_value_paired_with_the_asked_key():
    task = Association(keys=10, values=5)
    b = task.sample(16, 4, g())
    keys, values = b.x[:, :4, :10].argmax(-1), b.x[:, :4, 10:15].argmax(-1)
    asked = b.x[:, 4, :10].argmax(-1)
    assert all(len(set(k.tolist())) == 4 for k in keys)  # distinct keys per sequence
    where = (keys == asked[:, None]).float().argmax(1)
    assert torch.equal(b.target[:, 4], values.gather(1, where[:, None])[:, 0])
    with pytest.raises(ValueError, match="need as many distinct keys"):
        Association(keys=4, pairs=(8,))


@pytest.mark.parametrize("family", ["linear", "sine"])
def test_regression_targets_are_the_y_that_follows_each_x(family):
    task = Regression(family)
    b = task.sample(3, 6, g())
    d = task.dim
    assert b.x.shape == (3, 13, task.d_in)
    assert (b.x[:, 0::2, d + 1] == 1).all() and (b.x[:, 1::2, d + 2] == 1).all()
    torch.testing.assert_close(b.target[:, 0:-1:2], b.x[:, 1::2, d])  # each y token holds the x token's answer
    assert b.score[:, -1].all() and b.score.sum() == 3
    if family == "linear":  # one w per sequence explains every pair
        xs, ys = b.x[:, 0:-1:2, :d], b.x[:, 1::2, d]
        w = torch.linalg.lstsq(xs, ys[..., None]).solution
        torch.testing.assert_close((xs @ w)[..., 0], ys, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown regression family 'cubic'"):
        Regression("cubic")


def test_fewshot_sequences_carry_permuted_labels_and_score_every_query():
    task = FewShot(DataConfig(name="glyphs", glyph_classes=30, glyph_drawings=6, image_size=16), ways=3, queries=2)
    b = task.sample(4, 2, g())
    support_labels = b.x[:, :6, :3].argmax(-1)
    assert all(sorted(s.tolist()) == [0, 0, 1, 1, 2, 2] for s in support_labels)
    assert (b.x[:, 6:, 3] == 1).all() and b.mask[:, 6:].all() and not b.mask[:, :6].any()
    assert b.images.shape == (4, 12, 1, 16, 16)
    assert set(b.target[:, 6:].flatten().tolist()) <= {0, 1, 2}
    again = task.sample(4, 2, g(0))
    gen = g(0)
    first, second = task.sample(4, 2, gen), task.sample(4, 2, gen)
    assert torch.equal(again.images, first.images)  # seeded
    assert not torch.equal(first.images, second.images)  # and every batch new (once every batch was the same)


def test_cue_reward_shows_each_reward_then_asks_for_it_by_its_stimulus():
    task = CueReward()
    b = task.sample(8, 20, g())
    assert b.x.shape == (8, 20, 16)
    torch.testing.assert_close(b.x[:, :10, -2], b.target[:, :10])  # first half: the reward beside the cue
    assert (b.x[:, 10:, -2] == 0).all() and (b.x[:, 10:, -1] == 1).all() and (b.x[:, :10, -1] == 0).all()
    assert b.mask.all() and b.score[:, 10:].all() and not b.score[:, :10].any()
    # one reward per cue: steps whose stimuli are close (same cue, noise 0.1) share it
    stim, r = b.x[0, :, :14], b.target[0]
    same = torch.cdist(stim, stim) < 0.8
    assert torch.equal(same, r[:, None] == r[None, :])
    assert len(set(r.tolist())) <= 5 and ((-1 < r) & (r < 1)).all()


@pytest.mark.parametrize("vary", ["delay", "length"])
def test_reproduction_recalls_the_values_in_order_with_no_position_given(vary):
    task = Reproduction(vary)
    level = 20
    b = task.sample(3, level, g())
    n, delay = (5, 20) if vary == "delay" else (20, 0)
    assert b.x.shape == (3, 2 * n + delay, 3)
    torch.testing.assert_close(b.target[:, n + delay:], b.x[:, :n, 0])
    assert (b.x[:, :n, 1] == 1).all() and (b.x[:, n:, :2] == 0).all() and (b.x[:, n + delay:, 2] == 1).all()
    assert (b.x[:, n:n + delay] == 0).all()  # the delay carries nothing
    assert torch.equal(b.mask, b.score) and b.mask.sum() == 3 * n
    assert task.levels == ((0, 10, 20, 40, 60) if vary == "delay" else (5, 10, 20, 30, 40))


@pytest.mark.parametrize("family", ["linear", "mlp"])
def test_duan_regression_gives_noisy_values_then_asks_for_the_function(family):
    task = DuanRegression(family)
    b = task.sample(4, 10, g())
    v = task.variables
    assert b.x.shape == (4, 30, v + 2) and v == (12 if family == "linear" else 6)
    assert (b.x[:, :10, -1] == 1).all() and (b.x[:, 10:, -2:] == 0).all()
    noise = b.x[:, :10, -2] - b.target[:, :10]
    assert 0.05 < noise.std() < 0.2  # N(0, 0.1^2) on the shown values
    torch.testing.assert_close(b.target.mean(1), torch.zeros(4), atol=1e-5, rtol=0)  # z-scored
    assert b.mask.all() and b.score[:, 10:].all() and not b.score[:, :10].any()
    if family == "linear":  # one affine map explains all 30 (z-scoring is affine too)
        xs = torch.cat([b.x[..., :v], torch.ones(4, 30, 1)], -1)
        w = torch.linalg.lstsq(xs, b.target[..., None]).solution
        torch.testing.assert_close((xs @ w)[..., 0], b.target, atol=1e-4, rtol=1e-4)


def test_a_task_at_one_level_is_trained_and_scored_there_only():
    task = build_task("reproduction_delay@40")
    assert task.levels == (40,) and task.name == "reproduction_delay@40"
    with pytest.raises(ValueError, match="reproduction_delay's delay is one of 0, 10, 20, 40, 60, not '30'"):
        build_task("reproduction_delay@30")
    task = build_task("cue_reward@40")  # Duan et al.'s trials have 20 steps; other lengths by name
    assert task.levels == (40,) and task.sample(3, 40, g()).x.shape == (3, 40, 16)
    assert build_task("cue_reward").levels == (20,)
    with pytest.raises(ValueError, match="cue_reward's steps is one of 10, 20, 40, 80, not '30'"):
        build_task("cue_reward@30")
    with pytest.raises(ConfigError, match="unknown task 'cue_rewards@20'"):
        StudyConfig(tasks=["cue_rewards@20"]).validate()


def test_a_level_the_task_has_not_is_refused_before_the_study_writes(tmp_path):
    with pytest.raises(ConfigError, match="fewshot_glyphs's shots is one of 1, 2, 5, not '3'"):
        run_study(StudyConfig(tasks=["copy", "fewshot@3"], modules=["static"], steps=1, seeds=1), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="unknown task 'coppy'"):
        build_task("coppy")
    with pytest.raises(ConfigError, match="unknown module 'hebb'"):
        StudyConfig(modules=["hebb"]).validate()


def test_compile_without_a_cpp_compiler_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-c++-compiler")
    with pytest.raises(ConfigError, match=r"--compile needs a C\+\+ compiler .*no-such-c\+\+-compiler"):
        StudyConfig(compile=True).validate()
    StudyConfig(compile=False).validate()  # eager runs need none


@pytest.mark.slow  # builds a small kernel with the compiler, caches off
@pytest.mark.skipif(shutil.which(cpp_compiler()) is None, reason="torch.compile needs a C++ compiler")
def test_compile_with_a_compiler_that_cannot_build_is_refused_by_name(monkeypatch):
    from torch._inductor import config as inductor

    check_compiler.cache_clear()
    check_compiler()  # the machine's compiler builds
    check_compiler.cache_clear()
    monkeypatch.setenv("CXX", "false")  # on PATH, builds nothing
    # inductor's own patch: monkeypatch would delete the setting on undo, which hides it from torch
    with inductor.patch({"cpp.cxx": (None, "false")}), \
            pytest.raises(ConfigError, match=r"--compile: torch.compile cannot build with the C\+\+ compiler false .*"
                                             r"No working C\+\+ compiler"):
        StudyConfig(compile=True).validate()
    assert inductor.cpp.cxx != (None, "false")  # restored for the tests after


@pytest.mark.slow
def test_static_weights_suffice_for_one_association_but_plastic_ones_bind_several():
    """The boundary condition: with one pair the answer is a linear read-out of a summed memory,
    which the static module learns; with two pairs the key must be bound to its value, which
    attention's written memory does and far above chance (1/8)."""
    cfg = StudyConfig(steps=150, batch_size=32, budget=8000, eval_batches=4, depth=2, heads=2)
    one = Association(pairs=(1,))
    two = Association(pairs=(2,))
    static = train_one("static", one, 0, cfg)
    bound = train_one("attention", two, 0, cfg)
    mean = lambda r, level: sum(r["levels"][level]) / len(r["levels"][level])  # noqa: E731
    assert mean(static, "1") > 0.95
    assert mean(bound, "2") > 0.5


@pytest.mark.slow
def test_study_writes_table_and_figures_and_resumes(tmp_path):
    cfg = StudyConfig(modules=["static", "delta"], tasks=["association"], seeds=2, steps=3, batch_size=4,
                      budget=3000, eval_batches=1)
    results = run_study(cfg, tmp_path, log=lambda s: None)
    assert len(results) == 4 and len(list((tmp_path / "runs").glob("*.json"))) == 4
    md = summarise(results, tmp_path)
    assert "| association (accuracy, pairs=8) |" in md and "delta" in md
    assert all((tmp_path / f).stat().st_size > 0 for f in ("results.csv", "levels.png", "loss_curves.png"))
    def finished():  # run results, less their wall-clock time
        return {p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != "train_s"}
                for p in (tmp_path / "runs").glob("*.json")}

    before = finished()
    (tmp_path / "runs" / "association__delta__s1.json").unlink()  # as if killed before the last run ended
    again = run_study(cfg, tmp_path, log=lambda s: None)
    assert finished() == before  # finished runs kept, the missing one redone identically
    assert [r["levels"] for r in again] == [before[n]["levels"] for n in
                                            ("association__static__s0.json", "association__static__s1.json",
                                             "association__delta__s0.json", "association__delta__s1.json")]
    cfg.steps = 4  # finished runs were trained for 3: they cannot join a 4-step study
    with pytest.raises(ConfigError, match=r"holds a study trained with other settings \(steps 3 -> 4\)"):
        run_study(cfg, tmp_path, log=lambda s: None)


def test_fewshot_runs_on_cifar_fs_too(tmp_path):
    """The study's few-shot task takes any of the core data sets: here the CIFAR-FS fixture
    (colour images, the standard 64/16/20 class split), trained and scored through the study."""
    from test_data import write_cifar

    write_cifar(tmp_path)
    task = FewShot(DataConfig(name="cifar_fs", root=str(tmp_path), image_size=32), ways=3, shots=(1, 2), queries=2)
    b = task.sample(2, 2, g())
    assert b.images.shape == (2, 12, 3, 32, 32) and task.name == "fewshot3_cifar_fs"
    r = train_one("delta", task, 0, StudyConfig(steps=2, batch_size=2, budget=3000, eval_batches=1))
    assert set(r["levels"]) == {"1", "2"} and all(0 <= a <= 1 for v in r["levels"].values() for a in v)


def test_study_encoder_starts_from_a_checkpoints_encoder(tmp_path):
    """--encoder-from: every image task's encoder starts as the checkpoint's (any model with an
    encoder.* part); one that does not fit the study's encoder is named, not half loaded."""
    from hebbformer import checkpoint
    from hebbformer.errors import CheckpointError
    from hebbformer.experiments.study import build

    task = FewShot(DataConfig(name="glyphs", glyph_classes=30, glyph_drawings=4, image_size=12), shots=(1,))
    source = build("delta", task, 16, StudyConfig(encoder_channels=8))
    state = {f"encoder.{k}": v for k, v in source.encoder.state_dict().items()}
    checkpoint.save_atomic({"model": state, "config": {}, "step": 0}, tmp_path / "enc.pt")
    model = build("attention", task, 16, StudyConfig(encoder_channels=8, encoder_from=str(tmp_path / "enc.pt")))
    for k, v in source.encoder.state_dict().items():
        torch.testing.assert_close(model.encoder.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="--encoder-from=.*does not fit"):
        build("attention", task, 16, StudyConfig(encoder_channels=16, encoder_from=str(tmp_path / "enc.pt")))
    with pytest.raises(ConfigError, match="--encoder-from .*missing.pt: no checkpoint there"):
        StudyConfig(encoder_from=str(tmp_path / "missing.pt")).validate()
