"""The model's own numerics (float, or the Quant model's fake quantisation in float64) with the
parallel memory (what training runs) or the synaptic one, token by token."""

from __future__ import annotations

import torch

from ..models.forward import FloatNumerics
from ..quant.numerics import FakeQuant
from . import Executed
from .synaptic import synaptic_memory


def own_numerics(model):
    return FakeQuant(model, torch.float64) if hasattr(model, "exponents") else FloatNumerics(model)


def parallel(model):
    """The model itself: its forward is this back-end (and a baseline's forward is its own)."""
    return model


def synaptic(model):
    return Executed(model, own_numerics(model), synaptic_memory)
