"""An emulation of Loihi 2's learning engine, Dense synapses and LIF neurons, as lava-nc 0.10.0
simulates them, split as lava splits them: ``fixed_pt`` bit for bit (``FixedLearningDense``,
``FixedLif``: same integer arithmetic, same stochastic rounding, same numpy PCG64 random streams
for the same seed; its hot loops compiled in ``kernels.py``) and ``floating_pt`` to the last
float operation (``FloatLearningDense``, ``FloatLif``: whole numpy arrays per step), both
configured by ``engine_config.Synapses`` and with a lane axis. The behaviour follows
``../shared/reference/lava-learning-engine.md``; lava itself is the judge (``parity.py``).

One time step, in lava's phase order: the synapses send last step's activation (one step of
delay), take the presynaptic spikes, compute the next activation and update the presynaptic
traces' spike times; the LIF neurons integrate and spike, and their spikes return as
back-propagating action potentials (bAPs); at the end of each learning epoch (every ``t_epoch``
steps) the traces are brought up to date and the sum-of-products rules update weights and tags.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .engine_config import LifParams, Synapses
from .kernels import (
    ACC_BITS,
    ACC_HI,
    ACC_LO,
    CLAMP_NONE,
    CLAMP_NONNEGATIVE,
    CLAMP_NONPOSITIVE,
    TRACE_MAX,
    StepSynapses,
    TraceSide,
    dense_input,
    learn_fixed,
    overwrite_x1,
    trace_history,
    weight_exp_shift,
)
from .rule_grammar import MANT_BITS, WIDTH, Product
from .scenario import Scenario

SYN_SHIFT = {"weights": 7, "tag_2": 7, "tag_1": 7}  # W_ACCUMULATOR_S(16) - W_SYN_VAR_S(9)
TAG_RANGE = {"tag_1": (-(2 ** 8) - 1, 2 ** 8 - 1), "tag_2": (0, 2 ** 8 - 1)}
VAR_OF = {"w": "weights", "d": "tag_2", "t": "tag_1"}
TRACE_ROW = {"x1": 0, "x2": 1, "y1": 0, "y2": 1, "y3": 2}
DEPENDENCY_CODE = {"x0": kernels.DEP_X0, "y0": kernels.DEP_Y0, "u": kernels.DEP_U}
FACTOR_CODE = {"x0": kernels.X0, "y0": kernels.Y0, "x1": kernels.X1, "x2": kernels.X2, "y1": kernels.Y1,
               "y2": kernels.Y2, "y3": kernels.Y3, "w": kernels.W, "d": kernels.D, "t": kernels.T}


def _clip(a, lo, hi):
    """np.clip without its per-call overhead (it dominated the step time)."""
    return np.minimum(np.maximum(a, lo), hi)


def conn_var_randoms(epochs: int) -> np.ndarray:
    """The learning engine's rounding random numbers r_c of epochs 1..epochs (index e - 1): lava's
    ConnVarRandom, numpy PCG64 seeded 2 whatever the rule's seed, draws one number when it is
    built and one before each epoch's update. Shared by every synapse and every LearningDense."""
    return np.random.default_rng(2).random(epochs + 1)[1:]


def trace_streams(seed: int, steps: int) -> dict[str, np.ndarray]:
    """The trace random numbers of a rule seeded ``seed`` over ``steps`` steps, indexed by draw:
    lava's TraceRandom streams (numpy PCG64 seeded seed .. seed + 3) draw once when built and
    twice per step; the learning at step t takes draw 2t, the y impulses of step t draw 2t - 1."""
    draws = 2 * steps + 1
    return {"x_decay": np.random.default_rng(seed).random(draws),
            "x_impulse": np.random.default_rng(seed + 1).integers(0, 2 ** 7, size=draws, dtype=int),
            "y_decay": np.random.default_rng(seed + 2).random(draws),
            "y_impulse": np.random.default_rng(seed + 3).integers(0, 2 ** 7, size=draws, dtype=int)}


def weight_range(sign_mode: str) -> tuple[int, int]:
    return {"MIXED": (-256, 255), "EXCITATORY": (0, 255), "INHIBITORY": (-255, 0)}[sign_mode]


class LearningDense:
    """What lava's two LearningDense models share: the rule parsed, the traces' impulses and decays,
    the phase structure of a step. Every array has a leading lane axis: ``lanes`` copies of the
    synapses run side by side on inputs of their own ([lanes, n] per step), with the random streams
    shared, as copies of one network on one chip would share them."""

    def __init__(self, cfg: Synapses, lanes: int = 1):
        self.cfg, self.rule, self.lanes = cfg, cfg.rule, lanes
        self.T = cfg.rule.t_epoch
        self.series = cfg.rule.series()
        self.k_decimate = cfg.rule.decimate_exponent
        self.n_post, self.n_pre = cfg.weights.shape
        (x_imp, x_tau), (y_imp, y_tau) = cfg.rule.impulses_taus()
        if cfg.graded_spike_cfg != "USE_REGULAR_IMPULSE":
            x_imp = x_imp.copy()
            x_imp[0] = 0  # lava zeroes x1_impulse for graded spikes (on the rule object itself)
        self.x_imp, self.y_imp = x_imp, y_imp
        self.x_tau, self.y_tau = x_tau, y_tau
        with np.errstate(divide="ignore"):  # tau = 0 rows are never decayed (forgotten at once)
            self.x_decay = np.exp(-1 / x_tau[:, None])  # lava: np.exp(-t / taus) with t = 1
            self.y_decay = np.exp(-1 / y_tau[:, None])
        self.tx, self.ty = np.zeros((lanes, self.n_pre), np.int64), np.zeros((lanes, self.n_post), np.int64)
        self.epoch = 0
        sign = {"EXCITATORY": CLAMP_NONNEGATIVE, "INHIBITORY": CLAMP_NONPOSITIVE}.get(cfg.sign_mode, CLAMP_NONE)
        self._clamps = {"weights": sign, "tag_2": CLAMP_NONNEGATIVE, "tag_1": CLAMP_NONE}  # the sign clamp (§3.1)

    def _lanes_of(self, a: np.ndarray | None, dtype) -> np.ndarray:
        """An initial [n_post, n_pre] array (weights, tags) copied into every lane."""
        a = np.zeros((self.n_post, self.n_pre)) if a is None else np.asarray(a)
        return np.repeat(a.astype(dtype)[None], self.lanes, axis=0)

    def _within_epoch(self, t: int) -> int:
        return t % self.T or self.T

    def learns_at(self, t: int) -> bool:
        return t % self.T == 0

    def _decimation(self, t: int) -> int:
        """u: 1 in every 2**K-th epoch of a rule with uK terms, else 0."""
        if self.k_decimate is None:
            return 0
        return 1 if int(t / self.T) % 2 ** self.k_decimate == 0 else 0

    def _range(self, target: str) -> tuple[int, int]:
        """The integer range a synaptic variable is saturated to after learning (§3.1)."""
        return weight_range(self.cfg.sign_mode) if target == "weights" else TAG_RANGE[target]

    def spike(self, t: int, s_in: np.ndarray) -> np.ndarray:
        """Step t's presynaptic input [lanes, n_pre]; returns the activation sent this step (last
        step's), [lanes, n_post]."""
        a_out = self.a_buff
        self.a_buff = self._activation(s_in)
        self._pre(t, s_in)
        return a_out

    def post(self, t: int, bap: np.ndarray, third: tuple | None = None) -> None:
        """Step t's back-propagating action potentials [lanes, n_post] (and, for 3F, the received
        y1, y2, y3, each [lanes, n_post])."""
        if self.T > 1:  # a second spike in the epoch adds the impulse again
            multi = (self.ty > 0) & bap
            if multi.any():
                self.y = np.where(multi[:, None, :], self._y_impulse(t), self.y)
        np.copyto(self.ty, self._within_epoch(t), where=bap)  # (a masked copy: no index arrays)
        if third is not None:
            for row, values in enumerate(third):
                self.y[:, row] = values

    def learn(self, t: int) -> None:
        self.epoch += 1
        hx, hy = self._histories(t)
        old = {"weights": self.weights, "tag_1": self.tag_1, "tag_2": self.tag_2}
        new = {target: self._apply(target, series.products, hx, hy, self._decimation(t), old)
               for target, series in self.series.items()}
        for target, value in new.items():
            setattr(self, target, value)
        self.x = hx[-1]
        if self.rule.type == "2F":
            self.y = hy[-1]
        self.tx[:], self.ty[:] = 0, 0

    def variables(self, lane: int = 0) -> dict[str, np.ndarray]:
        """One lane's synaptic variables and traces now (views)."""
        x, y = self.x[lane], self.y[lane]
        return {"weights": self.weights[lane], "tag_1": self.tag_1[lane], "tag_2": self.tag_2[lane],
                "x1": x[0], "x2": x[1], "y1": y[0], "y2": y[1], "y3": y[2]}


class FixedLearningDense(LearningDense):
    """lava's ``PyLearningDenseModelBitApproximate``: integer weights and traces, stochastic
    rounding from lava's own random streams, bit for bit."""

    sparse_updates = True  # update only synapses whose neurons spiked (False: all; same result)

    def __init__(self, cfg: Synapses, lanes: int = 1):
        super().__init__(cfg, lanes)
        w = np.trunc(cfg.weights).astype(np.int64)
        nb = 8 - cfg.num_weight_bits + (cfg.sign_mode == "MIXED")  # the truncation at the first step
        w = -((-w >> nb) << nb) if cfg.sign_mode == "INHIBITORY" else (w >> nb) << nb
        self.weights = self._lanes_of(w, np.int32)  # int32, as lava computes the learning with them
        self.tag_1, self.tag_2 = self._lanes_of(cfg.tag_1, np.int32), self._lanes_of(None, np.int32)
        self.x, self.y = np.zeros((lanes, 2, self.n_pre), np.int64), np.zeros((lanes, 3, self.n_post), np.int64)
        self.x_int, self.x_frac = self._split(self.x_imp)
        self.y_int, self.y_frac = self._split(self.y_imp)
        streams = trace_streams(cfg.rule.rng_seed, cfg.steps)
        self.rx_dec, self.rx_imp = streams["x_decay"], streams["x_impulse"]
        self.ry_dec, self.ry_imp = streams["y_decay"], streams["y_impulse"]
        self.rc = conn_var_randoms(cfg.steps // self.T)
        self.a_buff = np.zeros((lanes, self.n_post), np.int64)
        self._inside = {}  # target -> all values where an update adding nothing keeps them
        # factors that never leave their width's range, so need no clip: plain traces kept in
        # 0..127 by the impulse saturation (not graded x1, nor third-factor y values)
        bounded = {"x1"} if cfg.graded_spike_cfg == "USE_REGULAR_IMPULSE" else set()
        bounded |= {"x2"} | ({"y1", "y2", "y3"} if cfg.rule.type == "2F" else set())
        self._within_width = {f for series in self.series.values() for p in series.products for f in p.factors
                              if f.var in bounded and f.const == 0 and not f.sgn}
        self._tables = {target: self._encode(series.products) for target, series in self.series.items()}
        # a trace read at the other side's spike times (x1 under y0, say) is a matrix unless epochs are one step
        crossed = lambda p: any(f.var[0] in "xy" and f.var[1] != "0" and f.var[0] != p.dependency[0]  # noqa: E731
                                for f in p.factors) and p.dependency != "u"
        self._hoist = {target: not any(_shift_and_saturation(p)[2] or (self.T > 1 and crossed(p))
                                       for p in series.products) for target, series in self.series.items()}

    @staticmethod
    def _split(impulses: np.ndarray):
        whole = np.floor(impulses)
        return whole.astype(np.int64), np.round((impulses - whole) * 2 ** 8).astype(np.int64)

    # ------------------------------------------------------------ spike phase
    def _activation(self, s_in):
        if self.cfg.num_message_bits == 0:
            acc = dense_input(self.weights, (s_in != 0).astype(np.int32))
        else:
            acc = dense_input(self.weights, s_in.astype(np.int32, copy=False))
        return weight_exp_shift(acc, self.cfg.weight_exp)

    @staticmethod
    def _add_impulse(values, random, whole, frac):
        return _clip(values + (whole + (random < frac)), 0, TRACE_MAX)  # the impulse per row first

    def _pre(self, t, s_in):
        cfg = self.cfg.graded_spike_cfg
        x1, x2 = self.x[:, 0], self.x[:, 1]  # views
        if cfg == "OVERWRITE" and self.T == 1:  # the attention networks' synapses: what the rest does, in one pass
            overwrite_x1(s_in, x1, self.tx, self._within_epoch(t))
            return
        spiked = s_in != 0
        # a second spike in the epoch (never with one-step epochs, whose spike times are reset)
        multi = (self.tx > 0) & spiked if self.T > 1 else None
        update_t, x2_idx = spiked, multi
        if cfg == "USE_REGULAR_IMPULSE":
            if multi is not None and multi.any():
                x1[multi] = self._add_impulse(x1[multi], 0, self.x_int[0], self.x_frac[0])
        else:  # graded: the payload sets x1
            scaled = np.round(s_in / 2).astype(np.int64) & 0xFF  # lava: .astype(np.uint8)
            if cfg == "OVERWRITE":
                np.copyto(x1, scaled, where=spiked)
            else:
                sums = (x1 + scaled) & 0xFF
                if cfg == "ADD_WITH_SATURATION":
                    x1[:] = _clip(sums, 0, TRACE_MAX)
                else:
                    overflow = sums > TRACE_MAX
                    update_t = update_t & overflow
                    x2_idx = None if multi is None else multi & overflow
                    x1[:] = np.where(overflow, sums - TRACE_MAX, sums)
        if x2_idx is not None and x2_idx.any():
            x2[x2_idx] = self._add_impulse(x2[x2_idx], 0, self.x_int[1], self.x_frac[1])
        np.copyto(self.tx, self._within_epoch(t), where=update_t)

    def _y_impulse(self, t):  # the y side's impulse random after the step's first advance
        return self._add_impulse(self.y, self.ry_imp[2 * t - 1], self.y_int[:, None], self.y_frac[:, None])

    # ------------------------------------------------------------ learning phase
    def _histories(self, t):
        i = 2 * t
        return (trace_history(self.x, self.x_decay[:, 0], self.tx, self.rx_dec[i], self.x_int, self.x_frac,
                              self.rx_imp[i], self.T, TRACE_MAX),
                trace_history(self.y, self.y_decay[:, 0], self.ty, self.ry_dec[i], self.y_int, self.y_frac,
                              self.ry_imp[i], self.T, TRACE_MAX))

    def _apply(self, target, products, hx, hy, u, old):
        """The update of one synaptic variable (``kernels.learn_fixed``). Every entry's new value
        depends on its own synapse alone, so it is computed only where a neuron spiked, the
        rest keeping their value, unless a u-product applies to all or old values lie outside
        the range. In place where no other target's rule reads this one's old values."""
        v = old[target]
        lo, hi = self._range(target)
        inside = (max(lo, -(2 ** 8)), hi)  # where an update adding nothing leaves a value as it is
        if target not in self._inside:  # known from then on: every update below checks what it writes
            self._inside[target] = bool(v.min() >= inside[0] and v.max() <= inside[1])
        sparse = self.sparse_updates and (u == 0 or all(p.dependency != "u" for p in products)) and self._inside[target]
        new = v.copy() if len(self.series) > 1 else v
        table, factors = self._tables[target]
        shift = SYN_SHIFT[target]
        k = int(np.floor(2 ** shift * self.rc[self.epoch - 1]))  # stochastic rounding: see the kernel
        least, greatest = learn_fixed(new, v, old["weights"], old["tag_2"], old["tag_1"], table, factors, hx, hy,
                                      self.tx, self.ty, u, self.T, sparse, self._hoist[target], lo < -(2 ** 8),
                                      ACC_LO, ACC_HI, self._clamps[target],
                                      shift, 2 ** shift - 1 - k, lo, hi)
        if not sparse:
            self._inside[target] = bool(least >= inside[0] and greatest <= inside[1])
        elif inside[0] > lo and least < inside[0]:  # only tag_1 can reach below -256
            self._inside[target] = False
        return new

    def step_constants(self) -> StepSynapses:
        """These synapses, fresh, as a compiled step loop takes them (``kernels.run_slot_program``,
        which calls the same kernels as ``spike``, ``post`` and ``learn``, in the same order).
        Only for what such a loop runs: one-step epochs, graded spikes that overwrite x1, the
        weights alone learned, no decimated (u) products, none whose int32 product can wrap, and
        weights inside their range (so that sparse updates are exact at every step, as ``_apply``
        finds)."""
        lo, hi = self._range("weights")
        unmet = [what for what, met in (
            ("a fresh state (no step taken)", self.epoch == 0 and not self.x.any() and not self.a_buff.any()),
            ("one-step epochs (t_epoch 1)", self.T == 1),
            ("graded spikes that overwrite x1", self.cfg.graded_spike_cfg == "OVERWRITE" and self.cfg.num_message_bits > 0),
            ("a rule for the weights alone", set(self.series) == {"weights"}),
            ("no u term", self.k_decimate is None),
            ("no product whose int32 value can wrap", self._hoist["weights"]),
            ("weights within their range", lo <= self.weights.min() and self.weights.max() <= hi)) if not met]
        if unmet:
            raise ValueError(f"a compiled step loop needs {', '.join(unmet)}")
        learning = slice(2, 2 * len(self.rc) + 1, 2)  # the draws of steps 1..steps' learning (trace_streams)
        table, factors = self._tables["weights"]

        def side(decay, whole, frac, r_decay, r_impulse, first, rows):
            read = np.flatnonzero(np.isin(np.arange(rows) + first, factors[:, :, 0]))  # the rows a factor reads
            return TraceSide(decay[:, 0].copy(), whole, frac, r_decay[learning].copy(), r_impulse[learning].copy(),
                             *((int(read[0]), int(read[-1]) + 1) if len(read) else (0, 0)))

        shift = SYN_SHIFT["weights"]
        return StepSynapses(
            self.weights.copy(), self.tag_2, self.tag_1, table, factors, int(self.cfg.weight_exp),
            side(self.x_decay, self.x_int, self.x_frac, self.rx_dec, self.rx_imp, kernels.X1, 2),
            side(self.y_decay, self.y_int, self.y_frac, self.ry_dec, self.ry_imp, kernels.Y1, 3),
            shift, 2 ** shift - 1 - np.floor(2 ** shift * self.rc).astype(np.int64),  # as _apply, epoch by epoch
            self._clamps["weights"], lo, hi, lo < -(2 ** 8))

    def _encode(self, products: tuple[Product, ...]) -> tuple[np.ndarray, np.ndarray]:
        """A rule's products as the kernel's integer tables (see ``kernels.learn_fixed``)."""
        table = np.zeros((len(products), 9), np.int64)
        factors = np.zeros((len(products), max([len(p.factors) for p in products] + [1]), 4), np.int64)
        for i, p in enumerate(products):
            shift, saturates, wraps = _shift_and_saturation(p)
            one_bit = {f.var for f in p.factors}
            table[i] = (DEPENDENCY_CODE[p.dependency], p.s_mant, p.s_exp + 7, shift, saturates, len(p.factors),
                        p.dependency == "y0" or "y0" in one_bit, p.dependency == "x0" or "x0" in one_bit, wraps)
            for j, f in enumerate(p.factors):
                width = -1 if f in self._within_width else WIDTH[f.var]
                factors[i, j] = (FACTOR_CODE[f.var], f.const, f.sgn, width)
        return table, factors


class FloatLearningDense(LearningDense):
    """lava's ``PyLearningDenseModelFloat``: float64 weights and traces, exponential decays, every
    synapse updated every epoch (lava's NaN traces of tau 0 reach even zero-dependency ones)."""

    def __init__(self, cfg: Synapses, lanes: int = 1):
        super().__init__(cfg, lanes)
        self.weights = self._lanes_of(cfg.weights, np.float64)
        self.tag_1, self.tag_2 = self._lanes_of(cfg.tag_1, np.float64), self._lanes_of(None, np.float64)
        self.x, self.y = np.zeros((lanes, 2, self.n_pre)), np.zeros((lanes, 3, self.n_post))
        self.a_buff = np.zeros((lanes, self.n_post))

    def _activation(self, s_in):
        if self.cfg.num_message_bits == 0:  # lava's own expression, for float sums in the same order
            return np.stack([w[:, p].sum(axis=1) for w, p in zip(self.weights, s_in != 0)])
        return np.stack([w.dot(p) for w, p in zip(self.weights, s_in.astype(np.float64))])

    def _pre(self, t, s_in):
        cfg = self.cfg.graded_spike_cfg
        spiked = s_in != 0
        multi = (self.tx > 0) & spiked
        x1, x2 = self.x[:, 0], self.x[:, 1]  # views
        if cfg == "USE_REGULAR_IMPULSE":
            x1[multi] += self.x_imp[0]
        elif cfg == "OVERWRITE":
            x1[spiked] = (s_in / 2)[spiked]
        else:
            x1 += s_in / 2
        x2[multi] += self.x_imp[1]
        self.tx[spiked] = self._within_epoch(t)

    def _y_impulse(self, t):
        return self.y + self.y_imp[:, None]

    def _histories(self, t):
        return (self._history(self.x, self.x_tau, self.x_decay, self.tx, self.x_imp),
                self._history(self.y, self.y_tau, self.y_decay, self.ty, self.y_imp))

    def _history(self, stored, tau, decay, t_spike, imp):
        """Trace values at each within-epoch step 0..T [T+1, lanes, rows, n]; lava's float
        histories leave tau = 0 rows NaN."""
        live = tau != 0
        h = np.full((self.T + 1,) + stored.shape, np.nan)
        h[0] = stored
        for k in range(1, self.T + 1):
            h[k][:, live] = decay[live] * h[k - 1][:, live]
            spiking = (t_spike == k)[:, None, :]
            if spiking.any():
                h[k] = np.where(spiking, h[k] + imp[:, None], h[k])
        return h

    def _sign_clamp(self, target, value):
        clamp = self._clamps[target]
        if clamp == CLAMP_NONNEGATIVE:
            return np.maximum(0, value)
        return np.minimum(0, value) if clamp == CLAMP_NONPOSITIVE else value

    def _apply(self, target, products, hx, hy, u, old):
        """The products summed left to right, then added (lava's float order), on every entry."""
        env = _Env(hx, hy, self.tx, self.ty, u)
        total = None
        for p in products:
            m = (p.s_mant * 2.0 ** p.s_exp) * env.dep[p.dependency]
            for f in p.factors:
                m = m * env.factor(f, p.dependency, old)
            total = m if total is None else total + m
        value = old[target] if total is None else old[target] + total
        return np.broadcast_to(self._sign_clamp(target, value), old[target].shape).copy()


def learning_dense(cfg: Synapses, lanes: int = 1) -> LearningDense:
    """The engine of ``cfg.mode``: bit-accurate fixed point or floating point."""
    return (FixedLearningDense if cfg.fixed else FloatLearningDense)(cfg, lanes)


def _shift_and_saturation(p: Product) -> tuple[int, bool, bool]:
    """A fixed-point product's width shift (§3.2), whether it can reach the accumulator's clip at
    all and whether its int32 product can wrap (from the ranges its factors are clipped to)."""
    bound = abs(p.s_mant)
    for f in p.factors:
        bound *= 1 if f.sgn else 2 ** WIDTH[f.var]
    shift = max(0, sum(WIDTH[f.var] for f in p.factors) + MANT_BITS - ACC_BITS)
    wraps = bound >= 2 ** 31  # int32 products could wrap: then keep lava's order of multiplication
    bound = -(-bound // 2 ** shift) << (p.s_exp + 7)  # a floor shift of -bound rounds away from 0
    return shift, bound > ACC_HI, wraps


class _Env:
    """Floating point: the dependencies, and each factor on every entry, the traces evaluated at
    each dependency's spike times (§2.4d); histories [T+1, lanes, rows, n], spike times [lanes, n]."""

    def __init__(self, hx, hy, tx, ty, u):
        self.hx, self.hy, self.tx, self.ty = hx, hy, tx, ty
        self.dep = {"x0": (tx > 0)[:, None, :], "y0": (ty > 0)[:, :, None], "u": u}

    def factor(self, f, dep, old):
        if f.var in TRACE_ROW:
            val = self.trace(f.var, dep)
        else:  # x0 and y0 are no factors in floating point (lava's float applier cannot evaluate them)
            val = old[VAR_OF[f.var]]
        if f.const:
            val = val + f.const
        return np.sign(val) if f.sgn else val

    def trace(self, var, dep):
        """Trace ``var`` under dependency ``dep``: the x (presynaptic) or y (postsynaptic) trace at
        the spike time of the dependency's neuron, or at the end of the epoch for u; a [L, 1, n_pre]
        or [L, n_post, 1] vector wherever it can be, else [L, n_post, n_pre]."""
        row, x_side = TRACE_ROW[var], var[0] == "x"
        h = (self.hx if x_side else self.hy)[:, :, row]  # [T+1, lanes, n]
        if dep == "u":
            return h[-1][:, None, :] if x_side else h[-1][:, :, None]
        times = self.tx if dep == "x0" else self.ty  # the dependency's spike times
        if dep[0] == var[0]:  # the dependency's own neuron: its trace at its own last spike time
            v = np.take_along_axis(h, times[None], axis=0)[0]
            return v[:, None, :] if x_side else v[:, :, None]
        k = self._common_time(times)
        if k is not None:  # the other side's trace at that one time: a vector
            return h[k][:, None, :] if x_side else h[k][:, :, None]
        lanes, own = np.arange(h.shape[1])[:, None, None], np.arange(h.shape[2])
        if x_side:  # dependency y0: x traces at each post's spike time
            return h[times[:, :, None], lanes, own[None, None, :]]
        return h[times[:, None, :], lanes, own[None, :, None]]  # dependency x0: y traces

    @staticmethod
    def _common_time(times):
        """The one spike time shared by every neuron that spiked (always so when t_epoch is 1),
        else None. Then the other side's trace at that time is a vector, not a gathered matrix:
        entries of neurons that did not spike are multiplied by their zero dependency anyway
        (the NaN of a tau-0 trace is kept: it is what lava computes)."""
        spiked = times[times > 0]
        if spiked.size == 0:
            return 0
        return int(spiked[0]) if (spiked == spiked[0]).all() else None


class FixedLif:
    """lava's LIF in fixed point (``PyLifModelBitAcc``), on arrays of any shape ([lanes, n])."""

    def __init__(self, p: LifParams, shape):
        self.u, self.v = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        self.du, self.dv = int(p.du), int(p.dv)
        self.vth = int(p.vth) << 6  # scaled once, at the first step
        self.bias = int(p.bias_mant) << p.bias_exp if p.bias_exp >= 0 else int(p.bias_mant) >> -p.bias_exp

    def step(self, a_in: np.ndarray) -> np.ndarray:
        u = self.u * (4096 - (self.du + 1))  # lava's ds_offset: du = 0 still decays by 1/4096
        u = np.sign(u) * (np.abs(u) >> 12) + (a_in.astype(np.int64, copy=False) << 6)
        if u.max(initial=0) > 2 ** 23 or u.min(initial=0) <= -(2 ** 23):  # 24-bit wrap
            u = np.where(u > 2 ** 23, u - 2 ** 24, u)
            u = np.where(u <= -(2 ** 23), u + 2 ** 24, u)
        self.u = u
        v = self.v * (4096 - self.dv)
        v = np.sign(v) * (np.abs(v) >> 12) + self.u + self.bias
        self.v = _clip(v, -(2 ** 23) + 1, 2 ** 23 - 1)
        spikes = self.v > self.vth
        self.v[spikes] = 0
        return spikes


class FloatLif:
    """lava's LIF in floating point (``PyLifModelFloat``)."""

    def __init__(self, p: LifParams, shape):
        self.u, self.v = np.zeros(shape), np.zeros(shape)
        self.du, self.dv, self.vth, self.bias = p.du, p.dv, p.vth, p.bias_mant

    def step(self, a_in: np.ndarray) -> np.ndarray:
        self.u = self.u * (1 - self.du) + a_in
        self.v = self.v * (1 - self.dv) + self.u + self.bias
        spikes = self.v > self.vth
        self.v[spikes] = 0
        return spikes


class Network:
    """A scenario's network: spike source -> LearningDense -> LIF, spikes back as bAPs; in lanes
    when given inputs of their own (``pre`` [lanes, n_pre, steps], ``reward`` [lanes, n_post,
    steps]), the scenario's otherwise."""

    def __init__(self, s: Scenario, pre: np.ndarray | None = None, reward: np.ndarray | None = None):
        self.s = s
        self.pre = s.pre[None] if pre is None else pre
        self.reward = None if s.reward is None else s.reward[None] if reward is None else reward
        lanes, n_post = len(self.pre), s.weights.shape[0]
        self.dense = learning_dense(s.synapses(), lanes)
        self.lif = (FixedLif if s.fixed else FloatLif)(s.lif, (lanes, n_post))
        self.spikes = np.zeros((lanes, n_post), bool)

    def step(self, t: int) -> None:
        dense = self.dense
        self.spikes = self.lif.step(dense.spike(t, self.pre[:, :, t - 1]))
        third = None
        if self.s.rule.type == "3F":  # the neuron sends y1 = y3 = 0 and the reward as y2 (lava_sim.py)
            zeros = np.zeros_like(self.spikes, np.float64)
            third = (zeros, self.reward[:, :, t - 1], zeros)
        dense.post(t, self.spikes, third)
        if dense.learns_at(t):
            dense.learn(t)

    def state(self) -> dict[str, np.ndarray]:
        """Every recordable quantity now (views, not copies)."""
        return {**self.dense.variables(0), "u": self.lif.u[0], "v": self.lif.v[0], "spikes": self.spikes[0]}


def simulate(s: Scenario) -> dict[str, np.ndarray]:
    """Run a scenario; returns each recorded variable at every step [steps, ...], as a monitor
    reads it (after the step's learning)."""
    net = Network(s)
    # each recording in its variable's own dtype (int32 weights, bool spikes in fixed point): the
    # same values as float64, at half the memory traffic or less, which dominates large recordings
    first = net.state()
    out = {name: np.empty((s.steps,) + np.shape(first[name]), np.asarray(first[name]).dtype) for name in s.record}
    for t in range(1, s.steps + 1):
        net.step(t)
        state = net.state()
        for name in s.record:
            out[name][t - 1] = state[name]
    return out
