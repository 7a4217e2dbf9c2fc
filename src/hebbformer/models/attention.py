"""Self-attention over an episode's context, and the mask that makes it an in-context learner.

The sequence is the N*K support tokens (image + label) followed by the query tokens. Supports are
causal among themselves; each query sees every support and itself, never another query. That is
exactly what a decoder-only transformer computes when each query is appended, alone, to the
support prefix: the supports write the KV cache, the queries only read it. Batching the queries
into one sequence is only an efficiency.

How a kind (softmax, relu, linear) reads its memory is ``forward.MemoryRule``; the layer here holds
only the weights, and ``forward.forward`` runs them.
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


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """The positive feature map of linear attention (Katharopoulos et al., 2020): elu(x) + 1.
    Its plastic form is one fixed-size matrix written by an outer-product Hebbian rule, however
    long the context."""
    return F.elu(x) + 1


class SelfAttention(nn.Module):
    """The weights of one attention layer: the key, query and value projections that feed its
    plastic synapses, and the output projection of what they read."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
