"""The fast-weight study: every module on every task over several seeds, at one parameter budget.

With a tuning grid (``tune_lrs`` x ``tune_write_rates``), each (task, module) first trains
``tune_seeds`` seeds at every point of the grid and scores them on validation sequences; the
point with the best validation score is the module's, and the final seeds train there. Every
module gets the same number of grid points: one without a write (static, lstm, attention) gets
as many learning rates instead, spread over the same range, so none is tuned more than another.

Each (task, module, seed) run trains a :class:`~hebbformer.models.sequence.SequenceModel` whose
token mixer is that module, with a width chosen so that its parameters (the image encoder, shared
by all, aside) come closest to the budget; then scores it at every level of the task (delay,
pairs, shots) on sequences it never saw. A run's result is written atomically to
``OUT/runs/TASK__MODULE__sSEED.json`` and a rerun skips finished runs, so a killed study resumes;
a run in training saves its state every few minutes beside it (``TASK__MODULE__sSEED.partial.pt``),
so a killed run resumes where it stopped, to the result it would have had.
:func:`summarise` turns the results into ``results.csv``, ``summary.md`` and figures.

Every file the study writes (``study.json``, the run results, the table and the figures) goes to
a temporary file in the same folder, is fsynced and then renamed over the old one, so a kill or a
power cut leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import checkpoint
from ..atomic import write_bytes
from ..config import DataConfig, TrainConfig
from ..errors import ConfigError, DataError, RunInUseError
from ..machine import git_commit, keep_freed_memory, provenance
from ..models.encoder import ConvEncoder
from ..models.sequence import MODULES, SequenceModel
from ..plasticity.fast_weights import HEBBIAN_ABLATION, MATCHED_SIZED, MATCHED_TIED, MATCHED_UNDO
from ..plasticity.plastic_layers import UNTRAINED_PLASTIC_LAYERS, WRITE_OFF_LAYERS
from ..runlock import RunLock
from ..stats import mean_ci_seeds, proportion_ci95
from ..tasks import TASKS, Batch, Task, build_task
from ..train import init_encoder, lr_at, optimiser_step

# The default modules: all but the Hebbian ablation, the tied matched mixers, the claims' source's
# untrained rules and the plastic layers with the write off, asked for by name (hebbian+keys, ...,
# matched_hebbian+tied, matched_hebbian+tied+A_ones+keep, chaudhary_hebbian, plastic_off).
_BY_NAME_ONLY = (HEBBIAN_ABLATION.keys() | MATCHED_TIED.keys() | MATCHED_UNDO.keys() | MATCHED_SIZED.keys()
                 | UNTRAINED_PLASTIC_LAYERS.keys() | WRITE_OFF_LAYERS.keys())
DEFAULT_MODULES = tuple(m for m in MODULES if m not in _BY_NAME_ONLY)


@dataclass
class StudyConfig:
    modules: list[str] = field(default_factory=lambda: list(DEFAULT_MODULES))
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    seeds: int = 3
    steps: int = 1000
    # The learning-rate schedule's length (a linear warm-up, then cosine decay to its end); 0: the
    # run's steps. Longer than the run, the run is the first ``steps`` of one that long, step for step:
    # it tells what a longer run's schedule does from what its later steps do.
    schedule_steps: int = 0
    warmup_steps: int | None = None  # the warm-up's length; None: a twentieth of the schedule
    batch_size: int = 32
    lr: float = 2e-3
    budget: int = 25_000  # parameters per model, the few-shot image encoder excepted
    depth: int = 2
    heads: int = 4
    eval_batches: int = 8  # of batch_size sequences per level
    beside_attention: bool = False  # each block keeps causal softmax attention, the module beside it
    data: DataConfig | None = None  # the few-shot data set; None: generated glyphs
    # The tuning grid; empty: no tuning, every module at lr and write rate 1 (see the module docstring).
    tune_lrs: list[float] = field(default_factory=list)
    tune_write_rates: list[float] = field(default_factory=list)  # multipliers of each module's write
    tune_seeds: int = 2
    # The image tasks' encoder (its parameters are outside the budget): a Conv-4.
    encoder_channels: int = 32
    encoder_blocks: int = 4
    # A checkpoint (a run or a shipped model) whose encoder starts every image task's, trained on from
    # there; empty: a random start. The plateau of end-to-end training is the encoder's and the
    # mixer's at once (neither learns while the other is random); a trained start separates them.
    encoder_from: str = ""
    # Another study's folder whose tuning winners (tuning.json, per task and module) the runs take
    # instead of a grid of their own: Duan et al.'s one network per delay (reproduction_delay@60)
    # trained at the point tuned once on the task over all delays (see borrowed_tuning).
    tuning_from: str = ""
    # The modules' token loops compiled (``compile_token_steps``): faster, with other rounding.
    compile: bool = False

    @property
    def schedule_span(self) -> int:
        """The learning-rate schedule's length in steps."""
        return self.schedule_steps or self.steps

    def lr_schedule(self, lr: float) -> TrainConfig:
        """Meta-training's schedule for a run at ``lr``: warm-up, then cosine decay over the span."""
        span = self.schedule_span
        warmup = span // 20 if self.warmup_steps is None else self.warmup_steps
        return TrainConfig(steps=span, lr=lr, warmup_steps=warmup)

    def validate(self) -> "StudyConfig":
        for m in self.modules:
            if m not in MODULES:
                raise ConfigError(f"unknown module {m!r}; known: {', '.join(MODULES)}")
        for t in self.tasks:
            if t.partition("@")[0] not in TASKS:  # a level is checked when the task is built (run_study)
                raise ConfigError(f"unknown task {t!r}; known: {', '.join(TASKS)} (NAME@LEVEL: at one level)")
        for name in ("seeds", "steps", "batch_size", "budget", "depth", "heads", "eval_batches", "tune_seeds",
                     "encoder_channels", "encoder_blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"study {name} must be at least 1, got {getattr(self, name)}")
        if self.schedule_steps and self.schedule_steps < self.steps:
            raise ConfigError(f"study schedule_steps must be 0 (the run's steps) or at least steps ({self.steps}), "
                              f"got {self.schedule_steps}")
        if self.warmup_steps is not None and not 0 <= self.warmup_steps < self.schedule_span:
            raise ConfigError(f"study warmup_steps must lie in 0..{self.schedule_span - 1} (within the schedule of "
                              f"{self.schedule_span} steps), got {self.warmup_steps}")
        for lr in [self.lr, *self.tune_lrs]:
            if not (math.isfinite(lr) and lr > 0):
                raise ConfigError(f"study learning rates must be positive and finite, got {lr}")
        for w in self.tune_write_rates:
            if not 0 < w < 5:  # eta = 0.2 sigmoid(m) * w must stay below 1 for the rules that forget by it
                raise ConfigError(f"study write rates must lie in (0, 5), got {w}")
        if bool(self.tune_lrs) != bool(self.tune_write_rates):
            raise ConfigError("a tuning grid needs both tune_lrs and tune_write_rates (or neither)")
        if self.tuning_from and self.tune_lrs:
            raise ConfigError("--tuning-from takes another study's winners: it cannot be given with a tuning grid")
        if self.tuning_from:
            self.borrowed_tuning()  # a missing or broken tuning.json, or a winner it lacks: refused before any write
        if self.encoder_from and not checkpoint.resolve(self.encoder_from).is_file():  # before the study writes
            raise ConfigError(f"--encoder-from {self.encoder_from}: no checkpoint there")
        if self.compile and shutil.which(cxx := cpp_compiler()) is None:  # else torch fails at the first step
            raise ConfigError(f"--compile needs a C++ compiler for torch.compile: {cxx} ($CXX, else g++) is not on PATH")
        if self.compile:
            check_compiler()
        return self

    def borrowed_tuning(self) -> dict[str, dict]:
        """tuning_from's winner for each task and module of this study ("TASK|MODULE" -> its
        tuning.json entry): the entry for the same task, else for the task without its level (one
        network per level at the point tuned over all levels), else, where that study trained the
        module at a single point (one point is no grid, so tuning.json has no entry; its runs of
        the task, or of the task without its level, show it did), that point."""
        path = Path(self.tuning_from) / "tuning.json"
        if not path.is_file():
            raise ConfigError(f"--tuning-from {self.tuning_from}: no tuning.json there (a study with a tuning grid)")
        tuning = read_json_dict(path, "a study's tuning", "--tuning-from: ")
        source = None
        if (path.parent / "study.json").is_file():
            saved = trained_settings(read_json_dict(path.parent / "study.json", "a study's settings", "--tuning-from: "))
            source = StudyConfig(**{k: saved[k] for k in ("lr", "tune_lrs", "tune_write_rates")})
        won, missing = {}, []
        for t in self.tasks:
            for m in self.modules:
                entry = tuning.get(f"{t}|{m}") or tuning.get(f"{t.partition('@')[0]}|{m}")
                if (entry is None and source is not None and m in MODULES and len(source.grid(m)) == 1
                        and any(next((path.parent / "runs").glob(f"{task}__{m}__s*.json"), None)
                                for task in (t, t.partition("@")[0]))):
                    (lr, w), = source.grid(m)
                    entry = {"task": t, "module": m, "lr": lr, "write_rate": w, "grid": []}
                if entry is None:
                    missing.append(f"{t}|{m}")
                else:
                    won[f"{t}|{m}"] = entry
        if missing:
            raise ConfigError(f"--tuning-from: {path} has no winner for {', '.join(missing)}; "
                              f"it has {', '.join(tuning) or 'none'}")
        return won

    def grid(self, kind: str) -> list[tuple[float, float]]:
        """The (lr, write rate) points a module is tuned over: the same number for every module."""
        if not self.tune_lrs:
            return [(self.lr, 1.0)]
        if writes(kind):
            return [(lr, w) for lr in self.tune_lrs for w in self.tune_write_rates]
        n, lo, hi = len(self.tune_lrs) * len(self.tune_write_rates), min(self.tune_lrs), max(self.tune_lrs)
        if n == 1:
            return [(lo, 1.0)]
        return sorted({(float(f"{lo * (hi / lo) ** (i / (n - 1)):.3g}"), 1.0) for i in range(n)})


def writes(kind: str) -> bool:
    """Whether a module has a plastic write whose rate the grid can scale."""
    return getattr(MODULES[kind], "write_rate", None) is not None


def image_encoder(task: Task, cfg: StudyConfig) -> ConvEncoder | None:
    shape = task.image_shape()
    return None if shape is None else ConvEncoder(shape[0], cfg.encoder_channels, cfg.encoder_blocks, shape[1])


def build(kind: str, task: Task, d_model: int, cfg: StudyConfig, write_rate: float = 1.0) -> SequenceModel:
    model = SequenceModel(kind, task.d_in, task.d_out, d_model, cfg.depth, cfg.heads,
                          encoder=image_encoder(task, cfg), beside_attention=cfg.beside_attention)
    if cfg.encoder_from and model.encoder is not None:
        init_encoder(model, cfg.encoder_from, "--encoder-from")
    for m in model.modules():
        if getattr(m, "write_rate", None) is not None:
            m.write_rate = write_rate
    return model


def cpp_compiler() -> str:
    """The C++ compiler torch.compile's inductor calls: $CXX, else g++ (clang++ on macOS)."""
    return os.environ.get("CXX", "clang++" if sys.platform == "darwin" else "g++")


@functools.cache  # once a process, where it builds
def check_compiler() -> None:
    """``--compile``: one small function through torch.compile with inductor's caches off, so that
    it builds C++: a compiler that is there but cannot build is named before the study writes
    anything, not in a traceback from inside torch at its first step (a few seconds)."""
    from torch._inductor import config as inductor  # imported only where a study compiles

    with inductor.patch(force_disable_caches=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch says which of its caches that turns off
        torch.compiler.reset()
        try:
            torch.compile(lambda x: (x.sin() + 1).relu())(torch.randn(4))
        except torch._dynamo.exc.BackendCompilerFailed as err:
            said = str(getattr(err, "inner_exception", None) or err).strip().splitlines()
            said = said[:1] + said[-3:] if len(said) > 4 else said  # the error and the compiler's last words
            raise ConfigError(f"--compile: torch.compile cannot build with the C++ compiler {cpp_compiler()} "
                              f"($CXX, else g++): {' / '.join(said)}") from None


def compile_token_steps(model: SequenceModel) -> None:
    """``--compile``: each module's token loop through ``torch.compile`` (inductor, which builds C++
    with the machine's compiler and keeps it in a disk cache for later runs), where the module has
    one (``compile_steps``: Duan et al.'s plastic layers, their matched rules and the gradient rule,
    whose writes run token by token in training, each a few elementwise passes over the fast
    weights and their backward, which it fuses; the matched Hebbian rule then trains by its loop
    too). A training step 1.8-2.35x faster on the 2-core AVX2 EPYC, the matched Hebbian rule's
    0.89-3.58x on an AVX512 one (faster on long sequences and wide models), one thread (``bench/study_step.py``), after up to a minute of
    compiling per shape. The same function with
    other rounding (tested), so a run trained so differs from one trained eagerly in its last
    bits, and where it sits at a bifurcation, in its outcome."""
    for m in model.modules():
        if hasattr(m, "compile_steps"):
            m.compile_steps()


def plastic_parameters(model: SequenceModel) -> int:
    """Parameters outside the image encoder: what the budget counts."""
    skip = {id(p) for p in model.encoder.parameters()} if model.encoder is not None else set()
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def width_for_budget(kind: str, task: Task, cfg: StudyConfig) -> int:
    """The d_model (a multiple of heads) whose model comes closest to the parameter budget.
    Parameters grow with the width, so the search stops at the first width over the budget. A
    control sized as another module (``sized_as``: the plastic layers with the write off) gets that
    module's width, and so fewer parameters than the budget."""
    kind = getattr(MODULES.get(kind), "sized_as", kind)  # (an unknown kind: build names it)
    best, best_gap = cfg.heads, math.inf
    for d in range(cfg.heads, 4096, cfg.heads):
        n = plastic_parameters(build(kind, task, d, cfg))
        if abs(n - cfg.budget) < best_gap:
            best, best_gap = d, abs(n - cfg.budget)
        if n > cfg.budget:
            return best
    return best


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)


def initial_model(kind: str, task: Task, seed: int, cfg: StudyConfig, write_rate: float = 1.0) -> tuple[int, SequenceModel]:
    """A run's width and model as its training starts."""
    torch.manual_seed(seed)
    d = width_for_budget(kind, task, cfg)  # after the seed, not cached: its trial models draw from the RNG, and
    # the model's initial weights (a run's, and --read-size's) are the draws that follow
    return d, build(kind, task, d, cfg, write_rate)


def training_stream(seed: int) -> torch.Generator:
    """The generator a run's training batches are drawn from, in order (``training_batch``)."""
    return _generator(seed, 0)


def training_batch(task: Task, cfg: StudyConfig, g: torch.Generator) -> Batch:
    """A training step's batch: a level at random, then its sequences."""
    level = task.levels[int(torch.randint(len(task.levels), (1,), generator=g))]
    return task.sample(cfg.batch_size, level, g)


def _forward(model, b):
    return model(b.x, b.images)


# A run saves its training state this often (seconds of training) to ``NAME.partial.pt`` beside its
# result, so that a killed study resumes a long run where it stopped (Duan et al.'s budget takes
# an hour a run here), not from its first step.
PARTIAL_EVERY_S = 300.0


def train_one(kind: str, task: Task, seed: int, cfg: StudyConfig, lr: float | None = None, write_rate: float = 1.0,
              split: str = "test", partial: Path | None = None, log=print) -> dict:
    """One run, scored on ``split``'s sequences ("val" while tuning). Given ``partial``, its
    training state is saved there every ``PARTIAL_EVERY_S`` seconds and a state found there (of
    this run, these settings) is resumed: the same result as a run never stopped, bit for bit."""
    lr = cfg.lr if lr is None else lr

    def start_anew():
        d, model = initial_model(kind, task, seed, cfg, write_rate)
        if cfg.compile:
            # afresh in each run: dynamo keeps one cache per function for every model, rule and
            # shape in the process, which a study's runs overfill (it then runs the rest eagerly,
            # with a warning), and a run's code then depended on the runs before it; inductor's
            # disk cache keeps compiling afresh quick
            torch.compiler.reset()
            torch._dynamo.config.fail_on_recompile_limit_hit = True  # an error, not those eager runs
            compile_token_steps(model)
        return d, model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01), training_stream(seed)

    d, model, opt, g = start_anew()
    schedule = cfg.lr_schedule(lr)
    identity = {"task": task.name, "module": kind, "seed": seed, "lr": lr, "write_rate": write_rate, "split": split,
                **{k: v for k, v in json.loads(json.dumps(asdict(cfg))).items() if k in SHARED_SETTINGS},
                # the matched Hebbian rule's form (its loop, compiled, or its whole-sequence form): the
                # same function with other rounding, so a run is resumed only in the form it started in
                "hebbian_loop": any(getattr(m, "token_loop", False) and m.rule == "hebbian" for m in model.modules())}
    # the model's parameters in order: the optimiser's state is matched to them by position
    parameters = [[name, list(p.shape)] for name, p in model.named_parameters()]
    start, curve, train_s = 0, [], 0.0
    state = _partial_state(partial, identity, log) if partial is not None else None
    if state is not None:
        try:
            if state["parameters"] != parameters:
                raise ValueError("its model has other parameters, or in another order")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            g.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            start, curve, train_s = int(state["step"]), list(state["curve"]), float(state["train_s"])
            log(f"{task.name} {kind} seed {seed}: resumed at step {start} of {cfg.steps} from {partial}")
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as err:  # an older model's, say
            log(f"{partial} does not fit this run ({err.__class__.__name__}: {str(err)[:80]}): the run starts "
                "from its first step")
            d, model, opt, g = start_anew()  # (a failed load may have written part of the state)
    tic = saved = time.perf_counter()
    model.train()
    for step in range(start, cfg.steps):
        b = training_batch(task, cfg, g)
        loss = task.loss(_forward(model, b), b)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, schedule)
        optimiser_step(model, opt, loss, step, grad_clip=1.0)
        if step % 10 == 0 or step == cfg.steps - 1:
            curve.append([step + 1, loss.item()])
        if partial is not None and step + 1 < cfg.steps and time.perf_counter() - saved >= PARTIAL_EVERY_S:
            saved = time.perf_counter()
            so_far = train_s + saved - tic
            _save_partial(partial, {"identity": identity, "parameters": parameters, "step": step + 1,
                                    "model": model.state_dict(), "opt": opt.state_dict(), "generator": g.get_state(),
                                    "torch_rng": torch.get_rng_state(), "curve": curve, "train_s": so_far}, log)
            recent = [loss for _, loss in curve[-10:]]  # a long run's progress, with each save
            log(f"{task.name} {kind} seed {seed}: step {step + 1} of {cfg.steps}, loss {sum(recent) / len(recent):.4f} "
                f"({so_far:.0f} s)")
    train_s += time.perf_counter() - tic
    return {"task": task.name, "module": kind, "seed": seed, "lr": lr, "write_rate": write_rate, "split": split,
            "d_model": d, "parameters": plastic_parameters(model), "train_s": train_s, "loss_curve": curve,
            "left_plateau": left_plateau(curve), "metric": task.metric, "level_name": task.level_name,
            "levels": score(model, task, seed, cfg, split),
            "provenance": provenance()}  # command, commit (as the process started), machine: rounding differs by machine


def _save_partial(path: Path, state: dict, log=print) -> None:
    """The training state written atomically; where it cannot be (a full disk), training goes on
    without it: it only saves a killed run's time."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as err:
        log(f"{path}: the training state could not be saved ({err.strerror or err}); training goes on")


def _partial_state(path: Path, identity: dict, log=print) -> dict | None:
    """The training state saved at ``path`` if it is this run's, else None (the run starts anew and
    its next save replaces the file: a torn one, or one of other settings, resumes nothing)."""
    if not path.exists():
        return None
    try:
        state = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
        saved = state.get("identity") if isinstance(state, dict) else None
        before = {k: v for k, v in _BEFORE_IN_STATE.items() if k in identity}  # saved before an entry existed
        same = isinstance(saved, dict) and {**before, **saved} == identity
    except Exception as err:  # noqa: BLE001 - whatever a torn or foreign file raises, it resumes nothing
        log(f"{path} cannot be read ({err.__class__.__name__}): the run starts from its first step")
        return None
    if not same:
        log(f"{path} holds another run's or other settings' training: the run starts from its first step")
        return None
    return state


def left_plateau(curve: list[list[float]]) -> bool:
    """Whether training left its initial plateau: the last tenth of the loss curve below 80% of
    its first tenth (each point one batch's loss)."""
    losses = [loss for _, loss in curve]
    n = max(len(losses) // 10, 1)
    return sum(losses[-n:]) / n < 0.8 * sum(losses[:n]) / n


@torch.no_grad()
def score(model, task: Task, seed: int, cfg: StudyConfig, split: str = "test") -> dict[str, list[float]]:
    """Per level, the metric of every held-out evaluation sequence of ``split``."""
    model.eval()
    out = {}
    for level in task.levels:
        # sequences no training batch drew; validation and test streams apart
        g = _generator(seed, (1 if split == "test" else 10_001) + level)
        values = [task.per_sequence_metric(_forward(model, b), b)
                  for b in (task.sample(cfg.batch_size, level, g, split=split) for _ in range(cfg.eval_batches))]
        out[str(level)] = torch.cat(values).tolist()
    return out


write_atomic = write_bytes  # every state and result file of a study: see hebbformer.atomic


def write_json_atomic(path: Path, data: dict, indent: int | None = None) -> None:
    write_atomic(path, json.dumps(data, indent=indent).encode())


# Settings every run of one study must share; modules, tasks and seeds may grow between calls.
SHARED_SETTINGS = ("steps", "schedule_steps", "warmup_steps", "batch_size", "lr", "budget", "depth", "heads",
                   "eval_batches", "data", "beside_attention", "tune_lrs", "tune_write_rates", "tune_seeds",
                   "encoder_channels", "encoder_blocks", "encoder_from", "tuning_from", "compile")
# What a study.json (or a run's saved state) written before a setting existed was trained with (the
# default may differ).
_BEFORE_SETTING = {"encoder_channels": 16, "encoder_blocks": 3, "encoder_from": "", "tuning_from": "",
                   "compile": False, "schedule_steps": 0, "warmup_steps": None}
# What a run's saved state written before an entry of its identity existed was trained with: the
# settings' as above, and before the hebbian_loop entry --compile trained the matched Hebbian rule in
# its whole-sequence form.
_BEFORE_IN_STATE = {**_BEFORE_SETTING, "hebbian_loop": False}
# What train_one writes for a run: a file without all of it is not a finished run.
RESULT_KEYS = ("task", "module", "seed", "d_model", "parameters", "train_s", "loss_curve", "metric",
               "level_name", "levels")


def read_json(path: Path) -> tuple[object, str | None]:
    """(the JSON value, None), or (None, why it cannot be read) for a torn or foreign file."""
    try:
        return json.loads(path.read_bytes().decode("utf-8")), None
    except OSError as err:
        return None, f"cannot be read: {err.strerror or err}"
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except (ValueError, RecursionError) as err:
        return None, f"is not valid JSON ({err.__class__.__name__}: {str(err)[:80]})"


def trained_settings(saved: dict) -> dict:
    """Every setting a study.json's runs were trained with: a setting added since it was written,
    as it was before the setting existed."""
    return {**asdict(StudyConfig()), **_BEFORE_SETTING, **saved}


def read_json_dict(path: Path, what: str, prefix: str = "") -> dict:
    """The JSON object in ``path``, else a DataError naming the file and why it is not ``what``."""
    value, why = read_json(path)
    if why is None and not isinstance(value, dict):
        why = f"holds a JSON {type(value).__name__}, not {what}"
    if why is not None:
        raise DataError(f"{prefix}{path} {why}")
    return value


def _check_same_training(cfg: StudyConfig, path: Path, log=print) -> None:
    """A study folder resumes only with the settings its finished runs were trained with.

    ``study.json`` records them. If it is torn or corrupt (written atomically it should never be
    torn, but a disk or a hand can still break it), the finished runs in ``runs/`` can no longer
    be checked against the settings given now, and mixing runs trained differently into one table
    would be a silent error; so then the study stops with a message naming the file. When no run
    is finished or in training (a saved state; a run lock another study holds), nothing depends
    on it, torn or with other settings: it is logged and written anew."""
    if not path.exists():
        return
    saved, why = read_json(path)
    if why is None and not isinstance(saved, dict):
        why = f"holds a JSON {type(saved).__name__}, not the study's settings"
    if why is not None:
        finished = sorted((path.parent / "runs").glob("*.json"))
        if finished or _in_training(path.parent):
            what = (f"the {len(finished)} finished runs in {path.parent / 'runs'}" if finished else
                    f"the runs another study is training in {path.parent}")
            raise DataError(f"{path} {why}, so {what} cannot be checked against this study's settings; use another "
                            "--out, or (only if they were trained with the settings given now) delete "
                            f"{path.name} to resume the study")
        log(f"{path} {why}; no run finished or in training depends on it, so it is written anew")
        return
    before = trained_settings(saved)
    now = json.loads(json.dumps(asdict(cfg)))
    changed = [f"{k} {before[k]} -> {now[k]}" for k in SHARED_SETTINGS if before[k] != now[k]]
    if changed and not any(next((path.parent / d).glob(pattern), None)  # a finished run, or one in training
                           for d in ("runs", "tune") for pattern in ("*.json", "*.partial.pt")) \
            and not _in_training(path.parent):
        # a start that failed before its first run (a bad --encoder-from file, say) guards nothing
        log(f"{path} has other settings ({'; '.join(changed)}) but no run finished or in training, so it is "
            "written anew")
    elif changed:
        raise ConfigError(f"{path.parent} holds a study trained with other settings ({'; '.join(changed)}); "
                          "use another --out, or the same settings to resume it")


def _in_training(out: Path) -> bool:
    """Whether another process holds one of the folder's run locks (a run in its first minutes
    has no saved state yet)."""
    for lock in (out / LOCKS).glob("*__*.lock"):
        try:
            with RunLock(lock.parent, lock.name):
                pass
        except RunInUseError:
            return True
    return False


def _finished(path: Path, task: str, kind: str, seed: int, log=print, lr: float | None = None,
              write_rate: float = 1.0) -> dict | None:
    """The result of a finished run, or None where the run is to be trained (again).

    A result file that is torn, corrupt or not this run's is treated as not done: that is safe,
    because a run is a pure function of its task, module, seed and the shared settings (which
    study.json has just vouched for), so training it again gives the same result (the wall-clock
    time aside). The file is kept beside it as ``NAME.json.corrupt`` (not a ``*.json`` result any
    more), and the new result is written in its place."""
    found = _read_finished(path, task, kind, seed, lr, write_rate)
    if not isinstance(found, str):
        return found
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    log(f"{path} {found}: kept as {aside.name}; training the run again")
    return None


def _read_finished(path: Path, task: str, kind: str, seed: int, lr: float | None,
                   write_rate: float) -> dict | str | None:
    """The finished run's result; None where there is no file; else why the file is not the
    finished run. Reads only, so it needs no lock."""
    if not path.exists():
        return None
    r, why = read_json(path)
    if why is None:
        if not isinstance(r, dict) or any(k not in r for k in RESULT_KEYS):
            why = "is not a finished run's result (entries missing)"
        elif (r["task"], r["module"], r["seed"]) != (task, kind, seed):
            why = f"holds the result of another run ({r['task']}, {r['module']}, seed {r['seed']})"
        elif lr is not None and (r.get("lr", lr), r.get("write_rate", write_rate)) != (lr, write_rate):
            why = f"was trained at lr {r['lr']}, write rate {r['write_rate']}, not {lr}, {write_rate}"
        elif not well_formed(r):
            why = "is not a finished run's result (levels or loss curve malformed)"
    return r if why is None else why


def well_formed(r: dict) -> bool:
    """Whether summarise can use it: per level a non-empty list of numbers, a curve of (step, loss)."""
    levels, curve = r["levels"], r["loss_curve"]
    return (isinstance(levels, dict) and bool(levels)
            and all(isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v) for v in levels.values())
            and isinstance(curve, list) and bool(curve)
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, (int, float)) for x in p) for p in curve))


def run_study(cfg: StudyConfig, out: Path, log=print) -> list[dict]:
    cfg.validate()
    tasks = [task_named(name, cfg.data) for name in cfg.tasks]  # a level it does not have: refused before any write
    git_commit()  # the code this process runs, for each run's provenance, whatever is committed meanwhile
    keep_freed_memory()  # as training does: every step's buffers reused (a bad setting: before any folder)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    with RunLock(out / LOCKS, "study.lock", wait=True):  # a second study starting into the folder checks after
        _check_same_training(cfg, out / "study.json", log)
        write_json_atomic(out / "study.json", asdict(cfg), indent=2)
    final, tried = [], []
    for task in tasks:
        for kind in cfg.modules:
            lr, write_rate = _tuned(kind, task, cfg, out, log)  # (its grid's runs first: the seeds need the winner)
            for seed in range(cfg.seeds):
                final.append((runs / f"{task.name}__{kind}__s{seed}.json", kind, task, seed, cfg, lr, write_rate, "test"))
                tried.append(_run(*final[-1], log=log, wait=False))
    return _taken_up(final, tried, log)  # those another study was training, once the rest is done


def task_named(name: str, data: DataConfig | None) -> Task:
    try:
        return build_task(name, data)
    except ValueError as err:  # NAME@LEVEL at a level the task has not
        raise ConfigError(str(err)) from None


TUNE_SEED = 1000  # tuning runs' seeds: 1000, 1001, ...; never a final run's


LOCKS = ".locks"  # a study folder's run locks: studies started into one folder never train one run at once


def _run_each(runs: list[tuple], log=print) -> list[dict]:
    """``_run`` over each of ``runs`` (its arguments: a tuning grid's), in order, those another
    study is training taken up after the others (``_taken_up``)."""
    return _taken_up(runs, [_run(*run, log=log, wait=False) for run in runs], log)


def _taken_up(runs: list[tuple], tried: list[dict | None], log=print) -> list[dict]:
    """The results of ``runs`` tried without waiting: each that another process was training (a
    second study into the same folder, to use another core; None in ``tried``) waited for now:
    its result, or, if that process was killed, its training resumed."""
    return [_run(*run, log=log, wait=True) if r is None else r for r, run in zip(tried, runs)]


def _run(path: Path, kind: str, task: Task, seed: int, cfg: StudyConfig, lr: float, write_rate: float, split: str,
         log=print, wait: bool = True) -> dict | None:
    """A finished run's result, or the run trained now and its result written; None, without
    ``wait``, where another process holds the run's lock (``out/.locks``)."""
    if not _partial(path).exists() and isinstance(done := _read_finished(path, task.name, kind, seed, lr, write_rate), dict):
        return done  # finished: read without its lock (a result is written whole, by rename), and none made for it
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(RunLock(path.parent.parent / LOCKS, f"{path.parent.name}__{path.stem}.lock", wait))
        except RunInUseError:
            log(f"{path.parent.name}/{path.name}: another process is training it; taken up later")
            return None
        return _run_locked(path, kind, task, seed, cfg, lr, write_rate, split, log)


def _partial(path: Path) -> Path:
    """Where the run whose result goes to ``path`` saves its training state (``train_one``)."""
    return path.with_name(path.stem + ".partial.pt")


def _run_locked(path: Path, kind: str, task: Task, seed: int, cfg: StudyConfig, lr: float, write_rate: float,
                split: str, log=print) -> dict:
    done = _finished(path, task.name, kind, seed, log, lr, write_rate)
    partial = _partial(path)
    if done is not None:
        partial.unlink(missing_ok=True)  # left by a kill between the result's write and its removal below
        return done
    r = train_one(kind, task, seed, cfg, lr, write_rate, split, partial=partial, log=log)
    write_json_atomic(path, r)
    partial.unlink(missing_ok=True)  # the study's own file, of no use once the run is finished
    log(f"{task.name:18s} {kind:16s} seed {seed} (lr {lr:g}, write {write_rate:g}): {split} {r['metric']} "
        f"{overall(r):.3f} ({r['parameters']} parameters, d_model {r['d_model']}, {r['train_s']:.0f} s)")
    return r


def overall(r: dict) -> float:
    """A run's score: the mean over levels of its sequences' mean."""
    return sum(level_score(r, level) for level in r["levels"]) / len(r["levels"])


def level_score(r: dict, level: str) -> float:
    """A run's mean over its evaluation sequences at one level; "all": its ``overall`` score."""
    return overall(r) if level == "all" else sum(r["levels"][level]) / len(r["levels"][level])


def _tuned(kind: str, task: Task, cfg: StudyConfig, out: Path, log=print) -> tuple[float, float]:
    """The grid point with the best validation score over the tuning seeds (the only point when
    there is no grid), or tuning_from's winner; each point's score and the winner go to ``tuning.json``."""
    if cfg.tuning_from:
        won = cfg.borrowed_tuning()[f"{task.name}|{kind}"]
        _record_tuning(out, task.name, kind, {**won, "task": task.name, "tuned_on": won["task"],
                                              "from": cfg.tuning_from})
        return won["lr"], won["write_rate"]
    grid = cfg.grid(kind)
    if len(grid) == 1:
        return grid[0]
    seeds = range(TUNE_SEED, TUNE_SEED + cfg.tune_seeds)
    results = iter(_run_each([(out / "tune" / f"{task.name}__{kind}__lr{lr:g}__w{w:g}__s{seed}.json", kind, task,
                               seed, cfg, lr, w, "val") for lr, w in grid for seed in seeds], log))
    points = []
    for lr, w in grid:
        runs = [next(results) for _ in seeds]
        points.append({"lr": lr, "write_rate": w, "val": sum(map(overall, runs)) / len(runs),
                       "left_plateau": sum(r["left_plateau"] for r in runs)})
    sign = 1 if task.metric == "accuracy" else -1
    best = max(points, key=lambda p: sign * p["val"])
    _record_tuning(out, task.name, kind, {"task": task.name, "module": kind, "metric": task.metric, "grid": points,
                                          "lr": best["lr"], "write_rate": best["write_rate"]})
    return best["lr"], best["write_rate"]


def _record_tuning(out: Path, task: str, kind: str, entry: dict) -> None:
    with RunLock(out / LOCKS, "tuning.lock", wait=True):  # another study into the folder updates it too
        tuning, _ = read_json(out / "tuning.json") if (out / "tuning.json").exists() else ({}, None)
        tuning = tuning if isinstance(tuning, dict) else {}  # a torn file: rewritten from the runs, which are kept
        tuning[f"{task}|{kind}"] = entry
        write_json_atomic(out / "tuning.json", tuning, indent=1)


# A run solves a task whose answer it can give exactly when its test error falls below this (the
# reproduction tasks: saying 0, silence, scores about 0.33). Their runs end solved or stuck far more
# often than in between, so the count of seeds that solved it is the measurement to compare.
SOLVED_BELOW = {"reproduction_delay": 0.02, "reproduction_length": 0.02}


def solved_below(task: str) -> float | None:
    """SOLVED_BELOW's threshold for a task (NAME@LEVEL: NAME's), or None where it has none."""
    return SOLVED_BELOW.get(task.partition("@")[0])


def _solved(r: dict, level: str, limit: float) -> bool:
    """Whether a run solved one level, or ("all") every level of its task."""
    levels = list(r["levels"]) if level == "all" else [level]
    return all(level_score(r, lv) < limit for lv in levels)


def summarise(results: list[dict], out: Path, preface: str = "") -> str:
    """Table over seeds (each seed's mean over its evaluation sequences is one sample), as CSV,
    Markdown (``preface`` first) and figures; returns the Markdown."""
    by = {}
    for r in results:
        by.setdefault((r["task"], r["module"]), []).append(r)
    rows = []
    for (task, module), rs in sorted(by.items(), key=lambda kv: _row_order(*kv[0])):
        levels = list(rs[0]["levels"])
        for level in levels:
            per_seed = [level_score(r, level) for r in rs]
            m, ci = mean_ci_seeds(per_seed)
            rows.append({"task": task, "module": module, "parameters": rs[0]["parameters"],
                         "metric": rs[0]["metric"], "level_name": rs[0]["level_name"], "level": level,
                         "mean": m, "ci95": ci, "seeds": len(rs)})
        m, ci = mean_ci_seeds([overall(r) for r in rs])
        rows.append({"task": task, "module": module, "parameters": rs[0]["parameters"], "metric": rs[0]["metric"],
                     "level_name": rs[0]["level_name"], "level": "all", "mean": m, "ci95": ci, "seeds": len(rs)})
    for row in rows:  # how many seeds left the initial plateau (runs from before it was recorded: blank)
        rs = by[(row["task"], row["module"])]
        row["left_plateau"] = sum(r["left_plateau"] for r in rs) if all("left_plateau" in r for r in rs) else ""
        limit = solved_below(row["task"])
        row["solved"] = "" if limit is None else sum(_solved(r, row["level"], limit) for r in rs)
    table = io.StringIO(newline="")
    w = csv.DictWriter(table, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_atomic(out / "results.csv", table.getvalue().encode())
    diffs = paired_differences(results)
    md = preface + _markdown(rows) + _paired_markdown(diffs) + _tuning_markdown(out)
    write_atomic(out / "summary.md", md.encode())
    _plots(results, rows, out)
    if diffs:
        _paired_plot(diffs, out)
    return md


# The static controls every plastic rule is compared with: Duan et al.'s parameter-matched LSTM,
# and softmax attention (the transformer the rules augment or replace).
STATIC_CONTROLS = ("lstm", "attention")


def comparisons(modules) -> list[tuple[str, str]]:
    """The comparisons the claims turn on among ``modules``, as (a, b): a - b per seed. Each
    gradient rule against its Hebbian twin in the same form (a matched pair shares all but the
    write's post-synaptic factor; ``+tied...`` variants pair alike; Duan et al.'s plastic layers,
    and Chaudhary's untrained ones), then each plastic-layers rule against its family's layers with
    the write off (``plastic_off``, ``chaudhary_off``: the write and nothing else apart), then each
    rule and write-off control against each static control present, then each of Duan et al.'s
    updates with differences taken out or its read resized (``MATCHED_UNDO``, ``MATCHED_SIZED``)
    against the update it varies."""
    present = list(dict.fromkeys(modules))
    varied = MATCHED_UNDO | MATCHED_SIZED
    forms = ("matched_", "plastic_", "chaudhary_")
    plastic = [m for m in present if m.startswith(forms)]  # the rules and the write-off controls
    rules = [m for m in plastic if m not in WRITE_OFF_LAYERS]
    hebbian = {m: m.replace("_gradient", "_hebbian", 1) for m in rules if m.startswith(tuple(f + "gradient" for f in forms))}
    write_off = {rule: off for off, layers in WRITE_OFF_LAYERS.items() for rule in layers.rules}
    return ([(gradient, twin) for gradient, twin in hebbian.items() if twin in present]
            + [(m, write_off[m]) for m in rules if write_off.get(m) in present]
            + [(m, control) for control in STATIC_CONTROLS if control in present for m in plastic]
            + [(m, varied[m].varies) for m in present if m in varied and varied[m].varies in present])


def seed_paired(a: dict[int, dict], b: dict[int, dict]) -> list[dict]:
    """a - b over the seeds both ran, per level: a and b are one task's runs by seed (of two
    modules, or of one module in two studies). The levels are those of a's first shared run, then
    "all" where there are several (one level's "all" is the same); each as {"level", "mean", "ci95",
    "seeds"}, the mean over seeds with its 95% CI (Student t). [] where they share no seed."""
    seeds = sorted(a.keys() & b.keys())
    if not seeds:
        return []
    levels = list(a[seeds[0]]["levels"])
    out = []
    for level in levels + ["all"] if len(levels) > 1 else levels:
        m, ci = mean_ci_seeds([level_score(a[s], level) - level_score(b[s], level) for s in seeds])
        out.append({"level": level, "mean": m, "ci95": ci, "seeds": len(seeds)})
    return out


def paired_differences(results: list[dict]) -> list[dict]:
    """For each task and pair of ``comparisons`` both present, per level: the mean over seeds of
    a - b with its 95% CI (``seed_paired``), pairing the runs of one seed. A seed's runs share their
    training batches and evaluation sequences (both are drawn from the seed), so the pairing
    removes the part of the spread that comes from the data; only seeds both modules ran count."""
    by: dict[tuple[str, str], dict[int, dict]] = {}
    for r in results:
        by.setdefault((r["task"], r["module"]), {})[r["seed"]] = r
    out = []
    pairs = comparisons(r["module"] for r in results)
    for task in _in_order(results)[0]:  # the table's order of tasks
        for a, b in pairs:
            runs = by.get((task, a), {})
            for d in seed_paired(runs, by.get((task, b), {})):
                first = next(iter(runs.values()))
                out.append({"task": task, "a": a, "b": b, "metric": first["metric"], "level_name": first["level_name"],
                            **d})
    return out


def _paired_markdown(diffs: list[dict]) -> str:
    if not diffs:
        return ""
    lines = ["", "Paired differences a - b (mean over seeds ± 95% CI, the runs of one seed paired; for mse "
             "below 0 means a is better, for accuracy above 0):", "", "| task | a - b | level | difference | seeds |",
             "|---|---|---|---|---|"]
    for d in diffs:
        label = "all levels" if d["level"] == "all" else f"{d['level_name']}={d['level']}"
        ci = "" if math.isnan(d["ci95"]) else f" ± {d['ci95']:.3f}"
        lines.append(f"| {d['task']} ({d['metric']}) | {d['a']} - {d['b']} | {label} | {d['mean']:+.3f}{ci} | "
                     f"{d['seeds']} |")
    return "\n".join(lines) + "\n"


def _paired_plot(diffs: list[dict], out: Path) -> None:
    """paired.png: each pair's difference against the level, with its CI and the zero line; the
    one-level tasks of one task (reproduction_delay@0, @60: a network per delay) share a panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(_base(d["task"]) for d in diffs))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        pts = sorted((d for d in diffs if _base(d["task"]) == task and d["level"] != "all"), key=lambda d: int(d["level"]))
        for i, pair in enumerate(dict.fromkeys((d["a"], d["b"]) for d in pts)):
            p = [d for d in pts if (d["a"], d["b"]) == pair]
            ax.errorbar([int(d["level"]) for d in p], [d["mean"] for d in p], marker="o", capsize=2,
                        yerr=[0 if math.isnan(d["ci95"]) else d["ci95"] for d in p], label=" - ".join(pair),
                        color=f"C{i}")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(task)
        ax.set_xlabel(pts[0]["level_name"] if pts else "")
        ax.set_ylabel(f"difference in {pts[0]['metric']}" if pts else "")
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save_figure(fig, out / "paired.png")
    plt.close(fig)


def _base(task: str) -> str:
    """The panel of a task in the figures: NAME@* for a one-level task (NAME@LEVEL: a network per
    level, its levels drawn as one line), NAME for a task trained over all its levels at once."""
    name, at, _ = task.partition("@")
    return f"{name}@*" if at else name


def _tuning_markdown(out: Path) -> str:
    """The tuning grid's validation scores and winners, from tuning.json (nothing without a grid)."""
    tuning, why = read_json(out / "tuning.json") if (out / "tuning.json").exists() else (None, None)
    if why is not None:
        return f"\ntuning.json {why}: the tuning table is left out\n"
    if not tuning:
        return ""
    lines = ["", "Tuning (validation score per grid point, lr / write rate; seeds that left the plateau; "
             "the winner in bold):", "", "| task | module | grid |", "|---|---|---|"]
    for t in sorted(tuning.values(), key=lambda t: _row_order(t["task"], t["module"])):
        cells = []
        for p in t["grid"]:
            cell = f"{p['lr']:g} / {p['write_rate']:g}: {p['val']:.3f} ({p['left_plateau']})"
            cells.append(f"**{cell}**" if (p["lr"], p["write_rate"]) == (t["lr"], t["write_rate"]) else cell)
        source = f"tuned on {t['tuned_on']} in {t['from']}: " if "from" in t else ""
        if not t["grid"]:  # borrowed from a study that trained the module at one point
            source, cells = f"not tuned, the one point of {t['from']}: ", [f"**{t['lr']:g} / {t['write_rate']:g}**"]
        lines.append(f"| {t['task']} | {t['module']} | {source}{'; '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _in_order(rows: list[dict]) -> tuple[list[str], list[str]]:
    """The tasks and modules present, in the order of TASKS and MODULES (control first)."""
    tasks = sorted(dict.fromkeys(r["task"] for r in rows), key=_task_order)
    modules = sorted(dict.fromkeys(r["module"] for r in rows), key=_module_order)
    return tasks, modules


def _rank(name: str, known) -> int:
    """The index in ``known`` of the longest entry ``name`` is or begins with (fewshot20_omniglot:
    fewshot20's, not fewshot's); after all of them if none."""
    hits = [(len(k), i) for i, k in enumerate(known) if name == k or name.startswith(k)]
    return max(hits)[1] if hits else len(known)


def _task_order(task: str) -> tuple:
    """A task's place in tables: by TASKS, then one task's levels (NAME@LEVEL) by their number."""
    name, _, level = task.partition("@")
    return _rank(name, TASKS), name, int(level) if level.isdigit() else -1


def _module_order(module: str) -> int:
    return _rank(module, MODULES)


def _row_order(task: str, module: str) -> tuple:
    """A (task, module) row's place in tables: by task, then module."""
    return _task_order(task), _module_order(module)


def _markdown(rows: list[dict]) -> str:
    tasks, modules = _in_order(rows)
    lines = ["| task (metric, level) | " + " | ".join(modules) + " |", "|---" * (len(modules) + 1) + "|"]
    for task in tasks:
        task_rows = [r for r in rows if r["task"] == task]
        metric, level_name = task_rows[0]["metric"], task_rows[0]["level_name"]
        levels = list(dict.fromkeys(r["level"] for r in task_rows))
        for level in levels if len(levels) > 2 else levels[:1]:  # one level: its "all levels" row is the same
            cells = []
            for m in modules:
                hit = [r for r in task_rows if r["module"] == m and r["level"] == level]
                cells.append(f"{hit[0]['mean']:.3f} ± {hit[0]['ci95']:.3f}" if hit else "")
            label = "all levels" if level == "all" else f"{level_name}={level}"
            lines.append(f"| {task} ({metric}, {label}) | " + " | ".join(cells) + " |")
    # each module's count on each task it ran, in the table's order of tasks (sorted counts read as task order did not)
    params = {m: [hit[0]["parameters"] for t in tasks
                  if (hit := [r for r in rows if r["module"] == m and r["task"] == t])] for m in modules}
    lines.append("")
    lines.append(f"Parameters per model (by task: {', '.join(tasks)}): "
                 + "; ".join(f"{m} {'/'.join(map(str, p))}" for m, p in params.items()))
    plateau = [f"{r['task']} {r['module']} {r['left_plateau']}/{r['seeds']}" for r in rows
               if r["level"] == "all" and r.get("left_plateau", "") != ""]
    if plateau:
        lines.append("")
        lines.append("Seeds that left the initial plateau (loss in the last tenth of training below 80% of the first "
                     "tenth): " + "; ".join(plateau))
    counted = [r for r in rows if r["level"] == "all" and r["solved"] != ""]
    if counted:
        limits = " / ".join(sorted({f"{r['metric']} below {solved_below(r['task'])}" for r in counted}))
        lines.append("")
        lines.append(f"Seeds that solved the task (test {limits} at every level): "
                     + "; ".join(f"{r['task']} {r['module']} {r['solved']}/{r['seeds']}" for r in counted))
    return "\n".join(lines) + "\n"


def _plots(results: list[dict], rows: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, modules = _in_order(rows)
    color = {m: f"C{i}" for i, m in enumerate(dict.fromkeys([*MODULES, *modules]))}  # an unknown module: one too
    panels = list(dict.fromkeys(map(_base, tasks)))  # a network per delay: its delays on one panel
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, task in zip(axes[0], panels):
        panel = sorted((r for r in rows if _base(r["task"]) == task and r["level"] != "all"), key=lambda r: int(r["level"]))
        for m in modules:
            pts = [r for r in panel if r["module"] == m]
            if pts:
                ax.errorbar([int(p["level"]) for p in pts], [p["mean"] for p in pts],
                            yerr=[0 if math.isnan(p["ci95"]) else p["ci95"] for p in pts], label=m, marker="o",
                            capsize=2, color=color[m])
        ax.set_title(task)
        if min(int(p["level"]) for p in panel) >= 1:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(panel[0]["level_name"])
        ax.set_ylabel(panel[0]["metric"])
        if panel[0]["metric"] == "mse":
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, out / "levels.png")
    plt.close(fig)
    _solved_plot(rows, modules, color, out)

    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for m in modules:
            for j, r in enumerate(r for r in results if r["task"] == task and r["module"] == m):
                steps, losses = zip(*r["loss_curve"])
                # a moving average over 9 points (90 steps): each point is one batch at a random level
                smooth = torch.tensor(losses)[None, None].log()
                smooth = torch.nn.functional.avg_pool1d(smooth, 9, 1, 4, count_include_pad=False)[0, 0].exp()
                ax.plot(steps, smooth.tolist(), color=color[m], alpha=0.7, label=m if j == 0 else None)
        ax.set_title(task)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (moving average)")
        ax.set_yscale("log")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, out / "loss_curves.png")
    plt.close(fig)


def _solved_plot(rows: list[dict], modules: list[str], color: dict, out: Path) -> None:
    """solved.png, for the tasks with a SOLVED_BELOW: the share of seeds that solved each level,
    with Wilson's 95% interval."""
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["solved"] != "" and r["level"] != "all"]
    panels = list(dict.fromkeys(_base(r["task"]) for r in rows))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, task in zip(axes[0], panels):
        panel = sorted((r for r in rows if _base(r["task"]) == task), key=lambda r: int(r["level"]))
        step = 0.015 * max(int(panel[-1]["level"]) - int(panel[0]["level"]), 1)  # modules side by side
        for m in modules:
            pts = [r for r in panel if r["module"] == m]
            if pts:  # with Wilson's 95% interval
                share = [p["solved"] / p["seeds"] for p in pts]
                low, high = zip(*(proportion_ci95(p["solved"], p["seeds"]) for p in pts))
                ax.errorbar([int(p["level"]) + step * (modules.index(m) - (len(modules) - 1) / 2) for p in pts],
                            share, marker="o",
                            yerr=[[s - lo for s, lo in zip(share, low)], [hi - s for s, hi in zip(share, high)]],
                            capsize=2, color=color[m], label=f"{m} ({'/'.join(str(p['seeds']) for p in pts)} seeds)")
        ax.set_title(task)
        ax.set_xlabel(panel[0]["level_name"])
        ax.set_ylabel(f"seeds solved ({panel[0]['metric']} < {solved_below(task)})")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    _save_figure(fig, out / "solved.png")
    plt.close(fig)


def _save_figure(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format=path.suffix.lstrip("."))
    write_atomic(path, buf.getvalue())
