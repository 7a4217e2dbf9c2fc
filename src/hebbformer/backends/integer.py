"""The Quant model on integers: its integer numerics with the synaptic slots on int64 mantissas."""

from __future__ import annotations

from ..quant.integer import IntegerNumerics
from . import Executed
from .synaptic import synaptic_memory


def slots(model):
    return Executed(model, IntegerNumerics.from_model(model), synaptic_memory)
