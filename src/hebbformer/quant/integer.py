"""The Quant variant's integer-only inference path, token by token in synaptic form.

``IntegerLearner.from_model`` exports a calibrated ``QuantLearner`` as integer mantissas and
exponents (numpy int64); ``logits`` then runs an episode with integer operations only: additions,
multiplications, arithmetic shifts, comparisons, a table look-up (GELU), an integer square root
and a floor division (layer norm). Every attention layer is a plastic synaptic memory: each
support token writes its key and value into the synapses of a newly recruited slot neuron, with
Loihi 2's learning-engine rounding; each query only reads. This is the program the neuromorphic
back-ends execute; it equals the float64 fake-quantised forward bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from .fixed_point import (RECIPROCAL_BITS, int_matmul, int_range, isqrt, loihi_random, loihi_round,
                          mantissa, reciprocals, requantise)
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

    def _attend(self, l: int, blk: dict, h: np.ndarray, memory: dict, write: bool, r: float) -> np.ndarray:
        """One token [B, d] through block l's plastic synapses: write (support) or read (query)."""
        e = self.exp
        b, d = h.shape
        split = lambda t: t.reshape(b, self.heads, d // self.heads)  # noqa: E731
        q = split(requantise(blk["q"](h), blk["q"].acc_exp, e[f"b{l}.q"], ACT_BITS))
        k = split(loihi_round(blk["k"](h), blk["k"].acc_exp, e[f"b{l}.k"], r))
        v = split(loihi_round(blk["v"](h), blk["v"].acc_exp, e[f"b{l}.v"], r))
        n = memory["n"]
        if write:  # recruit slot neuron n: its synapses keep this token's key and value
            memory["k"][:, :, n], memory["v"][:, :, n] = k, v
            memory["n"] = n = n + 1
            keys, values = memory["k"][:, :, :n], memory["v"][:, :, :n]
        else:  # a query reads the slots and its own key and value, and writes nothing
            keys = np.concatenate([memory["k"][:, :, :n], k[:, :, None]], 2)
            values = np.concatenate([memory["v"][:, :, :n], v[:, :, None]], 2)
        drive = np.einsum("bhsd,bhd->bhs", keys, q)
        rate = requantise(np.maximum(drive, 0), e[f"b{l}.q"] + e[f"b{l}.k"], e[f"b{l}.rate"], ACT_BITS, signed=False)
        out = np.einsum("bhs,bhsd->bhd", rate, values) * self.reciprocal[keys.shape[2]]
        y = requantise(out, e[f"b{l}.rate"] + e[f"b{l}.v"] - RECIPROCAL_BITS, e[f"b{l}.y"], ACT_BITS)
        return blk["proj"](y.reshape(b, d))

    def empty_memories(self, batch: int, capacity: int) -> list[dict]:
        """Each attention layer's plastic synapses before any token: room for ``capacity`` slot
        neurons [B, heads, capacity, d_head], none recruited."""
        shape = (batch, self.heads, capacity, self.label_table.shape[1] // self.heads)
        return [{"k": np.zeros(shape, np.int64), "v": np.zeros(shape, np.int64), "n": 0} for _ in self.blocks]

    def token_step(self, x: np.ndarray, memories: list[dict], write: bool, r: float) -> np.ndarray:
        """One token's residual stream [B, d] through every block; a support writes its layer's
        synapses (learning epoch with random number r), a query only reads."""
        for l, (blk, memory) in enumerate(zip(self.blocks, memories)):
            y = self._attend(l, blk, self._norm(blk["ln1"], x, f"b{l}.ln1"), memory, write, r)
            x = self._residual_add(x, y, blk["proj"].acc_exp)
            m1 = requantise(blk["up"](self._norm(blk["ln2"], x, f"b{l}.ln2")), blk["up"].acc_exp,
                            self.exp[f"b{l}.m1"], ACT_BITS)
            x = self._residual_add(x, blk["down"](blk["gelu"][m1 + 128]), blk["down"].acc_exp)
        return x

    def logits(self, support, support_labels, query, label_ids) -> tuple[np.ndarray, int]:
        """uint8 support [B, S, C, H, W], label tokens [B, S], uint8 query [B, Q, C, H, W], the
        episode's label tokens [B, N] -> (integer logits [B, Q, N], their exponent)."""
        support, query = np.asarray(support), np.asarray(query)
        support_labels, label_ids = np.asarray(support_labels), np.asarray(label_ids)
        b, s = support_labels.shape
        n_query = query.shape[1]
        images = np.concatenate([support, query], 1).reshape(-1, *support.shape[2:])
        z = requantise(self.embed(self.encode(images)), self.embed.acc_exp, self.exp["res"], RESIDUAL_BITS)
        labels = np.concatenate([support_labels, np.full((b, n_query), self.cfg.max_ways)], 1)
        tokens = np.clip(z.reshape(b, s + n_query, -1) + self.label_table[labels], *int_range(RESIDUAL_BITS))
        memories = self.empty_memories(b, s)
        r = loihi_random(s + 1)
        outputs = []
        for t in range(s + n_query):
            x = self.token_step(tokens[:, t], memories, write=t < s, r=r[min(t, s)])
            if t >= s:
                outputs.append(x)
        out = self.head(self._norm(self.norm, np.stack(outputs, 1), "lnf"))
        if self.cfg.readout == "vocab":
            ids = np.broadcast_to(label_ids[:, None, :], (b, n_query, label_ids.shape[1]))
            return np.take_along_axis(out, ids, 2), self.head.acc_exp
        out = requantise(out, self.head.acc_exp, self.exp["out"], ACT_BITS)
        return np.einsum("bqd,bnd->bqn", out, self.label_table[label_ids]), self.exp["out"] + self.exp["res"]


class IntegerForward(torch.nn.Module):
    """The integer path behind the model's usual forward signature, so that the evaluation code
    (episodes, confidence intervals, all_runs) measures it unchanged. Inference only, on the CPU."""

    def __init__(self, model: QuantLearner):
        super().__init__()
        self.cfg = model.cfg
        self.program = IntegerLearner.from_model(model)

    def forward(self, support, support_labels, query, label_ids) -> torch.Tensor:
        logits, exp = self.program.logits(*(t.cpu().numpy() for t in (support, support_labels, query, label_ids)))
        return torch.from_numpy(logits).double() * 2.0 ** exp
