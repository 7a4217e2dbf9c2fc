"""The model families and how a config picks one: the in-context learner (Float), its Quant
variant, and the comparison methods (``baselines``). Above all three, so that none imports
another to be built."""

from __future__ import annotations

from torch import nn

from .baselines import BASELINES
from .config import ModelConfig
from .models.transformer import InContextLearner
from .quant.model import QuantLearner


def build_model(cfg: ModelConfig, image_shape: tuple[int, int, int]) -> nn.Module:
    channels, height, _ = image_shape
    if cfg.method != "icl":  # the comparison methods, same encoder and episodes
        return BASELINES[cfg.method](cfg, channels, height)
    if cfg.quant:  # the fixed-point variant of this same model
        return QuantLearner(cfg, channels, height)
    return InContextLearner(cfg, channels, height)
