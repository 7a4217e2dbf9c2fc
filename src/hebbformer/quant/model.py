"""The Quant variant: the in-context learner's own parameters, executed in fixed point.

``QuantLearner`` is an ``InContextLearner`` (same modules, same state dict plus one buffer of
exponents) whose forward runs every operation the way the integer path (``integer.py``) does:

- weights: 8-bit signed mantissas with one shared power-of-two exponent per tensor; biases on
  their accumulator's grid; BatchNorm folded into the conv kernels; the image's 1/255 folded into
  the first kernel, so the input is the raw uint8 pixels;
- activations: bounded integers on power-of-two grids (uint8 after ReLU, int8 into every matrix,
  int16 for the residual stream), requantised by a rounding shift; the grids' exponents are
  calibrated once on training episodes and then frozen (``calibrate``);
- layer norm in integers (floor mean and variance, integer square root, a floor division);
  GELU as a 256-entry table on its int8 input;
- the "tied" read-out as an integer dot product of the int8 output with the label embeddings;
- attention of kind ``relu``: the keys and values are written into plastic synapses as signed
  mantissas -127..127 (``fixed_point.synapse_write``: what Loihi 2's learning engine stores in
  the compiled network, ``hebbformer.neuro.plastic_attention``), a query's match with each
  slot is requantised to a uint8 slot rate, and the division by the number of slots read is a
  multiplication by a 16-bit reciprocal.

Training (QAT) runs this forward in float32 with straight-through gradients. In eval mode it runs
in float64, where every intermediate is an exactly representable dyadic number, and so equals the
integer path bit for bit (``tests/test_quant.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import ModelConfig
from ..errors import ConfigError
from ..models.attention import context_mask
from ..models.transformer import InContextLearner
from ..plasticity.rules import QUANT_KEY_WRITE, QUANT_VALUE_WRITE
from .fixed_point import (
    BIAS_BITS,
    RECIPROCAL_BITS,
    WEIGHT_BITS,
    exponent_for,
    int_range,
    mantissa,
    quantise,
    reciprocals,
    synapse_write,
    weight_exponent,
)

NORM_FRACTION_BITS = 7  # (x - mean) / std as an int16 mantissa with 7 fractional bits
RESIDUAL_BITS = 16
ACT_BITS = 8
SYNAPSE_BITS = QUANT_KEY_WRITE.precision.synapse_bits  # Loihi 2's plastic weights: keys...
VALUE_SYNAPSE_BITS = QUANT_VALUE_WRITE.precision.synapse_bits  # ... and values


def activation_points(cfg: ModelConfig) -> dict[str, tuple[int, bool]]:
    """Every place an activation is requantised: name -> (bits, signed)."""
    points = {f"enc{i}": (ACT_BITS, False) for i in range(cfg.encoder_blocks)}
    points["res"] = (RESIDUAL_BITS, True)
    for l in range(cfg.depth):
        points.update({f"b{l}.ln1": (ACT_BITS, True), f"b{l}.q": (ACT_BITS, True),
                       f"b{l}.k": (SYNAPSE_BITS, True), f"b{l}.v": (VALUE_SYNAPSE_BITS, True),
                       f"b{l}.rate": (ACT_BITS, False), f"b{l}.y": (ACT_BITS, True),
                       f"b{l}.ln2": (ACT_BITS, True), f"b{l}.m1": (ACT_BITS, True),
                       f"b{l}.gelu": (ACT_BITS, True)})
    points["lnf"] = (ACT_BITS, True)
    if cfg.readout == "tied":
        points["out"] = (ACT_BITS, True)
    return points


def check_quantisable(cfg: ModelConfig) -> None:
    if cfg.attention != "relu":
        raise ConfigError(f"model.quant needs model.attention='relu' (got {cfg.attention!r}): softmax and "
                          "linear attention divide by a data-dependent sum, which fixed point cannot")
    if cfg.dropout or cfg.rotate_features:
        raise ConfigError(f"model.quant trains without model.dropout (got {cfg.dropout}) and model.rotate_features "
                          f"(got {cfg.rotate_features}); its fixed-point forward has neither")
    if cfg.readout == "attend":
        raise ConfigError("model.quant needs model.readout='vocab' or 'tied' (got 'attend'): its read-out is a "
                          "softmax over the supports, which the fixed-point path does not compute")


class QuantLearner(InContextLearner):
    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        check_quantisable(cfg)
        super().__init__(cfg, in_channels, image_size)
        self.points = activation_points(cfg)
        self.index = {name: i for i, name in enumerate(self.points)}
        self.register_buffer("exponents", torch.zeros(len(self.points), dtype=torch.long))
        self._observed: dict[str, float] | None = None  # max |activation| while calibrating

    # ------------------------------------------------------------ calibration
    @torch.no_grad()
    def calibrate(self, batches) -> None:
        """Set every activation grid from the float activations on ``batches`` of
        (support, support_labels, query, label_ids): the smallest exponent that holds the largest
        value seen."""
        self._observed = {}
        try:
            for batch in batches:
                self(*batch)
        finally:
            observed, self._observed = self._observed, None
        for name, (bits, signed) in self.points.items():
            self.exponents[self.index[name]] = exponent_for(observed.get(name, 0.0), bits, signed)

    def exp(self, name: str) -> int:
        return int(self.exponents[self.index[name]])

    def act(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Requantise x onto the grid of activation point ``name``."""
        if self._observed is not None:
            self._observed[name] = max(self._observed.get(name, 0.0), x.detach().abs().max().item())
            return x
        bits, signed = self.points[name]
        return quantise(x, self.exp(name), bits, signed)

    # ------------------------------------------------------------ quantised parameters
    # Each returns integer-valued mantissas (differentiable, straight-through) and exponents; the
    # forward below and the integer export (``IntegerLearner.from_model``) both take them from here.

    def linear_params(self, weight, bias, in_exp: int, scale: float = 1.0):
        """(w mantissas, b mantissas or None, w exponent); b on the grid of in_exp + w exponent."""
        w = weight * scale
        if self._observed is not None:  # calibrating: plain float
            return w, None if bias is None else bias * scale, None
        e_w = weight_exponent(w)
        w_m = mantissa(w, e_w, *int_range(WEIGHT_BITS))
        b_m = None if bias is None else mantissa(bias * scale, in_exp + e_w, *int_range(BIAS_BITS))
        return w_m, b_m, e_w

    def conv_params(self, i: int, dtype):
        """Block i's conv kernel with its BatchNorm (running statistics) folded in; block 0 also
        takes the 1/255 of the pixels, whose integer values are its input."""
        conv, bn = self.encoder.net[4 * i], self.encoder.net[4 * i + 1]
        g = bn.weight.to(dtype) / torch.sqrt(bn.running_var.to(dtype) + bn.eps)
        w = conv.weight.to(dtype) * g[:, None, None, None]
        b = bn.bias.to(dtype) - bn.running_mean.to(dtype) * g
        if i == 0:
            w = w / 255
        in_exp = 0 if i == 0 else self.exp(f"enc{i - 1}")
        return self.linear_params(w, b, in_exp)

    def norm_params(self, ln, dtype):
        """Layer norm's gain and bias, for the normalised int16 input with 7 fractional bits."""
        return self.linear_params(ln.weight.to(dtype), ln.bias.to(dtype), -NORM_FRACTION_BITS)

    def qkv_params(self, attn, in_exp: int, dtype):
        """The three projections as separate synaptic layers; 1/sqrt(d_head) folded into W_q."""
        d = attn.proj.in_features
        w, b = attn.qkv.weight.to(dtype), attn.qkv.bias.to(dtype)
        scale = (d // attn.heads) ** -0.5
        return [self.linear_params(w[i * d:(i + 1) * d], b[i * d:(i + 1) * d], in_exp, scale if i == 0 else 1.0)
                for i in range(3)]

    def head_params(self, dtype):
        """The read-out layer; for the "tied" read-out with the 1/sqrt(d) of its logits folded in."""
        scale = 1.0 if self.cfg.readout == "vocab" else self.cfg.d_model ** -0.5
        return self.linear_params(self.head.weight.to(dtype), self.head.bias.to(dtype), self.exp("lnf"), scale)

    def gelu_table(self, l: int, dtype=torch.float64) -> torch.Tensor:
        """GELU on block l's int8 grid: the output mantissa for each input mantissa -128..127."""
        grid = torch.arange(-128, 128, dtype=dtype) * 2.0 ** self.exp(f"b{l}.m1")
        return mantissa(F.gelu(grid), self.exp(f"b{l}.gelu"), *int_range(ACT_BITS))

    # ------------------------------------------------------------ the fixed-point forward
    @staticmethod
    def _real(params, in_exp: int):
        """The real values of quantised (w, b, e_w) for an input on the grid 2**in_exp."""
        w_m, b_m, e_w = params
        if e_w is None:  # calibrating: already real
            return w_m, b_m
        return w_m * 2.0 ** e_w, None if b_m is None else b_m * 2.0 ** (in_exp + e_w)

    def _linear(self, x, params, in_exp: int):
        """x (on the grid 2**in_exp) through quantised params: the exact accumulator."""
        return F.linear(x, *self._real(params, in_exp))

    def _layer_norm(self, ln, x, name: str):
        if self._observed is not None:
            return self.act(name, F.layer_norm(x, ln.normalized_shape, ln.weight.to(x.dtype), ln.bias.to(x.dtype), ln.eps))
        e_x = self.exp("res")
        xm = (x * 2.0 ** -e_x).detach()
        d = x.shape[-1]
        centred = xm - torch.floor(xm.sum(-1, keepdim=True) / d)
        var = torch.floor((centred * centred).sum(-1, keepdim=True) / d)
        std = torch.floor(torch.sqrt(var)).clamp(min=1)
        normed = torch.clamp(torch.floor(centred * 2 ** NORM_FRACTION_BITS / std), *int_range(RESIDUAL_BITS))
        smooth = F.layer_norm(x, ln.normalized_shape, eps=ln.eps)  # the gradient's path
        normed = smooth + (normed * 2.0 ** -NORM_FRACTION_BITS - smooth).detach()
        return self.act(name, self._affine(normed, self.norm_params(ln, x.dtype)))

    @staticmethod
    def _affine(x, params):
        """Layer norm's elementwise gain and bias on the normalised values (exact accumulator)."""
        g_m, b_m, e_g = params
        return x * g_m * 2.0 ** e_g + b_m * 2.0 ** (e_g - NORM_FRACTION_BITS)

    def _write(self, name: str, x):
        """Keys or values into the plastic synapses, stored at the precision of
        ``QUANT_KEY_WRITE`` / ``QUANT_VALUE_WRITE``: as Loihi's learning engine stores them."""
        if self._observed is not None:
            return self.act(name, x)
        return synapse_write(x, self.exp(name))

    def _attention(self, l: int, attn, h, mask):
        b, n, d = h.shape
        heads, e_h = attn.heads, self.exp(f"b{l}.ln1")
        pq, pk, pv = self.qkv_params(attn, e_h, h.dtype)
        split = lambda t: t.view(b, n, heads, d // heads).transpose(1, 2)  # noqa: E731
        q = split(self.act(f"b{l}.q", self._linear(h, pq, e_h)))
        k = split(self._write(f"b{l}.k", self._linear(h, pk, e_h)))
        v = split(self._write(f"b{l}.v", self._linear(h, pv, e_h)))
        rate = self.act(f"b{l}.rate", F.relu(q @ k.transpose(-1, -2)) * mask)
        out = rate @ v
        seen = mask.sum(-1, keepdim=True)
        if self._observed is not None:
            y = self.act(f"b{l}.y", out / seen)
        else:
            y = self.act(f"b{l}.y", out * reciprocals(n).to(h)[seen] * 2.0 ** -RECIPROCAL_BITS)
        y = y.transpose(1, 2).reshape(b, n, d)
        return self._linear(y, self.linear_params(attn.proj.weight.to(h.dtype), attn.proj.bias.to(h.dtype),
                                                  self.exp(f"b{l}.y")), self.exp(f"b{l}.y"))

    def _gelu(self, l: int, m1):
        if self.training or self._observed is not None:
            return self.act(f"b{l}.gelu", F.gelu(m1))
        table = self.gelu_table(l, m1.dtype).to(m1.device)
        index = (m1 * 2.0 ** -self.exp(f"b{l}.m1")).long() + 128
        return table[index] * 2.0 ** self.exp(f"b{l}.gelu")

    def _mlp(self, l: int, mlp, h):
        e_h = self.exp(f"b{l}.ln2")
        up, down = mlp[0], mlp[2]
        m1 = self.act(f"b{l}.m1", self._linear(h, self.linear_params(up.weight.to(h.dtype), up.bias.to(h.dtype), e_h), e_h))
        g = self._gelu(l, m1)
        e_g = self.exp(f"b{l}.gelu")
        return self._linear(g, self.linear_params(down.weight.to(h.dtype), down.bias.to(h.dtype), e_g), e_g)

    def encode(self, images, dtype):
        """uint8 pixels (or floats in [0, 1], as augmentation gives) -> features on enc grid."""
        x = images.to(dtype) if images.dtype == torch.uint8 else mantissa(images.to(dtype) * 255, 0, 0, 255)
        in_exp = 0
        for i in range(self.cfg.encoder_blocks):
            params = self.conv_params(i, dtype)
            if dtype == torch.float64 and not torch.is_grad_enabled() and self._observed is None:
                x = self._exact_float32_conv(x, params, in_exp)
            else:
                x = F.conv2d(x, *self._real(params, in_exp), padding=1)
            # pooling before requantising gives the same values (rounding and clamping are
            # monotone, so they commute with max) on a quarter of the elements
            x = self.act(f"enc{i}", F.max_pool2d(F.relu(x), 2))
            in_exp = self.exp(f"enc{i}")
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

    def forward(self, support, support_labels, query, label_ids):
        dtype = torch.float32 if self.training else torch.float64
        b, s = support_labels.shape
        n_query = query.shape[1]
        feats = self.encode(torch.cat([support, query], 1).flatten(0, 1), dtype)
        e_f = self.exp(f"enc{self.cfg.encoder_blocks - 1}")
        z = self.act("res", self._linear(feats, self.linear_params(self.embed.weight.to(dtype),
                                                                    self.embed.bias.to(dtype), e_f), e_f))
        labels = torch.cat([support_labels, torch.full((b, n_query), self.cfg.max_ways, device=z.device)], 1)
        x = self.act("res", z.view(b, s + n_query, -1) + self.act("res", self.label_embed.weight.to(dtype))[labels])
        mask = context_mask(s, n_query).to(x.device)
        for l, block in enumerate(self.blocks):
            x = self.act("res", x + self.act("res", self._attention(l, block.attn, self._layer_norm(block.ln1, x, f"b{l}.ln1"), mask)))
            x = self.act("res", x + self.act("res", self._mlp(l, block.mlp, self._layer_norm(block.ln2, x, f"b{l}.ln2"))))
        h = self._layer_norm(self.norm, x[:, s:], "lnf")
        e_h = self.exp("lnf")
        if self.cfg.readout == "vocab":
            out = self._linear(h, self.head_params(dtype), e_h)
            return out.gather(2, label_ids[:, None, :].expand(-1, out.shape[1], -1))
        out = self.act("out", self._linear(h, self.head_params(dtype), e_h))
        return torch.einsum("bqd,bnd->bqn", out, self.act("res", self.label_embed.weight.to(dtype))[label_ids])
