"""Attention as a dynamic feed-forward layer whose synapses are written token by token: the
memory back-end that executes the local learning rules (``plasticity.rules``) one token at a time.

Softmax and ReLU attention: for each head a two-layer network grows as tokens arrive. Token t
recruits slot neuron t, whose input synapses learn the key (the memory rule's ``key_write``) and
whose output synapses learn the value (``value_write``, three-factor: the value gates the write),
each stored at its rule's precision. Reading is a forward pass of the query through the first
synaptic layer, the slot neurons' rates (softmax over the slots written, or the rule's elementwise
rate) and the second layer. Memory grows with the context, like a KV cache. A query is written
into one spare slot, which the next query overwrites, so queries never see each other.

Linear attention: one fixed-size matrix per head, written by an outer-product Hebbian rule
(``OUTER_PRODUCT_WRITE``), plus a normaliser (``NORMALISER_WRITE``); memory does not grow, and a
query reads its own key and value beside it without writing them.

The same slot synapses hold floats (torch) or integer mantissas (numpy int64, the Quant model's
integer path): the arithmetic is the numerics', the convention one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..models.attention import feature_map
from ..models.forward import MemoryRule
from ..plasticity.rules import NORMALISER_WRITE, OUTER_PRODUCT_WRITE


class SlotSynapses:
    """The written synapses of every head of one attention layer, for a batch of sequences:
    per head ``capacity`` slot neurons with key (input) and value (output) synapses."""

    def __init__(self, batch: int, heads: int, d_head: int, capacity: int, like, rule: MemoryRule):
        self.rule, self.xp = rule, np if isinstance(like, np.ndarray) else torch
        zeros = (lambda *shape: np.zeros(shape, like.dtype)) if self.xp is np else like.new_zeros
        self.w_in = zeros(batch, heads, capacity, d_head)  # slot <- key synapses
        self.w_out = zeros(batch, heads, capacity, d_head)  # value <- slot synapses, stored slot by slot
        self.n = 0  # slots recruited so far

    @property
    def capacity(self) -> int:
        return self.w_in.shape[2]

    def write(self, slot: int, k, v) -> None:
        """Recruit slot ``slot`` for a token with key ``k`` and value ``v`` ([batch, heads, d_head]),
        overwriting what it held. The recruitment is one-hot, so the rules change only that slot's
        synapses: they are applied there alone (event-driven), as a KV cache appends one row."""
        if slot >= self.capacity:
            raise RuntimeError(f"synaptic memory is full ({self.capacity} slots)")
        recruited = self.xp.ones_like(k[..., :1])
        key, value = self.rule.key_write, self.rule.value_write
        self.w_in[:, :, slot] = key.precision.store(key.delta(pre=k, post=recruited))[:, :, 0]
        self.w_out[:, :, slot] = value.precision.store(value.delta(pre=recruited, post=self.xp.ones_like(v), third=v))[..., 0]
        self.n = max(self.n, slot + 1)

    @property
    def write_elements(self) -> int:
        """Synaptic values a write touches: the recruited slot's key and value synapses."""
        batch, heads, _, d_head = self.w_in.shape
        return 2 * batch * heads * d_head

    @property
    def read_elements(self) -> int:
        """Synaptic values a read touches: every recruited slot's key and value synapses."""
        return self.n * self.write_elements

    def read(self, q):
        """Query [batch, heads, d_head] through the written slots."""
        w_in, w_out = self.w_in[:, :, : self.n], self.w_out[:, :, : self.n]
        # numpy's integer matmul has no BLAS kernel; its einsum is several times faster there
        product = np.einsum if self.xp is np else torch.einsum
        drive = product("bhsd,bhd->bhs", w_in, q)  # the slot neurons' input
        if self.rule.kind == "softmax":
            rate = F.softmax(drive / math.sqrt(q.shape[-1]), -1)
        else:
            rate = self.rule.rate(drive)
        return product("bhsd,bhs->bhd", w_out, rate)


class OuterProductSynapses:
    """Linear attention's plastic form: per head one [d_head, d_head] matrix and a normaliser."""

    def __init__(self, batch: int, heads: int, d_head: int, like: torch.Tensor):
        self.w = like.new_zeros(batch, heads, d_head, d_head)  # value <- key-feature synapses
        self.z = like.new_zeros(batch, heads, 1, d_head)  # normaliser <- key-feature synapses

    @property
    def read_elements(self) -> int:
        return self.w.numel() + self.z.numel()

    write_elements = read_elements  # the outer product touches every synapse

    def write(self, k: torch.Tensor, v: torch.Tensor) -> None:
        phi = feature_map(k)
        self.w += OUTER_PRODUCT_WRITE.delta(pre=phi, post=v)
        self.z += NORMALISER_WRITE.delta(pre=phi, post=torch.ones_like(phi[..., :1]))

    def read(self, q: torch.Tensor, own: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Query through the matrix; ``own``: a query's own key and value, read but not written."""
        phi = feature_map(q)[..., None]
        num, den = (self.w @ phi)[..., 0], (self.z @ phi)[..., 0]
        if own is not None:
            k, v = own
            match = (feature_map(k) * phi[..., 0]).sum(-1, keepdim=True)
            num, den = num + match * v, den + match
        return num / den


def synaptic_memory(q, k, v, n_support: int, rule: MemoryRule):
    """One layer's plastic synapses over whole episodes [batch, tokens, heads, d_head], token by
    token: support i writes slot i, each query the spare slot n_support, each token reads after
    its write. Returns what the read-out receives, [batch, tokens, heads, d_head]."""
    b, n, heads, d_head = q.shape
    stack = np.stack if isinstance(q, np.ndarray) else torch.stack
    outputs = []
    if rule.kind == "linear":
        memory = OuterProductSynapses(b, heads, d_head, q)
        for i in range(n):
            if i < n_support:
                memory.write(k[:, i], v[:, i])
                outputs.append(memory.read(q[:, i]))
            else:
                outputs.append(memory.read(q[:, i], own=(k[:, i], v[:, i])))
        return stack(outputs, 1)
    memory = SlotSynapses(b, heads, d_head, n_support + 1, q, rule)
    for i in range(n):
        memory.write(min(i, n_support), k[:, i], v[:, i])
        outputs.append(memory.read(q[:, i]))
    return stack(outputs, 1)
