"""A vectorised emulation of Loihi 2's learning engine, Dense synapses and LIF neurons, as lava-nc
0.10.0 simulates them: ``fixed_pt`` bit for bit (same integer arithmetic, same stochastic
rounding, same numpy PCG64 random streams for the same seed) and ``floating_pt`` to the last
float operation. Whole arrays per step, no per-neuron loops. The behaviour follows
``../shared/reference/lava-learning-engine.md``; lava itself is the judge (``parity.py``).

One time step, in lava's phase order: the synapses send last step's activation (one step of
delay), take the presynaptic spikes, compute the next activation and update the presynaptic
traces' spike times; the LIF neurons integrate and spike, and their spikes return as
back-propagating action potentials (bAPs); at the end of each learning epoch (every ``t_epoch``
steps) the traces are brought up to date and the sum-of-products rules update weights and tags.
"""

from __future__ import annotations

import numpy as np

from .rule_grammar import MANT_BITS, WIDTH, Product
from .scenario import Scenario

TRACE_MAX = 127  # 7-bit traces
ACC_BITS = 15  # W_ACCUMULATOR_U: the accumulator holds 16 signed bits
ACC_LO, ACC_HI = -(2 ** ACC_BITS) - 1, 2 ** ACC_BITS - 1  # lava's lower bound is off by one (sic)
SYN_SHIFT = {"weights": 7, "tag_2": 7, "tag_1": 7}  # W_ACCUMULATOR_S(16) - W_SYN_VAR_S(9)
TAG_RANGE = {"tag_1": (-(2 ** 8) - 1, 2 ** 8 - 1), "tag_2": (0, 2 ** 8 - 1)}
VAR_OF = {"w": "weights", "d": "tag_2", "t": "tag_1"}
TRACE_ROW = {"x1": 0, "x2": 1, "y1": 0, "y2": 1, "y3": 2}


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
    """lava's LearningDense (``PyLearningDenseModelBitApproximate`` / ``...Float``)."""

    sparse_updates = True  # update only synapses whose neurons spiked (False: all; same result)

    def __init__(self, s: Scenario, tag_1: np.ndarray | None = None):
        self.s, self.fixed, self.rule = s, s.fixed, s.rule
        self.T = s.rule.t_epoch
        self.series = s.rule.series()
        self.k_decimate = s.rule.decimate_exponent
        n_post, n_pre = s.weights.shape
        (x_imp, x_tau), (y_imp, y_tau) = s.rule.impulses_taus()
        if s.graded_spike_cfg != "USE_REGULAR_IMPULSE":
            x_imp = x_imp.copy()
            x_imp[0] = 0  # lava zeroes x1_impulse for graded spikes (on the rule object itself)
        self.x_tau, self.y_tau = x_tau, y_tau
        if self.fixed:
            w = np.trunc(s.weights).astype(np.int64)
            nb = 8 - s.num_weight_bits + (s.sign_mode == "MIXED")  # the truncation at the first step
            w = -((-w >> nb) << nb) if s.sign_mode == "INHIBITORY" else (w >> nb) << nb
            self.weights = w.astype(np.int32)  # int32, as lava computes the learning with them
            self.tag_1, self.tag_2 = np.zeros_like(self.weights), np.zeros_like(self.weights)
            if tag_1 is not None:
                self.tag_1 = np.array(tag_1, dtype=np.int32)
            self.x, self.y = np.zeros((2, n_pre), np.int64), np.zeros((3, n_post), np.int64)
            self.x_int, self.x_frac = self._split(x_imp)
            self.y_int, self.y_frac = self._split(y_imp)
            streams = trace_streams(s.rule.rng_seed, s.steps)
            self.rx_dec, self.rx_imp = streams["x_decay"], streams["x_impulse"]
            self.ry_dec, self.ry_imp = streams["y_decay"], streams["y_impulse"]
            self.rc = conn_var_randoms(s.steps // self.T)
        else:
            self.weights = s.weights.astype(np.float64).copy()
            self.tag_1, self.tag_2 = np.zeros_like(self.weights), np.zeros_like(self.weights)
            if tag_1 is not None:
                self.tag_1 = np.array(tag_1, dtype=np.float64)
            self.x, self.y = np.zeros((2, n_pre)), np.zeros((3, n_post))
            self.x_imp, self.y_imp = x_imp.astype(np.float64), y_imp.astype(np.float64)
        with np.errstate(divide="ignore"):  # tau = 0 rows are never decayed (forgotten at once)
            self.x_decay = np.exp(-1 / x_tau[:, None])  # lava: np.exp(-t / taus) with t = 1
            self.y_decay = np.exp(-1 / y_tau[:, None])
        self._inside = {}  # target -> all values where an update adding nothing keeps them
        self._dependencies = {target: {p.dependency for p in series.products} for target, series in self.series.items()}
        # factors that never leave their width's range, so need no clip: plain traces kept in
        # 0..127 by the impulse saturation (not graded x1, nor third-factor y values)
        bounded = {"x1"} if s.graded_spike_cfg == "USE_REGULAR_IMPULSE" else set()
        bounded |= {"x2"} | ({"y1", "y2", "y3"} if s.rule.type == "2F" else set())
        self._within_width = {f for series in self.series.values() for p in series.products for f in p.factors
                              if f.var in bounded and f.const == 0 and not f.sgn}
        self._product_shift = {p: _shift_and_saturation(p) for series in self.series.values() for p in series.products}
        self.tx, self.ty = np.zeros(n_pre, np.int64), np.zeros(n_post, np.int64)
        self._no_multi = np.zeros(n_pre, bool)
        self.a_buff = np.zeros(n_post, np.int64 if self.fixed else np.float64)
        self.epoch = 0

    @staticmethod
    def _split(impulses: np.ndarray):
        whole = np.floor(impulses)
        return whole.astype(np.int64), np.round((impulses - whole) * 2 ** 8).astype(np.int64)

    def _within_epoch(self, t: int) -> int:
        return t % self.T or self.T

    # ------------------------------------------------------------ spike phase
    def spike(self, t: int, s_in: np.ndarray) -> np.ndarray:
        """Step t's presynaptic input; returns the activation sent this step (last step's)."""
        a_out = self.a_buff
        s = self.s
        if s.num_message_bits == 0:  # lava's own expressions, for float sums in the same order
            payload = s_in != 0
            acc = self.weights[:, payload].sum(axis=1)
        else:
            payload = s_in.astype(np.int64 if self.fixed else np.float64)
            acc = self.weights.dot(payload)
        if self.fixed and s.weight_exp:
            acc = acc << s.weight_exp if s.weight_exp > 0 else acc >> -s.weight_exp
        self.a_buff = acc
        (self._pre_fixed if self.fixed else self._pre_float)(t, payload)
        return a_out

    def _add_impulse(self, values, random, whole, frac):
        return _clip(values + (whole + (random < frac)), 0, TRACE_MAX)  # the impulse per row first

    def _pre_fixed(self, t, s_in):
        cfg = self.s.graded_spike_cfg
        spiked = s_in.astype(bool)
        # a second spike in the epoch (never with one-step epochs, whose spike times are reset)
        multi = self._no_multi if self.T == 1 else (self.tx > 0) & spiked
        update_t, x2_idx = spiked, multi
        if cfg == "USE_REGULAR_IMPULSE":
            if multi.any():
                self.x[0, multi] = self._add_impulse(self.x[0, multi], 0, self.x_int[0], self.x_frac[0])
        else:  # graded: the payload sets x1
            scaled = np.round(s_in / 2).astype(np.int64) & 0xFF  # lava: .astype(np.uint8)
            if cfg == "OVERWRITE":
                self.x[0, spiked] = scaled[spiked]
            else:
                sums = (self.x[0] + scaled) & 0xFF
                if cfg == "ADD_WITH_SATURATION":
                    self.x[0] = _clip(sums, 0, TRACE_MAX)
                else:
                    overflow = sums > TRACE_MAX
                    update_t, x2_idx = update_t & overflow, x2_idx & overflow
                    self.x[0] = np.where(overflow, sums - TRACE_MAX, sums)
        if x2_idx.any():
            self.x[1, x2_idx] = self._add_impulse(self.x[1, x2_idx], 0, self.x_int[1], self.x_frac[1])
        self.tx[update_t] = self._within_epoch(t)

    def _pre_float(self, t, s_in):
        cfg = self.s.graded_spike_cfg
        spiked = s_in.astype(bool)
        multi = (self.tx > 0) & spiked
        if cfg == "USE_REGULAR_IMPULSE":
            self.x[0, multi] += self.x_imp[0]
        elif cfg == "OVERWRITE":
            self.x[0, spiked] = (s_in / 2)[spiked]
        else:
            self.x[0] = self.x[0] + s_in / 2
        self.x[1, multi] += self.x_imp[1]
        self.tx[spiked] = self._within_epoch(t)

    def post(self, t: int, bap: np.ndarray, third: tuple | None = None) -> None:
        """Step t's back-propagating action potentials (and, for 3F, the received y1, y2, y3)."""
        multi = (self.ty > 0) & bap if self.T > 1 else None  # a second spike in the epoch
        if multi is None or not multi.any():
            pass
        elif self.fixed:  # the y side's impulse random after the step's first advance
            self.y[:, multi] = self._add_impulse(self.y[:, multi], self.ry_imp[2 * t - 1],
                                                 self.y_int[:, None], self.y_frac[:, None])
        else:
            self.y[:, multi] += self.y_imp[:, None]
        self.ty[bap] = self._within_epoch(t)
        if third is not None:
            self.y[:] = np.stack(third)

    # ------------------------------------------------------------ learning phase
    def learns_at(self, t: int) -> bool:
        return t % self.T == 0

    def _history(self, stored, tau, decay, t_spike, r_dec, imp):
        """Trace values at each within-epoch step 0..T [T+1, rows, n], decays and impulses."""
        T = self.T
        if self.fixed and T == 1:  # one-step epochs: the stored values and one step on
            whole, frac, r_imp = imp
            p = decay * stored
            floor = np.floor(p)
            now = floor.astype(np.int64) + (r_dec < p - floor)
            spiking = t_spike == 1
            if spiking.any():
                now[:, spiking] = self._add_impulse(now[:, spiking], r_imp, whole[:, None], frac[:, None])
            return stored, now
        live = tau != 0
        if self.fixed:
            whole, frac, r_imp = imp
            h = np.empty((T + 1,) + stored.shape, np.int64)
        else:
            h = np.full((T + 1,) + stored.shape, np.nan)
        h[0] = stored
        for k in range(1, T + 1):
            if self.fixed:  # rows with tau = 0 have decay exp(-inf) = 0: forgotten at once, as in lava
                p = decay * h[k - 1]
                floor = np.floor(p)
                h[k] = floor + (r_dec < p - floor)
            else:  # lava's float histories leave tau = 0 rows NaN
                h[k][live] = decay[live] * h[k - 1][live]
            spiking = t_spike == k
            if spiking.any():
                if self.fixed:
                    h[k][:, spiking] = self._add_impulse(h[k][:, spiking], r_imp, whole[:, None], frac[:, None])
                else:
                    h[k][:, spiking] += imp[:, None]
        return h

    def learn(self, t: int) -> None:
        self.epoch += 1
        x0, y0 = self.tx > 0, self.ty > 0
        if self.fixed:
            i = 2 * t
            hx = self._history(self.x, self.x_tau, self.x_decay, self.tx, self.rx_dec[i],
                               (self.x_int, self.x_frac, self.rx_imp[i]))
            hy = self._history(self.y, self.y_tau, self.y_decay, self.ty, self.ry_dec[i],
                               (self.y_int, self.y_frac, self.ry_imp[i]))
        else:
            hx = self._history(self.x, self.x_tau, self.x_decay, self.tx, None, self.x_imp)
            hy = self._history(self.y, self.y_tau, self.y_decay, self.ty, None, self.y_imp)
        u = 0
        if self.k_decimate is not None:
            u = 1 if int(t / self.T) % 2 ** self.k_decimate == 0 else 0
        env = _Env(hx, hy, self.tx, self.ty, x0, y0, u, self.T, self.fixed)
        old = {"weights": self.weights, "tag_1": self.tag_1, "tag_2": self.tag_2}
        new = {}
        for target, series in self.series.items():
            new[target] = self._apply(target, series.products, env, old)
        for target, value in new.items():
            setattr(self, target, value)
        self.x = hx[-1]
        if self.rule.type == "2F":
            self.y = hy[-1]
        self.tx[:], self.ty[:] = 0, 0

    def _range(self, target: str) -> tuple[int, int]:
        """The integer range a synaptic variable is saturated to after learning (§3.1)."""
        return weight_range(self.s.sign_mode) if target == "weights" else TAG_RANGE[target]

    def _apply(self, target, products: tuple[Product, ...], env, old):
        """The update of one synaptic variable. Every entry's new value depends on its own
        synapse alone, so in fixed point it is computed only where it can change: the rows of
        postsynaptic neurons that spiked (y0) and the columns of presynaptic ones (x0). The rest
        keep their value, unless a u-product applies to all or old values lie outside the range.
        Floating point computes every entry (lava's NaN traces reach even zero-dependency ones)."""
        v = old[target]
        lo, hi = self._range(target)
        inside = (max(lo, -(2 ** 8)), hi)  # where an update adding nothing leaves a value as it is
        if target not in self._inside:  # known from then on: every update below checks what it writes
            self._inside[target] = bool(v.min() >= inside[0] and v.max() <= inside[1])
        dependencies = self._dependencies[target]
        sparse = self.sparse_updates and self.fixed and ("u" not in dependencies or env.u == 0) and self._inside[target]
        if not sparse:
            new = np.array(self._update_entries(target, products, env, old, slice(None), slice(None)))
            if self.fixed:
                self._inside[target] = bool(new.min() >= inside[0] and new.max() <= inside[1])
            return new
        # whole rows of spiking posts, and the spiking pres' columns of the other rows (where
        # an x0 product can change them)
        rows = np.flatnonzero(env.dep["y0"][:, 0])
        cols = np.flatnonzero(env.dep["x0"][0]) if "x0" in dependencies else []
        if not len(rows) and not len(cols):
            return v
        others = np.flatnonzero(~env.dep["y0"][:, 0]) if len(cols) else []
        # in place where no other target's rule reads this one's old values (the blocks are
        # disjoint, so neither block reads what the other wrote)
        new = v.copy() if len(self.series) > 1 else v
        for r, c in ((rows, slice(None)), (others, cols)):
            if len(r) and (isinstance(c, slice) or len(c)):
                # on the other rows no post spiked: their y0 products add exactly 0
                live = products if r is rows else tuple(p for p in products if p.dependency != "y0")
                block = self._update_entries(target, live, env, old, r, c)
                new[(r, c) if isinstance(c, slice) else (r[:, None], c)] = block
                if inside[0] > lo and block.min() < inside[0]:  # only tag_1 can reach below -256
                    self._inside[target] = False
        return new

    def _update_entries(self, target, products, env, old, r, c):
        """New values of ``target`` on the block of rows r and columns c (index arrays or
        slices): §3.2 (fixed) and §3.3 (float) of the reference, broadcasting per-neuron vectors
        against each other rather than gathering matrices."""
        n_post, n_pre = old[target].shape
        shape = (n_post if isinstance(r, slice) else len(r), n_pre if isinstance(c, slice) else len(c))

        def take(a):  # a scalar, [n_post, 1], [1, n_pre] or [n_post, n_pre] array, on the block
            if np.ndim(a) == 0:
                return a
            pick_rows = a.shape[0] == n_post and not isinstance(r, slice)  # a size-1 axis is broadcast
            pick_cols = a.shape[1] == n_pre and not isinstance(c, slice)
            if pick_cols and (not pick_rows or len(c) * a.shape[0] < len(r) * a.shape[1]):
                a = a.take(c, axis=1)  # the smaller gather first
                pick_cols = False
            if pick_rows:
                a = a.take(r, axis=0)
            return a.take(c, axis=1) if pick_cols else a

        if not self.fixed:  # the products summed left to right, then added (lava's float order)
            total = None
            for p in products:
                m = (p.s_mant * 2.0 ** p.s_exp) * take(env.dep[p.dependency])
                for f in p.factors:
                    m = m * self._factor(f, p, env, old, r, c, take)
                total = m if total is None else total + m
            value = take(old[target]) if total is None else take(old[target]) + total
            return np.broadcast_to(self._sign_clamp(target, value), shape)
        # fixed point computes in int32, as lava does: its products wrap the way lava's do
        acc = take(old[target]) << SYN_SHIFT[target]  # int32; the block of the full matrix, a copy
        lo, hi = self._range(target)
        for i, p in enumerate(products):
            shift, saturates, wraps = self._product_shift[p]
            values = [np.asarray(take(env.dep[p.dependency]), dtype=np.int32)]
            for f in p.factors:
                val = self._factor(f, p, env, old, r, c, take)
                if f not in self._within_width:
                    val = _clip(val, -(2 ** WIDTH[f.var]), 2 ** WIDTH[f.var] - 1)
                values.append(val.astype(np.int32))
            if wraps:  # lava's order of multiplication, wrap-arounds and all
                m = values[0]
                for v in values[1:]:
                    m = m * v
                m = (m * np.int32(p.s_mant) >> shift) << (p.s_exp + 7)
            else:  # no product can wrap: any order is exact, so multiply the per-neuron vectors first
                m = _outer_product(values, p.s_mant, shift, p.s_exp + 7)
            if saturates:
                m = _clip(m, ACC_LO, ACC_HI)
            acc += m
            # the accumulator saturates after every product; after the last one that changes
            # nothing when the target's range lies within -256..255 (the rounding and the clip to
            # that range below give the same ends either way)
            if i < len(products) - 1 or lo < -(2 ** 8):
                np.minimum(np.maximum(acc, ACC_LO, out=acc), ACC_HI, out=acc)
        acc = self._sign_clamp(target, acc)
        # stochastic rounding: (acc >> s) + (f > 2**s * r_c) for the fraction f = acc & (2**s - 1),
        # in two operations, since the integer f exceeds 2**s * r_c exactly when f > floor(2**s * r_c)
        k = int(np.floor(2 ** SYN_SHIFT[target] * self.rc[self.epoch - 1]))
        acc += 2 ** SYN_SHIFT[target] - 1 - k
        acc >>= SYN_SHIFT[target]
        return np.minimum(np.maximum(acc, lo, out=acc), hi, out=acc)

    @staticmethod
    def _factor(f, p, env, old, r, c, take):
        """A factor's value on the block (a scalar, per-row or per-column vector, or a block)."""
        if f.var in ("x0", "y0"):
            val = take(env.dep[f.var]).astype(np.int64)
        elif f.var in TRACE_ROW:
            val = env.trace(f.var, p.dependency, r, c)
        else:
            val = take(old[VAR_OF[f.var]])
        if f.const:
            val = val + f.const
        return np.sign(val) if f.sgn else val

    def _sign_clamp(self, target, value):
        if (target == "weights" and self.s.sign_mode == "EXCITATORY") or target == "tag_2":
            return np.maximum(0, value)
        if target == "weights" and self.s.sign_mode == "INHIBITORY":
            return np.minimum(0, value)
        return value


def _outer_product(values, s_mant: int, shift: int, exp: int) -> np.ndarray:
    """prod(values) * s_mant, floor-shifted down by ``shift`` and up by ``exp``: the per-row
    ([n, 1]) and per-column ([1, n]) factors are multiplied as vectors, and only then together."""
    rows, cols, blocks, scale = None, None, [], s_mant
    for v in values:
        if v.ndim == 0 or v.size == 1:
            scale = scale * v.reshape(())
        elif v.shape[1] == 1:
            rows = v if rows is None else rows * v
        elif v.shape[0] == 1:
            cols = v if cols is None else cols * v
        else:
            blocks.append(v)
    if shift == 0:  # the scale and the exponent can go into a vector too
        scale = np.int32(scale) << exp
    vectors = [v for v in (rows, cols) if v is not None] + blocks
    if not vectors:
        m = np.asarray(scale, dtype=np.int32)
    else:
        m = vectors[0] * np.int32(scale)
        for v in vectors[1:]:
            m = m * v
    return m if shift == 0 else (m >> shift) << exp


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
    """The dependencies and the traces evaluated at each dependency's spike times (§2.4d)."""

    def __init__(self, hx, hy, tx, ty, x0, y0, u, T, fixed):
        self.hx, self.hy, self.tx, self.ty, self.u, self.T, self.fixed = hx, hy, tx, ty, u, T, fixed
        self.dep = {"x0": x0[None, :], "y0": y0[:, None], "u": u}

    def trace(self, var, dep, r, c):
        """Trace ``var`` as a factor under dependency ``dep`` on the block of rows r and columns
        c: the x (presynaptic) or y (postsynaptic) trace at the spike time of the dependency's
        neuron, or at the end of the epoch for u; a [1, n_c] or [n_r, 1] vector wherever it can be."""
        row, x_side = TRACE_ROW[var], var[0] == "x"
        if dep == "u" or (self.T == 1 and self.fixed):  # at the end of the epoch; so too with
            # one-step epochs in fixed point: the spike times that matter are the epoch's one step
            # (entries whose dependency did not spike are multiplied by 0 whatever their trace;
            # in float a NaN trace of tau 0 would not give 0, so float takes the long way)
            return self.hx[-1][row, c][None, :] if x_side else self.hy[-1][row, r][:, None]
        cs = np.arange(len(self.tx))[c]
        rs = np.arange(len(self.ty))[r]
        if dep == "x0":  # at each presynaptic neuron's last spike time
            if x_side:
                return self.hx[self.tx[cs], row, cs][None, :]
            k = self._common_time(self.tx[cs])
            return self.hy[k, row, rs][:, None] if k is not None else self.hy[self.tx[cs], row][:, rs].T
        if not x_side:  # y0: at each postsynaptic neuron's last spike time
            return self.hy[self.ty[rs], row, rs][:, None]
        k = self._common_time(self.ty[rs])
        return self.hx[k, row, cs][None, :] if k is not None else self.hx[self.ty[rs], row][:, cs]

    @staticmethod
    def _common_time(times):
        """The one spike time shared by every neuron that spiked (always so when t_epoch is 1),
        else None. Then the other side's trace at that time is a vector, not a gathered matrix:
        entries of neurons that did not spike are multiplied by their zero dependency anyway."""
        spiked = times[times > 0]
        if spiked.size == 0:
            return 0
        return int(spiked[0]) if (spiked == spiked[0]).all() else None


class Lif:
    """lava's LIF (``PyLifModelBitAcc`` in fixed_pt, ``PyLifModelFloat`` in floating_pt)."""

    def __init__(self, s: Scenario, n: int):
        self.fixed, p = s.fixed, s.lif
        if self.fixed:
            self.u, self.v = np.zeros(n, np.int64), np.zeros(n, np.int64)
            self.du, self.dv = int(p.du), int(p.dv)
            self.vth = int(p.vth) << 6  # scaled once, at the first step
            self.bias = int(p.bias_mant) << p.bias_exp if p.bias_exp >= 0 else int(p.bias_mant) >> -p.bias_exp
        else:
            self.u, self.v = np.zeros(n), np.zeros(n)
            self.du, self.dv, self.vth, self.bias = p.du, p.dv, p.vth, p.bias_mant

    def step(self, a_in: np.ndarray) -> np.ndarray:
        if self.fixed:
            u = self.u * (4096 - (self.du + 1))  # lava's ds_offset: du = 0 still decays by 1/4096
            u = np.sign(u) * (np.abs(u) >> 12) + (a_in.astype(np.int64, copy=False) << 6)
            if u.max(initial=0) > 2 ** 23 or u.min(initial=0) <= -(2 ** 23):  # 24-bit wrap
                u = np.where(u > 2 ** 23, u - 2 ** 24, u)
                u = np.where(u <= -(2 ** 23), u + 2 ** 24, u)
            self.u = u
            v = self.v * (4096 - self.dv)
            v = np.sign(v) * (np.abs(v) >> 12) + self.u + self.bias
            self.v = _clip(v, -(2 ** 23) + 1, 2 ** 23 - 1)
        else:
            self.u = self.u * (1 - self.du) + a_in
            self.v = self.v * (1 - self.dv) + self.u + self.bias
        spikes = self.v > self.vth
        self.v[spikes] = 0
        return spikes


class Network:
    """A scenario's network: spike source -> LearningDense -> LIF, spikes back as bAPs."""

    def __init__(self, s: Scenario):
        self.s, self.dense, self.lif = s, LearningDense(s), Lif(s, s.weights.shape[0])
        self.spikes = np.zeros(s.weights.shape[0], bool)

    def step(self, t: int) -> None:
        s, dense = self.s, self.dense
        self.spikes = self.lif.step(dense.spike(t, s.pre[:, t - 1]))
        third = None
        if s.rule.type == "3F":  # the neuron sends y1 = y3 = 0 and the reward as y2 (lava_sim.py)
            zeros = np.zeros(len(self.spikes))
            third = (zeros, s.reward[:, t - 1], zeros)
        dense.post(t, self.spikes, third)
        if dense.learns_at(t):
            dense.learn(t)

    def state(self) -> dict[str, np.ndarray]:
        """Every recordable quantity now (views, not copies)."""
        d = self.dense
        return {"weights": d.weights, "tag_1": d.tag_1, "tag_2": d.tag_2, "x1": d.x[0], "x2": d.x[1],
                "y1": d.y[0], "y2": d.y[1], "y3": d.y[2], "u": self.lif.u, "v": self.lif.v, "spikes": self.spikes}


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
