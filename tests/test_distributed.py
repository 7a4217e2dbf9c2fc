"""Data-parallel training under torchrun (two CPU processes, gloo) equals one process on the same
global batch."""

import gc
import json
import os
import subprocess
import sys
import weakref

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from hebbformer import checkpoint
from hebbformer.cli import main
from hebbformer.distributed import shard, teardown
from hebbformer.errors import ConfigError
from test_cli import TINY

# validating every step logs every step's loss
DDP = [*TINY, "train.steps=4", "train.batch_size=4", "train.checkpoint_every=4", "train.val_every=1",
       "train.threads=1"]


def losses(run):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3, 4]
    return [m["loss"] for m in lines]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["train.augment=true"], ["model.method=protonet"]])
def test_two_processes_match_one(tmp_path, extra):
    single, double = tmp_path / "one", tmp_path / "two"
    assert main(["train", "--quiet", "--out", str(single), *DDP, *extra]) == 0
    # faulthandler: should a process abort, its Python stack is in the message below
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "hebbformer.cli", "train", "--quiet", "--out", str(double), *DDP, *extra],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-3000:]
    # equal to rounding: the global batch-norm statistics are summed in another order
    torch.testing.assert_close(losses(double), losses(single), rtol=1e-4, atol=1e-6)
    # Adam moves a weight whose gradient is at rounding level by up to lr (1e-3) a step, whatever
    # the sign of that noise: the weights agree to a few steps' worth, the losses above to 1e-4.
    a, b = checkpoint.load(single)["model"], checkpoint.load(double)["model"]
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=5e-3, msg=k)


def test_global_batch_must_split_evenly():
    assert shard(8, 2, 1) == slice(4, 8) and shard(8, 1, 0) == slice(None)
    with pytest.raises(ConfigError, match="train.batch_size=5 does not split evenly over 2 processes"):
        shard(5, 2, 0)


def test_teardown_frees_the_ddp_wrapper_before_the_group(monkeypatch):
    """A DDP wrapper held only by a reference cycle (DDP itself sits in one, in some processes: not
    in every pytest worker, so the test makes its own) is collected by teardown while its process
    group still exists, not at some later collection or at interpreter exit."""
    destroy, freed_first = dist.destroy_process_group, []

    def destroy_checked(*args):
        freed_first.append(alive() is None)
        destroy(*args)

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    was_enabled = gc.isenabled()
    gc.disable()  # no collection but teardown's own
    try:
        net = DistributedDataParallel(torch.nn.Linear(3, 2))
        net(torch.ones(1, 3)).sum().backward()
        alive = weakref.ref(net)
        cycle = [net]
        cycle.append(cycle)
        del net, cycle
        assert alive() is not None  # only a collection frees it
        monkeypatch.setattr(dist, "destroy_process_group", destroy_checked)
        teardown()
        assert freed_first == [True] and not dist.is_initialized()
    finally:
        if was_enabled:
            gc.enable()
        teardown()
