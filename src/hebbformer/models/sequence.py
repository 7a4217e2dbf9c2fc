"""A decoder-only transformer over vector tokens whose token mixer is a fast-weight module.

The study of ``hebbformer.experiments.study`` runs every task through this one model and varies
only the mixer (``hebbformer.plasticity.fast_weights``): pre-norm blocks of mixer then MLP, an
input projection and an output head. Like the mixers it has a whole-sequence form (``forward``)
and a token-by-token form (``forward_token_by_token``) that agree.
"""

from __future__ import annotations

import torch
from torch import nn

from ..plasticity.fast_weights import build_mixer


class FastWeightBlock(nn.Module):
    """Pre-norm block: the fast-weight module instead of attention, or beside it (both read the
    same normalised input and add to the residual stream), then the MLP."""

    def __init__(self, kind: str, d: int, heads: int, mlp_ratio: int, beside_attention: bool = False):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.mixer = build_mixer(kind, d, heads)
        self.attention = build_mixer("attention", d, heads) if beside_attention else None
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.mixer(h) + (self.attention(h) if self.attention is not None else 0)
        return x + self.mlp(self.ln2(x))

    def init_state(self, batch, like):
        cache = self.attention.init_state(batch, like) if self.attention is not None else None
        return self.mixer.init_state(batch, like), cache

    def step(self, x, state):
        fast, cache = state
        h = self.ln1(x)
        y, fast = self.mixer.step(h, fast)
        if self.attention is not None:
            a, cache = self.attention.step(h, cache)
            y = y + a
        x = x + y
        return x + self.mlp(self.ln2(x)), (fast, cache)


class SequenceModel(nn.Module):
    def __init__(self, kind: str, d_in: int, d_out: int, d_model: int = 64, depth: int = 2, heads: int = 4,
                 mlp_ratio: int = 2, encoder: nn.Module | None = None, beside_attention: bool = False):
        """``encoder``, if given, turns each token's image into features that join its d_in vector.
        ``beside_attention``: every block keeps causal softmax attention and adds the module beside it."""
        super().__init__()
        self.kind = kind
        self.encoder = encoder
        self.embed = nn.Linear(d_in + (encoder.out_dim if encoder is not None else 0), d_model)
        self.blocks = nn.ModuleList(FastWeightBlock(kind, d_model, heads, mlp_ratio, beside_attention)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, d_out)

    def _embed(self, x, images):
        if self.encoder is not None:
            x = torch.cat([self.encoder(images.flatten(0, 1)).unflatten(0, images.shape[:2]), x], -1)
        return self.embed(x)

    def forward(self, x: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens [B, T, d_in] (and their images [B, T, C, H, W]) -> outputs [B, T, d_out];
        output t sees tokens 0..t."""
        h = self._embed(x, images)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def forward_token_by_token(self, x: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """The same outputs, one token at a time through each mixer's recurrent state."""
        h = self._embed(x, images)
        states = [block.init_state(h.shape[0], h) for block in self.blocks]
        outputs = []
        for t in range(h.shape[1]):
            z = h[:, t]
            for i, block in enumerate(self.blocks):
                z, states[i] = block.step(z, states[i])
            outputs.append(self.head(self.norm(z)))
        return torch.stack(outputs, 1)
