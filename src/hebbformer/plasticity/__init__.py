"""Plasticity: local learning rules and attention in its synaptic (plastic) form."""

from .rules import (
                    KEY_WRITE,
                    LOIHI,
                    NORMALISER_WRITE,
                    OUTER_PRODUCT_WRITE,
                    QUANT_KEY_WRITE,
                    QUANT_VALUE_WRITE,
                    VALUE_WRITE,
                    HebbianRule,
                    Precision,
)
from .synaptic import OuterProductSynapses, SlotSynapses, forward_token_by_token, synapses_for

__all__ = ["HebbianRule", "Precision", "LOIHI", "QUANT_KEY_WRITE", "QUANT_VALUE_WRITE", "KEY_WRITE", "VALUE_WRITE", "OUTER_PRODUCT_WRITE", "NORMALISER_WRITE",
           "SlotSynapses", "OuterProductSynapses", "synapses_for", "forward_token_by_token"]
