"""Self-attention over an episode's context, and the mask that makes it an in-context learner.

The sequence is the N*K support tokens (image + label) followed by the query tokens. Supports are
causal among themselves; each query sees every support and itself, never another query. That is
exactly what a decoder-only transformer computes when each query is appended, alone, to the
support prefix: the supports write the KV cache, the queries only read it. Batching the queries
into one sequence is only an efficiency.

Attention kinds are looked up by name in ``ATTENTION``; each takes (q, k, v, mask) per head.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


@functools.lru_cache(maxsize=64)
def context_mask(n_support: int, n_query: int) -> torch.Tensor:
    """bool [L, L], True where token i may attend to token j."""
    n = n_support + n_query
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return ((j <= i) & (j < n_support)) | (i == j)


def softmax_attention(q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """The positive feature map of linear attention (Katharopoulos et al., 2020): elu(x) + 1."""
    return F.elu(x) + 1


def linear_attention(q, k, v, mask):
    """Scores phi(q).phi(k), normalised by their sum. Its plastic form is one fixed-size matrix
    written by an outer-product Hebbian rule, however long the context."""
    scores = (feature_map(q) @ feature_map(k).transpose(-1, -2)) * mask
    return (scores @ v) / scores.sum(-1, keepdim=True)


def relu_attention(q, k, v, mask):
    """relu(q.k / sqrt(d)) divided by the number of keys seen (Wortsman et al., 2023): no
    exponential and no data-dependent division, so fixed-point hardware computes it with a
    comparison and a multiplication by a known constant."""
    scores = F.relu(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5) * mask
    return (scores @ v) / mask.sum(-1, keepdim=True)


ATTENTION = {"softmax": softmax_attention, "linear": linear_attention, "relu": relu_attention}


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, kind: str):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.kernel = ATTENTION[kind]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = self.kernel(q, k, v, mask)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))
