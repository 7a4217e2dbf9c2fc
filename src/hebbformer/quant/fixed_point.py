"""Fixed-point arithmetic shared by the fake-quantised PyTorch forward and the integer path.

A quantity is a bounded integer mantissa ``m`` times a power of two ``2**e``. Rounding to a grid
is half-up (``floor(v + 1/2)``): an integer path computes it with one add and an arithmetic
shift, and in floating point it is exact whenever the value is, which is what makes the float64
fake-quantised forward equal the integer path bit for bit.

Plastic writes are rounded the way Loihi 2's learning engine rounds a weight update (lava-nc
0.10.0, ``LearningRuleApplierBitApprox``; ``../shared/reference/lava-learning-engine.md`` §3.2):
the update lands in a 16-bit accumulator with 7 fractional bits (a floor), and the new weight is
``(acc >> 7) + ((acc & 127) > 128 * r)``, with one random number ``r`` per learning epoch drawn
from numpy's PCG64 seeded 2, then clipped to the 9-bit signed weight grid of sign mode MIXED.
"""

from __future__ import annotations

import numpy as np
import torch

from ..plasticity.rules import LOIHI
from ..neuro.loihi.emulator import ACC_HI, ACC_LO, conn_var_randoms, round_accumulator, weight_range

WEIGHT_BITS = 8  # static weights: 8-bit signed mantissa, one shared exponent per tensor
BIAS_BITS = 32  # biases live on the accumulator's grid
SYNAPSE_RANGE = weight_range("MIXED")  # Loihi 2 plastic weights: -256..255
ACC_FRACTION_BITS = LOIHI.fraction_bits  # Loihi 2 learning accumulator: 16 bits, 7 of them fractional
ACC_RANGE = (ACC_LO, ACC_HI)  # lava's accumulator clip (its lower bound is off by one, sic)
RECIPROCAL_BITS = 16  # 1/n for the relu slot normalisation, as a 16-bit fixed-point constant


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """floor(x + 1/2) forward, identity backward (the straight-through estimator)."""
    if not (torch.is_grad_enabled() and x.requires_grad):  # inference: just the rounding
        return torch.floor(x + 0.5)
    return x + (torch.floor(x + 0.5) - x).detach()


def mantissa(x: torch.Tensor, exp: int, lo: int, hi: int) -> torch.Tensor:
    """x on the grid 2**exp, as an integer-valued tensor clamped to [lo, hi]."""
    return torch.clamp(_round_ste(x * 2.0 ** -exp), lo, hi)


def quantise(x: torch.Tensor, exp: int, bits: int, signed: bool = True) -> torch.Tensor:
    """Fake quantisation: the value of x's nearest bits-bit mantissa on the grid 2**exp."""
    return mantissa(x, exp, *int_range(bits, signed)) * 2.0 ** exp


def exponent_for(amax: float, bits: int, signed: bool = True) -> int:
    """The smallest exponent whose bits-bit mantissa range holds amax."""
    top = int_range(bits, signed)[1]
    return int(np.ceil(np.log2(amax / top))) if amax > 0 else 0


def weight_exponent(w: torch.Tensor) -> int:
    """The shared exponent of a weight tensor's 8-bit mantissas."""
    return exponent_for(w.detach().abs().max().item(), WEIGHT_BITS)


# The rounding random numbers of the first n learning epochs: token t is written in epoch t + 1.
loihi_random = conn_var_randoms


def loihi_write(x: torch.Tensor, exp: int, r: torch.Tensor) -> torch.Tensor:
    """Fake-quantised plastic write: x into a zero synapse on the grid 2**exp, rounded like the
    learning engine with the epoch's random number r (broadcast against x). Straight-through."""
    acc = torch.clamp(torch.floor(x * 2.0 ** (ACC_FRACTION_BITS - exp)), *ACC_RANGE)
    whole = torch.floor(acc / 2 ** ACC_FRACTION_BITS)
    up = (acc - whole * 2 ** ACC_FRACTION_BITS) > 2 ** ACC_FRACTION_BITS * r
    m = torch.clamp(whole + up, *SYNAPSE_RANGE) * 2.0 ** exp
    return x + (m - x).detach()


def reciprocals(n: int) -> torch.Tensor:
    """round(2**16 / k) for k = 0..n (entry 0 unused): division by the number of slots read as a
    multiplication by a known constant."""
    k = torch.arange(n + 1, dtype=torch.float64).clamp(min=1)
    return torch.floor(2.0 ** RECIPROCAL_BITS / k + 0.5)


# ---------------------------------------------------------------- the integer side (numpy int64)

def shift_round(acc: np.ndarray, shift: int) -> np.ndarray:
    """acc * 2**-shift rounded half up, with integer operations only."""
    if shift <= 0:
        return acc << -shift
    return (acc + (1 << (shift - 1))) >> shift


def requantise(acc: np.ndarray, acc_exp: int, exp: int, bits: int, signed: bool = True) -> np.ndarray:
    """An accumulator on the grid 2**acc_exp as a bits-bit mantissa on the grid 2**exp."""
    return np.clip(shift_round(acc, exp - acc_exp), *int_range(bits, signed))


def loihi_round(acc_value: np.ndarray, value_exp: int, exp: int, r: float) -> np.ndarray:
    """Integer twin of ``loihi_write``: a value on the grid 2**value_exp written into synapses on
    the grid 2**exp: the floor into the 7-fractional-bit accumulator, then stochastic rounding."""
    shift = exp - ACC_FRACTION_BITS - value_exp
    acc = acc_value >> shift if shift >= 0 else acc_value << -shift
    return np.clip(round_accumulator(np.clip(acc, *ACC_RANGE), r, ACC_FRACTION_BITS), *SYNAPSE_RANGE)


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b. Runs on float64 BLAS when every partial sum is provably below 2**53
    (so no rounding can occur), else on numpy's integer loop."""
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0)) * a.shape[-1]
    if bound < 2.0 ** 53:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def isqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) for non-negative int64 n, corrected to be exact."""
    s = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    s -= s * s > n
    s += (s + 1) * (s + 1) <= n
    return s
