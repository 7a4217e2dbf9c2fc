"""Plasticity: local learning rules and attention in its synaptic (plastic) form."""

from .rules import KEY_WRITE, VALUE_WRITE, HebbianRule
from .synaptic import SlotSynapses, forward_token_by_token

__all__ = ["HebbianRule", "KEY_WRITE", "VALUE_WRITE", "SlotSynapses", "forward_token_by_token"]
