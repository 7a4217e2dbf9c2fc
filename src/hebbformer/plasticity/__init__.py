"""Plasticity: the local learning rules every back-end executes (``rules``) and the fast-weight
modules of the plasticity study (``fast_weights``). Attention's synaptic form, the memory that
executes the rules token by token: ``hebbformer.backends.synaptic``."""

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

__all__ = ["HebbianRule", "Precision", "LOIHI", "QUANT_KEY_WRITE", "QUANT_VALUE_WRITE", "KEY_WRITE", "VALUE_WRITE",
           "OUTER_PRODUCT_WRITE", "NORMALISER_WRITE"]
