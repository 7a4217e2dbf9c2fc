"""The Quant variant: the in-context learner's own parameters, executed in fixed point.

``QuantLearner`` is an ``InContextLearner`` (same modules, same state dict plus one buffer of
exponents) that holds the fixed-point form of its parameters (``linear_params`` and the like,
which the integer export takes too) and runs the one forward (``models.forward``) with the
numerics of ``numerics.FakeQuant``: every operation the way the integer path does it:

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
  the compiled network, ``hebbformer.neuro.attention_compiler``), a query's match with each
  slot is requantised to a uint8 slot rate, and the division by the number of slots read is a
  multiplication by a 16-bit reciprocal.

Training (QAT) runs this forward in float32 with straight-through gradients. In eval mode it runs
in float64, where every intermediate is an exactly representable dyadic number, and so equals the
integer path bit for bit (``tests/test_quant.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import ModelConfig, check_quantisable
from ..models.forward import forward, parallel_memory
from ..models.transformer import InContextLearner
from ..plasticity.rules import QUANT_KEY_WRITE, QUANT_VALUE_WRITE
from .fixed_point import (
    ACT_BITS,
    BIAS_BITS,
    NORM_FRACTION_BITS,
    RESIDUAL_BITS,
    WEIGHT_BITS,
    exponent_for,
    int_range,
    mantissa,
    quantise,
    weight_exponent,
)
from .numerics import FakeQuant

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


class QuantLearner(InContextLearner):
    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        check_quantisable(cfg)
        super().__init__(cfg, in_channels, image_size)
        self.points = activation_points(cfg)
        self.index = {name: i for i, name in enumerate(self.points)}
        self.register_buffer("exponents", torch.zeros(len(self.points), dtype=torch.long))
        self._observed: dict[str, float] | None = None  # max |activation| while calibrating
        self._integers: dict[str, dict] | None = None  # the integer form, where it was loaded as one

    # ------------------------------------------------------------ calibration
    @torch.no_grad()
    def calibrate(self, batches) -> None:
        """Set every activation grid from the float activations on ``batches`` of
        (support, support_labels, query, label_ids): the smallest exponent that holds the largest
        value seen."""
        if self._integers is not None:
            raise ValueError("a Quant model loaded in its integer form has no float weights to calibrate")
        self._observed = {}
        try:
            for batch in batches:
                self(*batch)
        finally:
            observed, self._observed = self._observed, None
        for name, (bits, signed) in self.points.items():
            self.exponents[self.index[name]] = exponent_for(observed.get(name, 0.0), bits, signed)

    @property
    def calibrating(self) -> bool:
        """Inside ``calibrate``: every requantisation only records the largest value it sees."""
        return self._observed is not None

    def exp(self, name: str) -> int:
        return int(self.exponents[self.index[name]])

    def act(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Requantise x onto the grid of activation point ``name``."""
        if self.calibrating:
            self._observed[name] = max(self._observed.get(name, 0.0), x.detach().abs().max().item())
            return x
        bits, signed = self.points[name]
        return quantise(x, self.exp(name), bits, signed)

    # ------------------------------------------------------------ quantised parameters
    # Each returns integer-valued mantissas (differentiable, straight-through) and exponents; the
    # fake-quantised numerics (``numerics.FakeQuant``) and the integer export
    # (``integer.IntegerNumerics.from_model``) both take them from here.

    def linear_params(self, weight, bias, in_exp: int, scale: float = 1.0):
        """(w mantissas, b mantissas or None, w exponent); b on the grid of in_exp + w exponent."""
        w = weight * scale
        if self.calibrating:  # plain float
            return w, None if bias is None else bias * scale, None
        e_w = weight_exponent(w)
        w_m = mantissa(w, e_w, *int_range(WEIGHT_BITS))
        b_m = None if bias is None else mantissa(bias * scale, in_exp + e_w, *int_range(BIAS_BITS))
        return w_m, b_m, e_w

    def layer_params(self, layer: torch.nn.Linear, in_exp: int, dtype):
        """A static linear layer's (w mantissas, b mantissas, w exponent)."""
        return self._integer(self._name(layer), dtype) or self.linear_params(
            layer.weight.to(dtype), layer.bias.to(dtype), in_exp)

    def conv_params(self, i: int, dtype):
        """Block i's conv kernel with its BatchNorm (running statistics) folded in; block 0 also
        takes the 1/255 of the pixels, whose integer values are its input."""
        if stored := self._integer(f"encoder.net.{4 * i}", dtype):
            return stored
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
        return self._integer(self._name(ln), dtype) or self.linear_params(ln.weight.to(dtype), ln.bias.to(dtype), -NORM_FRACTION_BITS)

    def qkv_params(self, attn, in_exp: int, dtype):
        """The three projections as separate synaptic layers; 1/sqrt(d_head) folded into W_q."""
        name = self._name(attn)
        if self._integers is not None:
            return [self._integer(f"{name}.{part}", dtype) for part in "qkv"]
        d = attn.proj.in_features
        w, b = attn.qkv.weight.to(dtype), attn.qkv.bias.to(dtype)
        scale = (d // attn.heads) ** -0.5
        return [self.linear_params(w[i * d:(i + 1) * d], b[i * d:(i + 1) * d], in_exp, scale if i == 0 else 1.0)
                for i in range(3)]

    def head_params(self, dtype):
        """The read-out layer; for the "tied" read-out with the 1/sqrt(d) of its logits folded in."""
        if stored := self._integer("head", dtype):
            return stored
        scale = 1.0 if self.cfg.readout == "vocab" else self.cfg.d_model ** -0.5
        return self.linear_params(self.head.weight.to(dtype), self.head.bias.to(dtype), self.exp("lnf"), scale)

    # ------------------------------------------------------------ the integer form
    # What the parameter methods above return, for every quantised layer, is the whole of what
    # inference needs of the static weights: a shipped Quant model keeps only that (8-bit weight
    # mantissas, 32-bit bias mantissas, one exponent per tensor), a quarter of its float32 size,
    # and runs bit for bit as the model it was exported from.

    def _name(self, module) -> str:
        if not hasattr(self, "_names"):
            self._names = {m: n for n, m in self.named_modules()}
        return self._names[module]

    def _integer(self, name: str, dtype):
        """The stored (w, b, e) of layer ``name`` in the integer form, else None."""
        if self._integers is None:
            return None
        p = self._integers[name]
        return p["w"].to(dtype), p["b"].to(dtype), int(p["e"])

    def quantised_layers(self) -> dict[str, tuple]:
        """Every quantised layer's name and its eval-mode (w mantissas, b mantissas, w exponent)."""
        f64, e = torch.float64, self.exp
        layers = {f"encoder.net.{4 * i}": self.conv_params(i, f64) for i in range(self.cfg.encoder_blocks)}
        layers["embed"] = self.layer_params(self.embed, e(f"enc{self.cfg.encoder_blocks - 1}"), f64)
        for l, block in enumerate(self.blocks):
            q, k, v = self.qkv_params(block.attn, e(f"b{l}.ln1"), f64)
            layers.update({f"blocks.{l}.ln1": self.norm_params(block.ln1, f64), f"blocks.{l}.attn.q": q,
                           f"blocks.{l}.attn.k": k, f"blocks.{l}.attn.v": v,
                           f"blocks.{l}.attn.proj": self.layer_params(block.attn.proj, e(f"b{l}.y"), f64),
                           f"blocks.{l}.ln2": self.norm_params(block.ln2, f64),
                           f"blocks.{l}.mlp.0": self.layer_params(block.mlp[0], e(f"b{l}.ln2"), f64),
                           f"blocks.{l}.mlp.2": self.layer_params(block.mlp[2], e(f"b{l}.gelu"), f64)})
        layers["norm"] = self.norm_params(self.norm, f64)
        layers["head"] = self.head_params(f64)
        return layers

    def _replaced(self, names) -> tuple[str, ...]:
        """The state-dict prefixes whose float tensors the integer layers ``names`` replace: the
        layers themselves, the BatchNorms folded into the convs, the qkv split into q, k and v."""
        folded = [f"encoder.net.{4 * i + 1}" for i in range(self.cfg.encoder_blocks)]
        split = [f"blocks.{l}.attn.qkv" for l in range(self.cfg.depth)]
        return tuple(f"{name}." for name in (*names, *folded, *split))

    @torch.no_grad()
    def integer_form(self) -> tuple[dict[str, dict], dict[str, torch.Tensor]]:
        """(the quantised layers as integers, the rest of the state dict): what a shipped file holds."""
        form = {name: {"w": w.to(torch.int8), "b": b.to(torch.int32), "e": e}
                for name, (w, b, e) in self.quantised_layers().items()}
        replaced = self._replaced(form)
        return form, {k: v for k, v in self.state_dict().items() if not k.startswith(replaced)}

    @torch.no_grad()
    def load_integer_form(self, form: dict[str, dict], rest: dict[str, torch.Tensor]) -> None:
        """Load a model exported by ``integer_form``; a part that does not fit this config is a
        ValueError naming it. The float tensors it replaces are set to NaN, so that nothing reads
        them unnoticed (and the Float forward of such a model gives NaN, not a wrong answer)."""
        want = {name: tuple(w.shape) for name, (w, _, _) in self.quantised_layers().items()}
        got = {name: tuple(p["w"].shape) for name, p in form.items()}
        if got != want:
            odd = sorted(n for n in set(want) | set(got) if want.get(n) != got.get(n))
            raise ValueError(f"its integer layers do not fit this config ({', '.join(odd[:3])})")
        replaced = self._replaced(form)
        own = {k for k in self.state_dict() if not k.startswith(replaced)}
        if own != set(rest):
            raise ValueError(f"its other tensors do not fit this config ({', '.join(sorted(own ^ set(rest))[:3])})")
        self.load_state_dict(rest, strict=False)
        for key, value in self.state_dict().items():
            if key.startswith(replaced) and value.is_floating_point():
                value.fill_(float("nan"))
        self._integers = form

    def gelu_table(self, l: int, dtype=torch.float64) -> torch.Tensor:
        """GELU on block l's int8 grid: the output mantissa for each input mantissa -128..127."""
        grid = torch.arange(-128, 128, dtype=dtype) * 2.0 ** self.exp(f"b{l}.m1")
        return mantissa(F.gelu(grid), self.exp(f"b{l}.gelu"), *int_range(ACT_BITS))

    def forward(self, support, support_labels, query, label_ids):
        """Float32 with straight-through gradients in training; float64, exactly the integer
        path, in eval mode."""
        numerics = FakeQuant(self, torch.float32 if self.training else torch.float64)
        return forward(numerics, parallel_memory, support, support_labels, query, label_ids)
