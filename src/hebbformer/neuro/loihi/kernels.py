"""The emulator's hot loops, compiled with numba: what numpy cannot do without a temporary per
call, or at all without a Python loop (lava's engine is numpy, called once per process per step;
the emulator's speed comes from doing a step's work in a few calls)."""

from __future__ import annotations

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


@numba.njit
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
    factors are multiplied once per neuron, exactly, and only w, d and t entry by entry; else
    every factor entry by entry, in lava's order of multiplication with its wrap-arounds.
    Returns the least and greatest value written."""
    lanes, n_post, n_pre = out.shape
    n_products = products.shape[0]
    least, greatest = np.int64(1) << 62, -(np.int64(1) << 62)
    shifts, exponents, saturates = products[:, 3].copy(), products[:, 2].copy(), products[:, 4].copy()
    n_factors = products[:, 5].copy()
    all_need_y0, all_need_x0 = (products[:, 6] != 0).all(), (products[:, 7] != 0).all()
    entry_factors = np.zeros(n_products, np.bool_)  # whether a product has w, d or t as a factor
    for p in range(n_products):
        for f in range(n_factors[p]):
            entry_factors[p] |= factors[p, f, 0] >= W
    every_pre = np.arange(n_pre)
    acc, m = np.zeros(n_pre, np.int64), np.zeros(n_pre, np.int64)  # one row's accumulators and products
    rows = np.zeros((n_products, n_post), np.int64)  # hoisted: a product's per-row factors, its scale
    cols = np.zeros((n_products, n_pre), np.int64)  # and its per-column factors
    pre_buffer = np.empty(n_pre, np.int64)  # a lane's spiking presynaptic neurons, in its first entries
    for b in range(lanes):
        # whether the lane can change at all, before any work on it: with the episodes' heads in
        # lanes most lanes of most steps have no spiking post, and this loop ran on all of them
        if sparse and all_need_y0:
            any_post = False
            for i in range(n_post):
                if ty[b, i] > 0:
                    any_post = True
                    break
            if not any_post:
                continue  # no product can change an entry of this lane
        n_spiking = 0
        for j in range(n_pre):
            if tx[b, j] > 0:
                pre_buffer[n_spiking] = j
                n_spiking += 1
        spiking_pre = pre_buffer[:n_spiking]
        if sparse and all_need_x0 and not n_spiking:
            continue
        if hoist:  # factor by factor, so that each loop over the neurons is free of branches
            for p in range(n_products):
                dep = products[p, 0]
                _side_factors(rows[p], dep == DEP_Y0, products[p, 1] * (u if dep == DEP_U else 1), ty[b], hy[:, b],
                              Y0, Y1, Y3, factors[p, :products[p, 5]], n_epoch_steps if (dep == DEP_U or n_epoch_steps == 1) else -1)
                _side_factors(cols[p], dep == DEP_X0, 1, tx[b], hx[:, b],
                              X0, X1, X2, factors[p, :products[p, 5]], n_epoch_steps if (dep == DEP_U or n_epoch_steps == 1) else -1)
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
            if hoist and n < 8:  # entry by entry, all products at once: per-row and per-column factors, w, d, t
                # (a loop per product over the row's entries, as below, costs more than its arithmetic
                # when a row has a few entries to update, as the value synapses' rows have one on
                # every write; over many entries, the loops per product run faster)
                for jj in range(n):
                    j = js[jj]
                    a = np.int64(old[b, i, j]) << syn_shift
                    for p in range(n_products):
                        mv = rows[p, i]
                        if mv != 0:
                            mv *= cols[p, j]
                            if mv != 0 and entry_factors[p]:
                                for f in range(n_factors[p]):
                                    var = factors[p, f, 0]
                                    if var >= W:
                                        syn = w if var == W else d if var == D else t
                                        mv *= _conditioned(np.int64(syn[b, i, j]), factors[p, f, 1], factors[p, f, 2],
                                                           factors[p, f, 3])
                        v = _wrap32((mv >> shifts[p]) << exponents[p])
                        if saturates[p]:
                            v = _clip(v, acc_lo, acc_hi)
                        a += v
                        if p < n_products - 1 or clip_after_last:  # saturated after every product but the last
                            a = _clip(a, acc_lo, acc_hi)
                    acc[jj] = a
                n_loop = 0  # the products are done
            else:
                n_loop = n_products
                for jj in range(n):
                    acc[jj] = np.int64(old[b, i, js[jj]]) << syn_shift
            for p in range(n_loop):
                for jj in range(n):
                    m[jj] = 0
                if hoist:  # the per-row and per-column factors, w, d and t where there are any
                    r = rows[p, i]
                    if r != 0:
                        for jj in range(n):
                            m[jj] = r * cols[p, js[jj]]
                        if entry_factors[p]:
                            for f in range(n_factors[p]):
                                var = factors[p, f, 0]
                                if var >= W:
                                    syn = w if var == W else d if var == D else t
                                    for jj in range(n):
                                        m[jj] *= _conditioned(np.int64(syn[b, i, js[jj]]), factors[p, f, 1],
                                                              factors[p, f, 2], factors[p, f, 3])
                else:  # every factor entry by entry, in lava's order, wrapping as int32 does
                    dep, y_spiked = products[p, 0], ty[b, i] > 0
                    for jj in range(n):
                        j = js[jj]
                        x_spiked = tx[b, j] > 0
                        if ((products[p, 6] and not y_spiked) or (products[p, 7] and not x_spiked)
                                or (dep == DEP_U and u == 0)):
                            continue  # a spike it needs is missing: 0
                        k = n_epoch_steps if dep == DEP_U else (tx[b, j] if dep == DEP_X0 else ty[b, i])
                        v = np.int64(1)  # the dependency (and any one-bit factor) is 1
                        for f in range(n_factors[p]):
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
                shift, exponent, saturate = shifts[p], exponents[p], saturates[p]
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


@numba.njit(cache=True, nogil=True)
def trace_history(stored, decay, t_spike, r_decay, whole, frac, r_impulse, n_epoch_steps, trace_max):
    """Fixed-point trace values at each within-epoch step 0..T -> [T+1, lanes, rows, n]: each step
    a stochastic decay, floor(p) + (r < frac(p)) with p = decay * trace (a row of tau 0 has decay
    0: forgotten at once, as in lava), then at each neuron's spike time the impulse whole + (r <
    frac), saturating at ``trace_max``. stored [lanes, rows, n], decay [rows], t_spike [lanes, n]."""
    lanes, n_rows, n = stored.shape
    h = np.empty((n_epoch_steps + 1, lanes, n_rows, n), np.int64)
    h[0] = stored
    for k in range(1, n_epoch_steps + 1):
        for b in range(lanes):
            for row in range(n_rows):
                impulse = whole[row] + (r_impulse < frac[row])
                for j in range(n):
                    p = decay[row] * h[k - 1, b, row, j]
                    floor = np.floor(p)
                    v = np.int64(floor) + (r_decay < p - floor)
                    if t_spike[b, j] == k:
                        v = min(max(v + impulse, 0), trace_max)
                    h[k, b, row, j] = v
    return h
