"""Models: the image encoder, attention kinds and the in-context learner."""

from .transformer import InContextLearner, build_model

__all__ = ["InContextLearner", "build_model"]
