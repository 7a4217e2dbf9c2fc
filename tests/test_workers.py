"""Episode batches over worker processes (``evaluate.forward_batches``): the same logits, in the
batches' order, as one process; a worker's failure is an error in the parent, not a hang."""

import os
import sys
from pathlib import Path

import pytest
import torch

from hebbformer import backends
from hebbformer.cli import main
from hebbformer.config import Config, ModelConfig
from hebbformer.data import ClassPool
from hebbformer.errors import ConfigError
from hebbformer.evaluate import forward_batches
from hebbformer.experiments.variants import compare
from hebbformer.families import build_model
from test_plastic import episodes
from test_quant import args_of, quant_model

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork: Linux")


def batches(n=3):
    return [episodes(batch=2, seed=s) for s in range(2, 2 + n)]  # different images in every batch


@pytest.mark.parametrize("backend", ["integer", "loihi"])
def test_workers_give_the_logits_of_one_process(backend):
    model = quant_model(depth=2, heads=2, seed=1)
    model.calibrate([args_of(episodes(seed=1))])
    run, eps = backends.run(model, backend), batches()
    one = forward_batches(run, eps, workers=1)
    assert one.shape[0] == 6 and one.dtype == torch.float64
    for workers in (2, 5):  # fewer batches than workers: one each
        assert torch.equal(forward_batches(run, eps, workers=workers), one)


class WhoRan(torch.nn.Module):
    """Logits that say which process ran a batch, on how many torch threads, and which batch it
    was (its first label token)."""

    def forward(self, support, support_labels, query, label_ids):
        where = torch.full((len(support),), float(os.getpid()), dtype=torch.float64)
        threads = torch.full((len(support),), float(torch.get_num_threads()), dtype=torch.float64)
        return torch.stack([where, support_labels[:, 0].double(), threads], 1)[:, None]


def test_batches_run_in_the_workers_and_come_back_in_order():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    eps = [episodes(batch=1 + s % 2, seed=s) for s in range(8)]  # batches of 1 and 2 episodes
    try:
        out = forward_batches(WhoRan(), eps, workers=2)
    finally:
        torch.set_num_threads(threads)
    assert out[:, 0, 1].tolist() == torch.cat([ep.support_labels[:, 0] for ep in eps]).double().tolist()
    pids = set(out[:, 0, 0].tolist())
    assert float(os.getpid()) not in pids and 1 <= len(pids) <= 2
    assert set(out[:, 0, 2].tolist()) == {1.0}  # one torch thread a worker, whatever this process runs


class FailsOn(torch.nn.Module):
    """Fails, in a worker only, on the batch whose first label token is ``token``: by raising, or
    by the process dying."""

    def __init__(self, token, die=False):
        super().__init__()
        self.token, self.die, self.parent = token, die, os.getpid()

    def forward(self, support, support_labels, query, label_ids):
        if os.getpid() != self.parent and int(support_labels[0, 0]) == self.token:
            if self.die:
                os._exit(3)
            raise ValueError(f"no label {self.token} here")
        return torch.zeros(len(support), 1, 1)


def test_a_failure_in_a_worker_is_an_error_here():
    eps = batches(4)
    token = int(eps[2].support_labels[0, 0])
    assert all(int(ep.support_labels[0, 0]) != token for ep in eps[:2])
    with pytest.raises(ValueError, match=f"no label {token} here"):
        forward_batches(FailsOn(token), eps, workers=2)
    with pytest.raises(RuntimeError, match="a worker process died"):
        forward_batches(FailsOn(token, die=True), eps, workers=2)


def test_workers_must_be_at_least_one(capsys, monkeypatch):
    with pytest.raises(ConfigError, match="workers must be at least 1, got 0"):
        forward_batches(WhoRan(), batches(1), workers=0)
    assert main(["variants", "float", "quant", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers must be at least 1, got 0" in err and "Traceback" not in err
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    monkeypatch.setattr(sys, "argv", ["loihi_episodes", "--workers", "0"])
    import loihi_episodes
    with pytest.raises(SystemExit) as exit_:
        loihi_episodes.main()
    assert exit_.value.code == 2 and "--workers must be at least 1" in capsys.readouterr().err


def test_workers_above_one_are_refused_off_linux(capsys, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    forward_batches(WhoRan(), batches(2), workers=1)  # one process runs anywhere
    with pytest.raises(ConfigError, match="workers above 1 needs Linux .* this is darwin"):
        forward_batches(WhoRan(), batches(2), workers=2)
    # refused before the runs are looked for (neither exists)
    assert main(["variants", "no-float-run", "no-quant-run", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers above 1 needs Linux" in err and "Traceback" not in err


def test_the_variants_table_is_the_same_in_workers():
    torch.manual_seed(0)
    fcfg = ModelConfig(encoder_channels=8, encoder_blocks=2, d_model=16, depth=2, heads=2, mlp_ratio=2, max_ways=6,
                       attention="relu")
    float_model = build_model(fcfg, (1, 16, 16))
    quant = quant_model(depth=2, heads=2, seed=1)
    quant.calibrate([args_of(episodes(seed=1))])
    g = torch.Generator().manual_seed(0)
    pool = ClassPool(torch.randint(0, 256, (8, 6, 1, 16, 16), dtype=torch.uint8, generator=g), list("abcdefgh"))
    cfg = Config()
    cfg.override(["eval.queries=2"])
    tables = [[(r.variant, r.episodes, r.accuracy, r.ci95, r.note)
               for r in compare(float_model, quant, cfg, pool, "3w1s", 30, 0, progress=lambda _: None, workers=w)]
              for w in (1, 2)]
    assert tables[0] == tables[1] and len(tables[0]) == 4
    assert "logits identical to Quant in all 30 episodes" in tables[0][2][4]
