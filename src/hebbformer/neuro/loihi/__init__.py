"""Loihi 2 as lava-nc 0.10.0 simulates it: learning-rule grammar (``rule_grammar``), parity scenarios
(``scenario``), the vectorised emulator (``emulator``), lava's own run (``lava_sim``) and the
comparison of the two (``parity``)."""

from .emulator import simulate
from .rule_grammar import parse_rule
from .scenario import Scenario

__all__ = ["Scenario", "parse_rule", "simulate"]
