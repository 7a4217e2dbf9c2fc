"""Evaluation: in-context accuracy with 95% confidence intervals, and Lake's 20-way benchmark."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import torch

from .config import parse_setting
from .data import ClassPool, Episodes, episode_generator, sample_episodes
from .data.omniglot import OneShotRun
from .errors import ConfigError
from .stats import mean_ci95


@dataclass
class Result:
    setting: str
    accuracy: float | None  # mean over episodes, in [0, 1]
    ci95: float | None  # half-width of the 95% confidence interval
    episodes: int
    queries: int  # per class
    note: str = ""


def episode_batches(pool: ClassPool, ways: int, shots: int, queries: int, episodes: int, seed: int,
                    max_ways: int, batch: int = 25):
    """The test episodes of a setting, ``batch`` at a time; the same seed gives the same episodes."""
    for i, start in enumerate(range(0, episodes, batch)):
        yield sample_episodes(pool, ways, shots, queries, min(batch, episodes - start), episode_generator(seed, i), max_ways)


def first_episodes(batches: list[Episodes], n: int) -> list[Episodes]:
    """The first n episodes of a list of batches, as batches (a run on fewer episodes, lava's say,
    scores the very episodes the others begin with)."""
    out = []
    for ep in batches:
        if n <= 0:
            break
        out.append(ep if len(ep.support) <= n else
                   Episodes(**{f.name: getattr(ep, f.name)[:n] for f in dataclasses.fields(ep)}))
        n -= len(out[-1].support)
    return out


# The model and batches of a worker process: inherited from the parent by fork, never pickled.
_forked: tuple = ()


def _start_worker(model, batches) -> None:
    global _forked
    _forked = (model, batches)
    # One thread per process: the processes are the parallelism. It is also what keeps the worker
    # alive: a forked child that starts torch's OpenMP threads, after the parent has used them,
    # waits forever on the parent's pool (GNU OpenMP is not fork-safe; seen here with 2 threads).
    torch.set_num_threads(1)


@torch.no_grad()
def _forward(model, ep: Episodes) -> torch.Tensor:
    return model(ep.support, ep.support_labels, ep.query, ep.label_ids)


def _forward_batch(i: int):
    model, batches = _forked
    # as numpy: a tensor would travel through torch's shared-memory reductions (a file
    # descriptor per tensor); a plain array is pickled as its bytes
    return _forward(model, batches[i]).numpy()


def check_workers(workers: int, name: str = "workers") -> None:
    """Refuse a number of worker processes that ``forward_batches`` cannot run: below 1, or above 1
    off Linux (the workers are forked from a process with torch's and numba's threads, which only
    Linux's fork is known to survive; macOS's is not fork-safe with threads)."""
    if workers < 1:
        raise ConfigError(f"{name} must be at least 1, got {workers}")
    if workers > 1 and not sys.platform.startswith("linux"):
        raise ConfigError(f"{name} above 1 needs Linux (the worker processes are forked); this is {sys.platform}, use 1")


def forward_batches(model, batches: list[Episodes], workers: int = 1) -> torch.Tensor:
    """The logits of ``model(support, support_labels, query, label_ids)`` on every batch, in the
    batches' order, concatenated, computed by ``workers`` processes (1: this one, no pool).

    Episodes are independent and every back-end's logits depend on its batch alone (the Loihi
    networks' random numbers are seeded per call), so the logits are the same whatever the
    workers; what changes is only who computes them. The workers are forked from this process
    (Linux), so the model, the episodes and every numba kernel already compiled or loaded here are
    theirs without being pickled or loaded again; each runs one torch thread and takes the next
    batch when it is done with one (a queue: a slower core takes fewer). An exception in a worker
    is raised here (its traceback attached as the cause); a worker that dies raises RuntimeError.
    Off Linux ``workers`` above 1 is refused (``check_workers``)."""
    check_workers(workers)
    workers = min(workers, len(batches))
    if workers <= 1:
        return torch.cat([_forward(model, ep) for ep in batches])
    # One episode here first: it loads (or compiles) the back-end's numba kernels in this process,
    # which the workers then inherit, instead of each worker loading them from numba's disk cache
    # again (about 0.5 s a worker for the Loihi back-end, for every call).
    _forward(model, first_episodes(batches[:1], 1)[0])
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), initializer=_start_worker,
                               initargs=(model, batches))
    try:
        futures = [pool.submit(_forward_batch, i) for i in range(len(batches))]
        logits = torch.cat([torch.from_numpy(f.result()) for f in futures])
    except BrokenProcessPool as err:
        raise RuntimeError(f"a worker process died while running episode batches ({err}): killed, "
                           "out of memory, or it failed to start") from err
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure: the batches not yet started are dropped
    return logits


@torch.no_grad()
def episode_accuracies(model, pool: ClassPool, ways: int, shots: int, queries: int, episodes: int,
                       seed: int, batch: int = 25, device: str = "cpu") -> torch.Tensor:
    """Accuracy of each of ``episodes`` test episodes."""
    was_training = model.training
    model.eval()
    accs = []
    for ep in episode_batches(pool, ways, shots, queries, episodes, seed, model.cfg.max_ways, batch):
        logits = model(ep.support.to(device), ep.support_labels.to(device), ep.query.to(device),
                       ep.label_ids.to(device))
        accs.append((logits.argmax(-1).cpu() == ep.query_labels).float().mean(1))
    model.train(was_training)
    return torch.cat(accs)


def evaluate_settings(model, pool: ClassPool, settings: list[str], episodes: int, queries: int,
                      seed: int, device: str = "cpu", progress=None) -> list[Result]:
    results = []
    for setting in settings:
        ways, shots = parse_setting(setting)
        q = min(queries, pool.n_drawings - shots)
        if ways > pool.n_classes or q < 1:
            why = (f"test pool has {pool.n_classes} classes" if ways > pool.n_classes
                   else f"test pool has {pool.n_drawings} drawings per class")
            results.append(Result(setting, None, None, 0, 0, f"skipped: {why}"))
            continue
        accs = episode_accuracies(model, pool, ways, shots, q, episodes, seed, device=device)
        mean, ci = mean_ci95(accs)
        results.append(Result(setting, mean, ci, episodes, q))
        if progress:
            progress(results[-1])
    return results


@torch.no_grad()
def all_runs_errors(model, runs: list[OneShotRun], seed: int, device: str = "cpu") -> list[float]:
    """Error rate of each of Lake's runs: the 20 training images are the context (one per class,
    label tokens assigned at random), the 20 test images the queries."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    errors = []
    for run in runs:
        n = run.train.shape[0]
        label_ids = torch.randperm(model.cfg.max_ways, generator=g)[:n]  # token of training image c
        order = torch.randperm(n, generator=g)
        logits = model(run.train[order][None].to(device), label_ids[order][None].to(device),
                       run.test[None].to(device), label_ids[None].to(device))[0]
        wrong = logits.argmax(-1).cpu() != run.answers
        errors.append(wrong.float().mean().item())
    model.train(was_training)
    return errors


def format_results(results: list[Result], title: str) -> str:
    lines = [title, f"{'setting':<10}{'accuracy':>10}{'95% CI':>10}{'episodes':>10}{'queries':>9}",
             "-" * 49]
    for r in results:
        if r.accuracy is None:
            lines.append(f"{r.setting:<10}{'—':>10}{'':>10}{'':>10}{'':>9}  {r.note}")
        else:
            lines.append(f"{r.setting:<10}{100 * r.accuracy:>9.2f}%{'±' + format(100 * r.ci95, '.2f'):>10}"
                         f"{r.episodes:>10}{r.queries:>9}")
    return "\n".join(lines)


def format_all_runs(errors: list[float]) -> str:
    runs = ", ".join(f"run{i + 1:02d} {100 * e:.0f}%" for i, e in enumerate(errors))
    return (f"Lake's 20-way one-shot benchmark (all_runs): error {100 * sum(errors) / len(errors):.2f}% "
            f"over {len(errors)} runs\n  per run: {runs}")
