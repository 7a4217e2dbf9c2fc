"""Experiments that span many runs: the fast-weight study."""
