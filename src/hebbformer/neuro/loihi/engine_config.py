"""What an emulated (or lava) LearningDense is made of, apart from what drives it: its learning rule
(``Rule``), its synapses' configuration (``Synapses``: weights, rule, lava's synapse settings and
how many steps it may run) and the LIF neurons' parameters (``LifParams``). The parity scenario
format (``scenario``) builds these from JSON; the attention compiler builds them directly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rule_grammar import ProductSeries, parse_rule

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
class LifParams:
    du: float = 0
    dv: float = 0
    vth: float = 10
    bias_mant: float = 0
    bias_exp: int = 0


@dataclass
class Synapses:
    """One LearningDense: initial weights [n_post, n_pre] (and tag_1), its rule, lava's settings
    of its synapses, and the steps it runs for (its random streams are drawn for them)."""
    weights: np.ndarray
    rule: Rule
    steps: int
    mode: str = "fixed_pt"
    num_message_bits: int = 0
    graded_spike_cfg: str = "USE_REGULAR_IMPULSE"
    sign_mode: str = "MIXED"
    num_weight_bits: int = 8
    weight_exp: int = 0
    tag_1: np.ndarray | None = None

    @property
    def fixed(self) -> bool:
        return self.mode == "fixed_pt"
