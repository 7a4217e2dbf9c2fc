"""A cache of decoded, resized image sets, so that a second run does not decode 32,000 PNGs again.

An entry is one ``.npz`` file (numpy arrays only, read with ``allow_pickle=False``: loading it runs
no code) named by a key over everything the decoded arrays depend on: the source's resolved path,
the name, size and modification time of every file in it, the image size, this format's
version, the Pillow and numpy versions and a digest of the decoding code. A changed source therefore misses the cache and is decoded anew. Each entry also stores
the sha256 of its own arrays; an entry that does not open or does not match is reported, deleted
(it is the cache's own file) and rebuilt, never used. Entries are written to a temporary file and
renamed into place, so a killed run leaves either no entry or a whole one.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_with

ENV_VAR = "HEBBFORMER_CACHE"
VERSION = 1  # bump when the decoding changes what an entry holds


def cache_dir(configured: str = "") -> Path:
    """``data.cache_dir``, else ``$HEBBFORMER_CACHE``, else ``$XDG_CACHE_HOME/hebbformer``, else
    ``~/.cache/hebbformer``."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hebbformer"


def source_key(source: Path, *params, decoder=()) -> str:
    """A digest of the source's files (names, sizes, modification times), ``params`` and the
    ``decoder`` functions that turn the files into arrays."""
    source = source.resolve()
    if source.is_dir():
        listing = sorted((p.relative_to(source).as_posix(), st.st_size, st.st_mtime_ns)
                         for p in source.rglob("*") if p.is_file() for st in [p.stat()])
    else:
        st = source.stat()
        listing = [(source.name, st.st_size, st.st_mtime_ns)]
    text = json.dumps([VERSION, str(source), listing, list(params), *decoder_versions(decoder)])
    return hashlib.sha256(text.encode()).hexdigest()


def decoder_versions(decoder) -> list[str]:
    """What else the decoded arrays depend on: the image and array libraries (a new Pillow may
    resize differently) and the decoding code itself."""
    import inspect

    import PIL

    code = "".join(inspect.getsource(f) for f in decoder)
    return [PIL.__version__, np.__version__, hashlib.sha256(code.encode()).hexdigest()[:16]]


def path_tag(source: Path) -> str:
    """A short tag of the source's resolved path, so that two sources of one name do not share a label."""
    return hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cached_arrays(directory: Path | None, label: str, key: str,
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays ``build()`` returns, from the cache entry ``label-key`` when it is there and
    sound; else built, then stored (when ``directory`` is writable; None: no cache). ``label``
    names one source: its entries for other keys are stale and are removed."""
    if directory is None:
        return build()
    path = directory / f"{label}-{key[:20]}.npz"
    if path.is_file():
        arrays = _read(path)
        if arrays is not None:
            return arrays
        warnings.warn(f"cache entry {path} is corrupt; it is deleted and rebuilt", stacklevel=2)
        try:
            path.unlink(missing_ok=True)
        except OSError:  # a read-only cache: rebuild in memory all the same
            pass
    arrays = build()
    try:
        _write(path, arrays)
        for stale in directory.glob(f"{label}-*.npz"):  # entries of this source before it changed
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as err:  # a read-only or full disk costs speed, not the run
        warnings.warn(f"could not write the cache entry {path} ({err}); set data.cache_dir or "
                      f"${ENV_VAR} to a writable folder, or data.cache=false", stacklevel=2)
    return arrays


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        stored = str(arrays.pop("__sha256__"))
    except Exception:  # a torn or foreign file: zipfile, numpy and KeyError all show up here
        return None
    return arrays if stored == _digest(arrays) else None


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_with(path, lambda f: np.savez(f, __sha256__=np.array(_digest(arrays)), **arrays))
