"""Data-parallel meta-training under ``torchrun``: DistributedDataParallel, gloo on CPUs, NCCL on GPUs.

Each process draws the whole global batch of a step from the step's seed and keeps its own slice,
so the episodes are those of a single-process run. Batch norm normalises over the global batch
(:class:`GlobalBatchNorm2d`), so each process computes exactly what one process would on the
whole batch, and DDP's gradient average then equals the single-process gradient: the two runs
agree to rounding (``tests/test_distributed.py``). torch's own SyncBatchNorm does the same but
only on GPUs.
"""

from __future__ import annotations

import gc
import os

import torch
import torch.distributed as dist
from torch import nn

from .errors import ConfigError


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def world_size() -> int:
    """``$WORLD_SIZE`` as torchrun sets it (1 without it), checked: a value that is not a whole
    number, or a world without the ``$RANK`` torchrun gives each process, is named here rather
    than by torch's process group."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"$WORLD_SIZE={text!r} is not a number of processes (torchrun sets it; unset it to train "
                          "in one process)")
    if size > 1 and "RANK" not in os.environ:
        raise ConfigError(f"$WORLD_SIZE={size} without $RANK: start data-parallel training with torchrun, or unset "
                          "$WORLD_SIZE")
    return size


def setup(device: str) -> tuple[int, int]:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); returns (rank, world
    size). On GPUs each process takes the GPU of its local rank as its "cuda" device."""
    size = world_size()
    if size == 1:
        return 0, 1
    if device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), size


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def teardown() -> None:
    """Leave the process group. DistributedDataParallel can sit in a reference cycle (it does in a
    plain process with torch 2.13): without the collection first, its reducer, which holds the
    group, would be freed at some later collection or during interpreter exit, after the group is
    gone. (A gloo process was seen to abort at exit, rarely, under load; this is the one way found
    for the group to outlive teardown, not a confirmed cause: the abort did not recur in 62 runs
    before the change either.)"""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def wrap(model: nn.Module, size: int) -> nn.Module:
    """The model in DistributedDataParallel when there is more than one process."""
    if size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)


def shard(batch_size: int, size: int, rank: int) -> slice:
    """This process's episodes of the global batch."""
    if size == 1:
        return slice(None)
    if batch_size % size:
        raise ConfigError(f"train.batch_size={batch_size} does not split evenly over {size} processes")
    per = batch_size // size
    return slice(rank * per, (rank + 1) * per)


def global_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over all processes (for logging the global loss)."""
    _, size = world()
    if size == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / size


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batch of every process (differentiably,
    through ``torch.distributed.nn``); plain BatchNorm2d in a single process and at test time.
    The state dict is BatchNorm2d's."""

    def forward(self, x):
        _, size = world()
        if not self.training or size == 1:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        count = x.new_tensor([x.numel() / x.shape[1]])
        stats = all_reduce(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean  # biased, as batch norm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), self.momentum)
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)
