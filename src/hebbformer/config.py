"""The config schemas: one config object for every command, defaults here, a TOML/JSON file on
top, ``key=value`` last (read and type-checked by ``config_parse``).

Sections mirror the system: what data, what episodes, what model, how to train, how to evaluate.
Every value is checked once, in :meth:`Config.validate`, so that a wrong value is reported by
name before any work starts. Checks that need the data (N larger than the classes available,
K + queries larger than the drawings per class) happen when the pools are built
(:func:`hebbformer.data.episodes.check_fits`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from .config_parse import parse_text, read_config_file, set_field
from .errors import ConfigError
from .registry import BACKENDS

DATASETS = ("glyphs", "omniglot", "cifar_fs")
SPLITS = ("sets", "vinyals", "lake")
# Lake's protocol: the sets that may train and validate, and those that may test.
LAKE_TRAIN_SETS = ("images_background", "images_background_small1", "images_background_small2")
LAKE_TEST_SETS = ("images_evaluation", "all_runs")
PRECISIONS = ("auto", "fp32", "bf16")
ATTENTION_KINDS = ("softmax", "linear", "relu")
READOUTS = ("vocab", "tied", "attend")
METHODS = ("icl", "protonet", "maml", "finetune")


@dataclass
class DataConfig:
    name: str = "glyphs"  # glyphs (generated, no download) | omniglot | cifar_fs
    root: str = ""  # folder with the data files; empty: $HEBBFORMER_DATA, then ./data
    download: bool = False  # fetch missing official files (checksummed) into root
    image_size: int = 28
    rotations: bool = False  # omniglot: 90/180/270-degree rotations as extra classes
    # omniglot: the sets (zip or folder names under root) that form the meta-train and test pools.
    # "all_runs" as a test set is the pool of the 400 characters of Lake's 20-way benchmark.
    train_sets: list[str] = field(default_factory=lambda: ["images_background"])
    test_sets: list[str] = field(default_factory=lambda: ["images_evaluation"])
    val_fraction: float = 0.1  # omniglot: share of meta-train characters held out for validation
    # omniglot: which classes train, validate and test (docs/datasets.md):
    #   "sets": meta-train on train_sets (val_fraction of its characters held out), test on test_sets;
    #   "vinyals": the class lists of Vinyals et al. (2016) under split_dir, over both sets (1,028 /
    #     172 / 423 characters, each with four rotations as classes); train_sets / test_sets unused;
    #   "lake": Lake's protocol, "sets" restricted by construction: only background sets train and
    #     validate, only images_evaluation and all_runs test.
    split: str = "sets"
    split_dir: str = ""  # vinyals: folder with train/val/test/trainval.txt; empty: <root>/splits/vinyals
    vinyals_train: str = "train"  # vinyals: "train" (validate on val) or "trainval" (no validation)
    cache: bool = True  # keep decoded, resized Omniglot sets (npz) to start the next run in seconds
    cache_dir: str = ""  # empty: $HEBBFORMER_CACHE, else ~/.cache/hebbformer
    glyph_classes: int = 1000  # glyphs: meta-train classes (validation and test get a fifth each)
    glyph_drawings: int = 20  # glyphs: drawings per class
    seed: int = 0  # seeds the split and the generated glyphs


@dataclass
class EpisodeConfig:
    ways: int = 5  # N: classes per episode
    shots: int = 1  # K: labelled examples per class in the context
    queries: int = 5  # query images per class
    # Share of meta-training episodes whose N classes all come from one alphabet (Omniglot),
    # like every run of Lake's all_runs benchmark; harder, finer-grained episodes.
    same_alphabet: float = 0.0


@dataclass
class ModelConfig:
    encoder_channels: int = 64  # width of the conv blocks
    encoder_blocks: int = 4  # conv-BN-ReLU-pool blocks
    d_model: int = 128
    depth: int = 2  # transformer blocks
    heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0  # residual dropout in the transformer blocks, in training (Float model)
    # In training, each episode's image features pass through a random rotation before the
    # transformer, so that it can rely only on their lengths, angles and distances, which carry
    # over to new alphabets, not on which feature is which (Float model).
    rotate_features: bool = False
    attention: str = "softmax"  # softmax | linear (elu+1 feature map) | relu (relu(q.k)/keys seen)
    max_ways: int = 20  # size of the label vocabulary: largest N the model can answer
    # Query read-out: "vocab", a linear layer with one logit per label token; "tied", the
    # output's match with the label embeddings; or "attend", one more attention read whose values
    # are the supports' labels (a label's probability is the attention mass on its supports).
    # On Omniglot 20-way "vocab" learned faster than "tied" (val 89% vs 84% after 1,800 steps);
    # "attend" leaves the initial plateau soonest (train accuracy 69% vs 34% at step 200) and
    # ends where "vocab" does (docs/results/omniglot-small.md); on tiny models "tied" beats "vocab" early.
    readout: str = "vocab"
    # The Quant variant: run in fixed point (hebbformer.quant), trained with quantisation in the
    # loop. Needs attention "relu"; best started from a Float run (train.init_from).
    quant: bool = False
    # "icl": the in-context learner; or a baseline on the same episodes and encoder
    # (hebbformer.baselines): "protonet", "maml", "finetune".
    method: str = "icl"
    maml_inner_steps: int = 1  # MAML: adaptation steps in meta-training
    # ... and at test time; 0: as many as in meta-training. More steps than the initialisation
    # was meta-trained for can diverge at maml_inner_lr (seen: 3 steps of 0.4 after training with 1).
    maml_eval_steps: int = 0
    maml_inner_lr: float = 0.4
    maml_first_order: bool = False  # first-order MAML (no gradient through the inner loop)
    finetune_steps: int = 50  # finetune: gradient steps fitting the head on each support set
    finetune_lr: float = 0.5
    finetune_scale: float = 10.0  # logit scale of the cosine head


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 16  # episodes per step
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    augment: bool = False  # random small affine distortion of every training image
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 1.0
    val_every: int = 250
    val_episodes: int = 200
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0: leave torch's default
    device: str = "cpu"
    # Mixed precision of the training step: "fp32" (none) or "bf16" (autocast to bfloat16: matmuls
    # and convs in bf16, weights, optimiser and loss in float32; no loss scaling needed), or
    # "auto": bf16 where the hardware computes it natively (a CUDA GPU with bf16; a CPU with
    # AVX512-BF16 or AMX), fp32 elsewhere (on an AVX2 CPU bf16 was measured 2x slower). A run
    # records the precision it resolved to, so that its resume computes the same on any machine.
    precision: str = "auto"
    compile: bool = False  # torch.compile the model for training (slow first steps, then faster on GPUs)
    # A run folder or checkpoint whose model weights start this run (not its optimiser or step):
    # fine-tuning, e.g. quantisation-aware training of a Float model.
    init_from: str = ""
    # A run folder or checkpoint whose image encoder alone starts this run's encoder (e.g. one
    # meta-trained as a Prototypical Network); applied after init_from.
    init_encoder_from: str = ""
    freeze_encoder: bool = False  # keep the image encoder as it starts (weights and BN statistics)
    # Weight of an auxiliary Prototypical-Network loss on the in-context learner's image features
    # (the encoder's output, before the transformer), added to its own loss in meta-training only:
    # a metric signal straight into the encoder, which learns slowly through the transformer alone.
    # The model's answers are still the transformer's. 0: none.
    aux_protonet: float = 0.0
    # Also write the metrics as TensorBoard scalars into the run folder (needs the tensorboard
    # package: pip install -e '.[tensorboard]').
    tensorboard: bool = False


@dataclass
class EvalConfig:
    episodes: int = 1000
    # N-way K-shot settings, written "5w1s"; a setting the test pool cannot supply is skipped
    # with the reason in the table.
    settings: list[str] = field(default_factory=lambda: ["5w1s", "5w5s", "20w1s", "20w5s"])
    queries: int = 15  # per class, or fewer where the pool has fewer drawings left
    all_runs: str = ""  # path to all_runs.zip or its folder; empty: look in the data root
    seed: int = 1234
    # "torch": the model's own forward; for a Quant model: "integer", its integer-only path
    # (hebbformer.quant.integer), "loihi", that path with the attention layers compiled to Loihi 2
    # networks run on hebbformer's emulator, "lava", the same networks on lava-nc's simulation
    # (hebbformer.neuro.attention_compiler); all on the CPU.
    backend: str = "torch"
    # "test": the test classes; "val": the held-out validation classes (for Omniglot unseen
    # characters of the training alphabets, with all 20 drawings, where all_runs has only 2).
    split: str = "test"
    # Evaluate the run's image encoder alone, read out as a Prototypical Network (nearest class
    # mean of its features), instead of the model: what the features hold before the transformer
    # reads them.
    encoder_probe: bool = False


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    out_dir: str = "runs/default"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        cfg = cls()
        cfg.update(d)
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def update(self, d: dict) -> None:
        """Merge a nested dict of values into this config, rejecting unknown keys by name."""
        for key, value in d.items():
            if isinstance(value, dict):
                section = self._section(key)
                for sub, v in value.items():
                    set_field(section, key, sub, v)
            else:
                set_field(self, "", key, value)

    def override(self, assignments: list[str]) -> None:
        """Apply ``section.key=value`` strings, as given on the command line."""
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form section.key=value")
            path, text = item.split("=", 1)
            parts = path.strip().split(".")
            if len(parts) == 1:
                set_field(self, "", parts[0], parse_text(self, parts[0], text, ""))
            elif len(parts) == 2:
                section = self._section(parts[0])
                set_field(section, parts[0], parts[1], parse_text(section, parts[1], text, parts[0]))
            else:
                raise ConfigError(f"override key {path!r} has more than one dot")

    def _section(self, name: str):
        if name not in SECTIONS:
            raise ConfigError(f"unknown config section {name!r}; known: {', '.join(SECTIONS)}")
        return getattr(self, name)

    # ------------------------------------------------------------------ checks
    def validate(self) -> "Config":
        d, e, m, t, v = self.data, self.episode, self.model, self.train, self.eval
        for section in SECTIONS:  # no NaN or infinity anywhere: each would train or score nonsense
            for f in dataclasses.fields(getattr(self, section)):
                value = getattr(getattr(self, section), f.name)
                if isinstance(value, float) and not math.isfinite(value) and not (
                        f.name == "grad_clip" and value == math.inf):  # inf: no clipping
                    raise ConfigError(f"{section}.{f.name} must be a finite number, got {value}")
        for name, value in (("data.seed", d.seed), ("train.seed", t.seed), ("eval.seed", v.seed)):
            if not -2 ** 63 <= value < 2 ** 63:
                raise ConfigError(f"{name} must fit in 64 bits, [-2**63, 2**63), got {value}")
        if not v.settings:
            raise ConfigError("eval.settings is empty; give at least one setting, e.g. eval.settings=5w1s")
        _one_of("data.name", d.name, DATASETS)
        _one_of("model.attention", m.attention, ATTENTION_KINDS)
        _one_of("model.readout", m.readout, READOUTS)
        for name, value in [
            ("data.image_size", d.image_size), ("data.glyph_classes", d.glyph_classes),
            ("data.glyph_drawings", d.glyph_drawings), ("episode.shots", e.shots),
            ("episode.queries", e.queries), ("model.encoder_channels", m.encoder_channels),
            ("model.encoder_blocks", m.encoder_blocks), ("model.d_model", m.d_model),
            ("model.depth", m.depth), ("model.heads", m.heads), ("model.mlp_ratio", m.mlp_ratio),
            ("train.steps", t.steps), ("train.batch_size", t.batch_size),
            ("train.val_every", t.val_every), ("train.val_episodes", t.val_episodes),
            ("train.checkpoint_every", t.checkpoint_every), ("eval.episodes", v.episodes),
            ("eval.queries", v.queries),
        ]:
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        _one_of("eval.backend", v.backend, tuple(BACKENDS))
        _one_of("train.precision", t.precision, PRECISIONS)
        _one_of("data.split", d.split, SPLITS)
        _one_of("data.vinyals_train", d.vinyals_train, ("train", "trainval"))
        if d.split != "sets" and d.name != "omniglot":
            raise ConfigError(f"data.split={d.split!r} is an Omniglot protocol; data.name is {d.name!r}")
        if d.split == "lake":
            leaks = [s for s in d.train_sets if s not in LAKE_TRAIN_SETS]
            if leaks:
                raise ConfigError(f"data.split='lake' trains on background alphabets only "
                                  f"({', '.join(LAKE_TRAIN_SETS)}); data.train_sets has {leaks}")
            alien = [s for s in d.test_sets if s not in LAKE_TEST_SETS]
            if alien:
                raise ConfigError(f"data.split='lake' tests on {', '.join(LAKE_TEST_SETS)}; data.test_sets has {alien}")
        _one_of("model.method", m.method, METHODS)
        _one_of("eval.split", v.split, ("test", "val"))
        if v.encoder_probe and v.backend != "torch":
            raise ConfigError(f"eval.encoder_probe runs the encoder in torch, not eval.backend={v.backend!r}")
        if e.ways < 2:
            raise ConfigError(f"episode.ways must be at least 2, got {e.ways}")
        if m.max_ways < e.ways:
            raise ConfigError(f"episode.ways={e.ways} is larger than model.max_ways={m.max_ways}")
        if m.d_model % m.heads:
            raise ConfigError(f"model.d_model={m.d_model} is not divisible by model.heads={m.heads}")
        if not t.lr > 0:
            raise ConfigError(f"train.lr must be positive, got {t.lr}")
        if t.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must not be negative, got {t.weight_decay}")
        if t.warmup_steps < 0 or t.threads < 0:
            raise ConfigError("train.warmup_steps and train.threads must not be negative")
        if not 0 <= t.min_lr_ratio <= 1:
            raise ConfigError(f"train.min_lr_ratio must lie in [0, 1], got {t.min_lr_ratio}")
        if m.maml_inner_steps < 1 or m.maml_eval_steps < 0 or not m.maml_inner_lr > 0:
            raise ConfigError(
                f"model.maml_inner_steps must be at least 1 (got {m.maml_inner_steps}), model.maml_eval_steps "
                f"at least 0 (got {m.maml_eval_steps}), model.maml_inner_lr positive (got {m.maml_inner_lr})")
        if not 0 <= m.dropout < 1:
            raise ConfigError(f"model.dropout must lie in [0, 1), got {m.dropout}")
        if t.aux_protonet < 0:
            raise ConfigError(f"train.aux_protonet must not be negative, got {t.aux_protonet}")
        if not t.grad_clip > 0:
            raise ConfigError(f"train.grad_clip must be positive, got {t.grad_clip}")
        if not 0 <= e.same_alphabet <= 1:
            raise ConfigError(f"episode.same_alphabet must lie in [0, 1], got {e.same_alphabet}")
        if not 0 <= d.val_fraction < 1:
            raise ConfigError(f"data.val_fraction must lie in [0, 1), got {d.val_fraction}")
        if d.image_size > 105:
            raise ConfigError(f"data.image_size={d.image_size} is larger than the 105-pixel originals")
        if d.image_size.bit_length() <= m.encoder_blocks:  # image_size < 2**blocks, without computing 2**blocks
            need = 2 ** m.encoder_blocks if m.encoder_blocks < 64 else f"2**{m.encoder_blocks}"
            raise ConfigError(
                f"data.image_size={d.image_size} is too small for model.encoder_blocks={m.encoder_blocks} "
                f"(each block halves it; needs at least {need})")
        for s in v.settings:
            ways, shots = parse_setting(s)
            if ways > m.max_ways:
                raise ConfigError(f"eval.settings has {s!r}, more ways than model.max_ways={m.max_ways}")
        FAMILY_CHECKS[m.method](self)  # what applies to the model's family (model.method: checked above)
        return self


SECTIONS = ("data", "episode", "model", "train", "eval")


def parse_setting(text: str) -> tuple[int, int]:
    """``"20w5s"`` -> (20, 5)."""
    t = text.strip().lower()
    try:
        ways, shots = t.rstrip("s").split("w")
        ways, shots = int(ways), int(shots)
    except ValueError:
        raise ConfigError(f"eval setting {text!r} is not of the form <N>w<K>s, e.g. 5w1s") from None
    if ways < 2 or shots < 1:
        raise ConfigError(f"eval setting {text!r} needs at least 2 ways and 1 shot")
    return ways, shots


def check_device(device: str) -> None:
    """A device torch knows and this machine has: checked where a command computes on it (train),
    not in validate(), so that a run trained on a GPU still loads and evaluates on a CPU."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"train.device={device!r} is not a device name (cpu, cuda, cuda:1, mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={device!r}: this machine has no CUDA GPU that torch can use")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"train.device={device!r}: there are only {torch.cuda.device_count()} CUDA devices")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"train.device={device!r}: MPS is not available on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"train.device={device!r}: hebbformer runs on cpu, cuda or mps")


def _check_in_context_learner(cfg: Config) -> None:
    """The in-context learner, Float or Quant: what each runs on and trains with."""
    m, t, v = cfg.model, cfg.train, cfg.eval
    if m.quant:
        check_quantisable(m)
        if t.aux_protonet:
            raise ConfigError("train.aux_protonet applies to the Float in-context learner, not the Quant one (model.quant)")
    elif BACKENDS[v.backend].quant_only:
        raise ConfigError(f"eval.backend={v.backend!r} needs a Quant model (model.quant=true)")


def _check_baseline(cfg: Config) -> None:
    """The gradient-based baselines (ProtoNet, MAML, fine-tuning): Float, on torch, their own settings."""
    m, t, v = cfg.model, cfg.train, cfg.eval
    if m.quant:
        raise ConfigError(f"model.quant applies to the in-context learner, not model.method={m.method!r}")
    if v.backend != "torch":
        raise ConfigError(f"eval.backend={v.backend!r} runs the in-context learner; model.method={m.method!r} "
                          "runs on 'torch' only")
    if t.aux_protonet:
        raise ConfigError(f"train.aux_protonet applies to the Float in-context learner, not model.method={m.method!r}")
    if m.method == "finetune" and (m.finetune_steps < 1 or not m.finetune_lr > 0 or not m.finetune_scale > 0):
        raise ConfigError(f"model.finetune_steps must be at least 1 (got {m.finetune_steps}), model.finetune_lr "
                          f"(got {m.finetune_lr}) and model.finetune_scale (got {m.finetune_scale}) positive")
    if m.method == "maml" and t.precision == "bf16":
        raise ConfigError("train.precision=bf16 does not apply to model.method='maml': its inner loop's "
                          "gradients (torch.func) fail under bf16 autocast; MAML trains in fp32 (auto does so)")


# each model family's own checks, by model.method (the sections' value ranges are Config.validate's)
FAMILY_CHECKS = {"icl": _check_in_context_learner, "protonet": _check_baseline, "maml": _check_baseline,
                 "finetune": _check_baseline}


def check_quantisable(cfg: ModelConfig) -> None:
    """What the Quant model's fixed-point forward can run."""
    if cfg.attention != "relu":
        raise ConfigError(f"model.quant needs model.attention='relu' (got {cfg.attention!r}): softmax and "
                          "linear attention divide by a data-dependent sum, which fixed point cannot")
    if cfg.dropout or cfg.rotate_features:
        raise ConfigError(f"model.quant trains without model.dropout (got {cfg.dropout}) and model.rotate_features "
                          f"(got {cfg.rotate_features}); its fixed-point forward has neither")
    if cfg.readout == "attend":
        raise ConfigError("model.quant needs model.readout='vocab' or 'tied' (got 'attend'): its read-out is a "
                          "softmax over the supports, which the fixed-point path does not compute")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(allowed)}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the file (TOML or JSON) if given, then the overrides; validated."""
    cfg = Config()
    if path:
        cfg.update(read_config_file(path))
    cfg.override(overrides or [])
    return cfg.validate()
