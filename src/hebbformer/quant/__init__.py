"""The Quant variant: the in-context learner in fixed point (``model.QuantLearner``, trained with
quantisation in the loop) and its integer-only inference path (``integer.IntegerLearner``)."""

from .integer import IntegerForward, IntegerLearner
from .model import QuantLearner

__all__ = ["IntegerForward", "IntegerLearner", "QuantLearner"]
