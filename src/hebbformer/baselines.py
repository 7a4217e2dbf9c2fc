"""Gradient-based and metric meta-learning baselines on the same episodes and the same encoder.

Each baseline has the in-context learner's forward signature, ``(support, support_labels, query,
label_ids) -> logits [B, Q, N]`` over the episode's N label tokens, so that ``hebbformer train``
and ``hebbformer eval`` (sampler, splits, augmentation, checkpoints, confidence intervals,
all_runs) serve them unchanged; ``model.method`` picks one:

- ``protonet``: Prototypical Networks (Snell et al., 2017): a class's prototype is the mean
  embedding of its supports; logits are negative squared distances to the prototypes.
- ``maml``: MAML (Finn et al., 2017) over the encoder and a linear head, with the inner loop in
  ``torch.func`` (``grad`` of a ``functional_call``, ``vmap``-ped over the batch of episodes):
  second order by default, first order with ``model.maml_first_order``. Batch norm normalises
  with the statistics of the images it is given, at test time too, as in Finn et al.'s reference
  code: the support set during adaptation, the query set when labelling it (transductive over
  an episode's queries; running statistics of an initialisation that each episode moves away
  from fit neither).
- ``finetune``: a pretrained encoder, frozen, and a new linear head fitted on each episode's
  support set by a few steps of gradient descent (the "baseline" of Chen et al., 2019). The
  encoder is pretrained with any method (``train.init_from`` of a protonet run, say) or trained
  here through the fitted head, which is the same as a protonet-like episodic loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from .config import ModelConfig
from .errors import ConfigError
from .models.encoder import ConvEncoder


def episode_targets(support_labels: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
    """Label tokens [B, S] -> class positions 0..N-1 in the episode's label_ids [B, N]."""
    return (support_labels[:, :, None] == label_ids[:, None, :]).float().argmax(-1)


class _EmbeddingBaseline(nn.Module):
    """The shared part of the metric and fine-tuning baselines: the encoder, applied to every
    image of a batch of episodes."""

    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = ConvEncoder(in_channels, cfg.encoder_channels, cfg.encoder_blocks, image_size)

    def embed(self, support, query) -> torch.Tensor:
        """[B, S, ...] and [B, Q, ...] images -> features [B, S + Q, D]."""
        b, s, q = support.shape[0], support.shape[1], query.shape[1]
        return self.encoder(torch.cat([support, query], 1).flatten(0, 1)).view(b, s + q, -1)


def prototype_logits(z: torch.Tensor, support_labels: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
    """Features [B, S + Q, D] of an episode's supports then queries -> the queries' logits
    [B, Q, N]: negative squared distances to the N class means of the supports."""
    s, n = support_labels.shape[1], label_ids.shape[1]
    onehot = F.one_hot(episode_targets(support_labels, label_ids), n).to(z.dtype)  # [B, S, N]
    prototypes = onehot.transpose(1, 2) @ z[:, :s] / onehot.sum(1)[:, :, None]  # [B, N, D]
    return -torch.cdist(z[:, s:], prototypes) ** 2


class ProtoNet(_EmbeddingBaseline):
    def forward(self, support, support_labels, query, label_ids):
        return prototype_logits(self.embed(support, query), support_labels, label_ids)


class _MamlNet(nn.Module):
    """Encoder and a linear head with one output per label token; MAML adapts all of it."""

    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        super().__init__()
        self.encoder = ConvEncoder(in_channels, cfg.encoder_channels, cfg.encoder_blocks, image_size,
                                   running_stats=False, channels_last=False)
        self.head = nn.Linear(self.encoder.out_dim, cfg.max_ways)
        nn.init.zeros_(self.head.weight)  # every token starts equal: labels are assigned per episode
        nn.init.zeros_(self.head.bias)

    def forward(self, images, label_ids):
        """images [n, C, H, W], the episode's label tokens [N] -> logits [n, N]."""
        return self.head(self.encoder(images)).index_select(1, label_ids)


class Maml(nn.Module):
    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int):
        super().__init__()
        self.cfg = cfg
        self.net = _MamlNet(cfg, in_channels, image_size)

    def forward(self, support, support_labels, query, label_ids):
        params = dict(self.net.named_parameters())
        adapt = vmap(self._adapt_and_predict, in_dims=(None, 0, 0, 0, 0), randomness="different")
        return adapt(params, support, episode_targets(support_labels, label_ids), query, label_ids)

    def _adapt_and_predict(self, params, support, target, query, label_ids):
        """One episode: a few gradient steps on its support set from the meta-learned
        initialisation; then the adapted parameters label the queries."""
        cfg, net = self.cfg, self.net

        def support_loss(p):
            return F.cross_entropy(functional_call(net, p, (support, label_ids)), target)

        steps = cfg.maml_inner_steps if self.training or not cfg.maml_eval_steps else cfg.maml_eval_steps
        first_order = cfg.maml_first_order or not self.training
        for _ in range(steps):
            # torch.func.grad composes with autograd: second order differentiates through it
            g = grad(support_loss)({k: v.detach() for k, v in params.items()} if first_order else params)
            params = {k: v - cfg.maml_inner_lr * g[k] for k, v in params.items()}
        return functional_call(net, params, (query, label_ids))


class FineTune(_EmbeddingBaseline):
    def forward(self, support, support_labels, query, label_ids):
        (b, s), n = support_labels.shape, label_ids.shape[1]
        z = F.normalize(self.embed(support, query), dim=-1)  # cosine features: one learning rate fits every encoder
        target = episode_targets(support_labels, label_ids)
        zs = z[:, :s].detach() if not self.training else z[:, :s]
        w = torch.zeros(b, n, z.shape[-1], device=z.device, dtype=z.dtype, requires_grad=True)
        bias = torch.zeros(b, n, device=z.device, dtype=z.dtype, requires_grad=True)
        with torch.enable_grad():
            for _ in range(self.cfg.finetune_steps):
                logits = self.cfg.finetune_scale * (zs @ w.transpose(1, 2)) + bias[:, None]
                step = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum") / b
                gw, gb = torch.autograd.grad(step, (w, bias), create_graph=self.training)
                w, bias = w - self.cfg.finetune_lr * gw, bias - self.cfg.finetune_lr * gb
        return self.cfg.finetune_scale * (z[:, s:] @ w.transpose(1, 2)) + bias[:, None]


BASELINES = {"protonet": ProtoNet, "maml": Maml, "finetune": FineTune}


def encoder_probe(model: nn.Module, cfg: ModelConfig, image_shape: tuple[int, int, int]) -> ProtoNet:
    """A Prototypical Network on ``model``'s own image encoder (shared, not copied): how well its
    features alone label an episode, whatever reads them in the model."""
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        raise ConfigError(f"eval.encoder_probe: a {type(model).__name__} has no image encoder of its own")
    probe = ProtoNet(cfg, image_shape[0], image_shape[1])
    probe.encoder = encoder
    return probe.train(model.training)
