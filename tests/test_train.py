import json
from pathlib import Path

import pytest
import torch

from conftest import blob_pool, tiny_config
from hebbformer import checkpoint
from hebbformer.data import ClassPool, Pools
from hebbformer.errors import CheckpointError
from hebbformer.evaluate import episode_accuracies
from hebbformer.families import build_model
from hebbformer.train import lr_at, train


def weights(path):
    return checkpoint.load(path)["model"]


@pytest.mark.parametrize("extra", [{}, {"train__aux_protonet": 0.5, "model__dropout": 0.2, "model__rotate_features": True}])
def test_resume_equals_uninterrupted_run(tmp_path, extra):
    straight = tiny_config(tmp_path / "a", **extra)
    train(straight, progress=False)

    killed = tiny_config(tmp_path / "b", **extra)
    train(killed, progress=False, stop_after=5)  # dies after step 5; last checkpoint at step 3
    assert checkpoint.load(tmp_path / "b" / "run")["step"] == 3
    train(killed, resume=True, progress=False)

    a, b = weights(tmp_path / "a" / "run"), weights(tmp_path / "b" / "run")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    lines = [json.loads(x) for x in (tmp_path / "b" / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [x["step"] for x in lines]
    assert steps == sorted(set(steps)) and steps[-1] == 6  # no duplicate lines from the killed part


def test_deterministic_under_a_seed(tmp_path):
    for name in ("x", "y"):
        train(tiny_config(tmp_path / name), progress=False)
    a, b = weights(tmp_path / "x" / "run"), weights(tmp_path / "y" / "run")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    cfg = tiny_config(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        train(cfg, resume=True, progress=False)
    train(cfg, progress=False)
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(cfg, progress=False)



def test_never_overwrites_what_a_run_writes_where_there_is_no_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path)
    run = Path(cfg.out_dir)
    run.mkdir()
    (run / "config.json").write_text("the user's own config")
    (run / "notes.txt").write_text("notes")
    with pytest.raises(CheckpointError, match=r"holds config.json but no checkpoint.pt .*remove them or choose another"):
        train(cfg, progress=False)
    assert (run / "config.json").read_text() == "the user's own config" and not (run / "metrics.jsonl").exists()
    (run / "config.json").unlink()
    train(cfg, progress=False)  # beside other files, in a folder that holds no run: trains
    assert (run / "notes.txt").read_text() == "notes" and (run / "checkpoint.pt").is_file()


def test_corrupt_checkpoint_is_named(tmp_path):
    p = tmp_path / "checkpoint.pt"
    p.write_bytes(b"\x80\x02 truncated")
    with pytest.raises(CheckpointError, match="unreadable, truncated, or holds more than tensors"):
        checkpoint.load(p)
    torch.save({"weights": 1}, p)
    with pytest.raises(CheckpointError, match="not a hebbformer checkpoint"):
        checkpoint.load(p)
    # the format's tag, but its parts edited by hand: named, not a KeyError or TypeError deep inside
    whole = {"model": {"w": torch.zeros(2)}, "config": {"train": {}}, "step": 3}
    for edit, named in (({"config": None}, "config is"), ({"model": "weights"}, "model is"),
                        ({"model": {"w": [0.0, 0.0]}}, "model is"), ({"step": "3"}, "step is"), ({"step": True}, "step is"),
                        ({"config": "x", "step": 1.5}, "config, step are")):
        checkpoint.save_atomic({k: v for k, v in {**whole, **edit}.items() if v is not None}, p)
        with pytest.raises(CheckpointError, match=f"hebbformer checkpoint whose {named} missing or malformed"):
            checkpoint.load(p)
    checkpoint.save_atomic(whole, p)
    assert checkpoint.load(p)["step"] == 3


def test_atomic_save_keeps_the_old_file_on_failure(tmp_path):
    p = tmp_path / "checkpoint.pt"
    checkpoint.save_atomic({"model": {}, "config": {}, "step": 1}, p)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        checkpoint.save_atomic({"model": {}, "config": {}, "step": 2, "bad": Unpicklable()}, p)
    assert checkpoint.load(p)["step"] == 1
    assert [f.name for f in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left


def test_lr_schedule():
    cfg = tiny_config(Path(".")).train
    cfg.steps, cfg.warmup_steps, cfg.lr, cfg.min_lr_ratio = 100, 10, 1.0, 0.1
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
    assert all(lr_at(i, cfg) >= lr_at(i + 1, cfg) for i in range(10, 99))


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["tied", "attend"])
def test_learns_a_trivial_episode_set_in_context(tmp_path, readout):
    """Meta-trained briefly on easy images, the model labels unseen classes from context alone,
    far above chance: it cannot memorise labels, which are assigned anew in every episode."""
    cfg = tiny_config(tmp_path, train__steps=400, train__lr=2e-3, train__batch_size=16, train__warmup_steps=20,
                      model__d_model=32, model__depth=2, model__readout=readout, train__val_every=1000,
                      train__checkpoint_every=1000)
    pools = Pools(blob_pool(100, 0), blob_pool(20, 1), blob_pool(20, 2))
    train(cfg, progress=False, pools=pools)
    model = build_model(cfg.model, pools.test.image_shape)
    model.load_state_dict(weights(tmp_path / "run"))
    acc = episode_accuracies(model, pools.test, 3, 1, 2, 200, seed=5).mean().item()
    assert acc > 0.7, acc  # chance is 1/3


def _losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("option, tolerance", [("train.precision=bf16", 2e-2), ("train.compile=true", 1e-4)])
def test_mixed_precision_and_compile_train_the_same_model(tmp_path, option, tolerance):
    """bf16 autocast and torch.compile change how the step runs, not what it computes: the losses
    follow the float32 eager run's (bf16 to its ~3 significant digits)."""
    from torch._dynamo.utils import counters

    key, value = option.split("=")
    counters.clear()
    runs = {}
    for name, extra in (("eager", {}), ("other", {key.replace(".", "__"): value})):
        cfg = tiny_config(tmp_path / name, train__steps=3, train__val_every=1, **extra)
        train(cfg, progress=False)
        runs[name] = _losses(tmp_path / name / "run")
    torch.testing.assert_close(runs["other"], runs["eager"], rtol=tolerance, atol=0)
    if key == "train.precision":
        assert runs["other"] != runs["eager"]  # it did run in bf16
    else:
        assert counters["frames"]["ok"] > 0  # and this through the compiler


def test_auxiliary_protonet_loss_is_added_to_the_models(tmp_path):
    """train.aux_protonet: one step moves every weight by the gradient of the model's loss plus
    the weighted Prototypical-Network loss on its own encoder's features, and nothing else."""
    import torch.nn.functional as F

    from hebbformer.baselines import prototype_logits
    from hebbformer.train import EncoderTap, training_batch, training_step

    cfg = tiny_config(tmp_path, train__aux_protonet=0.5, train__grad_clip=1e9)
    pool = ClassPool(torch.randint(0, 256, (12, 6, 1, 16, 16), dtype=torch.uint8), [str(i) for i in range(12)])
    torch.manual_seed(0)
    model = build_model(cfg.model, pool.image_shape)
    expected = build_model(cfg.model, pool.image_shape)
    expected.load_state_dict(model.state_dict())

    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss, *_ = training_step(model, opt, pool, cfg, 3, 1.0, tap=EncoderTap(model.encoder))

    support, query, ep = training_batch(pool, cfg, 3)
    logits = expected(support, ep.support_labels, query, ep.label_ids)
    own = F.cross_entropy(logits.flatten(0, 1), ep.query_labels.flatten())
    features = expected.encoder(torch.cat([support, query], 1).flatten(0, 1)).view(support.shape[0], -1,
                                                                                  expected.encoder.out_dim)
    aux = F.cross_entropy(prototype_logits(features, ep.support_labels, ep.label_ids).flatten(0, 1),
                          ep.query_labels.flatten())
    assert aux > 0.1  # noise images: the auxiliary loss has a gradient to give
    (own + 0.5 * aux).backward()
    torch.testing.assert_close(loss, own)  # what is logged is the model's own loss
    for (name, p), q in zip(expected.named_parameters(), model.parameters()):
        torch.testing.assert_close(q, p - p.grad, rtol=1e-5, atol=1e-4, msg=name)  # grads of order 1
    assert expected.encoder.net[0].weight.grad.abs().sum() > 0


def test_auto_precision_follows_the_hardware_and_the_run_keeps_what_it_became(tmp_path, monkeypatch):
    """train.precision=auto is bf16 only where the hardware computes it natively, and the run's
    config records the precision it ran with, so that a resume elsewhere computes the same; a
    forced bf16 on hardware without it warns, naming why."""
    from hebbformer import machine

    for native, expected in ((False, "fp32"), (True, "bf16")):
        monkeypatch.setattr(machine, "native_bf16", lambda device, n=native: (n, "stated by the test"))
        cfg = tiny_config(tmp_path / expected, train__steps=1, train__precision="auto")
        train(cfg, progress=False)
        saved = json.loads((tmp_path / expected / "run" / "config.json").read_text())
        assert saved["train"]["precision"] == expected
        started = json.loads((tmp_path / expected / "run" / "machines.jsonl").read_text().splitlines()[0])
        assert started["precision"] == expected and started["cpu_capability"]
    monkeypatch.setattr(machine, "native_bf16", lambda device: (False, "no bf16 in this test"))
    machine._warned.clear()
    with pytest.warns(UserWarning, match="no bf16 in this test"):
        assert machine.resolve_precision("bf16", "cpu") == "bf16"


def test_tensorboard_scalars_beside_the_metrics_or_a_clear_error(tmp_path):
    cfg = tiny_config(tmp_path, train__steps=10, train__tensorboard="true")
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        from hebbformer.errors import ConfigError
        with pytest.raises(ConfigError, match="needs the tensorboard package"):
            train(cfg, progress=False)
        return
    train(cfg, progress=False)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
