"""Plasticity: local learning rules and attention in its synaptic (plastic) form."""

from .rules import KEY_WRITE, NORMALISER_WRITE, OUTER_PRODUCT_WRITE, VALUE_WRITE, HebbianRule
from .synaptic import OuterProductSynapses, SlotSynapses, forward_token_by_token, synapses_for

__all__ = ["HebbianRule", "KEY_WRITE", "VALUE_WRITE", "OUTER_PRODUCT_WRITE", "NORMALISER_WRITE",
           "SlotSynapses", "OuterProductSynapses", "synapses_for", "forward_token_by_token"]
