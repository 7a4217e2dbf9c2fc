"""The emulator's hot loops, compiled with numba: what numpy cannot do without a temporary per
call, or at all without a Python loop (lava's engine is numpy, called once per process per step;
the emulator's speed comes from doing a step's work in a few calls)."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def dense_input(weights: np.ndarray, payload: np.ndarray) -> np.ndarray:
    """Each lane's synaptic input sum_j w[i, j] * s[j] -> [lanes, n_post] int64, exact, skipping
    presynaptic neurons that sent nothing (most of them, in a spiking network).
    weights [lanes, n_post, n_pre] int32, payload [lanes, n_pre] int32."""
    lanes, n_post, n_pre = weights.shape
    out = np.zeros((lanes, n_post), np.int64)
    active = np.empty(n_pre, np.int64)  # a lane's active presynaptic neurons in its first entries (no allocation
    for b in range(lanes):  # per lane: with thousands of small lanes, np.flatnonzero's took half the time)
        n_active = 0
        for j in range(n_pre):
            if payload[b, j] != 0:
                active[n_active] = j
                n_active += 1
        if 2 * n_active >= n_pre:  # mostly active: every column, a loop the compiler vectorises (a
            for i in range(n_post):  # silent neuron adds 0 * w); the attention layers' keys and queries
                acc = np.int64(0)  # and reading slots make most steps so
                for j in range(n_pre):
                    acc += np.int64(weights[b, i, j]) * np.int64(payload[b, j])
                out[b, i] = acc
            continue
        for i in range(n_post):
            acc = np.int64(0)
            for jj in range(n_active):
                j = active[jj]
                acc += np.int64(weights[b, i, j]) * payload[b, j]
            out[b, i] = acc
    return out


@numba.njit(cache=True, nogil=True)
def weight_exp_shift(acc, weight_exp):
    """The synaptic input scaled by 2**weight_exp, as integer shifts (in place; returned)."""
    if weight_exp > 0:
        acc <<= weight_exp
    elif weight_exp < 0:
        acc >>= -weight_exp
    return acc


@numba.njit(cache=True, nogil=True)
def overwrite_x1(s_in, x1, tx, t_within):
    """Graded spikes that overwrite x1, in one-step epochs: where a presynaptic neuron sent
    something, x1 = round(s / 2) & 0xFF (lava: np.round, half to even, then uint8) and its spike
    time is t_within. s_in, x1, tx [lanes, n]. One pass, where numpy's float round trip took six."""
    lanes, n = s_in.shape
    for b in range(lanes):
        for j in range(n):
            s = np.int64(s_in[b, j])
            if s != 0:
                half = s >> 1  # floor(s / 2); s / 2 lies halfway when s is odd: then to the even one
                x1[b, j] = (half + (s & half & 1)) & 0xFF
                tx[b, j] = t_within


TRACE_MAX = 127  # 7-bit traces
ACC_BITS = 15  # W_ACCUMULATOR_U: the accumulator holds 16 signed bits
ACC_LO, ACC_HI = -(2 ** ACC_BITS) - 1, 2 ** ACC_BITS - 1  # lava's lower bound is off by one (sic)

# the codes of the learning tables (FixedLearningDense._encode): what a factor reads, a dependency, a clamp
X0, Y0, X1, X2, Y1, Y2, Y3, W, D, T = range(10)
DEP_X0, DEP_Y0, DEP_U = 0, 1, 2
CLAMP_NONE, CLAMP_NONNEGATIVE, CLAMP_NONPOSITIVE = 0, 1, 2


@numba.njit
def _wrap32(x):
    """x as int32 arithmetic leaves it: two's complement wrap-around (lava computes in int32)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


@numba.njit
def _clip(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


@numba.njit
def _conditioned(val, const, sgn, width):
    """A factor's value as the fixed-point engine feeds it to the multiplier: + const, sgn, clipped
    to its width (-1: it needs no clip). Scalars only: a numba call taking arrays costs reference
    counting, which in the per-entry loops below took longer than the arithmetic."""
    val += const
    if sgn:
        val = (val > 0) - (val < 0)
    if width >= 0:
        val = _clip(val, -(np.int64(1) << width), (np.int64(1) << width) - 1)
    return val


@numba.njit(inline="always")  # called per lane with views: inlined, no reference counting
def _side_factors(out, dependency, scale, times, history, one_bit, first, last, factors, at):
    """One side's (rows' or columns') part of a product, per neuron: ``scale``, times the spike
    bit if the product depends on this side's neuron, times each factor of this side (the one-bit
    factor ``one_bit``, traces ``first``..``last``), each read at ``at`` (-1: the neuron's own
    spike time). times [n], history [T+1, rows, n]."""
    n = len(out)
    for j in range(n):
        out[j] = scale * (times[j] > 0) if dependency else scale
    for f in range(len(factors)):
        var, const, sgn, width = factors[f, 0], factors[f, 1], factors[f, 2], factors[f, 3]
        if var == one_bit:
            for j in range(n):
                out[j] *= _conditioned(np.int64(times[j] > 0), const, sgn, width)
        elif first <= var <= last:
            row = var - first
            if at >= 0:
                for j in range(n):
                    out[j] *= _conditioned(history[at, row, j], const, sgn, width)
            else:
                for j in range(n):
                    out[j] *= _conditioned(history[times[j], row, j], const, sgn, width)


@numba.njit(cache=True, nogil=True)
def learn_fixed(out, old, w, d, t, products, factors, hx, hy, tx, ty, u, n_epoch_steps, sparse, hoist,
                clip_after_last, acc_lo, acc_hi, clamp, syn_shift, round_add, lo, hi):
    """One synaptic variable's fixed-point update in one learning epoch, §3.2 of the reference,
    entry by entry, into ``out`` [lanes, n_post, n_pre] (``old``: its values before; ``w d t``
    the three variables before, for factors). ``products`` [P, 9]: dependency, s_mant, the
    exponent s_exp + 7, the width shift, whether it saturates, its factor count, whether it needs
    a postsynaptic / presynaptic spike, whether its int32 product can wrap; ``factors``
    [P, F, 4]: what it reads, const, sgn, the width it is clipped to (-1: none). ``hx``/``hy``
    [T+1, lanes, rows, n] the trace histories, ``tx``/``ty`` [lanes, n] the spike times in the
    epoch. ``sparse``: only where a neuron spiked (every other entry keeps its value).
    ``hoist``: no product can wrap and every trace is one value per neuron (one-step epochs, or
    traces read at their own neuron's spike time), so each product's per-row and per-column
    factors are multiplied once per neuron, exactly, and only w, d and t entry by entry
    (``_learn_hoisted``); else every factor entry by entry, in lava's order of multiplication
    with its wrap-arounds. Returns the least and greatest value written."""
    if hoist:
        return _learn_hoisted(out, old, w, d, t, products, factors, hx, hy, tx, ty, u, n_epoch_steps, sparse,
                              clip_after_last, acc_lo, acc_hi, clamp, syn_shift, round_add, lo, hi)
    lanes, n_post, n_pre = out.shape
    n_products = products.shape[0]
    least, greatest = np.int64(1) << 62, -(np.int64(1) << 62)
    all_need_y0, all_need_x0 = (products[:, 6] != 0).all(), (products[:, 7] != 0).all()
    every_pre = np.arange(n_pre)
    acc, m = np.zeros(n_pre, np.int64), np.zeros(n_pre, np.int64)  # one row's accumulators and products
    pre_buffer = np.empty(n_pre, np.int64)  # a lane's spiking presynaptic neurons, in its first entries
    for b in range(lanes):
        # whether the lane can change at all, before any work on it: with the episodes' heads in
        # lanes most lanes of most steps have no spiking post, and this loop ran on all of them
        if sparse and all_need_y0 and not _any_spike(ty[b]):
            continue  # no product can change an entry of this lane
        n_spiking = _spiking(tx[b], pre_buffer)
        spiking_pre = pre_buffer[:n_spiking]
        if sparse and all_need_x0 and not n_spiking:
            continue
        for i in range(n_post):
            # the row's entries to update: all, or only the spiking presynaptic neurons' columns
            if not sparse:
                js = every_pre
            elif ty[b, i] > 0:  # a spiking row: all its entries, or only the spiking columns if every product needs them
                js = spiking_pre if all_need_x0 else every_pre
            elif all_need_y0:  # no product can change a row whose neuron did not spike
                continue
            else:
                js = spiking_pre
            n = len(js)
            for jj in range(n):
                acc[jj] = np.int64(old[b, i, js[jj]]) << syn_shift
            for p in range(n_products):
                # every factor entry by entry, in lava's order, wrapping as int32 does
                dep, y_spiked = products[p, 0], ty[b, i] > 0
                for jj in range(n):
                    m[jj] = 0
                    j = js[jj]
                    x_spiked = tx[b, j] > 0
                    if ((products[p, 6] and not y_spiked) or (products[p, 7] and not x_spiked)
                            or (dep == DEP_U and u == 0)):
                        continue  # a spike it needs is missing: 0
                    k = n_epoch_steps if dep == DEP_U else (tx[b, j] if dep == DEP_X0 else ty[b, i])
                    v = np.int64(1)  # the dependency (and any one-bit factor) is 1
                    for f in range(products[p, 5]):
                        var = factors[p, f, 0]
                        if var == X0:
                            raw = np.int64(x_spiked)
                        elif var == Y0:
                            raw = np.int64(y_spiked)
                        elif var <= X2:
                            raw = hx[k, b, var - X1, j]
                        elif var <= Y3:
                            raw = hy[k, b, var - Y1, i]
                        else:
                            raw = np.int64((w if var == W else d if var == D else t)[b, i, j])
                        v = _wrap32(v * _conditioned(raw, factors[p, f, 1], factors[p, f, 2], factors[p, f, 3]))
                    m[jj] = _wrap32(v * products[p, 1])
                shift, exponent, saturate = products[p, 3], products[p, 2], products[p, 4]
                clip = p < n_products - 1 or clip_after_last  # it saturates after every product but the last
                for jj in range(n):
                    v = _wrap32((m[jj] >> shift) << exponent)
                    if saturate:
                        v = _clip(v, acc_lo, acc_hi)
                    v += acc[jj]
                    acc[jj] = _clip(v, acc_lo, acc_hi) if clip else v
            for jj in range(n):
                v = acc[jj]
                if clamp == CLAMP_NONNEGATIVE:
                    v = max(v, 0)
                elif clamp == CLAMP_NONPOSITIVE:
                    v = min(v, 0)
                v = _clip((v + round_add) >> syn_shift, lo, hi)
                out[b, i, js[jj]] = v
                least, greatest = min(least, v), max(greatest, v)
    return least, greatest


@numba.njit(inline="always")
def _any_spike(times):
    for k in range(len(times)):
        if times[k] > 0:
            return True
    return False


@numba.njit(inline="always")
def _spiking(times, into):
    """The neurons that spiked (times > 0) into into's first entries; returns how many."""
    n = 0
    for j in range(len(times)):
        if times[j] > 0:
            into[n] = j
            n += 1
    return n


NO_CLIP = np.int64(1) << 62  # a bound that clips nothing: the passes below clip every value, branch-free


@numba.njit
def _bounds(width):
    """The range _conditioned clips a factor of this width to (width -1: none)."""
    if width < 0:
        return -NO_CLIP, NO_CLIP
    return -(np.int64(1) << width), (np.int64(1) << width) - 1


@numba.njit(cache=True, nogil=True)
def _learn_hoisted(out, old, w, d, t, products, factors, hx, hy, tx, ty, u, n_epoch_steps, sparse,
                   clip_after_last, acc_lo, acc_hi, clamp, syn_shift, round_add, lo, hi):
    """``learn_fixed`` where its products can be hoisted: each product's per-row and per-column
    factors once per neuron, then the entries to update line by line (a row's, or a column's),
    gathered into small buffers and updated pass by pass, product by product, in loops without
    branches (every clip done, with NO_CLIP where there is none): such loops vectorise, and over a
    whole row they run contiguously. Entry by entry with a branch per factor kind, as before,
    these writes took 3x as long. The same integers: every product is exact in int64 and the
    accumulator sees the products in the same order, with the same saturations."""
    lanes, n_post, n_pre = out.shape
    n_products = products.shape[0]
    least, greatest = NO_CLIP, -NO_CLIP
    all_need_y0, all_need_x0 = (products[:, 6] != 0).all(), (products[:, 7] != 0).all()
    rows = np.zeros((n_products, n_post), np.int64)  # a product's per-row factors, with its scale,
    cols = np.zeros((n_products, n_pre), np.int64)  # and its per-column factors
    spiking_pre, every_pre = np.empty(n_pre, np.int64), np.arange(n_pre)
    n_line = max(n_pre, n_post)
    li, lj = np.empty(n_line, np.int64), np.empty(n_line, np.int64)  # a line's entries: row, column
    acc, m = np.empty(n_line, np.int64), np.empty(n_line, np.int64)  # their accumulators, a product's values
    gathered = np.empty((3, n_line), np.int64)  # their w, d and t
    reads = np.zeros(3, np.bool_)  # which of w, d and t any product reads
    for p in range(n_products):
        for f in range(products[p, 5]):
            if factors[p, f, 0] >= W:
                reads[factors[p, f, 0] - W] = True
    c_lo = 0 if clamp == CLAMP_NONNEGATIVE else -NO_CLIP  # the sign clamp
    c_hi = 0 if clamp == CLAMP_NONPOSITIVE else NO_CLIP
    for b in range(lanes):
        if sparse and all_need_y0 and not _any_spike(ty[b]):
            continue  # no product can change an entry of this lane
        n_spiking = _spiking(tx[b], spiking_pre)
        if sparse and all_need_x0 and not n_spiking:
            continue
        for p in range(n_products):  # factor by factor, so that each loop over the neurons is free of branches
            dep = products[p, 0]
            at = n_epoch_steps if (dep == DEP_U or n_epoch_steps == 1) else -1
            _side_factors(rows[p], dep == DEP_Y0, products[p, 1] * (u if dep == DEP_U else 1), ty[b], hy[:, b],
                          Y0, Y1, Y3, factors[p, :products[p, 5]], at)
            _side_factors(cols[p], dep == DEP_X0, 1, tx[b], hx[:, b], X0, X1, X2, factors[p, :products[p, 5]], at)
        # the lines: each row's entries to update (all, or the spiking columns'), or, where every
        # product needs a spiking column and fewer columns spiked than there are rows, each spiking
        # column's (the value synapses' writes: one column of 32 rows, not 32 rows of one entry)
        by_columns = sparse and all_need_x0 and n_spiking < n_post
        for line in range(n_spiking if by_columns else n_post):
            n = 0
            if by_columns:
                for i in range(n_post):
                    if ty[b, i] > 0 or not all_need_y0:
                        li[n], lj[n] = i, spiking_pre[line]
                        n += 1
            else:
                if not sparse:
                    n = n_pre
                elif ty[b, line] > 0:  # a spiking row: all its entries, or the spiking columns if every product needs them
                    n = n_spiking if all_need_x0 else n_pre
                elif not all_need_y0:  # (no product can change a row whose neuron did not spike)
                    n = n_spiking
                if n == 0:
                    continue
                js = every_pre if n == n_pre else spiking_pre
                for k in range(n):
                    li[k], lj[k] = line, js[k]
            full_row = not by_columns and n == n_pre  # then lj[k] = k: contiguous loops
            if full_row:
                row = old[b, line]
                for k in range(n):
                    acc[k] = np.int64(row[k]) << syn_shift
            else:
                for k in range(n):
                    acc[k] = np.int64(old[b, li[k], lj[k]]) << syn_shift
            for v in range(3):
                if reads[v]:
                    syn = w if v == 0 else d if v == 1 else t
                    if full_row:
                        row = syn[b, line]
                        for k in range(n):
                            gathered[v, k] = row[k]
                    else:
                        for k in range(n):
                            gathered[v, k] = syn[b, li[k], lj[k]]
            for p in range(n_products):
                if full_row:
                    r = rows[p, line]
                    for k in range(n):
                        m[k] = r * cols[p, k]
                else:
                    for k in range(n):
                        m[k] = rows[p, li[k]] * cols[p, lj[k]]
                for f in range(products[p, 5]):  # w, d and t, each conditioned as _conditioned does
                    var, const, sgn = factors[p, f, 0], factors[p, f, 1], factors[p, f, 2]
                    if var < W:
                        continue
                    f_lo, f_hi = _bounds(factors[p, f, 3])
                    g = gathered[var - W]
                    if sgn:
                        for k in range(n):
                            x = g[k] + const
                            m[k] *= min(max((x > 0) - (x < 0), f_lo), f_hi)
                    else:
                        for k in range(n):
                            m[k] *= min(max(g[k] + const, f_lo), f_hi)
                shift, exponent = products[p, 3], products[p, 2]
                s_lo, s_hi = (acc_lo, acc_hi) if products[p, 4] else (-NO_CLIP, NO_CLIP)  # whether it saturates
                # the accumulator saturates after every product but the last
                a_lo, a_hi = (acc_lo, acc_hi) if (p < n_products - 1 or clip_after_last) else (-NO_CLIP, NO_CLIP)
                for k in range(n):
                    x = min(max(_wrap32((m[k] >> shift) << exponent), s_lo), s_hi)
                    acc[k] = min(max(acc[k] + x, a_lo), a_hi)
            for k in range(n):  # the sign clamp, the stochastic rounding, the variable's range
                x = min(max((min(max(acc[k], c_lo), c_hi) + round_add) >> syn_shift, lo), hi)
                acc[k] = x
                least, greatest = min(least, x), max(greatest, x)
            if full_row:
                row = out[b, line]
                for k in range(n):
                    row[k] = acc[k]
            else:
                for k in range(n):
                    out[b, li[k], lj[k]] = acc[k]
    return least, greatest


DECAY_TABLE = 256  # trace values 0..255 (x1 written by a graded spike reaches 255) decay by a table


@numba.njit(cache=True, nogil=True)
def trace_history(stored, decay, t_spike, r_decay, whole, frac, r_impulse, n_epoch_steps, trace_max):
    """Fixed-point trace values at each within-epoch step 0..T -> [T+1, lanes, rows, n]: each step
    a stochastic decay, floor(p) + (r < frac(p)) with p = decay * trace (a row of tau 0 has decay
    0: forgotten at once, as in lava), then at each neuron's spike time the impulse whole + (r <
    frac), saturating at ``trace_max``. stored [lanes, rows, n], decay [rows], t_spike [lanes, n].
    One random number serves a whole row in a step, so a trace's next value depends on its value
    alone: it is computed once per value of 0..255, the same float64 operations, and looked up
    (a value outside is computed in place). With tau 65535 most steps' table is the identity (a
    trace of v decays only if r > 1 - v / 65535 or so): then only the spike times' impulses are
    written, in one plain loop. Entry by entry, the decay took 3x as long (an [800, 2, 64] history)."""
    lanes, n_rows, n = stored.shape
    h = np.empty((n_epoch_steps + 1, lanes, n_rows, n), np.int64)
    h[0] = stored
    table = np.empty(DECAY_TABLE, np.int64)
    for row in range(n_rows):  # rows apart: a row's decay and random number are the same at every step
        impulse = whole[row] + (r_impulse < frac[row])
        spiked = min(max(impulse, 0), trace_max)
        if decay[row] == 0:  # tau 0: p = 0, so 0 (no r is below 0) but for the impulse; no float work
            for k in range(1, n_epoch_steps + 1):
                for b in range(lanes):
                    for j in range(n):
                        h[k, b, row, j] = spiked if t_spike[b, j] == k else 0
            continue
        identity = True  # most steps' random number decays no trace of 0..255 at all (tau 65535)
        for v in range(DECAY_TABLE):
            p = decay[row] * v
            floor = np.floor(p)
            table[v] = np.int64(floor) + (r_decay < p - floor)
            identity = identity and table[v] == v
        for k in range(1, n_epoch_steps + 1):
            for b in range(lanes):
                prev, now, times = h[k - 1, b, row], h[k, b, row], t_spike[b]
                if identity:  # then only the impulses, the values' range checked as it goes
                    lo, hi = np.int64(0), np.int64(0)
                    for j in range(n):
                        v = prev[j]
                        lo, hi = min(lo, v), max(hi, v)
                        now[j] = min(max(v + impulse, 0), trace_max) if times[j] == k else v
                    if lo >= 0 and hi < DECAY_TABLE:
                        continue
                for j in range(n):
                    v = prev[j]
                    if 0 <= v < DECAY_TABLE:
                        v = table[v]
                    else:
                        p = decay[row] * v
                        floor = np.floor(p)
                        v = np.int64(floor) + (r_decay < p - floor)
                    if times[j] == k:
                        v = min(max(v + impulse, 0), trace_max)
                    now[j] = v
    return h


# ------------------------------------------------------------ the attention networks' step loop
IDLE, RECRUIT, READ = 0, 1, 2  # what a slot neuron does in a step


class TraceSide(NamedTuple):
    """One side's traces (x: presynaptic, y: postsynaptic) as ``trace_history`` takes them."""
    decay: np.ndarray  # [rows] exp(-1 / tau)
    whole: np.ndarray  # [rows] the impulse's whole part
    frac: np.ndarray  # [rows] its fractional part, in 256ths
    r_decay: np.ndarray  # [steps] the decay random number of each step's learning
    r_impulse: np.ndarray  # [steps] the impulse random number of each step's learning
    first: int  # the rows a factor reads: first .. last - 1 (none: 0, 0)
    last: int


class StepSynapses(NamedTuple):
    """A ``FixedLearningDense`` as ``run_slot_program`` takes it (``FixedLearningDense.step_constants``)."""
    weights: np.ndarray  # [lanes, n_post, n_pre] int32, learned in place
    tag_2: np.ndarray  # [lanes, n_post, n_pre] int32
    tag_1: np.ndarray  # [lanes, n_post, n_pre] int32
    products: np.ndarray  # the rule's tables (FixedLearningDense._encode)
    factors: np.ndarray
    weight_exp: int
    x: TraceSide
    y: TraceSide
    syn_shift: int  # the accumulator's fractional bits
    round_add: np.ndarray  # [steps] the stochastic rounding's offset of each step's learning
    clamp: int  # the sign clamp (CLAMP_*)
    lo: int  # the weights' range
    hi: int
    clip_after_last: bool  # whether the accumulator saturates after the last product


@numba.njit(cache=True, nogil=True)
def run_slot_program(key_payload, slot_control, readout_control, rate_shift, key, value):
    """An attention layer's step program (``attention_compiler.Program``'s arrays) in one compiled
    loop: the read-out neurons' input [steps, lanes, n_out]. ``key``: the key synapses (a
    two-factor rule; nothing writes their y traces but bAPs), ``value``: the value synapses (a
    three-factor rule whose y1 and y2 the read-out neurons send every step), each as its fresh
    ``FixedLearningDense.step_constants``.

    ``attention_compiler.run_stepped`` steps the same network from Python, ``FixedLearningDense``
    by ``FixedLearningDense``: a few kernel calls and some numpy bookkeeping per process and step,
    a quarter or more of its time. Here the same kernels run in the same order, every lane at each
    step, on the trace rows some factor reads (the others feed nothing the loop returns), and what
    Python did between them (spike times, bAPs, third factors, the slot neurons) is done in place.

    The slot neurons: a reading one sends its rate, relu(drive) rounded half up to the grid
    2**rate_shift and saturated to 8 bits (``quant.fixed_point.slot_rate``); a recruited one
    spikes 1 and sends a bAP. In this file, so that numba's cache, which tracks only the file of
    the function it caches, is renewed whenever a kernel it calls or a constant it reads (ACC_LO,
    TRACE_MAX: frozen into the compiled loop) changes."""
    steps, lanes = key_payload.shape[:2]
    kw, n_slots, n_key_pre = key.weights, key.weights.shape[1], key.weights.shape[2]
    vw, n_out = value.weights, value.weights.shape[1]
    # the traces as learn_fixed reads them, [T + 1, lanes, rows, n] histories whose entry 1 is kept
    # as the traces now (entry 0, the epoch's start, no one-step epoch's product reads)
    kx, ky = np.zeros((2, lanes, 2, n_key_pre), np.int64), np.zeros((2, lanes, 3, n_slots), np.int64)
    vx, vy = np.zeros((2, lanes, 2, n_slots), np.int64), np.zeros((2, lanes, 3, n_out), np.int64)
    ktx, kty = np.zeros((lanes, n_key_pre), np.int64), np.zeros((lanes, n_slots), np.int64)
    vtx, vty = np.zeros((lanes, n_slots), np.int64), np.zeros((lanes, n_out), np.int64)
    k_next, v_next = np.zeros((lanes, n_slots), np.int64), np.zeros((lanes, n_out), np.int64)
    spikes = np.zeros((lanes, n_slots), np.int32)
    received = np.zeros((steps, lanes, n_out), np.int64)
    for t in range(1, steps + 1):
        # key synapses: send last step's activation, take the payload (x1 overwritten where sent)
        drive = k_next
        k_next = _input(kw, key_payload[t - 1], key.weight_exp)
        overwrite_x1(key_payload[t - 1], kx[1, :, 0], ktx, 1)
        # slot neurons: reading slots send their rate, recruited ones spike 1 and send a bAP
        for b in range(lanes):
            for i in range(n_slots):
                c = slot_control[t - 1, i]
                spikes[b, i] = _slot_rate(drive[b, i], rate_shift) if c == READ else c == RECRUIT
                kty[b, i] = c == RECRUIT
        _learn(key, t, kx, ky, ktx, kty)
        # value synapses: send, take the slots' spikes; the read-out neurons' bAPs and third factors
        received[t - 1] = v_next
        v_next = _input(vw, spikes, value.weight_exp)
        overwrite_x1(spikes, vx[1, :, 0], vtx, 1)
        for b in range(lanes):
            for i in range(n_out):
                vty[b, i] = readout_control[t - 1, b, i] != 0
                vy[1, b, 0, i] = readout_control[t - 1, b, n_out + i]
                vy[1, b, 1, i] = readout_control[t - 1, b, 2 * n_out + i]
                vy[1, b, 2, i] = 0
        _learn(value, t, vx, vy, vtx, vty)
    return received


@numba.njit(inline="always")
def _input(weights, payload, weight_exp):
    """``FixedLearningDense._activation`` of graded spikes."""
    return weight_exp_shift(dense_input(weights, payload), weight_exp)


@numba.njit(inline="always")
def _learn(group, t, hx, hy, tx, ty):
    """``FixedLearningDense.learn`` at step t (one-step epochs: it learns every step), in place."""
    g = group
    _traces(hx, g.x, tx, t)
    _traces(hy, g.y, ty, t)
    learn_fixed(g.weights, g.weights, g.weights, g.tag_2, g.tag_1, g.products, g.factors, hx, hy, tx, ty, 0, 1, True,
                True, g.clip_after_last, ACC_LO, ACC_HI, g.clamp, g.syn_shift, g.round_add[t - 1], g.lo, g.hi)
    tx[:], ty[:] = 0, 0


@numba.njit(inline="always")
def _traces(h, side, times, t):
    """One side's traces h[1] after step t's decay and impulses (``trace_history``), in the rows
    a factor reads: the rest no product reads, nor anything else the loop returns. (The three-
    factor y traces are written anew every step, so whether they stay is no matter here.)"""
    a, b = side.first, side.last
    if b > a:
        h[1, :, a:b] = trace_history(h[1, :, a:b], side.decay[a:b], times, side.r_decay[t - 1], side.whole[a:b],
                                     side.frac[a:b], side.r_impulse[t - 1], 1, TRACE_MAX)[1]


@numba.njit(inline="always")
def _slot_rate(drive, rate_shift):
    """``quant.fixed_point.slot_rate`` of one drive (the tests hold the two equal)."""
    v = max(drive, 0)
    if rate_shift > 63:
        return 0
    if rate_shift > 0:
        return min((v >> rate_shift) + ((v >> (rate_shift - 1)) & 1), 255)
    s = min(-rate_shift, 63)  # saturating: v against 255 shifted right, as v shifted left could wrap
    return 255 if v > 255 >> s else v << s
