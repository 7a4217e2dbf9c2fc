"""Checkpoints: weights plus the full config, written atomically so that a kill never leaves a
half-written file where the last good one was."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .atomic import write_with
from .errors import CheckpointError

FORMAT = "hebbformer-checkpoint-v1"
INTEGER_FORM = "integer_form"  # a shipped Quant model's layers as mantissas and exponents
PARTS = {"model": dict, "config": dict, "step": int}  # what every checkpoint holds: its weights, config, steps


def save_atomic(state: dict, path: str | os.PathLike) -> None:
    write_with(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def resolve(path: str | os.PathLike) -> Path:
    """A run folder means its checkpoint.pt."""
    p = Path(path)
    return p / "checkpoint.pt" if p.is_dir() else p


def load(path: str | os.PathLike) -> dict:
    p = resolve(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch's message would advise loading with weights_only=False, which can run code: never do
        raise CheckpointError(f"checkpoint {p} is unreadable, truncated, or holds more than tensors and plain "
                              f"data ({type(err).__name__}); hebbformer loads weights only") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not a hebbformer checkpoint")
    malformed = [key for key, kind in PARTS.items()
                 if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool)]
    if "model" not in malformed and not all(isinstance(v, torch.Tensor) for v in state["model"].values()):
        malformed.append("model")
    if malformed:  # edited by hand, or written by something else: named here, not as a KeyError deep inside
        raise CheckpointError(f"{p} is a hebbformer checkpoint whose {', '.join(malformed)} "
                              f"{'is' if len(malformed) == 1 else 'are'} missing or malformed")
    return state


def load_into(model: torch.nn.Module, state: dict, where) -> None:
    """Load a checkpoint's weights into ``model``; a checkpoint whose weights do not fit the model
    its own config describes (edited, or from another version) is an error that names it. A Quant
    model shipped in its integer form (``INTEGER_FORM``) loads as such."""
    form = state.get(INTEGER_FORM)
    if form is not None and not hasattr(model, "load_integer_form"):
        raise CheckpointError(f"{where}: it holds a Quant model's integer mantissas, but its config is not a Quant model")
    try:
        if form is None:
            model.load_state_dict(state["model"])
        else:
            model.load_integer_form(form, state["model"])
    except (RuntimeError, ValueError) as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise CheckpointError(f"{where}: its weights do not fit the model its config describes ({first})") from None


def float_weights(state: dict, source: str, setting: str) -> dict:
    """A checkpoint's float weights, to train from; a Quant model in its integer form has none."""
    if INTEGER_FORM in state:
        raise CheckpointError(f"{setting}={source} holds a Quant model's integer mantissas only (a shipped Quant "
                              "model), not the float weights training starts from; start from the run that "
                              "trained it (its command is in models/MANIFEST.json)")
    return state["model"]
