"""What several commands share: checked output places, a run loaded with overrides, the
back-ends' help line."""

from __future__ import annotations

import os
from pathlib import Path

from .. import checkpoint, shipped
from ..config import Config
from ..errors import ConfigError
from ..registry import BACKENDS

BACKEND_HELP = "; ".join(f"{name}: {entry.summary}" for name, entry in BACKENDS.items())


def writable_folder(path: str | Path, what: str = "--out", create: bool = True) -> Path:
    """A folder this command may write into, checked before any work: created if missing (or,
    with create=False, left for the command to make once its input is checked, its nearest
    existing parent checked instead); an existing file or an unwritable place is an error naming it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is a file, not a folder")
    if not create and not folder.exists():
        parent = next(p for p in folder.absolute().parents if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{what} {folder} cannot be created: {parent} is not a writable folder")
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what} {folder} cannot be created: {err.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {folder} is not writable")
    return folder


def writable_file(path: str | Path, what: str = "--out") -> Path:
    """A file this command may write, checked before any work (its folder, if missing, is made by
    the write: a command that fails on its input leaves none)."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{what} {file} is a folder, not a file")
    writable_folder(file.parent if str(file.parent) else ".", f"the folder of {what}", create=False)
    if file.exists() and not os.access(file, os.W_OK):
        raise ConfigError(f"{what} {file} is not writable")
    return file


def fresh_folder(out: Path) -> Path:
    """``out`` when it is new or empty, else its first free sibling ``out-2``, ``out-3``, ...: a
    command that writes a new run never deletes or mixes with what is there."""
    candidate, n = out, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = out.with_name(f"{out.name}-{n}")
    return candidate


def load_run(run: str, overrides: list[str]) -> tuple[Config, dict]:
    """A run folder, checkpoint file or shipped model's name -> (its config with overrides, its state)."""
    state = checkpoint.load(shipped.resolve(run))
    cfg = Config.from_dict(state["config"])
    cfg.override(overrides)
    cfg.validate()
    return cfg, state
