"""Trained models shipped in the repository (``models/``), so that a table row is re-checked in
minutes: ``hebbformer eval vinyals-icl`` takes a shipped model by name, as it takes a run folder.

A shipped model is a checkpoint without its optimiser: the weights, the full config, and how it was
made (the command, the commit, the machine, the training time). Float models keep their floating
weights in half precision (half the size; the accuracy quoted is that of the half-precision file
itself). Quant models keep their integer form instead (``QuantLearner.integer_form``): the 8-bit
weight mantissas, bias mantissas and exponents that every back-end runs, with batch norm and the
scales already folded in, a quarter of the float32 size; half-precision float weights would not
do, since rounding them moves some mantissas across a rounding boundary.

``models/MANIFEST.json`` lists every shipped file with its sha256 and size and the accuracy it must
give on a fixed small episode set per back-end (``check``), which ``tests/test_shipped.py``
re-measures: exactly for the integer, Loihi and Lava back-ends, within what float differences
between CPUs allow for the others. A file that is missing or altered is an error that says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from . import checkpoint
from .atomic import write_text
from .errors import CheckpointError

ENV_VAR = "HEBBFORMER_MODELS"
MANIFEST = "MANIFEST.json"


def models_dir() -> Path:
    """``$HEBBFORMER_MODELS``, else the repository's ``models/`` beside ``src/``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path(__file__).resolve().parents[2] / "models"


def manifest(folder: Path | None = None) -> dict:
    path = (folder or models_dir()) / MANIFEST
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is unreadable ({err}); restore it with git checkout") from None
    if not isinstance(entries, dict):
        raise CheckpointError(f"{path} is not a manifest of shipped models")
    bad = [name for name, entry in entries.items()
           if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("file", "sha256"))
                   and isinstance(entry.get("bytes"), int))]
    if bad:
        raise CheckpointError(f"{path}: the entries {', '.join(map(repr, bad))} lack their file, sha256 or bytes; "
                              "restore it with git checkout")
    return entries


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_shipped_name(ref: str) -> bool:
    return not Path(ref).exists() and ref in manifest()


def resolve(ref: str | os.PathLike) -> Path:
    """A run folder, a checkpoint file, or the name of a shipped model: the checkpoint file. A
    shipped model's file must be there and unaltered (its sha256 is in the manifest)."""
    p = Path(ref)
    if p.exists():
        return checkpoint.resolve(p)
    entries = manifest()
    if str(ref) not in entries:
        names = ", ".join(sorted(entries)) or "none"
        raise CheckpointError(f"run or checkpoint {str(ref)!r} does not exist, and is not the name of a shipped model either "
                              f"(shipped: {names})")
    entry = entries[str(ref)]
    path = models_dir() / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"shipped model {ref!r}: its file {path} is missing; restore it with "
                              f"git checkout -- {path}")
    got = sha256(path)
    if got != entry["sha256"]:
        raise CheckpointError(f"shipped model {ref!r}: {path} is altered (sha256 {got[:12]}..., the manifest "
                              f"says {entry['sha256'][:12]}...); restore it with git checkout -- {path}")
    return path


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def pack(run: str | os.PathLike, name: str, description: str, command: str, folder: Path | None = None,
         extra: dict | None = None, check=None, partial: bool = False, saw_evaluation: bool | None = None) -> dict:
    """Write run's model as ``folder/name.pt`` and enter it in the manifest; returns the entry.
    ``check(path)``: counts measured on the packed file before it replaces anything (see
    experiments.shipped_check); a run that has not finished its steps is refused unless ``partial``.
    ``saw_evaluation``: whether its lineage saw images_evaluation (train.saw_evaluation_alphabets),
    kept in the file so that all_runs is refused for it."""
    if not NAME.fullmatch(name):
        raise CheckpointError(f"shipped model name {name!r}: use letters, digits, '.', '_' and '-' only")
    folder = folder or models_dir()
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"the models folder {folder} is a file, not a folder")
    path = folder / f"{name}.pt"
    listed = manifest(folder).get(name)  # read first: a bad manifest stops the command before it writes anything
    if path.exists() and (listed or {}).get("file") != path.name:
        raise CheckpointError(f"{path} exists and is not the manifest's file of {name!r}: pack replaces only what it "
                              "shipped; move that file or choose another name")
    state = checkpoint.load(run)
    cfg = state["config"]
    if state["step"] < cfg["train"]["steps"] and not partial:
        raise CheckpointError(f"{run} has trained {state['step']} of its {cfg['train']['steps']} steps; "
                              "finish it (or pass --partial)")
    if cfg["model"]["quant"]:
        form, weights = integer_form(state)
        held, kind = {checkpoint.INTEGER_FORM: form}, "int8"
    else:
        weights = {k: (v.half() if v.is_floating_point() else v) for k, v in state["model"].items()}
        held, kind = {}, "float16"
    shipped = {"model": weights, **held, "step": state["step"], "config": cfg,
               "saw_evaluation_alphabets": saw_evaluation,
               "shipped": {"name": name, "description": description, "command": command, **(extra or {})}}
    created = not folder.exists()
    staged = folder / f".{name}.pt.staged"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint.save_atomic(shipped, staged)
        counts = check(staged) if check else None
    except BaseException as err:
        if folder.is_dir():  # (not made: nothing was written)
            staged.unlink(missing_ok=True)
            if created and not any(folder.iterdir()):  # a folder this call made, for nothing: not left behind
                folder.rmdir()
        if isinstance(err, OSError):
            raise CheckpointError(f"cannot write the shipped model into {folder}: {err.strerror or err}") from None
        raise
    os.replace(staged, path)
    entry = {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
             "description": description, "command": command,
             "weights": kind, **(extra or {})}
    if counts is not None:
        entry["check"] = counts
    update_manifest(name, entry, folder, replace=True)
    return entry


def integer_form(state: dict) -> tuple[dict, dict]:
    """A Quant checkpoint's integer form and the float tensors it keeps (see QuantLearner)."""
    if checkpoint.INTEGER_FORM in state:
        return state[checkpoint.INTEGER_FORM], state["model"]
    from .config import Config
    from .families import build_model

    cfg = Config.from_dict(state["config"])
    side = cfg.data.image_size
    model = build_model(cfg.model, (state["model"]["encoder.net.0.weight"].shape[1], side, side))
    checkpoint.load_into(model, state, "the run")
    return model.eval().integer_form()


def update_manifest(name: str, entry: dict, folder: Path | None = None, replace: bool = False) -> None:
    """Add to (or, with ``replace``, replace) the manifest's entry for ``name``."""
    folder = folder or models_dir()
    entries = manifest(folder)
    entries[name] = entry if replace else {**entries.get(name, {}), **entry}
    write_text(folder / MANIFEST, json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def total_bytes(folder: Path | None = None) -> int:
    return sum(e["bytes"] for e in manifest(folder).values())
