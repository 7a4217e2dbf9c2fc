"""A parity scenario: one plastic synapse layer between a spike source and LIF neurons, as plain
JSON, run the same way on lava and on the emulator.

    pre --(LearningDense: weights, learning rule)--> LIF --spikes as bAPs--> back to the synapses
                                                      ^ reward (3F only) into y2

Keys (defaults in brackets): ``steps``; ``mode`` ("fixed_pt" | "floating_pt"); ``pre`` (n_pre
lists of ``steps`` values: 0/1, or graded payloads 0..255); ``num_message_bits`` [0: binary];
``graded_spike_cfg`` ["USE_REGULAR_IMPULSE" | "OVERWRITE" | "ADD_WITH_SATURATION" |
"ADD_WITHOUT_SATURATION"]; ``weights`` (n_post lists of n_pre); ``sign_mode`` ["MIXED" |
"EXCITATORY" | "INHIBITORY"]; ``num_weight_bits`` [8]; ``weight_exp`` [0]; ``rule`` (``type``
"2F" | "3F", ``dw``/``dd``/``dt`` strings, ``x1_impulse``, ``x1_tau``, ... ``y3_tau`` [0],
``t_epoch`` [1], ``rng_seed`` [0]); ``lif`` (``du``, ``dv``, ``vth``, ``bias_mant`` [0],
``bias_exp`` [0]); ``reward`` (3F: n_post lists of ``steps`` integers, sent as y2); ``record``
(any of weights, tag_1, tag_2, x1, x2, y1, y2, y3, u, v, spikes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .rules import DEPENDENCIES, ProductSeries, parse_rule

MODES = ("fixed_pt", "floating_pt")
GRADED = ("USE_REGULAR_IMPULSE", "OVERWRITE", "ADD_WITH_SATURATION", "ADD_WITHOUT_SATURATION")
SIGN_MODES = ("MIXED", "EXCITATORY", "INHIBITORY")
RECORDABLE = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "u", "v", "spikes")
TARGETS = {"dw": "weights", "dd": "tag_2", "dt": "tag_1"}
THIRD_FACTOR_TAU = 65535  # Loihi3FLearningRule fixes the y traces: impulse 0, tau uint16 max


@dataclass
class Rule:
    type: str = "2F"
    dw: str | None = None
    dd: str | None = None
    dt: str | None = None
    x1_impulse: float = 0.0
    x1_tau: int = 0
    x2_impulse: float = 0.0
    x2_tau: int = 0
    y1_impulse: float = 0.0
    y1_tau: int = 0
    y2_impulse: float = 0.0
    y2_tau: int = 0
    y3_impulse: float = 0.0
    y3_tau: int = 0
    t_epoch: int = 1
    rng_seed: int = 0

    def series(self) -> dict[str, ProductSeries]:
        """The parsed rule per target variable (weights, tag_2, tag_1)."""
        return {TARGETS[k]: parse_rule(getattr(self, k)) for k in ("dw", "dd", "dt") if getattr(self, k)}

    @property
    def decimate_exponent(self) -> int | None:
        ks = {s.decimate_exponent for s in self.series().values()} - {None}
        return ks.pop() if ks else None

    def impulses_taus(self):
        """((x impulses, x taus), (y impulses, y taus)) as numpy arrays, the 3F override applied."""
        if self.type == "3F":
            y = np.zeros(3), np.full(3, THIRD_FACTOR_TAU)
        else:
            y = np.array([self.y1_impulse, self.y2_impulse, self.y3_impulse]), np.array([self.y1_tau, self.y2_tau, self.y3_tau])
        return (np.array([self.x1_impulse, self.x2_impulse]), np.array([self.x1_tau, self.x2_tau])), y


@dataclass
class Lif:
    du: float = 0
    dv: float = 0
    vth: float = 10
    bias_mant: float = 0
    bias_exp: int = 0


@dataclass
class Scenario:
    steps: int
    pre: np.ndarray  # [n_pre, steps]
    weights: np.ndarray  # [n_post, n_pre]
    rule: Rule
    lif: Lif = field(default_factory=Lif)
    mode: str = "fixed_pt"
    num_message_bits: int = 0
    graded_spike_cfg: str = "USE_REGULAR_IMPULSE"
    sign_mode: str = "MIXED"
    num_weight_bits: int = 8
    weight_exp: int = 0
    reward: np.ndarray | None = None  # [n_post, steps], 3F
    record: list[str] = field(default_factory=lambda: ["weights"])

    @property
    def fixed(self) -> bool:
        return self.mode == "fixed_pt"

    @classmethod
    def from_dict(cls, d: dict, where: str = "scenario") -> "Scenario":
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        for key in ("steps", "pre", "weights", "rule"):
            if key not in d:
                raise ConfigError(f"{where}: missing {key!r}")
        d["rule"] = _sub(Rule, d["rule"], f"{where}: rule")
        d["lif"] = _sub(Lif, d.get("lif", {}), f"{where}: lif")
        for key in ("pre", "weights", "reward"):
            if d.get(key) is not None:
                try:
                    d[key] = np.array(d[key], dtype=np.float64)
                except (TypeError, ValueError):
                    raise ConfigError(f"{where}: {key} must be a list of equal-length number lists") from None
                if d[key].ndim != 2:
                    raise ConfigError(f"{where}: {key} must be 2-D, got shape {d[key].shape}")
        return cls(**d).validate(where)

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"scenario file {p} does not exist")
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"scenario file {p} is not valid JSON: {err}") from None
        return cls.from_dict(d, str(p))

    def validate(self, where: str = "scenario") -> "Scenario":
        def check(ok, msg):
            if not ok:
                raise ConfigError(f"{where}: {msg}")

        check(self.mode in MODES, f"mode={self.mode!r} is not one of {MODES}")
        check(self.graded_spike_cfg in GRADED, f"graded_spike_cfg={self.graded_spike_cfg!r} is not one of {GRADED}")
        check(self.sign_mode in SIGN_MODES, f"sign_mode={self.sign_mode!r} is not one of {SIGN_MODES}")
        check(self.rule.type in ("2F", "3F"), f"rule.type={self.rule.type!r} is not 2F or 3F")
        check(self.steps >= 1 and self.pre.shape[1] == self.steps,
              f"pre has {self.pre.shape[1]} columns, steps={self.steps}")
        check(self.weights.shape[1] == self.pre.shape[0],
              f"weights are {self.weights.shape} (n_post x n_pre) but pre has {self.pre.shape[0]} neurons")
        check(self.rule.t_epoch >= 1, "rule.t_epoch must be at least 1")
        check(1 <= self.num_weight_bits <= 8, "num_weight_bits must lie in 1..8")
        check(np.all(self.pre >= 0) and np.all(self.pre <= 255) and np.all(self.pre == np.round(self.pre)),
              "pre values must be integers in 0..255 (binary spikes or graded payloads)")
        check(self.num_message_bits > 0 or np.all(self.pre <= 1), "binary spikes (num_message_bits=0) must be 0 or 1")
        check(self.num_message_bits > 0 or self.graded_spike_cfg == "USE_REGULAR_IMPULSE",
              "graded_spike_cfg other than USE_REGULAR_IMPULSE needs num_message_bits > 0")
        for name in ("x1", "x2", "y1", "y2", "y3"):
            check(getattr(self.rule, f"{name}_impulse") >= 0 and getattr(self.rule, f"{name}_tau") >= 0,
                  f"rule.{name}_impulse and rule.{name}_tau must not be negative")
        try:
            series = self.rule.series()
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        check(series, "the rule needs at least one of dw, dd, dt")
        check(len({s.decimate_exponent for s in series.values()} - {None}) <= 1,
              "all uK terms across dw, dd and dt must use the same K")
        if not self.fixed:  # lava's float applier cannot evaluate these (and then hangs, pitfall P2)
            for s in series.values():
                check(all(f.var not in DEPENDENCIES for p in s.products for f in p.factors),
                      "floating_pt cannot use x0 or y0 as a factor")
        if self.fixed:
            check(np.all(self.weights == np.round(self.weights)), "fixed_pt weights must be integers")
        if self.rule.type == "3F":
            check(self.reward is not None and self.reward.shape == (self.weights.shape[0], self.steps),
                  f"a 3F rule needs reward: n_post x steps = {self.weights.shape[0]} x {self.steps}")
        else:
            check(self.reward is None, "reward is the third factor: only for rule.type 3F")
        bad = [r for r in self.record if r not in RECORDABLE]
        check(not bad, f"cannot record {bad}; choose from {RECORDABLE}")
        return self


def _sub(cls, d, where):
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be an object")
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    return cls(**d)
