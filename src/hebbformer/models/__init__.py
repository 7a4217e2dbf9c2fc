"""Models: the image encoder, attention's weights, the in-context learner and its one forward
(``forward``). Which family a config builds: ``hebbformer.families.build_model``."""

from .transformer import InContextLearner

__all__ = ["InContextLearner"]
