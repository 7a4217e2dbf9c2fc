"""The Quant model with every attention layer compiled to a Loihi 2 network
(``neuro.attention_compiler``), run on hebbformer's emulator or in lava-nc."""

from __future__ import annotations

from ..errors import ConfigError
from ..neuro.attention_compiler import NetworkMemory, run_emulated
from ..quant.integer import IntegerNumerics
from . import Executed


def emulated(model):
    return Executed(model, IntegerNumerics.from_model(model), NetworkMemory(run_emulated, heads_apart=True))


def board(model):
    """Writes on every step: the trace decay's random draws change some writes by 1, as a board's
    would, whose random numbers the host cannot know (the other rows schedule around them)."""
    return Executed(model, IntegerNumerics.from_model(model), NetworkMemory(run_emulated, avoid_decay=False, heads_apart=True))


def lava(model):
    from ..neuro.loihi.lava_sim import lava_available
    if not lava_available():
        raise ConfigError("backend 'lava' needs lava-nc, which is not importable here (scripts/setup.sh installs it; "
                          "docs/loihi.md)")
    from ..neuro.loihi.lava_attention import run_lava
    return Executed(model, IntegerNumerics.from_model(model), NetworkMemory(run_lava, lanes=1))
