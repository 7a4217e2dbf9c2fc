"""The in-context learner: a conv encoder turns each image into a token, a causal decoder-only
transformer reads the labelled supports and answers each query's label."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .attention import SelfAttention
from .encoder import ConvEncoder
from .forward import FloatNumerics, forward, parallel_memory


def random_rotations(n: int, d: int, device) -> torch.Tensor:
    """n random orthogonal d x d matrices, uniform (Haar): QR of Gaussian matrices with the signs
    of R's diagonal moved into Q. Drawn from torch's global generator."""
    q, r = torch.linalg.qr(torch.randn(n, d, d, device=device))
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]


class Block(nn.Module):
    """The weights of a pre-norm transformer block (``forward.forward`` runs them):
    x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, d: int, heads: int, mlp_ratio: int, dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = SelfAttention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))
        self.drop = nn.Dropout(dropout)  # on what each half adds to the residual stream (training only)


class InContextLearner(nn.Module):
    """Tokens: support i is ``embed(encoder(image_i)) + label_embed(y_i)``; a query carries the
    extra "unknown label" embedding instead. There is no positional encoding: the answer must not
    depend on the order of the supports, and the causal mask alone already tells tokens apart."""

    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = ConvEncoder(in_channels, cfg.encoder_channels, cfg.encoder_blocks, image_size)
        self.embed = nn.Linear(self.encoder.out_dim, cfg.d_model)
        self.label_embed = nn.Embedding(cfg.max_ways + 1, cfg.d_model)  # last row: "unknown"
        self.blocks = nn.ModuleList(Block(cfg.d_model, cfg.heads, cfg.mlp_ratio, cfg.dropout)
                                    for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.max_ways if cfg.readout == "vocab" else cfg.d_model)
        # "attend": the query's output attends over the supports' outputs, whose values are labels
        self.key = nn.Linear(cfg.d_model, cfg.d_model) if cfg.readout == "attend" else None

    def tokens(self, support, support_labels, query) -> torch.Tensor:
        b, s = support_labels.shape
        q = query.shape[1]
        images = torch.cat([support, query], 1).flatten(0, 1)
        features = self.encoder(images).view(b, s + q, -1)
        if self.training and self.cfg.rotate_features:
            features = features @ random_rotations(b, features.shape[-1], features.device).to(features.dtype)
        z = self.embed(features)
        unknown = torch.full((b, q), self.cfg.max_ways, dtype=torch.long, device=z.device)
        return z + self.label_embed(torch.cat([support_labels, unknown], 1))

    def forward(self, support, support_labels, query, label_ids) -> torch.Tensor:
        """support [B, S, C, H, W] with label tokens support_labels [B, S], query [B, Q, C, H, W],
        and the episode's N label tokens label_ids [B, N] -> logits [B, Q, N] over those N."""
        return forward(FloatNumerics(self), parallel_memory, support, support_labels, query, label_ids)

    def readout(self, x: torch.Tensor, support_labels: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
        """Final residual stream [B, S+Q, d] -> the queries' logits [B, Q, N] at the N label tokens."""
        s = support_labels.shape[1]
        out = self.head(self.norm(x[:, s:]))  # [B, Q, max_ways] or [B, Q, d]
        if self.cfg.readout == "attend":
            # One more attention read whose values are the supports' one-hot labels: a label's
            # probability is the attention mass on its supports, so the logit is the log-sum-exp
            # of the scores of that label's supports (for one shot, the one score).
            keys = self.key(self.norm(x[:, :s]))  # [B, S, d]
            scores = torch.einsum("bqd,bsd->bqs", out, keys) / self.cfg.d_model ** 0.5
            has = support_labels[:, None, :] == label_ids[:, :, None]  # [B, N, S]
            scores = scores[:, :, None, :].masked_fill(~has[:, None], float("-inf"))
            return scores.logsumexp(-1)
        if self.cfg.readout == "vocab":  # one logit per label token, read at the episode's N tokens
            return out.gather(2, label_ids[:, None, :].expand(-1, out.shape[1], -1))
        # "tied": a class's logit is the output's match with its label embedding, scaled like an
        # attention score so that the first logits are of order one.
        return torch.einsum("bqd,bnd->bqn", out, self.label_embed(label_ids)) / self.cfg.d_model ** 0.5
