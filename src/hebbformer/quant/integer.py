"""The Quant variant's integer-only inference: its numerics, and the integer slot memory.

``IntegerNumerics.from_model`` exports a calibrated ``QuantLearner`` as integer mantissas and
exponents (numpy int64); as the numerics of the one forward (``models.forward``) it then runs an
episode with integer operations only: additions, multiplications, arithmetic shifts,
comparisons, a table look-up (GELU), an integer square root and a floor division (layer norm).
Every attention layer is a plastic synaptic memory, the forward's other seam: each token writes
its key and value into the synapses of a slot neuron (a support: a new one; a query: the spare
one), then reads. ``backends.synaptic`` runs them in numpy; the layer compiled to a Loihi 2
network on the emulator or on lava (``hebbformer.neuro.attention_compiler``) gives the same
integers. The whole path equals the float64 fake-quantised forward bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import torch

from ..models.forward import MemoryRule, slots_read
from ..plasticity.rules import QUANT_KEY_WRITE, QUANT_VALUE_WRITE
from .fixed_point import (
    ACT_BITS,
    NORM_FRACTION_BITS,
    RECIPROCAL_BITS,
    RESIDUAL_BITS,
    SYNAPSE_RANGE,
    FloatInput,
    FloatWeights,
    conv_stack,
    exact_linear,
    int8_products,
    int_matmul,
    int_range,
    isqrt,
    mantissa,
    reciprocals,
    requantise,
    slot_rate,
)
from .model import QuantLearner


@dataclass
class IntLinear:
    w: np.ndarray  # int64 [out, in]
    b: np.ndarray | None  # int64 [out], on the accumulator's grid
    acc_exp: int  # exponent of the accumulator: input exponent + weight exponent
    _float_weights: FloatWeights | None = field(default=None, init=False, repr=False, compare=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return int_matmul(x, self.w.T, self.b)

    def onto(self, x: np.ndarray | FloatInput, exp: int, lo: int, hi: int, table: np.ndarray | None = None,
             offset: int = 0):
        """The layer's output as a mantissa on the grid 2**exp, clipped to lo..hi: ``requantise``
        (or ``synapse_round``) of ``self(x)``, computed as the sums are widened; given ``table``,
        ``table[that + offset]`` (the MLP's GELU). Where 8-bit products run in float
        (``int8_products``) it goes through ``exact_linear``, which carries its input and, with a
        table, its output in float32 (a ``FloatInput``); else, or where that cannot be proven
        exact, on ``int_matmul``. The same integers either way."""
        shift = exp - self.acc_exp
        if int8_products() == "float":
            floats = x if isinstance(x, FloatInput) else FloatInput.of(x)
            if floats is not None:
                out = exact_linear(floats, self._floats(), self.b, shift, lo, hi, table, offset)
                if out is not None:
                    return out
        if isinstance(x, FloatInput):
            x = x.x.numpy().astype(np.int64)
        out = int_matmul(x, self.w.T, self.b, (shift, lo, hi))
        return out if table is None else look_up(table, np.ascontiguousarray(out), offset)

    def _floats(self) -> FloatWeights:
        if self._float_weights is None:  # made on first use: only where products run in float
            self._float_weights = FloatWeights(self.w)
        return self._float_weights


@dataclass
class IntNorm:
    g: np.ndarray
    b: np.ndarray
    g_exp: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Integer layer norm over the last axis -> accumulator on the grid 2**(g_exp - 7)."""
        if x.dtype == np.int64 and x.size and self.g.dtype == self.b.dtype == np.int64:
            # one compiled pass per row: numpy's eight passes over [tokens, d] int64, with their
            # temporaries, took 3x as long; the same integers (layer_norm_reference)
            return _layer_norm_rows(np.ascontiguousarray(x).reshape(-1, x.shape[-1]), self.g, self.b,
                                    *int_range(RESIDUAL_BITS)).reshape(x.shape)
        return layer_norm_reference(x, self.g, self.b)


def layer_norm_reference(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IntNorm in numpy, the definition ``_layer_norm_rows`` computes."""
    d = x.shape[-1]
    centred = x - x.sum(-1, keepdims=True) // d
    std = np.maximum(isqrt((centred * centred).sum(-1, keepdims=True) // d), 1)
    normed = np.clip((centred << NORM_FRACTION_BITS) // std, *int_range(RESIDUAL_BITS))
    return normed * g + b


@numba.njit(cache=True, nogil=True)
def _layer_norm_rows(x, g, b, lo, hi):
    n, d = x.shape
    out = np.empty((n, d), np.int64)
    for r in range(n):
        total = np.int64(0)
        for k in range(d):
            total += x[r, k]
        mean = total // d  # floor division, as numpy's
        squares = np.int64(0)
        for k in range(d):
            c = x[r, k] - mean
            squares += c * c
        var = squares // d
        std = np.int64(np.floor(np.sqrt(np.float64(var))))  # isqrt: then corrected to be exact
        if std * std > var:
            std -= 1
        if (std + 1) * (std + 1) <= var:
            std += 1
        std = max(std, 1)
        for k in range(d):
            v = ((x[r, k] - mean) << NORM_FRACTION_BITS) // std
            out[r, k] = min(max(v, lo), hi) * g[k] + b[k]
    return out


@numba.njit(cache=True, nogil=True)
def look_up(table, index, offset):
    """table[index + offset] for an int64 index array, in one compiled pass: numpy's fancy index
    over the MLP's [tokens, 1024] took 8x as long. An index outside the table raises."""
    flat = index.reshape(-1)
    out = np.empty(flat.size, table.dtype)
    for k in range(flat.size):
        i = flat[k] + offset
        if i < 0 or i >= len(table):
            raise IndexError("index outside the table")
        out[k] = table[i]
    return out.reshape(index.shape)


def _ints(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().astype(np.int64)


class IntegerNumerics:
    """A calibrated Quant model as integer mantissas and exponents, and the integer arithmetic of
    the one forward (``models.forward``) on them: integer operations only."""

    on_numpy = True  # its arrays are numpy int64

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: QuantLearner) -> "IntegerNumerics":
        self = cls()
        f64 = torch.float64
        self.cfg, self.exp = model.cfg, {name: model.exp(name) for name in model.points}
        e = self.exp

        def linear(layer, in_exp):
            w_m, b_m, e_w = model.layer_params(layer, in_exp, f64)
            return IntLinear(_ints(w_m), _ints(b_m), in_exp + e_w)

        def norm(ln):
            g_m, b_m, e_g = model.norm_params(ln, f64)
            return IntNorm(_ints(g_m), _ints(b_m), e_g)

        self.convs = []
        for i in range(model.cfg.encoder_blocks):
            w_m, b_m, e_w = model.conv_params(i, f64)
            in_exp = 0 if i == 0 else e[f"enc{i - 1}"]
            self.convs.append(IntLinear(_ints(w_m).reshape(w_m.shape[0], -1), _ints(b_m), in_exp + e_w))
        e_f = e[f"enc{model.cfg.encoder_blocks - 1}"]
        self.embed = linear(model.embed, e_f)
        self.label_table = _ints(mantissa(model.label_embed.weight.to(f64), e["res"], *int_range(RESIDUAL_BITS)))
        self.blocks = []
        for l, block in enumerate(model.blocks):
            q, k, v = [IntLinear(_ints(w), _ints(b), e[f"b{l}.ln1"] + ew)
                       for w, b, ew in model.qkv_params(block.attn, e[f"b{l}.ln1"], f64)]
            self.blocks.append(dict(
                ln1=norm(block.ln1), q=q, k=k, v=v,
                proj=linear(block.attn.proj, e[f"b{l}.y"]),
                ln2=norm(block.ln2),
                up=linear(block.mlp[0], e[f"b{l}.ln2"]),
                gelu=_ints(model.gelu_table(l)),
                down=linear(block.mlp[2], e[f"b{l}.gelu"])))
        self.norm_final = norm(model.norm)
        w_m, b_m, e_w = model.head_params(f64)
        self.head = IntLinear(_ints(w_m), _ints(b_m), e["lnf"] + e_w)
        self.reciprocal = _ints(reciprocals(4096))
        self.heads, self.depth = model.cfg.heads, len(self.blocks)
        return self

    # ------------------------------------------------------------ the program
    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 images [n, C, H, W] -> uint8-range features [n, D] (int64)."""
        blocks = [(conv.w, conv.b, conv.acc_exp, self.exp[f"enc{i}"]) for i, conv in enumerate(self.convs)]
        return conv_stack(images, blocks, ACT_BITS)

    # ------------------------------------------------------------ the numerics of the one forward
    def tokens(self, support, support_labels, query) -> np.ndarray:
        b, s = support_labels.shape
        n_query = query.shape[1]
        images = np.concatenate([support, query], 1).reshape(-1, *support.shape[2:])
        z = self.embed.onto(self.encode(images), self.exp["res"], *int_range(RESIDUAL_BITS))
        labels = np.concatenate([support_labels, np.full((b, n_query), self.cfg.max_ways)], 1)
        return np.clip(z.reshape(b, s + n_query, -1) + self.label_table[labels], *int_range(RESIDUAL_BITS))

    def norm(self, layer: int, name: str, x: np.ndarray) -> np.ndarray:
        return self._norm(self.blocks[layer][name], x, f"b{layer}.{name}")

    def _norm(self, norm: IntNorm, x: np.ndarray, name: str) -> np.ndarray:
        return requantise(norm(x), norm.g_exp - NORM_FRACTION_BITS, self.exp[name], ACT_BITS)

    def qkv(self, layer: int, h: np.ndarray):
        """q on its int8 grid; k and v as the synapses store them, -127..127; [B, T, heads, d_head]."""
        e, blk = self.exp, self.blocks[layer]
        b, n, d = h.shape
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads)  # noqa: E731
        h = (FloatInput.of(h) or h) if int8_products() == "float" else h  # once for the three
        q = blk["q"].onto(h, e[f"b{layer}.q"], *int_range(ACT_BITS))
        k = blk["k"].onto(h, e[f"b{layer}.k"], *SYNAPSE_RANGE)  # synapse_round
        v = blk["v"].onto(h, e[f"b{layer}.v"], *SYNAPSE_RANGE)
        return split(q), split(k), split(v)

    def memory_rule(self, layer: int) -> MemoryRule:
        e = self.exp
        shift = e[f"b{layer}.rate"] - e[f"b{layer}.q"] - e[f"b{layer}.k"]
        return MemoryRule("relu", rate=lambda drive: slot_rate(drive, shift), shift=shift,
                          key_write=QUANT_KEY_WRITE, value_write=QUANT_VALUE_WRITE)

    def attention_out(self, layer: int, read: np.ndarray, n_support: int) -> np.ndarray:
        """What the read-out neurons received -> the layer's addition to the residual stream: the
        division by the slots read (a 16-bit reciprocal), then the output projection."""
        e, blk = self.exp, self.blocks[layer]
        b, n, heads, d_head = read.shape
        out = read * self.reciprocal[slots_read(n_support, n)][None, :, None, None]
        y = requantise(out, e[f"b{layer}.rate"] + e[f"b{layer}.v"] - RECIPROCAL_BITS, e[f"b{layer}.y"], ACT_BITS)
        return self._onto_residual(blk["proj"], y.reshape(b, n, heads * d_head))

    def _onto_residual(self, layer: IntLinear, x: np.ndarray) -> np.ndarray:
        return layer.onto(x, self.exp["res"], *int_range(RESIDUAL_BITS))

    def add(self, x: np.ndarray, delta: np.ndarray) -> np.ndarray:
        return np.clip(x + delta, *int_range(RESIDUAL_BITS))

    def mlp(self, layer: int, h: np.ndarray) -> np.ndarray:
        blk = self.blocks[layer]
        gelu = blk["up"].onto(h, self.exp[f"b{layer}.m1"], *int_range(ACT_BITS), table=blk["gelu"], offset=128)
        return self._onto_residual(blk["down"], gelu)

    def readout(self, x: np.ndarray, support_labels: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
        """The integer logits [B, Q, N], on the grid 2**logit_exp."""
        s = support_labels.shape[1]
        out = self.head(self._norm(self.norm_final, x[:, s:], "lnf"))
        if self.cfg.readout == "vocab":
            ids = np.broadcast_to(label_ids[:, None, :], (*out.shape[:2], label_ids.shape[1]))
            return np.take_along_axis(out, ids, 2)
        out = requantise(out, self.head.acc_exp, self.exp["out"], ACT_BITS)
        return np.einsum("bqd,bnd->bqn", out, self.label_table[label_ids])

    @property
    def logit_exp(self) -> int:
        return self.head.acc_exp if self.cfg.readout == "vocab" else self.exp["out"] + self.exp["res"]
