"""Fast-weight modules: token mixers whose weights change within a sequence.

Each module replaces self-attention in a transformer block (``hebbformer.models.sequence``) and
has two forms with identical results (``tests/test_fast_weights.py``):

- ``forward(x)``: a whole sequence ``[B, T, D]`` at once, for training;
- ``init_state(batch, like)`` and ``step(x_t, state) -> (y_t, state)``: one token ``[B, D]`` at a
  time, for inference, with a state whose size does not grow with the sequence (except the
  attention reference, whose state is its KV cache).

The modules, by what their memory is:

- ``static``: no plasticity, the control. Memory is a vector of activations, a leaky average
  ``h_t = a * h_{t-1} + (1 - a) * v_t`` per channel with learned retention ``a`` (a diagonal linear
  recurrence, the transformer analogue of Duan et al.'s non-plastic RNN).
- ``lstm``: no plasticity either: an LSTM over the tokens, the static control Duan et al. compare
  their plastic networks with.
- ``hebbian``: neuromodulated Hebbian fast weights ``F_t = lam * F_{t-1} + (1 - lam) * m_t v_t k_t^T``
  per head, read as ``alpha * F_t q_t``. The neuromodulator ``m_t`` in (-1, 1) is computed by the
  network from its own input (it can gate writes off, or make them anti-Hebbian); retention
  ``lam`` and plastic gain ``alpha`` are learned per head. With ``k, v`` in (-1, 1) every fast
  weight stays in [-1, 1]: each step is a convex combination of the old weight and a product of
  three numbers of size at most 1.
- ``gradient``: gradient-based plasticity after Duan et al. (ICLR 2023): the fast weights take a
  gradient step on a loss the network computes itself, ``L_t = |tanh(W k_t) - u_t|^2 / 2`` with a
  self-determined target ``u_t``: ``W_t = lam * W_{t-1} - eta_t * dL_t/dW``, with a learned
  retention and a step size ``eta_t`` that the network sets per token. The gradient is taken by
  ``torch.func.grad``, so any other inner loss drops in (:attr:`GradientFastWeights.inner_loss`);
  the network is meta-trained through it (second order).
- ``delta``: the delta rule (linear transformers as fast-weight programmers, Schlag et al., 2021):
  ``W_t = W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T``, with unit keys and a per-token write
  strength ``beta_t``; its sequence form solves one triangular system (Yang et al., 2024).
- ``matched_hebbian`` / ``matched_gradient``: Duan et al.'s update itself, ``F_t = (1 - eta_t)
  F_{t-1} + eta_t c_t A (.) (z_t k_t^T)``, read before write, neuromodulated ``eta_t``, per-synapse
  ``A``, the update's norm clipped; the two differ only in ``z_t`` (:class:`MatchedFastWeights`).
  ``matched_hebbian+tied`` / ``matched_gradient+tied`` read with the key itself, as their layers
  read ``F`` with the presynaptic activity the update writes.
- ``attention``: causal softmax attention, the reference; its state is the KV cache.
- ``hebbian+keys``, ..., ``hebbian+all``: the Hebbian module with Duan et al.'s differences one at
  a time, an ablation, and ``hebbian+linear``, the Hebbian sum with no forgetting (linear
  attention), a control, with ``hebbian+linear+norm``, the same sum read through a divisive
  normalisation, and ``hebbian+linear+tied``, read with its own keys (:class:`HebbianFastWeights`).

Duan et al.'s plastic layers, which make a block's MLP plastic rather than mix tokens, are in
``hebbformer.plasticity.plastic_layers``.

Whole-sequence forms are parallel where the rule allows (static, hebbian, delta, attention are
closed forms over the sequence); the gradient rule's update is nonlinear in ``W``, so its
sequence form runs the same step over time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad

from .rules import HebbianRule

# The Hebbian module's write as an explicit three-factor rule: pre = key, post = value, gated by
# the network's neuromodulator (and scaled by 1 - lam, the complement of the retention).
NEUROMODULATED_WRITE = HebbianRule("neuromodulated_write", pre="key", post="value", third="neuromodulator")
NORM_EPS = 1e-12  # guards the normalised read of a memory whose gates all but closed


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[..., H * d] -> [..., H, d]."""
    return x.unflatten(-1, (heads, x.shape[-1] // heads))


def token_by_token(mixer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A mixer's sequence form as its step over time: [B, T, D] -> [B, T, D]."""
    state, ys = mixer.init_state(x.shape[0], x), []
    for x_t in x.unbind(1):  # (x[:, t] in the loop: each token's backward wrote a zero tensor of all of x)
        y, state = mixer.step(x_t, state)
        ys.append(y)
    return torch.stack(ys, 1)


def compiled_token(token):
    """A module's token function (its step, or its read and write of one token) through
    torch.compile, for ``hebbformer study --compile``: it fuses the write's elementwise passes over
    the fast weights and their backward. The tensors it is given are made contiguous first: as
    views of the sequence's they have its length in their strides, and each length would compile
    again."""
    compiled = torch.compile(token, dynamic=False)
    return lambda *args: compiled(*(a.contiguous() if isinstance(a, torch.Tensor) else a for a in args))


def _plastic_read(weight: torch.Tensor, k: torch.Tensor, q: torch.Tensor, plasticity: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
    """y_t = (A (.) F_t) q_t with F_t = sum_s weight_ts v_s k_s^T: weight [B, t, s, H], k and v
    [B, s, H, d], q [B, t, H, d], A [H, d, d] -> [B, t, H, d]. Each F_t is formed (one matmul over
    s, [B, t, H, d, d]) rather than A applied to every (t, s) pair, which holds s times more."""
    vk = (v[..., :, None] * k[..., None, :]).flatten(-2)  # [B, s, H, d * d]
    fast = torch.einsum("btsh,bshx->bthx", weight, vk).unflatten(-1, k.shape[-1:] * 2)
    return ((plasticity * fast) @ q[..., None])[..., 0]


def _plasticity_matrix(heads: int, d: int, init: str) -> nn.Parameter:
    """Duan et al.'s per-synapse plasticity A [heads, d, d]: U(-1, 1) (their default
    inner_lr_mode='random') or ones ('uniform')."""
    return nn.Parameter(torch.ones(heads, d, d) if init == "ones" else torch.rand(heads, d, d) * 2 - 1)


def _decay_matrix(log_retention: torch.Tensor, t: int) -> torch.Tensor:
    """retention ** (i - j) for j <= i, else 0: [..., T, T] for a log retention [...]."""
    i = torch.arange(t, device=log_retention.device)
    gap = (i[:, None] - i[None, :]).to(log_retention.dtype)
    causal = gap >= 0
    return torch.exp(log_retention[..., None, None] * gap.clamp(min=0)) * causal


class StaticMixer(nn.Module):
    kind = "static"

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.value = nn.Linear(d_model, d_model)
        self.retention_logit = nn.Parameter(torch.linspace(-2, 4, d_model))  # a spread of memory spans
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        a = torch.sigmoid(self.retention_logit)
        decay = _decay_matrix(torch.log(a), x.shape[1])  # [D, T, T]
        h = torch.einsum("dts,bsd->btd", decay, (1 - a) * self.value(x))
        return self.proj(h)

    def init_state(self, batch, like):
        return like.new_zeros(batch, self.value.out_features)

    def step(self, x, h):
        a = torch.sigmoid(self.retention_logit)
        h = a * h + (1 - a) * self.value(x)
        return self.proj(h), h


class HebbianFastWeights(nn.Module):
    """The neuromodulated Hebbian module; ``fixes`` turns on, one by one, what Duan et al.'s rule
    does differently (issue 15 measured the plain module's first write at 1e-3 of what the delta
    and gradient modules write, which keeps it on the chance plateau):

    - ``keys``: unit keys (``k / |k|``) instead of ``tanh(k)``;
    - ``rate``: the write scaled by a learned rate per head (init 1), not by ``1 - lam``;
    - ``sigmoid``: the neuromodulator ``2 sigmoid(.)`` in (0, 2) instead of ``tanh(.)``;
    - ``plasticity``: a learned per-synapse plasticity ``A`` (init U(-1, 1)) on the write;
    - ``read_first``: read before write, ``y_t = alpha F_{t-1} q_t``.

    ``hebbian+NAME`` is the module with one fix, ``hebbian+all`` with all five, and
    ``hebbian+all+A_ones`` with ``A`` initialised at ones (Duan et al.'s ``inner_lr_mode='uniform'``)
    instead: with U(-1, 1) the expected read of a stored pair through ``A (.) v k^T`` is zero at
    initialisation. ``hebbian+linear`` is the rule with nothing that shrinks the memory: unit
    keys, a learned rate, ``2 sigmoid`` gates and no forgetting (``keep``: ``lam = 1``), so that
    ``F_t = sum_s rate m_s v_s k_s^T``: linear attention, the Hebbian fast-weight programmer of
    Schlag et al. (2021), the control that asks whether a Hebbian sum can learn the task at all;
    ``hebbian+linear+decay`` is the same with its forgetting back (``lam`` learned), the one
    difference between the two. ``hebbian+linear+norm`` is ``hebbian+linear`` with a divisive
    normalisation of the read (``norm``): positive features ``phi = elu + 1`` for keys and queries
    (Katharopoulos et al., 2020) in place of unit keys, and a second Hebbian trace
    ``z_t = sum_s m_s phi(k_s)`` (one more post-synaptic unit that always fires) that divides the
    read, ``y_t = F_t phi(q_t) / (z_t . phi(q_t))``: a weighted mean of the stored values, as
    softmax's read is, so that the error signal to the scores is centred over the supports.
    ``hebbian+linear+tied`` is ``hebbian+linear`` read with its own key (``tied``: ``q_t = k_t``), as
    a plastic layer ``(W + F) x`` of Duan et al.'s reads ``F`` with the same presynaptic activity
    that it writes as ``pre``: the score of a stored pair is then the similarity of two inputs
    from the first step, where separate query and key maps start as a random bilinear form;
    ``+plasticity``, ``+decay``, ``+read_first``, ``+clip`` and ``+eta_scale`` add one of Duan et
    al.'s differences to it: ``A`` from U(-1, 1); forgetting; read before write; their clip of the
    update's norm per sequence (``clip``: the write ``v_t k_t^T`` scaled by ``min(1, 1 / ||v_t||)``
    over all heads, the norm of their ``G_t`` for unit keys); and their write's scale
    (``eta_scale``: 0.1, their ``p_lr``, on top of the ``2 sigmoid`` gate, as ``eta_t = 0.1 * 2
    sigmoid(m_t)``)."""

    kind = "hebbian"
    fixes: frozenset[str] = frozenset()
    plasticity_init = "uniform"  # A ~ U(-1, 1), or "ones"
    write_rate = 1.0  # a multiplier on the write, the study's tuning grid sets it

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if {"norm", "plasticity"} <= self.fixes:
            raise ValueError("the normalised read has no per-synapse plasticity on its normaliser row")
        if "clip" in self.fixes and "keys" not in self.fixes:
            raise ValueError("the clip takes |v| for the write's norm, which holds for unit keys only")
        self.heads, self.d_head = heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.neuromodulator = nn.Linear(d_model, heads)
        # lam = sigmoid(logit), from 0.73 to 0.99 across heads at start: short and long memories
        self.retention_logit = nn.Parameter(torch.linspace(1.0, 5.0, heads))
        self.gain = nn.Parameter(torch.ones(heads))  # alpha, the plastic gain of the read
        if "rate" in self.fixes:
            self.rate = nn.Parameter(torch.ones(heads))
        if "plasticity" in self.fixes:
            self.plasticity = _plasticity_matrix(heads, self.d_head, self.plasticity_init)
        self.proj = nn.Linear(d_model, d_model)

    def _signals(self, x):
        q, k, v = (_heads(p, self.heads) for p in self.qkv(x).chunk(3, -1))
        if "norm" in self.fixes:  # positive scores, so that their sum can divide the read
            q, k = F.elu(q) + 1, F.elu(k) + 1
        else:
            k = F.normalize(k, dim=-1) if "keys" in self.fixes else torch.tanh(k)
        if "tied" in self.fixes:  # read with the key itself: the presynaptic activity that was written
            q = k
        v = torch.tanh(v)
        m = self.neuromodulator(x)
        m = 2 * torch.sigmoid(m) if "sigmoid" in self.fixes else torch.tanh(m)
        if "clip" in self.fixes:  # ||v k^T|| over the heads (one token's, [B, (T)]) is |v| for unit keys
            m = m * torch.clamp(1 / v.flatten(-2).norm(dim=-1).clamp_min(1e-12), max=1.0)[..., None]
        if "eta_scale" in self.fixes:
            m = 0.1 * m
        if "norm" in self.fixes:  # the normaliser's trace: a post-synaptic unit that is always 1
            v = torch.cat([v, torch.ones_like(v[..., :1])], -1)
        lam = torch.ones_like(self.retention_logit) if "keep" in self.fixes else torch.sigmoid(self.retention_logit)
        write = self.rate if "rate" in self.fixes else 1 - lam  # [H]: the write's scale
        return q / math.sqrt(self.d_head), k, v, m * write * self.write_rate, lam

    def _normalised(self, y):
        """The read as it leaves the memory: divided by its normaliser row under ``norm``."""
        return y[..., :-1] / (y[..., -1:] + NORM_EPS) if "norm" in self.fixes else y

    def forward(self, x):
        q, k, v, m, lam = self._signals(x)  # [B, T, H, d], m [B, T, H] (scaled write)
        t = x.shape[1]
        # y_t = alpha * sum_s lam^(t-s) m_s (A (.) v_s k_s^T) q_t over s <= t (read after write),
        # or lam^(t-1-s) over s < t (read before write): the unrolled write
        decay = _decay_matrix(torch.log(lam), t)  # [H, T, T]
        if "read_first" in self.fixes:
            decay = torch.cat([torch.zeros_like(decay[:, :1]), decay[:, :-1]], 1)
        weight = decay * m.transpose(1, 2)[:, :, None, :]  # [B, H, t, s]
        if "plasticity" in self.fixes:
            y = _plastic_read(weight.permute(0, 2, 3, 1), k, q, self.plasticity, v)
        else:
            y = torch.einsum("bhts,bshd->bthd", torch.einsum("bthd,bshd->bhts", q, k) * weight, v)
        return self.proj((self._normalised(y) * self.gain[:, None]).flatten(2))

    def init_state(self, batch, like):
        rows = self.d_head + ("norm" in self.fixes)  # the normaliser's row under norm
        return like.new_zeros(batch, self.heads, rows, self.d_head)

    def step(self, x, fast):
        q, k, v, m, lam = self._signals(x)  # [B, H, d], m [B, H]
        read = lambda f: self.gain[:, None] * self._normalised((f @ q[..., None])[..., 0])  # noqa: E731
        if "read_first" in self.fixes:
            y = read(fast)
        write = NEUROMODULATED_WRITE.delta(pre=k, post=v, third=m[..., None].expand_as(v))  # m v k^T
        if "plasticity" in self.fixes:
            write = self.plasticity * write
        fast = lam[:, None, None] * fast + write
        if "read_first" not in self.fixes:
            y = read(fast)
        return self.proj(y.flatten(1)), fast


HEBBIAN_FIXES = ("keys", "rate", "sigmoid", "plasticity", "read_first")


def _hebbian_with(fixes: tuple[str, ...], name: str, plasticity_init: str = "uniform") -> type:
    return type(f"Hebbian_{name.replace('+', '_')}", (HebbianFastWeights,),
                {"kind": f"hebbian+{name}", "fixes": frozenset(fixes), "plasticity_init": plasticity_init})


# The ablation: each fix alone, then all of them, then all with A starting at ones, then the
# Hebbian sum without forgetting (linear attention) as the control (issue 15)
HEBBIAN_ABLATION = {c.kind: c for c in [_hebbian_with((f,), f) for f in HEBBIAN_FIXES]
                    + [_hebbian_with(HEBBIAN_FIXES, "all"), _hebbian_with(HEBBIAN_FIXES, "all+A_ones", "ones"),
                       _hebbian_with(("keys", "rate", "sigmoid", "keep"), "linear"),
                       _hebbian_with(("keys", "rate", "sigmoid"), "linear+decay"),
                       _hebbian_with(("norm", "rate", "sigmoid", "keep"), "linear+norm"),
                       _hebbian_with(("keys", "rate", "sigmoid", "keep", "tied"), "linear+tied"),
                       # and from there one of Duan et al.'s differences at a time: A, forgetting, then read
                       # before write, their clip, their write's scale
                       _hebbian_with(("keys", "rate", "sigmoid", "keep", "tied", "plasticity"), "linear+tied+plasticity"),
                       _hebbian_with(("keys", "rate", "sigmoid", "tied"), "linear+tied+decay")]
                    + [_hebbian_with(("keys", "rate", "sigmoid", "keep", "tied", f), f"linear+tied+{f}")
                       for f in ("read_first", "clip", "eta_scale")]}


def squared_error_through_tanh(w: torch.Tensor, k: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The gradient module's inner loss: how far the fast layer's own answer to the key,
    tanh(W k), is from the target the network set for it; w [..., d, d], k and target [..., d].
    Summed over sequences and heads: each term depends on its own W alone, so the gradient of
    the sum is every W's own gradient, in one call."""
    return 0.5 * ((torch.tanh((w @ k[..., None])[..., 0]) - target) ** 2).sum()


class GradientFastWeights(nn.Module):
    kind = "gradient"
    inner_loss = staticmethod(squared_error_through_tanh)
    write_rate = 1.0  # a multiplier on the step size eta_t, the study's tuning grid sets it

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.qkt = nn.Linear(d_model, 3 * d_model)  # query, key, self-determined target
        self.step_size = nn.Linear(d_model, heads)  # eta_t, per token and head
        nn.init.constant_(self.step_size.bias, -1.0)
        self.retention_logit = nn.Parameter(torch.full((heads,), 3.0))
        self.proj = nn.Linear(d_model, d_model)

    def inner_gradient(self, w, k, target):
        """dL/dW of the inner loss at the current fast weights, by torch.func.grad; for the
        default loss in closed form (the same numbers, tested, without autodiff's per-token
        overhead in the sequence loop)."""
        if self.inner_loss is squared_error_through_tanh:
            answer = torch.tanh((w @ k[..., None])[..., 0])
            return ((answer - target) * (1 - answer ** 2))[..., :, None] * k[..., None, :]
        return grad(self.inner_loss)(w, k, target)

    def forward(self, x):  # the update is nonlinear in W: the same step over time
        return token_by_token(self, x)

    def compile_steps(self) -> None:
        """``hebbformer study --compile``: the token step compiled (``compiled_token``)."""
        self.step = compiled_token(self.step)

    def init_state(self, batch, like):
        return like.new_zeros(batch, self.heads, self.d_head, self.d_head)

    def step(self, x, w):
        q, k, target = (_heads(p, self.heads) for p in self.qkt(x).chunk(3, -1))
        k, target = F.normalize(k, dim=-1), torch.tanh(target)
        eta = self.write_rate * torch.sigmoid(self.step_size(x))[..., None, None]  # [B, H, 1, 1]
        lam = torch.sigmoid(self.retention_logit)[:, None, None]
        w = lam * w - eta * self.inner_gradient(w, k, target)
        y = (w @ q[..., None])[..., 0] / math.sqrt(self.d_head)
        return self.proj(y.flatten(1)), w


class DeltaRule(nn.Module):
    kind = "delta"
    write_rate = 1.0  # a multiplier on beta_t (stable below 2 with unit keys), the study's grid sets it

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.strength = nn.Linear(d_model, heads)  # beta_t
        self.proj = nn.Linear(d_model, d_model)

    def _signals(self, x):
        q, k, v = (_heads(p, self.heads) for p in self.qkv(x).chunk(3, -1))
        return F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, self.write_rate * torch.sigmoid(self.strength(x))

    def forward(self, x):
        q, k, v, beta = (s.transpose(1, 2) for s in self._signals(x))  # [B, H, T, d], beta [B, H, T]
        # With W_0 = 0, W_t = sum_{s<=t} u_s k_s^T where u_t = beta_t (v_t - W_{t-1} k_t), so
        # u_t + beta_t sum_{s<t} (k_t . k_s) u_s = beta_t v_t: one lower-triangular system.
        t = x.shape[1]
        eye = torch.eye(t, dtype=x.dtype, device=x.device)
        system = eye + beta[..., None] * torch.tril(k @ k.transpose(-1, -2), -1)
        u = torch.linalg.solve_triangular(system, beta[..., None] * v, upper=False)
        y = torch.tril(q @ k.transpose(-1, -2)) @ u  # y_t = W_t q_t
        return self.proj(y.transpose(1, 2).flatten(2))

    def init_state(self, batch, like):
        return like.new_zeros(batch, self.heads, self.d_head, self.d_head)

    def step(self, x, w):
        q, k, v, beta = self._signals(x)
        error = v - (w @ k[..., None])[..., 0]
        w = w + beta[..., None, None] * error[..., :, None] * k[..., None, :]
        return self.proj((w @ q[..., None])[..., 0].flatten(1)), w


class CausalAttention(nn.Module):
    kind = "attention"

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        q, k, v = (_heads(p, self.heads).transpose(1, 2) for p in self.qkv(x).chunk(3, -1))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).flatten(2))

    def init_state(self, batch, like):
        return None  # the KV cache, grown by step

    def step(self, x, cache):
        q, k, v = (_heads(p, self.heads)[:, :, None] for p in self.qkv(x).chunk(3, -1))  # [B, H, 1, d]
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        y = F.scaled_dot_product_attention(q, k, v)[:, :, 0]
        return self.proj(y.flatten(1)), (k, v)


class MatchedFastWeights(nn.Module):
    """Duan et al.'s update (ICLR 2023, ``docs/reference/duan-plasticrnns.md``) as a token mixer,
    one fast matrix per head, the Hebbian and the gradient-based rule differing only in ``z``::

        F_t = (1 - eta_t) F_{t-1} + eta_t * c_t * A (.) (z_t k_t^T),    y_t = F_{t-1} q_t

    read before write (the read at t sees what tokens before t wrote, as their layers use F_{t-1});
    unit keys; ``eta_t = 0.1 * 2 * sigmoid(m_t)``, a neuromodulator the network computes per token
    and head, which can all but freeze the memory; ``A`` a learned per-synapse plasticity
    [heads, d, d], initialised U(-1, 1); ``c_t = min(1, 1 / ||z_t k_t^T||)`` over all heads of a
    sequence (their clip of the update's norm per sample). ``z_t`` is, for ``hebbian``, the value
    v_t (post x pre); for ``gradient``, dL_t/do_t of their inner loss ``L_t = mean((w (.) o_t)^2)``
    on the layer's output to the key, ``o_t = v_t + F_{t-1} k_t`` (a slow and a fast part, as their
    layers compute with W + F), with learned ``w`` (init ones); then z_t k_t^T = dL_t/dF, added, as
    their code adds it (A's sign is learned either way). Their loss is also averaged over the
    batch, which scales every sequence's write by 1 / batch size; here each sequence's loss is its
    own, so that a write does not depend on how many sequences run beside it.

    ``matched_hebbian+tied`` and ``matched_gradient+tied`` read with the key itself (``q_t = k_t``):
    their layers read ``F`` with the presynaptic activity that the update writes as ``pre`` (in
    their RNN, ``h_{t-1}`` is both), where the untied mixer has a query map of its own;
    ``+tied+A_ones`` also start ``A`` at ones (their ``inner_lr_mode='uniform'``).

    ``matched_hebbian+tied+A_ones+NAME`` takes one of their differences from the Hebbian sum read
    with its key (``hebbian+linear+tied``) back out (``undo``), the reverse of that sum's ablation:
    ``keep``, no forgetting (``F_t = F_{t-1} + eta_t c_t A (.) z_t k_t^T``, where their update
    forgets and writes at one rate); ``tanh``, the value through ``tanh`` as the sum's is;
    ``read_after``, read after the write, ``y_t = F_t q_t``; ``no_clip``, ``c_t = 1``;
    ``matched_hebbian+tied+A_fixed``, ``A`` held at ones (a buffer, not learned); and
    ``matched_hebbian+tied+A_fixed+all``, all of these at once. ``matched_hebbian+tied+only_NAME`` is
    the other way round, all of them taken out but one: ``only_forgetting``, ``only_raw_value``,
    ``only_read_first``, ``only_clip`` (``A`` held at ones), and ``only_learned_A`` (``A`` from ones,
    learned).

    ``read_gain`` scales the read, ``y_t = g F_{t-1} q_t``: the same rule with its read larger or
    smaller, so that what a difference of the rule does through the size of the read is told apart
    from what it does otherwise (``MATCHED_SIZED``)."""

    rule = "hebbian"
    write_rate = 1.0  # a multiplier on eta's scale 0.1 (their p_lr), the study's tuning grid sets it
    tied = False  # read with the key itself, q_t = k_t (the ``+tied`` variants)
    plasticity_init = "uniform"  # A ~ U(-1, 1) (their default inner_lr_mode='random'), "ones" ('uniform'), or
    # "fixed" (ones, not learned)
    token_loop = False  # the Hebbian rule trained token by token too (``compile_steps``)
    undo: frozenset[str] = frozenset()  # their differences from the tied Hebbian sum taken out (MATCHED_UNDO)
    read_gain = 1.0  # g in y_t = g F_{t-1} q_t (MATCHED_SIZED); 1: their read

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.modulator = nn.Linear(d_model, heads)
        if self.plasticity_init == "fixed":  # A = 1 held: no per-synapse plasticity to learn
            self.register_buffer("plasticity", torch.ones(heads, self.d_head, self.d_head))
        else:
            self.plasticity = _plasticity_matrix(heads, self.d_head, self.plasticity_init)
        self.loss_weight = nn.Parameter(torch.ones(heads, self.d_head))  # w of the inner loss (gradient)
        self.proj = nn.Linear(d_model, d_model)

    def _signals(self, x):
        q, k, v = (_heads(p, self.heads) for p in self.qkv(x).chunk(3, -1))
        eta = self.write_rate * 0.1 * 2 * torch.sigmoid(self.modulator(x))  # [..., H]
        k = F.normalize(k, dim=-1)
        if "tanh" in self.undo:
            v = torch.tanh(v)
        return (k if self.tied else q) / math.sqrt(self.d_head), k, v, eta

    def _z(self, v, k, fast):
        """The post-synaptic factor of the write: [B, H, d]."""
        if self.rule == "hebbian":
            return v
        out = v + (fast @ k[..., None])[..., 0]  # o_t, the layer's answer to its key
        return 2 * self.loss_weight ** 2 * out / (self.heads * self.d_head)  # d mean((w o)^2) / d o

    def init_state(self, batch, like):
        return like.new_zeros(batch, self.heads, self.d_head, self.d_head)

    def _write(self, fast, k, v, eta):
        """F_t from F_{t-1} and token t's key, value [B, H, d] and write rate [B, H]."""
        z = self._z(v, k, fast)
        # ||z k^T|| = |z| |k| = |z| for unit keys, over all heads of each sequence
        clip = 1.0 if "no_clip" in self.undo else \
            torch.clamp(1 / z.flatten(1).norm(dim=1).clamp_min(1e-12), max=1.0)[:, None, None, None]
        e = eta[..., None, None]
        kept = fast if "keep" in self.undo else (1 - e) * fast
        return kept + e * clip * self.plasticity * (z[..., :, None] * k[..., None, :])

    def _token(self, fast, q, k, v, eta):
        """One token's read, before its write (after it under ``read_after``): (y [B, H, d], F_t)."""
        written = self._write(fast, k, v, eta)
        return ((written if "read_after" in self.undo else fast) @ q[..., None])[..., 0], written

    def compile_steps(self) -> None:
        """``hebbformer study --compile``: the token (its read and write) through torch.compile,
        which fuses their elementwise passes and their backward (``compiled_token``), and every
        rule trained by a loop over it. The gradient rule has no other form; the Hebbian rule's
        whole-sequence form holds every token's F_t ([B, T, H, d, d], from T^2 pairs), so its fused
        loop, T fast matrices from one product each, trains 1.53x as fast at 25k parameters and
        3.58x at 250k on 70 tokens (delay 60), as fast on short sequences of a small model (0.89-1.05x
        at 25k beside attention on the associations; an AVX512 EPYC, ``bench/study_step.py``,
        ``docs/results/speed.md``)."""
        self._token = compiled_token(self._token)
        self.token_loop = True

    def _out(self, y):
        """The heads' reads [..., H, d] to the block's width, through the read gain."""
        return self.proj(self.read_gain * y.flatten(-2))

    def step(self, x, fast):
        q, k, v, eta = self._signals(x)  # [B, H, d], eta [B, H]
        y, fast = self._token(fast, q, k, v, eta)
        return self._out(y), fast

    def forward(self, x):
        q, k, v, eta = self._signals(x)  # [B, T, H, d], eta [B, T, H]: every token's at once
        if self.rule != "hebbian" or self.token_loop:  # the write token by token (the gradient rule's
            # z depends on F; compiled, the Hebbian rule's loop is its faster form), the projections not
            # (step's loop with the maps hoisted out of it: a delay-60 run's training took 1.4-1.6x as
            # long with a Linear call per token; the same function, tested against step)
            # Each token's signals taken by unbind: indexed in the loop, every token's backward wrote a
            # zero tensor of the whole sequence's (a fifth of a training step's time went to filling them).
            fast, ys = self.init_state(x.shape[0], x), []
            for q_t, k_t, v_t, eta_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), eta.unbind(1)):
                y, fast = self._token(fast, q_t, k_t, v_t, eta_t)
                ys.append(y)
            return self._out(torch.stack(ys, 1))
        clip = torch.ones_like(eta[..., 0]) if "no_clip" in self.undo else \
            torch.clamp(1 / v.flatten(2).norm(dim=2).clamp_min(1e-12), max=1.0)  # [B, T]
        # y_t = sum_{s<t} eta_s c_s prod_{s<r<t} (1 - eta_r) (A (.) v_s k_s^T) q_t: token t reads F_{t-lag},
        # lag 1 (read before write) or 0 (read_after, s <= t and prod over s < r <= t)
        lag = 0 if "read_after" in self.undo else 1
        # [B, T, H]: sum_{r<=t} log(1 - eta_r), or nothing forgotten under keep
        log_keep = torch.zeros_like(eta) if "keep" in self.undo else torch.cumsum(torch.log1p(-eta), 1)
        t = x.shape[1]
        gap = log_keep[:, :t - lag, None, :] - log_keep[:, None, :, :]  # [B, t' = t - lag, s, H]
        before = torch.tril(torch.ones(t - lag, t, dtype=torch.bool, device=x.device))  # s <= t'
        weight = torch.exp(gap.clamp(max=0)) * before[None, :, :, None] * (eta * clip[..., None])[:, None]
        mixed = _plastic_read(weight, k, q[:, lag:], self.plasticity, v)  # (A (.) v_s k_s^T) q_t, weighted, over s
        y = torch.cat([torch.zeros_like(q[:, :lag]), mixed], 1)  # before write, the first token reads F_0 = 0
        return self._out(y)


class MatchedHebbian(MatchedFastWeights):
    kind, rule = "matched_hebbian", "hebbian"


class MatchedGradient(MatchedFastWeights):
    kind, rule = "matched_gradient", "gradient"


# Duan et al.'s update read as their layers read it, with the presynaptic activity it writes
def _matched_tied(base: type, suffix: str = "", plasticity_init: str = "uniform", **attrs) -> type:
    kind = f"{base.kind}+tied{suffix}"
    return type(kind.replace("+", "_"), (base,), {"kind": kind, "tied": True, "plasticity_init": plasticity_init, **attrs})


MATCHED_TIED = {c.kind: c for c in (_matched_tied(MatchedHebbian), _matched_tied(MatchedGradient),
                                    _matched_tied(MatchedHebbian, "+A_ones", "ones"),
                                    _matched_tied(MatchedGradient, "+A_ones", "ones"))}


MATCHED_UNDONE = ("keep", "tanh", "read_after", "no_clip")  # what ``undo`` may hold
MATCHED_VARIED = "matched_hebbian+tied+A_ones"  # what each is compared with, seed by seed (``varies``)
MATCHED_ALL_UNDONE = "matched_hebbian+tied+A_fixed+all"  # and each ``+only_`` one
# The one difference each ``+only_`` variant keeps, by the ``undo`` entry that would take it out
MATCHED_KEPT = {"forgetting": "keep", "raw_value": "tanh", "read_first": "read_after", "clip": "no_clip"}


def _matched_undo(suffix: str, undo, plasticity_init: str = "ones", varies: str = MATCHED_VARIED, **attrs) -> type:
    """Duan et al.'s Hebbian update read with its key, with some of its differences from the tied
    Hebbian sum taken out."""
    return _matched_tied(MatchedHebbian, suffix, plasticity_init, undo=frozenset(undo), varies=varies, **attrs)


# What holds their update, A from ones, on the few-shot plateau in 6 of 10 seeds where the tied sum
# leaves it in every seed (issue 15): each difference taken out alone, A held at ones, and all at once
# (``+A_fixed+all``: the tied sum with their write's scale and without its read gain and rate); then
# the other way round, all taken out but one (``+only_NAME``; ``only_learned_A``: A from ones, learned)
MATCHED_UNDO = {c.kind: c for c in [_matched_undo(f"+A_ones+{n}", (n,)) for n in MATCHED_UNDONE]
                + [_matched_undo("+A_fixed", (), "fixed"), _matched_undo("+A_fixed+all", MATCHED_UNDONE, "fixed")]
                + [_matched_undo(f"+only_{kept}", set(MATCHED_UNDONE) - {undo}, "fixed", MATCHED_ALL_UNDONE)
                   for kept, undo in MATCHED_KEPT.items()]
                + [_matched_undo("+only_learned_A", MATCHED_UNDONE, "ones", MATCHED_ALL_UNDONE)]}


# Is it the size of the read? Forgetting at the write's rate and the clip each make their update's
# read smaller, and the rows that left the plateau most often have the larger reads (at
# initialisation, RMS over the queries' reads, first block, on Omniglot 5-way 1-shot from the
# trained encoder at 25k parameters, seeds 0-9: the update with A from ones 0.0248, with no
# forgetting 0.0396, with no clip 0.0861, with all five differences out 0.1236, with their default A
# from U(-1, 1) 0.0084; ``hebbformer study --read-size``, issue 15). Each row here is one rule at
# another's size, by a fixed gain on its read (the ratio of the two sizes): the update as large as
# the read with all five out (``sized_as_all``; with their A from U(-1, 1) too), and the reads with
# no forgetting, with no clip and with all five out as small as the update's (``sized_as_update``).
# Each is paired with the update it resizes or, from its side, varies.
MATCHED_SIZE = {"update": 0.0248, "keep": 0.0396, "no_clip": 0.0861, "all": 0.1236, "random_A": 0.0084}  # as above
MATCHED_SIZED = {c.kind: c for c in [
    _matched_tied(MatchedHebbian, "+sized_as_all", read_gain=MATCHED_SIZE["all"] / MATCHED_SIZE["random_A"],
                  varies="matched_hebbian+tied"),
    _matched_undo("+A_ones+sized_as_all", (), read_gain=MATCHED_SIZE["all"] / MATCHED_SIZE["update"]),
    _matched_undo("+A_ones+keep+sized_as_update", ("keep",), read_gain=MATCHED_SIZE["update"] / MATCHED_SIZE["keep"]),
    _matched_undo("+A_ones+no_clip+sized_as_update", ("no_clip",),
                  read_gain=MATCHED_SIZE["update"] / MATCHED_SIZE["no_clip"]),
    _matched_undo("+A_fixed+all+sized_as_update", MATCHED_UNDONE, "fixed",
                  read_gain=MATCHED_SIZE["update"] / MATCHED_SIZE["all"])]}


class LSTMMixer(nn.Module):
    """The static control of Duan et al.'s kind: an LSTM over the tokens, no plastic weight; its
    memory is the cell and hidden state (2 x d_model per sequence). The study's parameter budget
    sets its width, as for every module."""

    kind = "lstm"

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.lstm = nn.LSTM(d_model, d_model, batch_first=True)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        return self.proj(self.lstm(x)[0])

    def init_state(self, batch, like):
        zeros = like.new_zeros(1, batch, self.lstm.hidden_size)
        return zeros, zeros.clone()

    def step(self, x, state):
        y, state = self.lstm(x[:, None], state)
        return self.proj(y[:, 0]), state


FAST_WEIGHTS = {m.kind: m for m in (StaticMixer, LSTMMixer, HebbianFastWeights, GradientFastWeights, MatchedHebbian,
                                    MatchedGradient, DeltaRule, CausalAttention)} | HEBBIAN_ABLATION | MATCHED_TIED | MATCHED_UNDO \
    | MATCHED_SIZED


def build_mixer(kind: str, d_model: int, heads: int) -> nn.Module:
    if kind not in FAST_WEIGHTS:
        raise ValueError(f"unknown fast-weight module {kind!r}; known: {', '.join(FAST_WEIGHTS)}")
    if d_model % heads:
        raise ValueError(f"d_model={d_model} is not divisible by heads={heads}")
    return FAST_WEIGHTS[kind](d_model, heads)
