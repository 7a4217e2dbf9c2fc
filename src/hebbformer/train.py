"""Episodic meta-training, in the spirit of nanoGPT's train.py: one plain loop.

AdamW with linear warm-up and cosine decay, gradient clipping, a progress bar with live loss and
accuracy, metrics as JSON lines, periodic validation, and atomic checkpoints that hold the weights,
the optimiser and the full config. Every batch of episodes is drawn from a generator seeded by
(seed, step), so ``resume`` continues a killed run exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint, distributed
from .atomic import write_text
from .baselines import prototype_logits
from .config import Config, check_device
from .data import (
    Episodes,
    Pools,
    build_pools,
    check_fits,
    episode_generator,
    sample_episodes,
    trains_on_evaluation_alphabets,
)
from .data.augment import random_affine
from .errors import CheckpointError, ConfigError, TrainingError
from .evaluate import episode_accuracies
from .families import build_model
from .machine import describe, keep_freed_memory, resolve_precision
from .runlock import RunLock

VAL_SEED = 987_654  # validation episodes are the same at every validation


def lr_at(step: int, cfg) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(cfg.steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, cfg) -> torch.optim.AdamW:
    """Weight decay on weight matrices and conv kernels only, not on norms, biases or embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "label_embed" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)


def set_threads(cfg: Config) -> None:
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)


def training_batch(pool, cfg: Config, step: int, part: slice = slice(None)):
    """The batch of episodes that ``step`` stands for, on the training device and augmented if
    asked: (support images, query images, episodes). ``part``: this process's share of it under
    torchrun; the whole batch is drawn (and augmented) all the same, so the shares of all
    processes together are exactly the single-process batch."""
    t, e = cfg.train, cfg.episode
    g = episode_generator(t.seed, step)
    ep = sample_episodes(pool, e.ways, e.shots, e.queries, t.batch_size, g, cfg.model.max_ways, e.same_alphabet)
    support, query = ep.support.to(t.device), ep.query.to(t.device)
    if t.augment:
        support, query = random_affine(support, g), random_affine(query, g)
    if part != slice(None):
        ep = Episodes(*(x[part] for x in (ep.support, ep.support_labels, ep.query, ep.query_labels, ep.classes,
                                          ep.label_ids)))
    return support[part], query[part], ep


class EncoderTap:
    """Keeps the image encoder's latest output: the features of train.aux_protonet's loss."""

    def __init__(self, encoder: torch.nn.Module):
        self.features = None
        encoder.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.features = output


def training_step(model, opt, pool, cfg: Config, step: int, lr: float, part: slice = slice(None),
                  tap: EncoderTap | None = None):
    """One optimiser step on the batch of episodes that ``step`` stands for (this process's
    ``part`` of it under torchrun). ``tap``: the encoder's, when train.aux_protonet adds its loss.
    Returns (the model's loss, logits, target, gradient norm before clipping)."""
    t = cfg.train
    for group in opt.param_groups:
        group["lr"] = lr
    support, query, ep = training_batch(pool, cfg, step, part)
    support_labels, label_ids = ep.support_labels.to(t.device), ep.label_ids.to(t.device)
    with autocast(t):
        logits = model(support, support_labels, query, label_ids)
    target = ep.query_labels.to(t.device)
    loss = F.cross_entropy(logits.float().flatten(0, 1), target.flatten())
    total = loss
    if tap is not None:
        features = tap.features.float().view(support.shape[0], support.shape[1] + query.shape[1], -1)
        aux = prototype_logits(features, support_labels, label_ids)
        total = loss + t.aux_protonet * F.cross_entropy(aux.flatten(0, 1), target.flatten())
    grad_norm = optimiser_step(model, opt, total, step, t.grad_clip)
    return loss, logits, target, grad_norm


def optimiser_step(model, opt, loss: torch.Tensor, step: int, grad_clip: float) -> torch.Tensor:
    """Backward, the gradient clipped to norm ``grad_clip``, one optimiser step (at the learning
    rate already set): the step of every training in hebbformer, meta-training's and the
    fast-weight study's. Returns the gradient norm before clipping."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    # before the step, so the weights stay good; the gradient norm is of the all-reduced gradients,
    # the same on every process under torchrun, so all of them stop together (a NaN loss makes it NaN)
    if not torch.isfinite(grad_norm):
        raise TrainingError(f"step {step}: the loss ({loss.item():.4g}) or gradient norm ({grad_norm.item():.4g}) "
                            "is not finite; training stopped, the last checkpoint is kept. A resume would meet "
                            "the same step again: start a new run (train.init_from the checkpoint) with a lower "
                            "train.lr, or check the data")
    opt.step()
    return grad_norm


def autocast(t):
    """The training step's mixed precision (train.precision)."""
    device_type = torch.device(t.device).type
    enabled = resolve_precision(t.precision, t.device) == "bf16"  # "auto" too, for callers outside train()
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled)


def init_weights(model, source: str) -> None:
    """Start from another run's weights. The state may lack only the buffers this model adds
    (a Float run starting a Quant one); anything else that does not fit is an error."""
    state = checkpoint.float_weights(checkpoint.load(source), source, "train.init_from")
    own = model.state_dict()
    unknown = [k for k in state if k not in own]
    missing = [k for k in own if k not in state and k != "exponents"]
    misfit = [k for k in state if k in own and state[k].shape != own[k].shape]
    if unknown or missing or misfit:
        raise CheckpointError(f"train.init_from={source}: its model does not fit this config "
                              f"(unknown {unknown[:3]}, missing {missing[:3]}, other shapes {misfit[:3]})")
    model.load_state_dict(state, strict=False)


def init_encoder(model, source: str, setting: str = "train.init_encoder_from") -> None:
    """Start the image encoder from another run's, whatever method trained it."""
    state = checkpoint.float_weights(checkpoint.load(source), source, setting)
    encoder = {k.split("encoder.", 1)[1]: v for k, v in state.items() if "encoder." in k}
    try:
        model.encoder.load_state_dict(encoder)
    except RuntimeError as err:
        raise CheckpointError(f"{setting}={source}: its encoder does not fit this config "
                              f"({str(err).splitlines()[0]})") from None


def saw_evaluation_alphabets(state: dict) -> bool:
    """Whether a checkpoint's model, or any model it started from, saw images_evaluation's
    alphabets in training or model selection (then all_runs is no test of it)."""
    if state.get("saw_evaluation_alphabets") is not None:
        return bool(state["saw_evaluation_alphabets"])
    return trains_on_evaluation_alphabets(Config.from_dict(state["config"]).data)  # checkpoints before the flag


def lineage_saw_evaluation(cfg: Config) -> bool:
    """This run's own data, or that of a run whose weights start it (train.init_from,
    train.init_encoder_from); under Lake's protocol such a start is refused, since it would carry
    images_evaluation into the model by the back door."""
    saw = cfg.data.name == "omniglot" and trains_on_evaluation_alphabets(cfg.data)
    for key in ("init_from", "init_encoder_from"):
        source = getattr(cfg.train, key)
        if source and saw_evaluation_alphabets(checkpoint.load(source)):
            if cfg.data.split == "lake":
                raise ConfigError(f"data.split='lake': train.{key}={source} was trained on alphabets of "
                                  "images_evaluation, which Lake's protocol keeps out of training")
            saw = True
    return saw


def freeze(module: torch.nn.Module) -> None:
    """No gradient for its weights, and batch norm's running statistics left as they are
    (momentum 0); in training mode batch norm still normalises with the batch's statistics,
    as it did when the module was trained."""
    module.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.0


def calibration_batches(pool, cfg: Config, n: int = 4):
    """A few un-augmented training batches that no training step draws (negative indices)."""
    device = cfg.train.device
    for i in range(n):
        ep = sample_episodes(pool, cfg.episode.ways, cfg.episode.shots, cfg.episode.queries, cfg.train.batch_size,
                             episode_generator(cfg.train.seed, -1 - i), cfg.model.max_ways)
        yield ep.support.to(device), ep.support_labels.to(device), ep.query.to(device), ep.label_ids.to(device)


def val_queries(pool, cfg: Config) -> int:
    return min(cfg.episode.queries, pool.n_drawings - cfg.episode.shots)


RUN_FILES = ("config.json", "metrics.jsonl", "machines.jsonl")  # what a run writes before its first checkpoint


def prepare_process(cfg: Config) -> None:
    """What training needs of this process, checked and set before anything is written, so that a
    command can call it ahead of making its run folder: the device exists (a bad one stops here,
    with no folder left behind), torchrun's ``$WORLD_SIZE`` makes sense, and freed memory is kept
    (``machine.keep_freed_memory``: every step's buffers reused, not faulted in afresh; a bad
    ``$HEBBFORMER_MALLOC`` stops here too)."""
    check_device(cfg.train.device)
    distributed.world_size()
    keep_freed_memory()


def train(cfg: Config, resume: bool = False, progress: bool = True, pools: Pools | None = None,
          stop_after: int | None = None) -> dict:
    """Meta-train per ``cfg``; returns the last metrics. ``stop_after`` ends the loop early after
    that many steps of this call, as a kill would (the tests use it). Under ``torchrun`` the
    processes share each step's batch (hebbformer.distributed); process 0 alone validates, logs
    and writes checkpoints."""
    prepare_process(cfg)
    rank, size = distributed.setup(cfg.train.device)
    try:
        last = _train(cfg, resume, progress, pools, stop_after, rank, size)
        # all processes leave together: a gloo process that destroyed its group while process 0
        # was still saving the last checkpoint was seen to abort (rarely) at exit
        distributed.barrier()
        return last
    except BaseException as err:
        if size > 1:  # the traceback holds _train's frames, and in them the DDP wrapper: let teardown free it
            traceback.clear_frames(err.__traceback__)
        raise
    finally:
        distributed.teardown()


def _check_run_folder(out: Path, resume: bool) -> None:
    """The run folder as this training needs it, checked before any work: a checkpoint to resume,
    or none to overwrite, nor the files a run writes before its first checkpoint (a run stopped
    before it, or files of something else: never overwritten)."""
    ckpt_path = out / "checkpoint.pt"
    if resume:
        if not ckpt_path.is_file():
            raise CheckpointError(f"cannot resume: {ckpt_path} does not exist")
    elif ckpt_path.exists():
        raise CheckpointError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    elif stale := [name for name in RUN_FILES if (out / name).exists()]:
        raise CheckpointError(f"{out} holds {', '.join(stale)} but no checkpoint.pt (a run stopped before its first "
                              "checkpoint, or files of something else); training would overwrite them: remove them "
                              "or choose another --out")


def _train(cfg, resume, progress, pools, stop_after, rank, size) -> dict:
    # one writer per run folder: a second training into it stops at once, naming the first
    with RunLock(Path(cfg.out_dir)) if rank == 0 else contextlib.nullcontext():
        return _train_locked(cfg, resume, progress, pools, stop_after, rank, size)


def _train_locked(cfg, resume, progress, pools, stop_after, rank, size) -> dict:
    out = Path(cfg.out_dir)
    ckpt_path = out / "checkpoint.pt"
    t, e = cfg.train, cfg.episode
    main = rank == 0
    _check_run_folder(out, resume)
    part = distributed.shard(t.batch_size, size, rank)
    set_threads(cfg)
    if t.tensorboard and main:
        tensorboard_writer(None)  # installed? Before any work, not after the first steps
    # "auto" is resolved once, when the run starts (MAML: always fp32, see config.validate), and the
    # run's config keeps what it became: a resume elsewhere keeps the run's precision, not that
    # machine's preference (bit-exact only where that precision computes the same, e.g. fp32 CPUs).
    t.precision = "fp32" if cfg.model.method == "maml" else resolve_precision(t.precision, t.device)
    pools = pools or build_pools(cfg.data, ("train", "val"))
    check_fits(pools.train, e.ways, e.shots, e.queries, "meta-train")
    if pools.val is not None:
        check_fits(pools.val, e.ways, e.shots, 1, "validation")

    saw = None if resume else lineage_saw_evaluation(cfg)  # refuses a Lake run started from a leak

    torch.manual_seed(t.seed)
    model = build_model(cfg.model, pools.train.image_shape).to(t.device)
    opt = make_optimizer(model, t)
    start = 0
    if resume:
        state = checkpoint.load(ckpt_path)
        saw = saw_evaluation_alphabets(state)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = state["step"]
    else:
        if t.init_from:
            init_weights(model, t.init_from)
        if t.init_encoder_from:
            init_encoder(model, t.init_encoder_from)
        if hasattr(model, "calibrate"):  # the Quant variant: fix its activation grids first
            model.calibrate(calibration_batches(pools.train, cfg))
    if t.freeze_encoder:
        freeze(model.encoder)
    tap = EncoderTap(model.encoder) if t.aux_protonet else None
    net = distributed.wrap(model, size)  # the model itself, or its DDP wrapper under torchrun
    if t.compile:
        net = torch.compile(net)  # the training step only; validation and checkpoints use the model itself
    metrics_path = out / "metrics.jsonl"
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        _truncate_metrics(metrics_path, start)
        with open(out / "machines.jsonl", "a" if resume else "w") as f:  # every (re)start, and where it ran
            f.write(json.dumps({"from_step": start, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                "precision": t.precision, **describe(t.device)}) + "\n")

    def save(step):
        checkpoint.save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                                "config": cfg.to_dict(), "elapsed_s": elapsed(), "saw_evaluation_alphabets": saw},
                               ckpt_path)

    # wall-clock seconds of training over all of the run's (re)starts, validation included
    elapsed_before = state.get("elapsed_s", 0.0) if resume else 0.0
    started = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    model.train()
    last = {"step": start}
    # a bar on a terminal; in a file or a pipe, where its redraws are noise, a plain line now and then
    on_terminal = sys.stderr.isatty()
    bar = tqdm(range(start, t.steps), initial=start, total=t.steps, disable=not (progress and main and on_terminal),
               desc="meta-train", dynamic_ncols=True)
    plain_every = max(t.steps // 50, 10)
    ema_loss = ema_acc = None
    tic, episodes_done = time.perf_counter(), 0
    board = tensorboard_writer(out) if main and t.tensorboard else None
    with open(metrics_path, "a") if main else contextlib.nullcontext() as log:
        for step in bar:
            if stop_after is not None and step - start >= stop_after:
                break
            lr = lr_at(step, t)
            # the model's own randomness in training (dropout, feature rotations) is a function of
            # (seed, rank, step) too, so that a resumed run draws what the killed one would have
            torch.manual_seed(hash((t.seed, rank, step)))
            loss, logits, target, grad_norm = training_step(net, opt, pools.train, cfg, step, lr, part, tap)
            acc = distributed.global_mean((logits.argmax(-1) == target).float().mean()).item()
            loss_v = distributed.global_mean(loss).item()  # over the whole batch, as one process sees it
            ema_loss = loss_v if ema_loss is None else 0.95 * ema_loss + 0.05 * loss_v
            ema_acc = acc if ema_acc is None else 0.95 * ema_acc + 0.05 * acc
            episodes_done += t.batch_size
            bar.set_postfix(loss=f"{ema_loss:.3f}", acc=f"{100 * ema_acc:.1f}%", lr=f"{lr:.1e}")
            if progress and main and not on_terminal and ((step + 1) % plain_every == 0 or step + 1 == t.steps):
                print(f"step {step + 1}/{t.steps}  loss {ema_loss:.3f}  acc {100 * ema_acc:.1f}%  lr {lr:.1e}  "
                      f"{elapsed():.0f} s", flush=True)
            last = {"step": step + 1, "loss": loss_v, "acc": acc, "lr": lr, "grad_norm": grad_norm.item()}
            if not main:
                continue

            done = step + 1 == t.steps
            if pools.val is not None and ((step + 1) % t.val_every == 0 or done):
                accs = episode_accuracies(model, pools.val, e.ways, e.shots, val_queries(pools.val, cfg),
                                          t.val_episodes, VAL_SEED, device=t.device)
                last["val_acc"] = accs.mean().item()
                bar.write(f"step {step + 1}: val {e.ways}-way {e.shots}-shot accuracy {100 * last['val_acc']:.2f}%")
            if (step + 1) % 10 == 0 or done or "val_acc" in last:
                last["episodes_per_s"] = episodes_done / (time.perf_counter() - tic)
                last["elapsed_s"] = round(elapsed(), 1)
                log.write(json.dumps(last) + "\n")
                log.flush()
                if board is not None:
                    for key, value in last.items():
                        if key != "step":
                            board.add_scalar(key, value, last["step"])
            if (step + 1) % t.checkpoint_every == 0 or done:
                save(step + 1)
    bar.close()
    if board is not None:
        board.close()
    return last


def tensorboard_writer(out: Path | None):
    """A SummaryWriter into out/tensorboard (None: only check that tensorboard is installed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.tensorboard=true needs the tensorboard package: pip install -e '.[tensorboard]'") from None
    return None if out is None else SummaryWriter(log_dir=str(out / "tensorboard"))


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines a killed run wrote after its last checkpoint (they will be written again),
    and a last line that a kill tore in half."""
    if not path.exists():
        return
    keep = [m for m in map(read_metric, path.read_text().splitlines()) if m is not None and m.get("step", 0) <= step]
    write_text(path, "".join(json.dumps(m) + "\n" for m in keep))


def read_metric(line: str) -> dict | None:
    """One line of metrics.jsonl, or None for a blank or torn one."""
    try:
        m = json.loads(line)
    except json.JSONDecodeError:
        return None
    return m if isinstance(m, dict) else None
