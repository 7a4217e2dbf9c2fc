"""Fixed-point arithmetic shared by the fake-quantised PyTorch forward and the integer path.

A quantity is a bounded integer mantissa ``m`` times a power of two ``2**e``. Rounding to a grid
is half-up (``floor(v + 1/2)``): an integer path computes it with one add and an arithmetic
shift, and in floating point it is exact whenever the value is, which is what makes the float64
fake-quantised forward equal the integer path bit for bit.

Plastic writes store a key or value as Loihi 2's learning engine receives it in the compiled
network (``hebbformer.neuro.attention_compiler``): a signed mantissa of at most 7 bits per sign,
-127..127, since each sign travels in a 7-bit trace (x1 of a graded spike, y1/y2 of a third
factor). The engine then copies it into the synapse exactly.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

from ..errors import ConfigError
from ..plasticity.rules import LOIHI

WEIGHT_BITS = 8  # static weights: 8-bit signed mantissa, one shared exponent per tensor
BIAS_BITS = 32  # biases live on the accumulator's grid
SYNAPSE_RANGE = (-LOIHI.largest, LOIHI.largest)  # a written key or value: one 7-bit trace per sign
RECIPROCAL_BITS = 16  # 1/n for the relu slot normalisation, as a 16-bit fixed-point constant
ACT_BITS = 8  # activations into every matrix: int8 (uint8 after a ReLU)
RESIDUAL_BITS = 16  # the residual stream: int16
CONV_CHUNK = 32  # images per pass of conv_stack
NORM_FRACTION_BITS = 7  # layer norm's (x - mean) / std as an int16 mantissa with 7 fractional bits


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


def synapse_write(x: torch.Tensor, exp: int) -> torch.Tensor:
    """Fake-quantised plastic write: x as the mantissa on the grid 2**exp that the synapse
    receives, -127..127 (rounded half up). Straight-through."""
    return mantissa(x, exp, *SYNAPSE_RANGE) * 2.0 ** exp


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
    return shift_clip(acc, exp - acc_exp, *int_range(bits, signed))


def slot_rate(drive: np.ndarray, rate_shift: int) -> np.ndarray:
    """A slot neuron's rate for its integer drive k.q: relu, then on the uint8 grid 2**rate_shift."""
    return requantise(np.maximum(drive, 0), 0, rate_shift, 8, signed=False)


def synapse_round(acc: np.ndarray, acc_exp: int, exp: int) -> np.ndarray:
    """Integer twin of ``synapse_write``: an accumulator on the grid 2**acc_exp as the written
    mantissa on the grid 2**exp."""
    return shift_clip(acc, exp - acc_exp, *SYNAPSE_RANGE)


def shift_clip(acc: np.ndarray, shift: int, lo: int, hi: int) -> np.ndarray:
    """acc * 2**-shift rounded half up (``shift_round``), clipped to [lo, hi], exactly for every
    integer and shift: a left shift saturates (a value whose shifted copy would pass lo or hi, even
    past the int64 range, gives lo or hi), where numpy's shift would wrap. An integer array runs
    in one compiled pass (as int64), where numpy's three passes with their temporaries took 9x as
    long (the host's requantising of the MLP's [3000, 1024] accumulators, every layer)."""
    a = np.asarray(acc)
    if a.dtype.kind == "i" or (a.dtype.kind == "u" and a.dtype.itemsize < 8):
        # (any shift past 64 either way gives what 64 gives; the compiled pass takes int64 only)
        out = _shift_clip_int64(np.ascontiguousarray(a, np.int64), max(-64, min(shift, 64)), lo, hi)
        return out if a.dtype == np.int64 else out.astype(np.result_type(a, lo, hi))
    if a.dtype == np.uint64:  # above int64's top: as Python's ints
        a = a.astype(object)
    return np.clip(shift_round(a, shift), lo, hi)  # Python's ints (an object array): exact as they are


@numba.njit(inline="always")
def _shift_clip_one(v, shift, lo, hi):
    """One value of ``shift_clip``, exact for any int64 v and shift, and any lo <= hi: a right
    shift rounds half up without adding the half (which wraps near the int64 range), a left shift
    compares v with the range's ends shifted right instead of shifting v (which wraps)."""
    if shift > 63:
        v = 0  # |v| * 2**-shift is at most 1/2, -1/2 rounding up to 0
    elif shift > 0:
        v = (v >> shift) + ((v >> (shift - 1)) & 1)
    else:
        s = min(-shift, 63)
        return lo if v <= lo >> s else hi if v > hi >> s else v << s
    return min(max(v, lo), hi)


@numba.njit(cache=True, nogil=True)
def _shift_clip_int64(acc, shift, lo, hi):
    flat = acc.reshape(-1)
    out = np.empty(flat.size, np.int64)
    for i in range(flat.size):
        out[i] = _shift_clip_one(flat[i], shift, lo, hi)
    return out.reshape(acc.shape)


def _exact_float(bound: float):
    """The narrowest float dtype in which integer products and sums up to ``bound`` in size are
    exact (every partial sum an integer of at most 2**24 or 2**53, each of which the float holds,
    whatever the order of summation), or None."""
    return np.float32 if bound <= 2.0 ** 24 else np.float64 if bound <= 2.0 ** 53 else None


def int_matmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None = None,
               shift_clip_to: tuple[int, int, int] | None = None) -> np.ndarray:
    """Exact integer a @ b (a [..., K], b [K, N]), plus ``bias`` [N] if given, then, given
    ``shift_clip_to`` = (shift, lo, hi), ``shift_clip`` of that (the int64 sums then never
    stored: they are requantised as they are widened). Runs on torch's
    int8 GEMM when b lies in -128..127 and a in -128..127 or 0..255 (the Quant model's 8-bit
    weights and activations; ``int8_matmul``), else on float32 or float64 BLAS when every partial
    sum is provably below 2**24 or 2**53 (so no rounding can occur), else on numpy's integer loop."""
    k = a.shape[-1]
    if a.size and b.size and k < 2 ** 16 and a.dtype == np.int64 and -128 <= b.min() and b.max() <= 127:
        a2 = np.ascontiguousarray(a).reshape(-1, k)
        lo, hi = _min_max(a2)
        if lo >= -128 and hi <= 255:
            # a - 128 when a reaches above 127 (unsigned activations), undone by adding 128 * the
            # column sums of b: exact, |sum| < 2**16 * 255 * 128 < 2**31
            offset = 128 if hi > 127 else 0
            if offset == 0 or lo >= 0:
                # one compiled pass into int8 and one back to int64 with the offset's correction
                # and the bias added: numpy's and torch's passes over the MLP's [tokens, 1024]
                # int64 activations, with their temporaries, took longer than the product
                acc = int8_matmul(torch.from_numpy(_to_int8(a2, offset)), torch.from_numpy(b).to(torch.int8))
                add = (offset * b.sum(0, dtype=np.int64) + (0 if bias is None else bias)).astype(np.int64)
                shape = a.shape[:-1] + b.shape[1:]
                if shift_clip_to is None:
                    return _widen(acc.numpy(), add).reshape(shape)
                if abs(shift_clip_to[0]) < 62:
                    return _widen_shift_clip(acc.numpy(), add, *shift_clip_to).reshape(shape)
                return shift_clip(_widen(acc.numpy(), add).reshape(shape), *shift_clip_to)
    acc = _int_matmul_wide(a, b, k)
    acc = acc if bias is None else acc + bias
    return acc if shift_clip_to is None else shift_clip(acc, *shift_clip_to)


@numba.njit(cache=True, nogil=True)
def _min_max(a):
    lo, hi = a[0, 0], a[0, 0]
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            lo, hi = min(lo, a[i, j]), max(hi, a[i, j])
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _to_int8(a, offset):
    """a - offset as int8 (the caller has checked the range)."""
    out = np.empty(a.shape, np.int8)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = a[i, j] - offset
    return out


@numba.njit(cache=True, nogil=True)
def _widen(acc, add):
    """int32 sums [M, N] as int64, plus add [N]."""
    out = np.empty(acc.shape, np.int64)
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            out[i, j] = np.int64(acc[i, j]) + add[j]
    return out


@numba.njit(cache=True, nogil=True)
def _widen_shift_clip(acc, add, shift, lo, hi):
    """``shift_clip`` of ``_widen(acc, add)``, in one pass."""
    out = np.empty(acc.shape, np.int64)
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            out[i, j] = _shift_clip_one(np.int64(acc[i, j]) + add[j], shift, lo, hi)
    return out


# ---------------------------------------------------------------- exact products carried in float32

EXACT_FLOAT32 = 2 ** 24  # below it, float32 holds every integer: a sum of integers that stays below is exact


class FloatWeights:
    """An integer weight matrix [out, in] made ready for exact products on torch's float32 GEMM:
    its transpose in float32, and the largest sum of |w| over one output's inputs, which times
    the largest |x| bounds every partial sum of x @ w.T whatever the order of summation."""

    def __init__(self, w: np.ndarray):
        self.t = torch.from_numpy(np.ascontiguousarray(w.T, np.float32))
        self.abs_sum = float(np.abs(w).sum(1).max(initial=0))
        self.exact = bool(np.abs(w).max(initial=0) < EXACT_FLOAT32)


class FloatInput:
    """Integer activations [..., K] as float32, with the largest |value|: made once from an int64
    array (one compiled pass) when several layers read it (q, k and v), or left by a layer whose
    output feeds another one straight away (the MLP's GELU)."""

    def __init__(self, x: torch.Tensor, abs_max: float):
        self.x, self.abs_max = x, abs_max

    @classmethod
    def of(cls, a: np.ndarray) -> "FloatInput | None":
        """None unless a is a non-empty int64 array whose every value float32 holds exactly."""
        if a.dtype != np.int64 or not a.size:
            return None
        f, lo, hi = _as_float32(np.ascontiguousarray(a).reshape(-1, a.shape[-1]))
        abs_max = max(-int(lo), int(hi))
        return cls(torch.from_numpy(f.reshape(a.shape)), float(abs_max)) if abs_max < EXACT_FLOAT32 else None


def exact_linear(x: FloatInput, w: FloatWeights, bias: np.ndarray | None, shift: int, lo: int, hi: int,
                 table: np.ndarray | None = None, offset: int = 0):
    """``shift_clip(x @ w.T + bias, shift, lo, hi)`` on torch's float32 GEMM, the same integers,
    as int64; given ``table``, ``table[that + offset]`` as a ``FloatInput`` for the next layer
    (the GELU look-up, the MLP's hidden activations never widened to int64). None where exactness
    cannot be proven, for the caller to take the integer way: every partial sum must stay below
    2**24 (|x| times w's largest absolute row sum), the sum with the bias and the rounding offset
    and the clip range within int32, and a table must hold integers below 2**24 for lo..hi. The
    sums come back through int32 (float32 to int32 is one vector instruction on AVX2; float to
    int64 has none, and that pass took 10x as long over the MLP's [3000, 1024]). The caller
    chooses this where 8-bit products run in float (``int8_products``)."""
    if shift < 1 or not w.exact or x.abs_max * w.abs_sum >= EXACT_FLOAT32 or not -2 ** 31 <= lo <= hi < 2 ** 31:
        return None
    add = (np.zeros(w.t.shape[1], np.int64) if bias is None else np.asarray(bias, np.int64)) + (1 << (shift - 1))
    if int(np.abs(add).max(initial=0)) + EXACT_FLOAT32 >= 2 ** 31:
        return None
    if table is not None:
        values = np.asarray(table)
        read = values[max(lo + offset, 0):hi + offset + 1]
        if (lo + offset < 0 or hi + offset >= len(values) or values.dtype.kind not in "iu"
                or np.abs(read).max() >= EXACT_FLOAT32):
            return None  # then the integer way, whose look-up fails only on an index it reaches
    acc = torch.matmul(x.x, w.t).numpy()
    rows = acc.reshape(-1, acc.shape[-1])
    add32 = add.astype(np.int32)
    if table is None:
        return _requantise_f32(rows, add32, shift, lo, hi).reshape(acc.shape)
    out = _requantise_f32_table(rows, add32, shift, lo, hi, values.astype(np.float32), offset).reshape(acc.shape)
    return FloatInput(torch.from_numpy(out), float(np.abs(read).max()))


@numba.njit(cache=True, nogil=True)
def _as_float32(a):
    """int64 [M, K] -> (float32 [M, K], least, greatest), one pass."""
    out = np.empty(a.shape, np.float32)
    lo, hi = a[0, 0], a[0, 0]
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = a[i, j]
            lo, hi = min(lo, v), max(hi, v)
            out[i, j] = v
    return out, lo, hi


@numba.njit(inline="always")  # called per row with views: inlined, no reference counting
def _requantised_row(acc, add, shift, lo, hi, into):
    """One row of integer-valued float32 sums + add (the rounding offset folded in), shifted and
    clipped, into an int32 buffer (the sums go through int32 first: see ``exact_linear``)."""
    for j in range(len(into)):
        into[j] = min(max((np.int32(acc[j]) + add[j]) >> shift, lo), hi)


@numba.njit(cache=True, nogil=True)
def _requantise_f32(acc, add, shift, lo, hi):
    out = np.empty(acc.shape, np.int64)
    row = np.empty(acc.shape[1], np.int32)
    for i in range(acc.shape[0]):
        _requantised_row(acc[i], add, shift, lo, hi, row)
        for j in range(acc.shape[1]):
            out[i, j] = row[j]
    return out


@numba.njit(cache=True, nogil=True)
def _requantise_f32_table(acc, add, shift, lo, hi, table, offset):
    out = np.empty(acc.shape, np.float32)
    row = np.empty(acc.shape[1], np.int32)
    for i in range(acc.shape[0]):
        _requantised_row(acc[i], add, shift, lo, hi, row)
        for j in range(acc.shape[1]):  # the look-up in a loop of its own, after the row's arithmetic
            out[i, j] = table[row[j] + offset]
    return out


def _int_matmul_wide(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """int_matmul beyond 8 bits: in floating point where provably exact, else numpy's integer loop."""
    dtype = _exact_float(float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0)) * k)
    if dtype is not None:
        # torch's BLAS, not numpy's: one thread pool (torch's, sized by train.threads) for all of
        # the host's arithmetic. numpy's OpenBLAS keeps threads of its own, which beside torch's
        # and the emulator's work ran these products 50x slower on a loaded 2-core machine.
        t = torch.float32 if dtype == np.float32 else torch.float64
        return (torch.from_numpy(a).to(t) @ torch.from_numpy(b).to(t)).to(torch.int64).numpy()
    return a.astype(np.int64) @ b.astype(np.int64)


def _added(bias: np.ndarray | None, shift: int) -> float:
    """The most a conv block adds to a sum besides its products: the bias and the rounding offset
    of a right shift (what every exactness bound below must leave room for)."""
    return float(np.abs(bias).max(initial=0) if bias is not None else 0) + (2.0 ** (shift - 1) if shift > 0 else 0)


def conv_block(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, acc_exp: int, exp: int, bits: int) -> np.ndarray:
    """One integer Conv-4 block: a 3x3 convolution with padding 1 (x [n, c, h, w], w [out, c * 9]
    c-major as im2col lays patches out, b on the accumulator's grid 2**acc_exp), relu,
    requantised to a ``bits``-bit unsigned mantissa on 2**exp (``requantise``), 2x2 max pool ->
    [n, out, h // 2, w // 2] int64. Exact: in torch's float32 (or float64) convolution where every
    partial sum, the bias and the rounding offset stay provably below 2**24 (2**53), so that no
    float operation rounds (floor((acc + 2**(s-1)) / 2**s) is then the integer shift_round), else
    on int64 im2col."""
    shift, (lo, hi) = exp - acc_exp, int_range(bits, signed=False)
    bias = np.zeros(len(w), np.int64) if b is None else b
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).max(initial=0)) * w.shape[1] + _added(bias, shift)
    dtype = _exact_float(bound)
    if dtype is None:
        from numpy.lib.stride_tricks import sliding_window_view
        n, c, h, w_ = x.shape
        patches = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
        patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w_, c * 9).astype(np.int64)
        acc = (patches @ w.T.astype(np.int64) + bias).reshape(n, h, w_, -1).transpose(0, 3, 1, 2)
        q = requantise(np.maximum(acc, 0), acc_exp, exp, bits, signed=False)
        return q[:, :, : h // 2 * 2, : w_ // 2 * 2].reshape(n, -1, h // 2, 2, w_ // 2, 2).max((3, 5))
    t = torch.float32 if dtype == np.float32 else torch.float64
    return _float_conv_pool(torch.from_numpy(x).to(t), w, bias, shift, lo, hi).numpy().astype(np.int64)


def _float_conv_pool(x: torch.Tensor, w: np.ndarray, bias: np.ndarray, shift: int, lo: int, hi: int) -> torch.Tensor:
    """``conv_block``'s arithmetic on integer-valued floats x [n, c, h, w] (either memory format;
    the caller has checked that every partial sum is exact in x's dtype): convolution, 2x2 max
    pool, relu, the rounding shift, the clamp; integer-valued floats of x's dtype and format."""
    weight = torch.from_numpy(w.reshape(len(w), -1, 3, 3)).to(x.dtype)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        weight = weight.contiguous(memory_format=torch.channels_last)
    acc = torch.nn.functional.conv2d(x, weight, torch.from_numpy(bias).to(x.dtype), padding=1)
    # Pooled first: relu, the rounding shift and the clamp never decrease, so the max of their
    # results is their result of the max, and a quarter of the values go through them. Scaling by
    # 2**-shift is exact in floating point, as the division was.
    acc = torch.nn.functional.max_pool2d(acc, 2).clamp_(min=0)
    q = torch.floor((acc + 2.0 ** (shift - 1)) * 2.0 ** -shift) if shift > 0 else acc * 2.0 ** -shift
    return q.clamp_(lo, hi)


def int8_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact a @ b of int8 matrices [M, K] and [K, N] -> int32, on torch's int8 GEMM or on its
    float GEMM, whichever ``int8_products`` names. Every product is at most 2**14 in size, so no
    sum of up to 2**16 of them can leave int32, and every partial sum is an integer that float32
    (K up to 2**10) or float64 holds exactly: the same int32 either way."""
    k = a.shape[-1]
    if k >= 2 ** 16:
        raise ValueError(f"an int8 product over {k} terms could overflow int32")
    if int8_products() == "float":
        t = torch.float32 if _exact_float(float(k) * 2 ** 14) == np.float32 else torch.float64
        return (a.to(t) @ b.to(t)).to(torch.int32)
    return torch._int_mm(a, b)


INT8_GEMM_ENV = "HEBBFORMER_INT8_GEMM"  # "int8" or "float" to fix the choice (a benchmark's before and after)
_choice_lock = threading.Lock()  # conv_stack's threads may ask at once: one of them times, the others wait


def int8_products() -> str:
    """How ``int8_matmul`` runs in this process: "int8" (torch's int8 GEMM) or "float" (float32
    GEMM, float64 past 2**10 terms), from ``$HEBBFORMER_INT8_GEMM`` if set, else timed once on a
    Conv-4 block's patches ([2048, 288] @ [288, 64], conversions included, best of three). The
    int8 GEMM is fast only with VNNI: on an AVX512-VNNI EPYC it ran the patches several times
    faster than float32, on an AVX2 EPYC 12x slower (2.7 s against 0.22 s for [122500, 288] @
    [288, 64]), so the choice is measured, not read off the CPU's name."""
    chosen = os.environ.get(INT8_GEMM_ENV, "")
    if chosen:
        if chosen not in ("int8", "float"):
            raise ConfigError(f"${INT8_GEMM_ENV} must be 'int8' or 'float' (or unset: timed), got {chosen!r}")
        return chosen
    with _choice_lock:
        return _timed_choice()


@functools.cache
def _timed_choice() -> str:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(-128, 128, (2048, 288), dtype=torch.int8, generator=g)
    b = torch.randint(-128, 128, (288, 64), dtype=torch.int8, generator=g)

    def fastest(product) -> float:
        times = []
        for _ in range(3):
            tic = time.perf_counter()
            product()
            times.append(time.perf_counter() - tic)
        return min(times)

    as_float = fastest(lambda: (a.to(torch.float32) @ b.to(torch.float32)).to(torch.int32))
    return "float" if as_float < fastest(lambda: torch._int_mm(a, b)) else "int8"


FLOAT_CONV_CHANNELS = 8  # input channels from which conv_stack convolves in float32 where products run in float


def _float_conv_fits(w: np.ndarray, b: np.ndarray | None, acc_exp: int, exp: int, bits: int) -> bool:
    """Whether ``conv_stack`` runs a block (inputs 0..255) as torch's float32 convolution on
    channels-last activations: where 8-bit products run in float (``int8_products``), the block
    has ``FLOAT_CONV_CHANNELS`` inputs or more (on one channel torch's convolution was slower than
    the im2col product, and ``_direct_conv_block`` is faster than both), its
    output is at most 8 bits unsigned, and every partial sum, the bias and the rounding offset stay
    below 2**24, so that float32 holds each exactly (on a 2-core AVX2 EPYC the 14x14 block of 32
    channels ran 1.4x faster than the im2col product with its conversions)."""
    c, shift = w.shape[1] // 9, exp - acc_exp
    bound = 255 * float(np.abs(w).max(initial=0)) * w.shape[1] + _added(b, shift)
    return c >= FLOAT_CONV_CHANNELS and bits <= 8 and _exact_float(bound) == np.float32 and int8_products() == "float"


def _int8_conv_fits(x_max: int, w: np.ndarray, bits: int) -> bool:
    """Whether ``conv_stack``'s int8 path holds a block: inputs 0..255, weights -128..127, a
    uint8 output, and sums that int32 holds exactly."""
    return (x_max <= 255 and bits <= 8 and -128 <= int(w.min(initial=0)) and int(w.max(initial=0)) <= 127
            and w.shape[1] < 2 ** 16)


def conv_stack(x: np.ndarray, blocks, bits: int) -> np.ndarray:
    """The integer Conv-4: ``conv_block`` for each (w, b, acc_exp, exp) of ``blocks`` in turn,
    x [n, c, h, w] -> [n, c' * h' * w'] int64, the same integers. Where a block's input lies in
    0..255 and its weights in -128..127 (the Quant model's uint8 pixels and activations, its
    8-bit weight mantissas), it runs exactly on one of three ways, with the activations kept
    channels last between blocks: a block of few input channels (the first) as a direct integer
    convolution (``_direct_conv_block``), one of many where 8-bit products run in float as torch's
    float32 convolution (``_float_conv_fits``), else as an int8 matrix product of its 3x3 patches;
    any other block goes through ``conv_block``. The images go through in chunks of ``CONV_CHUNK``, so that
    each block's int32 products (100 kB an image in a 28x28 first block of 32 channels) stay in
    the CPU's caches: the passes over them (pooling, rounding) cost more than the products.
    With several torch threads the chunks are spread over as many threads of our own, each
    running torch on one: beside other jobs, torch's threads waited for each other at each of the
    chunks' small operations, for many times their work (21.9 s against 0.25 s on one thread)."""
    if len(x) <= CONV_CHUNK:
        return _conv_chunk(x, blocks, bits)
    starts, threads = range(0, len(x), CONV_CHUNK), torch.get_num_threads()
    one_chunk = lambda i: _conv_chunk(x[i:i + CONV_CHUNK], blocks, bits)  # noqa: E731
    if threads == 1:
        return np.concatenate([one_chunk(i) for i in starts])
    torch.set_num_threads(1)  # for the threads started below too
    try:
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(one_chunk, starts)))
    finally:
        torch.set_num_threads(threads)


def _conv_chunk(x: np.ndarray, blocks, bits: int) -> np.ndarray:
    t = None  # the activations as uint8 [n, h, w, c], while the int8 path runs
    f = None  # or as integer-valued float32 [n, c, h, w] in channels-last memory, on torch's convolution
    for w, b, acc_exp, exp in blocks:
        if (t is not None or f is not None) and _float_conv_fits(w, b, acc_exp, exp, bits):
            if f is None:  # the same memory: uint8 [n, h, w, c] is [n, c, h, w] channels last
                f, t = t.permute(0, 3, 1, 2).to(torch.float32), None
            bias = np.zeros(len(w), np.int64) if b is None else np.asarray(b, np.int64)
            f = _float_conv_pool(f, w, bias, exp - acc_exp, *int_range(bits, signed=False))
            continue
        if f is not None:  # 0..255: back to uint8 channels last
            t, f = f.permute(0, 2, 3, 1).to(torch.uint8), None
        if t is None and (x.min(initial=0) < 0 or not _int8_conv_fits(int(x.max(initial=0)), w, bits)):
            x = conv_block(x.astype(np.int64), w, b, acc_exp, exp, bits)
            continue
        if t is None:
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.uint8))
        if _direct_conv_fits(w, b, acc_exp, exp, bits):
            t = _direct_conv_block(t, w, b, acc_exp, exp, bits)
            continue
        if not _int8_conv_fits(255, w, bits):
            x, t = conv_block(t.permute(0, 3, 1, 2).numpy().astype(np.int64), w, b, acc_exp, exp, bits), None
            continue
        t = _int8_conv_block(t, w, b, acc_exp, exp, bits)
    if t is not None:
        x = t.permute(0, 3, 1, 2).numpy().astype(np.int64)
    if f is not None:
        x = f.contiguous().numpy().astype(np.int64)
    return x.reshape(len(x), -1)


DIRECT_CONV_CHANNELS = 8  # input channels below which conv_stack runs a block as _direct_conv_block


def _direct_conv_fits(w: np.ndarray, b: np.ndarray | None, acc_exp: int, exp: int, bits: int) -> bool:
    """Whether ``_direct_conv_block`` holds a block on inputs 0..255: fewer than
    ``DIRECT_CONV_CHANNELS`` input channels (the Conv-4's first block: one), a uint8 output, and
    every sum with the bias and the rounding offset within int32."""
    shift = exp - acc_exp
    bound = 255 * float(np.abs(w).sum(1).max(initial=0)) + _added(b, shift)
    return w.shape[1] // 9 < DIRECT_CONV_CHANNELS and bits <= 8 and 0 <= shift < 31 and bound < 2 ** 31


def _direct_conv_block(x: torch.Tensor, w: np.ndarray, b: np.ndarray | None, acc_exp: int, exp: int,
                       bits: int) -> torch.Tensor:
    """``conv_block`` on uint8 activations [n, h, w, c] (channels last) -> uint8 [n, h/2, w/2, out],
    computed directly, output by output, into int32 sums (``_direct_conv_fits`` has checked their
    range). For a block of one input channel, where a patch matrix has 9 columns, the im2col
    product spent its time writing and reading its patches and int32 products (a chunk's products
    are 3 MB), not multiplying: on a 2-core AVX2 EPYC this ran the Conv-4's first block about
    twice as fast (1.0 ms against 2.0-2.9 ms per 32 images)."""
    n, h, w_, c = x.shape
    weights = np.ascontiguousarray(w.reshape(len(w), c, 3, 3).transpose(2, 3, 1, 0).reshape(9 * c, len(w)), np.int32)
    bias = np.zeros(len(w), np.int32) if b is None else np.asarray(b).astype(np.int32)
    lo, hi = int_range(bits, signed=False)
    return torch.from_numpy(_conv3x3_pool(x.numpy(), weights, bias, exp - acc_exp, lo, hi))


@numba.njit(cache=True, nogil=True)
def _conv3x3_pool(x, w, bias, shift, lo, hi):
    """x uint8 [n, h, w, c], w int32 [9 * c, out] ((ky, kx, c)-major), zero padding of 1: each 2x2
    window's largest sum (bias in), relu, shifted with rounding half up, clipped -> uint8 [n, h//2,
    w//2, out]. The innermost loops run over the output channels, contiguous in w and out."""
    n, h, wd, c = x.shape
    out_c = w.shape[1]
    out = np.empty((n, h // 2, wd // 2, out_c), np.uint8)
    acc, best = np.empty(out_c, np.int32), np.empty(out_c, np.int32)
    half = np.int32(1) << (shift - 1) if shift > 0 else np.int32(0)
    for e in range(n):
        for i2 in range(h // 2):
            for j2 in range(wd // 2):
                for o in range(out_c):
                    best[o] = 0  # relu: the max of 0 and the window's sums
                for di in range(2):
                    for dj in range(2):
                        for o in range(out_c):
                            acc[o] = bias[o]
                        for ky in range(3):
                            yy = 2 * i2 + di + ky - 1
                            if yy < 0 or yy >= h:
                                continue
                            for kx in range(3):
                                xx = 2 * j2 + dj + kx - 1
                                if xx < 0 or xx >= wd:
                                    continue
                                for ci in range(c):
                                    p = np.int32(x[e, yy, xx, ci])
                                    row = (ky * 3 + kx) * c + ci
                                    for o in range(out_c):
                                        acc[o] += p * w[row, o]
                        for o in range(out_c):
                            best[o] = max(best[o], acc[o])
                for o in range(out_c):
                    out[e, i2, j2, o] = min(max((best[o] + half) >> shift, lo), hi)
    return out


def _int8_conv_block(x: torch.Tensor, w: np.ndarray, b: np.ndarray | None, acc_exp: int, exp: int,
                     bits: int) -> torch.Tensor:
    """``conv_block`` on uint8 activations [n, h, w, c] (channels last) -> uint8 [n, h/2, w/2, out]."""
    n, h, w_, c = x.shape
    out = len(w)
    # x - 128 as int8 (flipping the top bit of a uint8 subtracts 128); the padding is a zero pixel,
    # -128 after the shift. The shift is undone below by adding 128 * sum(w) per output channel.
    padded = torch.full((n, h + 2, w_ + 2, c), -128, dtype=torch.int8)
    padded[:, 1:-1, 1:-1] = (x ^ 128).view(torch.int8)
    if c < 8:  # (the first block, one channel) nine slice copies: torch's strided copy of the
        # 9-byte patches took 4x as long, a third of the block's time
        cols, source = np.empty((n, h, w_, 9 * c), np.int8), padded.numpy()
        for k in range(9):
            cols[..., k * c:(k + 1) * c] = source[:, k // 3:k // 3 + h, k % 3:k % 3 + w_]
        patches = torch.from_numpy(cols.reshape(n * h * w_, 9 * c))
    else:
        sn, sh, sw, sc = padded.stride()
        patches = padded.as_strided((n, h, w_, 3, 3, c), (sn, sh, sw, sh, sw, sc)).reshape(n * h * w_, 9 * c)
    # the weights from conv_block's c-major patch layout (c, ky, kx) to the one above (ky, kx, c)
    wt = torch.from_numpy(np.ascontiguousarray(w.reshape(out, c, 3, 3).transpose(2, 3, 1, 0).reshape(9 * c, out)))
    acc = int8_matmul(patches, wt.to(torch.int8)).view(n, h, w_, out)
    # pooled first, as in conv_block: the shift's correction and the bias (one per channel), relu,
    # the rounding shift and the clamp never decrease, so they commute with the max and run on a
    # quarter of the values. Two pairwise maxima: torch's amax over two axes took 3x as long.
    h2, w2 = h // 2, w_ // 2
    rows = acc[:, : 2 * h2, : 2 * w2].reshape(n, h2, 2, 2 * w2, out)
    rows = torch.maximum(rows[:, :, 0], rows[:, :, 1]).view(n, h2, w2, 2, out)
    acc = torch.maximum(rows[:, :, :, 0], rows[:, :, :, 1])
    bias = 128 * w.sum(1) + (0 if b is None else np.asarray(b, np.int64))
    shift = exp - acc_exp
    # int32 where it holds the sum with bias and rounding offset (it does for the Quant models)
    wide = 9 * c * 255 * 128 + int(np.abs(bias).max()) + (1 << max(shift, 0)) >= 2 ** 31 or shift < 0
    acc = acc.to(torch.int64) if wide else acc
    acc = (acc + torch.from_numpy(bias).to(acc.dtype)).clamp_(min=0)
    lo, hi = int_range(bits, signed=False)
    if shift > 0:
        q = (acc + (1 << (shift - 1))) >> shift
    else:  # saturating, as shift_clip: clipped first to one past what shifts into range, so no shift wraps
        s = min(-shift, 62)
        q = acc.clamp_(max=(hi >> s) + 1) << s
    return q.clamp_(lo, hi).to(torch.uint8)


def isqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) for non-negative int64 n, corrected to be exact."""
    s = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    s -= s * s > n
    s += (s + 1) * (s + 1) <= n
    return s
