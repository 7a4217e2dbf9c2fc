"""The Quant variant's integer-only inference path, token by token in synaptic form.

``IntegerLearner.from_model`` exports a calibrated ``QuantLearner`` as integer mantissas and
exponents (numpy int64); ``logits`` then runs an episode with integer operations only: additions,
multiplications, arithmetic shifts, comparisons, a table look-up (GELU), an integer square root
and a floor division (layer norm). Every attention layer is a plastic synaptic memory: each
token writes its key and value into the synapses of a slot neuron (a support: a new one; a
query: a spare one), then reads. The model runs layer by layer over whole episodes (attention is
causal, so that is the same); what runs a layer's synapses is pluggable: ``slot_core`` here, or
the layer compiled to a Loihi 2 network on the emulator or on lava
(``hebbformer.neuro.plastic_attention``), which give the same integers. The whole path equals the
float64 fake-quantised forward bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from .fixed_point import (
    RECIPROCAL_BITS,
    int_matmul,
    int_range,
    isqrt,
    mantissa,
    reciprocals,
    requantise,
    slot_rate,
    synapse_round,
)
from .model import ACT_BITS, NORM_FRACTION_BITS, RESIDUAL_BITS, QuantLearner


@dataclass
class IntLinear:
    w: np.ndarray  # int64 [out, in]
    b: np.ndarray | None  # int64 [out], on the accumulator's grid
    acc_exp: int  # exponent of the accumulator: input exponent + weight exponent

    def __call__(self, x: np.ndarray) -> np.ndarray:
        acc = int_matmul(x, self.w.T)
        return acc if self.b is None else acc + self.b


@dataclass
class IntNorm:
    g: np.ndarray
    b: np.ndarray
    g_exp: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Integer layer norm over the last axis -> accumulator on the grid 2**(g_exp - 7)."""
        d = x.shape[-1]
        centred = x - x.sum(-1, keepdims=True) // d
        std = np.maximum(isqrt((centred * centred).sum(-1, keepdims=True) // d), 1)
        normed = np.clip((centred << NORM_FRACTION_BITS) // std, *int_range(RESIDUAL_BITS))
        return normed * self.g + self.b


def _ints(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().astype(np.int64)


class IntegerLearner:
    @classmethod
    @torch.no_grad()
    def from_model(cls, model: QuantLearner) -> "IntegerLearner":
        self = cls()
        f64 = torch.float64
        self.cfg, self.exp = model.cfg, {name: model.exp(name) for name in model.points}
        e = self.exp

        def linear(layer_weight, layer_bias, in_exp, scale=1.0):
            w_m, b_m, e_w = model.linear_params(layer_weight.to(f64), layer_bias.to(f64), in_exp, scale)
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
        self.embed = linear(model.embed.weight, model.embed.bias, e_f)
        self.label_table = _ints(mantissa(model.label_embed.weight.to(f64), e["res"], *int_range(RESIDUAL_BITS)))
        self.blocks = []
        for l, block in enumerate(model.blocks):
            q, k, v = [IntLinear(_ints(w), _ints(b), e[f"b{l}.ln1"] + ew)
                       for w, b, ew in model.qkv_params(block.attn, e[f"b{l}.ln1"], f64)]
            self.blocks.append(dict(
                ln1=norm(block.ln1), q=q, k=k, v=v,
                proj=linear(block.attn.proj.weight, block.attn.proj.bias, e[f"b{l}.y"]),
                ln2=norm(block.ln2),
                up=linear(block.mlp[0].weight, block.mlp[0].bias, e[f"b{l}.ln2"]),
                gelu=_ints(model.gelu_table(l)),
                down=linear(block.mlp[2].weight, block.mlp[2].bias, e[f"b{l}.gelu"])))
        self.norm = norm(model.norm)
        w_m, b_m, e_w = model.head_params(f64)
        self.head = IntLinear(_ints(w_m), _ints(b_m), e["lnf"] + e_w)
        self.reciprocal = _ints(reciprocals(4096))
        self.heads = model.cfg.heads
        return self

    # ------------------------------------------------------------ the program
    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 images [n, C, H, W] -> uint8-range features [n, D] (int64)."""
        x = images.astype(np.int64)
        for i, conv in enumerate(self.convs):
            n, c, h, w = x.shape
            patches = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
            patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)
            acc = conv(patches).reshape(n, h, w, -1).transpose(0, 3, 1, 2)
            x = requantise(np.maximum(acc, 0), conv.acc_exp, self.exp[f"enc{i}"], ACT_BITS, signed=False)
            h2, w2 = h // 2, w // 2
            x = x[:, :, : 2 * h2, : 2 * w2].reshape(n, -1, h2, 2, w2, 2).max((3, 5))
        return x.reshape(len(x), -1)

    def _norm(self, norm: IntNorm, x: np.ndarray, name: str) -> np.ndarray:
        return requantise(norm(x), norm.g_exp - NORM_FRACTION_BITS, self.exp[name], ACT_BITS)

    def _residual_add(self, x: np.ndarray, acc: np.ndarray, acc_exp: int) -> np.ndarray:
        lo, hi = int_range(RESIDUAL_BITS)
        return np.clip(x + requantise(acc, acc_exp, self.exp["res"], RESIDUAL_BITS), lo, hi)

    def attend(self, l: int, h: np.ndarray, n_support: int, core) -> np.ndarray:
        """Block l's attention over whole episodes, h [B, T, d] (the int8 layer-norm output): the
        host computes q, k, v; ``core`` writes and reads the plastic synapses token by token; the
        host divides by the number of slots read and projects. Returns the projection's accumulator."""
        e, blk = self.exp, self.blocks[l]
        b, n, d = h.shape
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads)  # noqa: E731
        q = split(requantise(blk["q"](h), blk["q"].acc_exp, e[f"b{l}.q"], ACT_BITS))
        k = split(synapse_round(blk["k"](h), blk["k"].acc_exp, e[f"b{l}.k"]))
        v = split(synapse_round(blk["v"](h), blk["v"].acc_exp, e[f"b{l}.v"]))
        out = core(q, k, v, n_support, e[f"b{l}.rate"] - e[f"b{l}.q"] - e[f"b{l}.k"])
        # slots read: a support reads itself and the supports before it, a query every support and itself
        seen = np.minimum(np.arange(n), n_support) + 1
        out = out * self.reciprocal[seen][None, :, None, None]
        y = requantise(out, e[f"b{l}.rate"] + e[f"b{l}.v"] - RECIPROCAL_BITS, e[f"b{l}.y"], ACT_BITS)
        return blk["proj"](y.reshape(b, n, d))

    def logits(self, support, support_labels, query, label_ids, core=None) -> tuple[np.ndarray, int]:
        """uint8 support [B, S, C, H, W], label tokens [B, S], uint8 query [B, Q, C, H, W], the
        episode's label tokens [B, N] -> (integer logits [B, Q, N], their exponent). ``core`` runs
        the attention layers' plastic synapses: ``slot_core`` (numpy, the default) or a compiled
        network (``hebbformer.neuro.plastic_attention.NetworkCore``)."""
        core = core or slot_core
        support, query = np.asarray(support), np.asarray(query)
        support_labels, label_ids = np.asarray(support_labels), np.asarray(label_ids)
        b, s = support_labels.shape
        n_query = query.shape[1]
        images = np.concatenate([support, query], 1).reshape(-1, *support.shape[2:])
        z = requantise(self.embed(self.encode(images)), self.embed.acc_exp, self.exp["res"], RESIDUAL_BITS)
        labels = np.concatenate([support_labels, np.full((b, n_query), self.cfg.max_ways)], 1)
        x = np.clip(z.reshape(b, s + n_query, -1) + self.label_table[labels], *int_range(RESIDUAL_BITS))
        for l, blk in enumerate(self.blocks):  # layer by layer: causal, so each layer sees all tokens
            x = self._residual_add(x, self.attend(l, self._norm(blk["ln1"], x, f"b{l}.ln1"), s, core), blk["proj"].acc_exp)
            m1 = requantise(blk["up"](self._norm(blk["ln2"], x, f"b{l}.ln2")), blk["up"].acc_exp,
                            self.exp[f"b{l}.m1"], ACT_BITS)
            x = self._residual_add(x, blk["down"](blk["gelu"][m1 + 128]), blk["down"].acc_exp)
        out = self.head(self._norm(self.norm, x[:, s:], "lnf"))
        if self.cfg.readout == "vocab":
            ids = np.broadcast_to(label_ids[:, None, :], (b, n_query, label_ids.shape[1]))
            return np.take_along_axis(out, ids, 2), self.head.acc_exp
        out = requantise(out, self.head.acc_exp, self.exp["out"], ACT_BITS)
        return np.einsum("bqd,bnd->bqn", out, self.label_table[label_ids]), self.exp["out"] + self.exp["res"]


class SlotMemory:
    """One attention layer's plastic synapses, for a batch of episodes: per head ``capacity`` slot
    neurons whose key (input) and value (output) synapses a write overwrites; a read passes the
    query through them, the slots' requantised ReLU and back. The arithmetic of the compiled
    network (``hebbformer.neuro.plastic_attention``), in numpy."""

    def __init__(self, batch: int, heads: int, d_head: int, capacity: int):
        self.k = np.zeros((batch, heads, capacity, d_head), np.int64)
        self.v = np.zeros((batch, heads, capacity, d_head), np.int64)

    def write(self, slot: int, k: np.ndarray, v: np.ndarray) -> None:
        """A token's key and value [B, heads, d_head] into slot ``slot`` of every head."""
        self.k[:, :, slot], self.v[:, :, slot] = k, v

    def read(self, q: np.ndarray, rate_shift: int) -> np.ndarray:
        """sum over slots of rate * value [B, heads, d_head], rate = relu(k.q) on the grid 2**rate_shift."""
        rate = slot_rate(np.einsum("bhsd,bhd->bhs", self.k, q), rate_shift)
        return np.einsum("bhs,bhsd->bhd", rate, self.v)


def slot_core(q: np.ndarray, k: np.ndarray, v: np.ndarray, n_support: int, rate_shift: int) -> np.ndarray:
    """The plastic synapses of one layer over whole episodes [B, T, heads, d_head], token by token:
    support i is written into slot i, each query into the spare slot n_support, and each token read
    after its write. Slots not yet written hold zeros, so they add nothing."""
    b, n, heads, d_head = q.shape
    memory = SlotMemory(b, heads, d_head, n_support + 1)
    out = np.empty_like(q)
    for i in range(n):
        memory.write(min(i, n_support), k[:, i], v[:, i])
        out[:, i] = memory.read(q[:, i], rate_shift)
    return out


class IntegerForward(torch.nn.Module):
    """The integer path behind the model's usual forward signature, so that the evaluation code
    (episodes, confidence intervals, all_runs) measures it unchanged. Inference only, on the CPU."""

    def __init__(self, model: QuantLearner, core=None):
        super().__init__()
        self.cfg = model.cfg
        self.program = IntegerLearner.from_model(model)
        self.core = core

    def forward(self, support, support_labels, query, label_ids) -> torch.Tensor:
        arrays = (t.cpu().numpy() for t in (support, support_labels, query, label_ids))
        logits, exp = self.program.logits(*arrays, core=self.core)
        return torch.from_numpy(logits).double() * 2.0 ** exp
