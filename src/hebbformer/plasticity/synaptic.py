"""Self-attention as a dynamic feed-forward layer whose synapses are written token by token.

Softmax and ReLU attention: for each head a two-layer network grows as tokens arrive. Token t
recruits slot neuron t, whose input synapses learn the key (``KEY_WRITE``) and whose output
synapses learn the value (``VALUE_WRITE``). Reading is a forward pass of the query through the
first synaptic layer, the slot neurons' nonlinearity (softmax, or ReLU over the number of slots)
and the second layer. Memory grows with the context, like a KV cache.

Linear attention: one fixed-size matrix per head, written by an outer-product Hebbian rule
(``OUTER_PRODUCT_WRITE``), plus a normaliser (``NORMALISER_WRITE``); memory does not grow.

Run token by token through the whole model, supports writing and queries only reading, each form
gives the parallel transformer's answers (``tests/test_plastic.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..models.attention import feature_map
from .rules import KEY_WRITE, NORMALISER_WRITE, OUTER_PRODUCT_WRITE, VALUE_WRITE


class SlotSynapses:
    """The written synapses of every head of one attention layer, for a batch of sequences."""

    def __init__(self, batch: int, heads: int, d_head: int, capacity: int, like: torch.Tensor,
                 nonlinearity: str = "softmax"):
        self.nonlinearity = nonlinearity
        self.w_in = like.new_zeros(batch, heads, capacity, d_head)  # slot <- key synapses
        self.w_out = like.new_zeros(batch, heads, d_head, capacity)  # value <- slot synapses
        self.n = 0  # slots recruited so far
        self.capacity = capacity

    def write(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Recruit slot ``n`` for a token with key ``k`` and value ``v`` ([batch, heads, d_head])."""
        if self.n == self.capacity:
            raise RuntimeError("synaptic memory is full")
        # The recruitment is one-hot, so the rules change only the recruited slot's synapses;
        # apply them there alone (event-driven), as a KV cache appends one row.
        recruited = torch.ones(*k.shape[:2], 1, dtype=k.dtype, device=k.device)
        self.w_in[:, :, self.n] += KEY_WRITE.delta(pre=k, post=recruited)[:, :, 0]
        self.w_out[..., self.n] += VALUE_WRITE.delta(pre=recruited, post=torch.ones_like(v), third=v)[..., 0]
        self.n += 1

    @property
    def read_elements(self) -> int:
        """Synaptic values a read touches: every recruited slot's key and value synapses."""
        return self.w_in[:, :, : self.n].numel() + self.w_out[..., : self.n].numel()

    @property
    def write_elements(self) -> int:
        """Synaptic values a write touches: the recruited slot's key and value synapses."""
        return self.w_in[:, :, 0].numel() + self.w_out[..., 0].numel()

    def read(self, q: torch.Tensor, extra: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Query [batch, heads, d_head] through the written slots (and, for a query token, its own
        key and value as one slot that is read but never written)."""
        w_in, w_out = self.w_in[:, :, : self.n], self.w_out[..., : self.n]
        if extra is not None:
            k, v = extra
            w_in = torch.cat([w_in, k[:, :, None]], 2)
            w_out = torch.cat([w_out, v[..., None]], 3)
        drive = (w_in @ q[..., None])[..., 0] / math.sqrt(q.shape[-1])  # slot neurons' input
        if self.nonlinearity == "softmax":
            rate = F.softmax(drive, -1)
        else:  # relu, scaled by the number of slots read
            rate = F.relu(drive) / drive.shape[-1]
        return (w_out @ rate[..., None])[..., 0]


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

    def read(self, q: torch.Tensor, extra: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        phi = feature_map(q)[..., None]
        num, den = (self.w @ phi)[..., 0], (self.z @ phi)[..., 0]
        if extra is not None:  # a query's own key and value, read but not written
            k, v = extra
            own = (feature_map(k) * phi[..., 0]).sum(-1, keepdim=True)
            num, den = num + own * v, den + own
        return num / den


def synapses_for(kind: str, batch: int, heads: int, d_head: int, capacity: int, like: torch.Tensor):
    if kind == "linear":
        return OuterProductSynapses(batch, heads, d_head, like)
    return SlotSynapses(batch, heads, d_head, capacity, like, nonlinearity=kind)


def _attend_token(attn, x: torch.Tensor, memory, write: bool) -> torch.Tensor:
    """One token [batch, d] through one attention layer in synaptic form."""
    b, d = x.shape
    q, k, v = attn.qkv(x).view(b, 3, attn.heads, d // attn.heads).unbind(1)
    if write:
        memory.write(k, v)
        y = memory.read(q)
    else:
        y = memory.read(q, extra=(k, v))
    return attn.proj(y.reshape(b, d))


@torch.no_grad()
def forward_token_by_token(model, support, support_labels, query, label_ids) -> torch.Tensor:
    """The model's logits, computed one token at a time with every attention layer in synaptic
    form: each support token writes its synapses, then each query reads them alone."""
    s = support_labels.shape[1]
    tokens = model.tokens(support, support_labels, query)
    b, n, d = tokens.shape
    heads = model.cfg.heads
    memories = [synapses_for(model.cfg.attention, b, heads, d // heads, s, tokens) for _ in model.blocks]
    outputs = []
    for t in range(n):
        x = tokens[:, t]
        for block, memory in zip(model.blocks, memories):
            x = x + _attend_token(block.attn, block.ln1(x), memory, write=t < s)
            x = x + block.mlp(block.ln2(x))
        outputs.append(x)
    return model.readout(torch.stack(outputs, 1), support_labels, label_ids)
