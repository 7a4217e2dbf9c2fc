"""Duan et al.'s plastic layers (ICLR 2023) as a transformer block's MLP: every linear map is
``W + F`` with a fast part ``F`` that starts at zero in each sequence and is written token by
token (``docs/reference/duan-plasticrnns.md`` sections 1.3-1.4):

    F_t = (1 - eta_t) F_{t-1} + eta_t * min(1, 1 / ||G_t||) * A (.) G_t,    eta_t = p_lr * 2 sigmoid(m_t)

- read before write: token t's output uses ``W + F_{t-1}``, then ``F_t`` is computed;
- ``m_t``, the neuromodulator, is the layer's last output unit (their ``out_fc``'s last unit),
  so the network decides per token how much it writes and forgets; ``p_lr`` is 0.1 as theirs
  (the study's write-rate grid scales it);
- ``A``: a learned per-synapse plasticity for every weight and bias, init U(-1, 1);
- ``||G_t||`` over all of the layer's plastic tensors, per sequence, clipping the write to norm 1;
- ``G`` is ``pre x post`` for ``hebbian`` (``post`` after the activation; biases get no Hebbian
  term, as theirs), or, for ``gradient``, ``dL_t/dF`` of their inner loss
  ``L_t = mean((w (.) o_t)^2)`` over the layer's whole output ``o_t`` (task part, 4 extra units and
  the modulator), ``w`` learned (init ones), added as theirs is (A's sign is learned).

The layer: ``o = (W2 + F2)^T relu((W1 + F1)^T x + b1 + Fb1) + b2 + Fb2``, of which the first
``d`` units go back to the residual stream. Where this differs from their code: the layer is a
transformer block's MLP, not an RNN's in/recurrent/out layers; its norm and inner loss are the
layer's own, not the whole network's (a token's write in one block does not wait for the
output of the last); the inner loss is each sequence's own, not averaged over the batch (which
in theirs scales every write by 1 / batch size); PyTorch's fan-in initialisation, not their
fan-out. A write depends on the previous one, so the sequence form runs the step over time.

``chaudhary_hebbian`` and ``chaudhary_gradient`` are the same layers as the claims' source runs
them (``UntrainedPlasticMLP``): a write the task loss is not differentiated through, so its
coefficients, modulator and inner loss never learn. ``plastic_off`` and ``chaudhary_off`` are each
family's layers with the write switched off (``WriteOff``), the control at the rules' own width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .fast_weights import compiled_token, token_by_token

EXTRA_OUTPUTS = 4  # their extra_dim: outputs only the inner loss sees


class PlasticMLP(nn.Module):
    rule = "hebbian"
    p_lr = 0.1  # their config.p_lr = p_wd: eta's scale
    write_rate = 1.0  # a multiplier on p_lr, the study's tuning grid sets it

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.d_model, self.hidden = d_model, hidden
        out = d_model + EXTRA_OUTPUTS + 1
        self.shapes = {"w1": (d_model, hidden), "b1": (hidden,), "w2": (hidden, out), "b2": (out,)}
        fan_in = {"w1": d_model, "b1": d_model, "w2": hidden, "b2": hidden}
        for name, shape in self.shapes.items():
            bound = 1 / math.sqrt(fan_in[name])
            self.register_parameter(name, nn.Parameter((torch.rand(shape) * 2 - 1) * bound))
            self._add_plasticity(name, shape)
        self._add_inner_loss(out)

    def _add_plasticity(self, name, shape):
        """A: learned, per synapse, init U(-1, 1)."""
        self.register_parameter(f"plasticity_{name}", nn.Parameter(torch.rand(shape) * 2 - 1))

    def _add_inner_loss(self, out):
        """The inner loss's learned weight w, init ones."""
        self.loss_weight = nn.Parameter(torch.ones(out))

    def init_state(self, batch, like):
        return tuple(like.new_zeros(batch, *shape) for shape in self.shapes.values())

    def _layers(self, x, fast):
        """(pre-activation, hidden, output) with W + F."""
        f1, fb1, f2, fb2 = fast
        pre = (x[:, None] @ (self.w1 + f1))[:, 0] + self.b1 + fb1
        h = self.activation(pre)
        return pre, h, (h[:, None] @ (self.w2 + f2))[:, 0] + self.b2 + fb2

    @staticmethod
    def activation(pre):
        return torch.relu(pre)

    @staticmethod
    def activation_slope(pre):
        return (pre > 0).to(pre.dtype)

    def inner_loss(self, o):
        """Their inner loss, per sequence: [B]."""
        return ((self.loss_weight * o) ** 2).mean(-1)

    def inner_loss_slope(self, o):
        """dL/do of ``inner_loss``, per sequence."""
        return 2 * self.loss_weight ** 2 * o / o.shape[-1]

    def updates(self, x, pre, h, o, fast):
        """G for each plastic tensor, in the order of ``shapes``."""
        if self.rule == "hebbian":
            return (x[:, :, None] * h[:, None], torch.zeros_like(h), h[:, :, None] * o[:, None], torch.zeros_like(o))
        # dL/dF in closed form (the same numbers as autodiff, tested)
        g_o = self.inner_loss_slope(o)
        g_pre = ((self.w2 + fast[2]) @ g_o[..., None])[..., 0] * self.activation_slope(pre)
        return x[:, :, None] * g_pre[:, None], g_pre, h[:, :, None] * g_o[:, None], g_o

    def step(self, x, fast):
        pre, h, o = self._layers(x, fast)  # read with F_{t-1}
        grads = self.updates(x, pre, h, o, fast)
        norm = torch.sqrt(sum(g.flatten(1).square().sum(1) for g in grads))  # [B], over the layer
        eta = self.write_rate * self.p_lr * 2 * torch.sigmoid(o[:, -1])  # [B]: the modulator unit
        write = eta * torch.clamp(1 / norm.clamp_min(1e-12), max=1.0)
        plasticity = (getattr(self, f"plasticity_{name}") for name in self.shapes)
        fast = tuple(_per_row(1 - eta, f) + _per_row(write, a * g) for f, a, g in zip(fast, plasticity, grads))
        return o[:, : self.d_model], fast

    def forward(self, x):
        return token_by_token(self, x)

    def compile_steps(self) -> None:
        """``hebbformer study --compile``: the token step compiled (``compiled_token``), its write's
        passes over [B, d, 2d] tensors fused."""
        self.step = compiled_token(self.step)


def _per_row(scale: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return scale.reshape(-1, *([1] * (t.dim() - 1))) * t


class PlasticHebbian(PlasticMLP):
    kind, rule = "plastic_hebbian", "hebbian"


class PlasticGradient(PlasticMLP):
    kind, rule = "plastic_gradient", "gradient"


class UntrainedPlasticMLP(PlasticMLP):
    """Chaudhary (2025)'s plastic feed-forward layers as its code runs them (read at ``ca667ad``,
    ``docs/results/duan-study/chaudhary-2025/``): the same ``W + F``, read before write, and

        F_t = (1 - e_t) F_{t-1} + e_t * c * G_t,    e_t = 0.2 sigmoid(m_t) * min(1, 1 / ||G_t||)

    (0.2 at write rate 1, its ``eta0``: the study's write-rate grid scales it) but the write runs
    outside the graph the task loss is differentiated through (its ``no_grad`` on detached state),
    so nothing that sets the write learns: ``c`` is its 0.02 for every weight and bias (its
    ``alpha`` and ``beta``: a gradient never reaches them, so AdamW never moves them), and the
    slow weights of the modulator and of the extra outputs, and the inner loss's projection, get
    no gradient (weight decay aside). The task gradient still reaches ``W`` through the read, ``F``
    a constant in it. As its code: the clip scales the forgetting too (Duan et al.'s, and
    ``PlasticMLP``'s, only the write); GELU; Hebbian ``G = pre x post`` with ``post`` each linear
    map's output (before the activation), a bias's ``G = post``; gradient ``G = +dL/dF`` of
    ``L = mean((P o)^2)``, ``P`` a fixed random square map (its ``internal_proj``, PyTorch's
    ``Linear`` init); ``||G||`` over the weights, not the biases (plus its 1e-8 twice).

    Where it differs, all from this being a layer of its own rather than one of a network: the
    modulator ``m`` and the inner loss's outputs are this layer's extra output units (its: the
    network head's ``tilde_eta`` and outputs, after the later blocks), so they are plastic here
    and static there; the norm and ``e_t`` are this layer's (its: one over every plastic layer of
    the network); no dropout (its: 0.1 on the hidden and output activations in training, which
    the writes then see)."""

    coefficient = 0.02  # its alpha_init = beta_init

    def compile_steps(self) -> None:
        """Eager under ``--compile`` too: compiled, a training step took 1.2x as long (its write has
        no backward to fuse; ``docs/results/speed.md``)."""

    def _add_plasticity(self, name, shape):
        self.register_buffer(f"plasticity_{name}", torch.full(shape, self.coefficient))

    def _add_inner_loss(self, out):
        bound = 1 / math.sqrt(out)
        self.register_buffer("inner_projection", (torch.rand(out, out) * 2 - 1) * bound)

    @staticmethod
    def activation(pre):
        return torch.nn.functional.gelu(pre)

    @staticmethod
    def activation_slope(pre):  # GELU's: Phi(x) + x phi(x)
        return 0.5 * (1 + torch.erf(pre / math.sqrt(2))) + pre * torch.exp(-pre ** 2 / 2) / math.sqrt(2 * math.pi)

    def inner_loss(self, o):
        return (o @ self.inner_projection.T).square().mean(-1)

    def inner_loss_slope(self, o):
        return 2 * (o @ self.inner_projection.T) @ self.inner_projection / o.shape[-1]

    def updates(self, x, pre, h, o, fast):
        if self.rule == "hebbian":
            return x[:, :, None] * pre[:, None], pre, h[:, :, None] * o[:, None], o
        return super().updates(x, pre, h, o, fast)

    def step(self, x, fast):
        pre, h, o = self._layers(x, fast)  # read with F_{t-1}, a constant to the task loss
        with torch.no_grad():
            g_w1, g_b1, g_w2, g_b2 = grads = self.updates(x, pre, h, o, fast)
            norm = torch.sqrt(g_w1.flatten(1).square().sum(1) + g_w2.flatten(1).square().sum(1) + 1e-8)
            eta = self.write_rate * self.p_lr * 2 * torch.sigmoid(o[:, -1]) * torch.clamp(1 / (norm + 1e-8), max=1.0)
            plasticity = (getattr(self, f"plasticity_{name}") for name in self.shapes)
            fast = tuple(_per_row(1 - eta, f) + _per_row(eta, a * g) for f, a, g in zip(fast, plasticity, grads))
        return o[:, : self.d_model], fast


class ChaudharyHebbian(UntrainedPlasticMLP):
    kind, rule = "chaudhary_hebbian", "hebbian"


class ChaudharyGradient(UntrainedPlasticMLP):
    kind, rule = "chaudhary_gradient", "gradient"


class WriteOff(PlasticMLP):
    """The control of a family of plastic layers: the same layer with its write switched off, read
    with ``W`` alone at every token (``F`` stays 0). It is the family's rules with their plasticity
    coefficients at 0 (``A``, or the source's ``c``: then every write is 0 and ``F`` never leaves
    its start; tested), so a rule against it differs in the write and nothing else: not in the
    width (the study sizes it as ``sized_as``, whose budget counts ``A``), the activation, or the
    extra outputs (kept, read by nothing; the untrained rules' write reads them, but no task
    gradient reaches them there either). Having no state, it runs the whole sequence at once."""
    write_rate = None  # no write for the study's grid to scale
    rules = ("plastic_hebbian", "plastic_gradient")  # the family it is the control of
    sized_as = "plastic_hebbian"  # its width: that of the family's rules at the same budget

    def _add_plasticity(self, name, shape):
        pass

    def _add_inner_loss(self, out):
        pass

    def init_state(self, batch, like):
        return ()

    def compile_steps(self) -> None:
        """No token loop to compile: the whole sequence runs at once."""

    def forward(self, x):
        h = self.activation(x @ self.w1 + self.b1)
        return (h @ self.w2 + self.b2)[..., : self.d_model]

    def step(self, x, fast):
        return self.forward(x), fast


class PlasticOff(WriteOff):
    kind = "plastic_off"


class ChaudharyOff(WriteOff):
    kind, rules, sized_as = "chaudhary_off", ("chaudhary_hebbian", "chaudhary_gradient"), "chaudhary_hebbian"
    activation = staticmethod(UntrainedPlasticMLP.activation)


# The source's rules, untrained: asked for by name (the study's default modules leave them out)
UNTRAINED_PLASTIC_LAYERS = {m.kind: m for m in (ChaudharyHebbian, ChaudharyGradient)}
WRITE_OFF_LAYERS = {m.kind: m for m in (PlasticOff, ChaudharyOff)}  # each family's control
PLASTIC_LAYERS = {m.kind: m for m in (PlasticHebbian, PlasticGradient)} | UNTRAINED_PLASTIC_LAYERS | WRITE_OFF_LAYERS
