"""A decoder-only transformer over vector tokens whose token mixer is a fast-weight module.

The study of ``hebbformer.experiments.study`` runs every task through this one model and varies
only the mixer (``hebbformer.plasticity.fast_weights``): pre-norm blocks of mixer then MLP, an
input projection and an output head. Like the mixers it has a whole-sequence form (``forward``)
and a token-by-token form (``forward_token_by_token``) that agree.
"""

from __future__ import annotations

import torch
from torch import nn

from ..plasticity.fast_weights import FAST_WEIGHTS, build_mixer
from ..plasticity.plastic_layers import PLASTIC_LAYERS

# Every module the study can put in a block, by kind: a token mixer, or plastic layers as the block's MLP.
MODULES = {**FAST_WEIGHTS, **PLASTIC_LAYERS}


class FastWeightBlock(nn.Module):
    """Pre-norm block: the fast-weight module instead of attention, or beside it (both read the
    same normalised input and add to the residual stream), then the MLP. A plastic-layers kind
    (``hebbformer.plasticity.plastic_layers``) makes the MLP itself plastic instead: the block
    then has no other token mixer (or only attention, beside it)."""

    def __init__(self, kind: str, d: int, heads: int, mlp_ratio: int, beside_attention: bool = False):
        super().__init__()
        if kind not in MODULES:
            raise ValueError(f"unknown fast-weight module {kind!r}; known: {', '.join(MODULES)}")
        self.ln1 = nn.LayerNorm(d)
        plastic_mlp = kind in PLASTIC_LAYERS
        self.mixer = None if plastic_mlp else build_mixer(kind, d, heads)
        self.attention = build_mixer("attention", d, heads) if beside_attention else None
        self.ln2 = nn.LayerNorm(d)
        self.mlp = PLASTIC_LAYERS[kind](d, mlp_ratio * d) if plastic_mlp else \
            nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))
        self.plastic_mlp = plastic_mlp

    def forward(self, x):
        h = self.ln1(x)
        for mixer in (self.mixer, self.attention):
            if mixer is not None:
                x = x + mixer(h)
        return x + self.mlp(self.ln2(x))

    def init_state(self, batch, like):
        return tuple(m.init_state(batch, like) if m is not None else None for m in (self.mixer, self.attention)) + \
            (self.mlp.init_state(batch, like) if self.plastic_mlp else None,)

    def step(self, x, state):
        fast, cache, plastic = state
        h = self.ln1(x)
        y = 0
        if self.mixer is not None:
            m, fast = self.mixer.step(h, fast)
            y = y + m
        if self.attention is not None:
            a, cache = self.attention.step(h, cache)
            y = y + a
        x = x + y
        if self.plastic_mlp:
            out, plastic = self.mlp.step(self.ln2(x), plastic)
        else:
            out = self.mlp(self.ln2(x))
        return x + out, (fast, cache, plastic)


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
