"""The in-context learner's forward pass, written once, and its two seams.

Every way of running a trained model (training in float, token by token in synaptic form,
fake-quantised, on integers, on a Loihi 2 network) is this one function with two things plugged
in (``docs/architecture.md``):

- **numerics**: how the arithmetic is done: the encoder, layer norm, the projections, the MLP,
  the residual additions and the read-out, in float (``FloatNumerics`` below), fake-quantised
  with calibrated exponents (``quant.numerics.FakeQuant``), or on integers
  (``quant.integer.IntegerNumerics``);
- **memory**: how each attention layer's plastic synapses are written and read: every token
  writes its key and value, then reads with its query (``parallel_memory`` below: one masked
  attention for the whole episode, as training needs; the slots and outer products of
  ``backends.synaptic``; the integer slots; a compiled Loihi 2 network).

The model runs layer by layer over whole episodes. Attention is causal (supports see the
supports before them, a query every support and itself), so that is the same as running each
token through every layer before the next: a memory back-end still writes and reads token by
token inside its layer.

A memory is called ``memory(q, k, v, n_support, rule)`` on one layer's queries, keys and values
``[batch, tokens, heads, d_head]`` and returns what its read-out receives, of the same shape:
``sum_j rate_j * v_j`` over the slots written so far, with ``rate = rule.rate(k_j . q)`` (softmax
over the slots, or elementwise), or linear attention's normalised outer-product read. Dividing a
ReLU read by the number of slots read is left to the numerics (``slots_read``), since a Loihi 2
network returns the plain sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..plasticity.rules import KEY_WRITE, VALUE_WRITE, HebbianRule
from .attention import context_mask, feature_map


@dataclass(frozen=True)
class MemoryRule:
    """How one attention layer's plastic memory is written and read, as the numerics define it.

    ``kind``: "softmax" (rates normalised over the slots written), "relu" (``rate`` elementwise on
    the drive ``k . q``; the sum is divided by the slots read afterwards) or "linear" (the
    outer-product memory of linear attention, which has no slots). ``shift``: on integer
    back-ends, rate = relu(drive) rounded onto the grid 2**shift, which a compiled network's slot
    neurons compute themselves. ``key_write`` / ``value_write``: the local rules that write a
    slot, with the precision its synapses store."""
    kind: str
    rate: Callable | None = None
    shift: int | None = None
    key_write: HebbianRule = KEY_WRITE
    value_write: HebbianRule = VALUE_WRITE


def slots_read(n_support: int, n_tokens: int) -> np.ndarray:
    """How many slots token i reads: a support itself and the supports before it, a query every
    support and itself."""
    return np.minimum(np.arange(n_tokens), n_support) + 1


def forward(numerics, memory, support, support_labels, query, label_ids):
    """support [B, S, C, H, W] with label tokens [B, S], query [B, Q, C, H, W], the episode's N
    label tokens [B, N] -> the queries' logits [B, Q, N], in the numerics' representation."""
    s = support_labels.shape[1]
    x = numerics.tokens(support, support_labels, query)
    for layer in range(numerics.depth):
        q, k, v = numerics.qkv(layer, numerics.norm(layer, "ln1", x))
        read = memory(q, k, v, s, numerics.memory_rule(layer))  # the plastic write and read
        x = numerics.add(x, numerics.attention_out(layer, read, s))
        x = numerics.add(x, numerics.mlp(layer, numerics.norm(layer, "ln2", x)))
    return numerics.readout(x, support_labels, label_ids)


# ------------------------------------------------------------------ float numerics

def float_rule(kind: str, d_head: int) -> MemoryRule:
    if kind == "relu":  # relu(q.k / sqrt(d)), divided by the number of slots read (Wortsman et al., 2023)
        return MemoryRule("relu", rate=lambda drive: F.relu(drive / d_head ** 0.5))
    return MemoryRule(kind)


class FloatNumerics:
    """The float model's own arithmetic: its modules, as PyTorch runs them."""

    def __init__(self, model):
        self.model, self.cfg = model, model.cfg
        self.depth = len(model.blocks)
        self._rule = float_rule(self.cfg.attention, self.cfg.d_model // self.cfg.heads)

    def tokens(self, support, support_labels, query):
        return self.model.tokens(support, support_labels, query)

    def norm(self, layer: int, name: str, x):
        return getattr(self.model.blocks[layer], name)(x)

    def qkv(self, layer: int, h):
        b, n, d = h.shape
        heads = self.cfg.heads
        return self.model.blocks[layer].attn.qkv(h).view(b, n, 3, heads, d // heads).unbind(2)

    def memory_rule(self, layer: int) -> MemoryRule:
        return self._rule

    def attention_out(self, layer: int, read, n_support: int):
        b, n, heads, d_head = read.shape
        if self._rule.kind == "relu":
            read = read / torch.from_numpy(slots_read(n_support, n)).to(read)[:, None, None]
        block = self.model.blocks[layer]
        return block.drop(block.attn.proj(read.reshape(b, n, heads * d_head)))

    def add(self, x, delta):
        return x + delta

    def mlp(self, layer: int, h):
        block = self.model.blocks[layer]
        return block.drop(block.mlp(h))

    def readout(self, x, support_labels, label_ids):
        return self.model.readout(x, support_labels, label_ids)


# ------------------------------------------------------------------ the parallel memory

def parallel_memory(q, k, v, n_support: int, rule: MemoryRule):
    """Every token's write and read at once, as one masked attention: what training runs. The
    mask is the plastic memory's causality: token i reads what tokens 0..i wrote, and a query
    reads the supports and itself only (each query overwrites one spare slot)."""
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, heads, tokens, d_head]
    mask = context_mask(n_support, q.shape[2] - n_support).to(q.device)
    if rule.kind == "softmax":
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    elif rule.kind == "linear":
        scores = (feature_map(q) @ feature_map(k).transpose(-1, -2)) * mask
        out = (scores @ v) / scores.sum(-1, keepdim=True)
    else:
        out = rule.rate((q @ k.transpose(-1, -2)) * mask) @ v  # unwritten slots: drive 0
    return out.transpose(1, 2)
