"""Back-ends: a trained model run by name (``hebbformer.registry``), as the one forward
(``models.forward``) with a numerics and a memory plugged in::

    backend    numerics                        memory
    torch      the model's own (Float / fake)  parallel masked attention
    synaptic   the model's own                 slots / outer products, token by token (torch)
    integer    integer (Quant)                 the same slots on integer mantissas (numpy)
    loihi      integer (Quant)                 Loihi 2 networks on the emulator
    board      integer (Quant)                 the same, writing on every step
    lava       integer (Quant)                 Loihi 2 networks in lava-nc

``run(model, name)`` returns a module with the model's forward signature, so that evaluation,
the variants table and ``predict`` measure every back-end with the same code.
"""

from __future__ import annotations

import importlib

import torch

from ..errors import ConfigError
from ..models.forward import forward
from ..models.transformer import InContextLearner
from ..registry import BACKENDS


class Executed(torch.nn.Module):
    """A model run by a numerics and a memory: forward(support, support_labels, query, label_ids)
    -> logits, inference only. Integer numerics run on numpy; their logits come back as float64
    (mantissa times 2**exponent, exact)."""

    def __init__(self, model, numerics, memory):
        super().__init__()
        self.model, self.cfg = model, model.cfg
        self.numerics, self.memory = numerics, memory

    @torch.no_grad()
    def forward(self, support, support_labels, query, label_ids):
        if getattr(self.numerics, "on_numpy", False):
            arrays = [t.cpu().numpy() for t in (support, support_labels, query, label_ids)]
            logits = forward(self.numerics, self.memory, *arrays)
            return torch.from_numpy(logits).double() * 2.0 ** self.numerics.logit_exp
        return forward(self.numerics, self.memory, support, support_labels, query, label_ids)


def run(model, name: str):
    """``model`` (eval mode) executed by the back-end ``name``."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    entry = BACKENDS[name]
    if name != "torch" and not isinstance(model, InContextLearner):
        raise ConfigError(f"backend {name!r} runs the in-context learner; a {type(model).__name__} runs on 'torch' only")
    if entry.quant_only and not hasattr(model, "exponents"):
        raise ConfigError(f"backend {name!r} runs a Quant model (model.quant=true); this model is Float")
    module, function = entry.build.split(":")
    return getattr(importlib.import_module(module), function)(model.eval())
