"""The Quant model's arithmetic as a numerics of the one forward (``models.forward``): every
operation the way the integer path (``integer.IntegerNumerics``) does it, in floating point.

In float32 with straight-through gradients it is what quantisation-aware training runs; in
float64 every intermediate is an exactly representable dyadic number, so it equals the integer
path bit for bit. While the model calibrates, each requantisation only records the largest value
it sees (``QuantLearner.act``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.forward import MemoryRule, slots_read
from .fixed_point import (
    NORM_FRACTION_BITS,
    RECIPROCAL_BITS,
    RESIDUAL_BITS,
    int_range,
    mantissa,
    reciprocals,
    synapse_write,
)


class FakeQuant:
    def __init__(self, model, dtype: torch.dtype):
        self.model, self.cfg, self.dtype = model, model.cfg, dtype
        self.depth = len(model.blocks)

    @property
    def calibrating(self) -> bool:
        return self.model.calibrating

    # ---------------------------------------------------------------- helpers
    def _real(self, params, in_exp: int):
        """The real values of quantised (w, b, e_w) for an input on the grid 2**in_exp."""
        w_m, b_m, e_w = params
        if e_w is None:  # calibrating: already real
            return w_m, b_m
        return w_m * 2.0 ** e_w, None if b_m is None else b_m * 2.0 ** (in_exp + e_w)

    def _linear(self, x, layer, in_exp: int):
        """x (on the grid 2**in_exp) through a quantised layer: the exact accumulator."""
        return F.linear(x, *self._real(self.model.layer_params(layer, in_exp, self.dtype), in_exp))

    def _layer_norm(self, ln, x, name: str):
        m = self.model
        if self.calibrating:
            return m.act(name, F.layer_norm(x, ln.normalized_shape, ln.weight.to(x.dtype), ln.bias.to(x.dtype), ln.eps))
        e_x = m.exp("res")
        xm = (x * 2.0 ** -e_x).detach()
        d = x.shape[-1]
        centred = xm - torch.floor(xm.sum(-1, keepdim=True) / d)
        var = torch.floor((centred * centred).sum(-1, keepdim=True) / d)
        std = torch.floor(torch.sqrt(var)).clamp(min=1)
        normed = torch.clamp(torch.floor(centred * 2 ** NORM_FRACTION_BITS / std), *int_range(RESIDUAL_BITS))
        smooth = F.layer_norm(x, ln.normalized_shape, eps=ln.eps)  # the gradient's path
        normed = smooth + (normed * 2.0 ** -NORM_FRACTION_BITS - smooth).detach()
        g_m, b_m, e_g = m.norm_params(ln, x.dtype)  # gain and bias: an exact accumulator
        return m.act(name, normed * g_m * 2.0 ** e_g + b_m * 2.0 ** (e_g - NORM_FRACTION_BITS))

    def _write(self, name: str, x):
        """Keys or values into the plastic synapses, stored at the precision of
        ``QUANT_KEY_WRITE`` / ``QUANT_VALUE_WRITE``: as Loihi's learning engine stores them."""
        if self.calibrating:
            return self.model.act(name, x)
        return synapse_write(x, self.model.exp(name))

    def _label_table(self):
        return self.model.act("res", self.model.label_embed.weight.to(self.dtype))

    # ---------------------------------------------------------------- the numerics
    def tokens(self, support, support_labels, query):
        m = self.model
        b, s = support_labels.shape
        n_query = query.shape[1]
        feats = self.encode(torch.cat([support, query], 1).flatten(0, 1))
        e_f = m.exp(f"enc{self.cfg.encoder_blocks - 1}")
        z = m.act("res", self._linear(feats, m.embed, e_f))
        labels = torch.cat([support_labels, torch.full((b, n_query), self.cfg.max_ways, device=z.device)], 1)
        return m.act("res", z.view(b, s + n_query, -1) + self._label_table()[labels])

    def encode(self, images):
        """uint8 pixels (or floats in [0, 1], as augmentation gives) -> features on enc grid."""
        m, dtype = self.model, self.dtype
        x = images.to(dtype) if images.dtype == torch.uint8 else mantissa(images.to(dtype) * 255, 0, 0, 255)
        in_exp = 0
        for i in range(self.cfg.encoder_blocks):
            params = m.conv_params(i, dtype)
            if dtype == torch.float64 and not torch.is_grad_enabled() and not self.calibrating:
                x = self._exact_float32_conv(x, params, in_exp)
            else:
                x = F.conv2d(x, *self._real(params, in_exp), padding=1)
            # pooling before requantising gives the same values (rounding and clamping are
            # monotone, so they commute with max) on a quarter of the elements
            x = m.act(f"enc{i}", F.max_pool2d(F.relu(x), 2))
            in_exp = m.exp(f"enc{i}")
        return x.flatten(1)

    @staticmethod
    def _exact_float32_conv(x, params, in_exp):
        """The conv of integer mantissas in float32 (fast on CPU) where that is provably exact:
        every partial sum of an output is bounded by max|x| * sum|w| + |b| < 2**24, below which
        float32 holds integers exactly. Otherwise float64. Returns the real-valued accumulator."""
        w_m, b_m, e_w = params
        xm = x * 2.0 ** -in_exp
        bound = xm.abs().max() * w_m.abs().flatten(1).sum(1).max() + b_m.abs().max()
        conv_dtype = torch.float32 if bound < 2 ** 24 else torch.float64
        acc = F.conv2d(xm.to(conv_dtype), w_m.to(conv_dtype), b_m.to(conv_dtype), padding=1)
        return acc.to(torch.float64) * 2.0 ** (in_exp + e_w)

    def norm(self, layer: int, name: str, x):
        return self._layer_norm(getattr(self.model.blocks[layer], name), x, f"b{layer}.{name}")

    def qkv(self, layer: int, h):
        """The three projections as separate synaptic layers, 1/sqrt(d_head) folded into W_q."""
        m = self.model
        b, n, d = h.shape
        e_h = m.exp(f"b{layer}.ln1")
        (pq, pk, pv) = m.qkv_params(m.blocks[layer].attn, e_h, h.dtype)
        split = lambda t: t.view(b, n, self.cfg.heads, d // self.cfg.heads)  # noqa: E731
        q = m.act(f"b{layer}.q", F.linear(h, *self._real(pq, e_h)))
        k = self._write(f"b{layer}.k", F.linear(h, *self._real(pk, e_h)))
        v = self._write(f"b{layer}.v", F.linear(h, *self._real(pv, e_h)))
        return split(q), split(k), split(v)

    def memory_rule(self, layer: int) -> MemoryRule:
        # The keys and values arrive already as the synapses store them (``_write``, at the range
        # of QUANT_KEY_WRITE / QUANT_VALUE_WRITE), but in real units, not mantissas: the slots
        # keep them as they are (the float rules), and the integer path applies the Quant rules.
        return MemoryRule("relu", rate=lambda drive: self.model.act(f"b{layer}.rate", F.relu(drive)))

    def attention_out(self, layer: int, read, n_support: int):
        m = self.model
        b, n, heads, d_head = read.shape
        seen = torch.from_numpy(slots_read(n_support, n)).to(read.device)[:, None, None]
        if self.calibrating:
            y = m.act(f"b{layer}.y", read / seen)
        else:  # the division by the slots read: a multiplication by a 16-bit reciprocal
            y = m.act(f"b{layer}.y", read * reciprocals(n).to(read)[seen] * 2.0 ** -RECIPROCAL_BITS)
        return self._linear(y.reshape(b, n, heads * d_head), m.blocks[layer].attn.proj, m.exp(f"b{layer}.y"))

    def add(self, x, delta):
        return self.model.act("res", x + self.model.act("res", delta))

    def mlp(self, layer: int, h):
        m = self.model
        up, down = m.blocks[layer].mlp[0], m.blocks[layer].mlp[2]
        m1 = m.act(f"b{layer}.m1", self._linear(h, up, m.exp(f"b{layer}.ln2")))
        if m.training or self.calibrating:
            g = m.act(f"b{layer}.gelu", F.gelu(m1))
        else:  # GELU as a table on the int8 grid
            table = m.gelu_table(layer, m1.dtype).to(m1.device)
            g = table[(m1 * 2.0 ** -m.exp(f"b{layer}.m1")).long() + 128] * 2.0 ** m.exp(f"b{layer}.gelu")
        return self._linear(g, down, m.exp(f"b{layer}.gelu"))

    def readout(self, x, support_labels, label_ids):
        m = self.model
        h = self._layer_norm(m.norm, x[:, support_labels.shape[1]:], "lnf")
        out = F.linear(h, *self._real(m.head_params(self.dtype), m.exp("lnf")))
        if self.cfg.readout == "vocab":
            return out.gather(2, label_ids[:, None, :].expand(-1, out.shape[1], -1))
        out = m.act("out", out)
        return torch.einsum("bqd,bnd->bqn", out, self._label_table()[label_ids])
