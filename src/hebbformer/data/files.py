"""Finding, downloading and checking official data files.

Every loader goes through :func:`locate`: a file under the data root (an explicit path, else
``$HEBBFORMER_DATA``, else ``./data``) is always used as it is; only a missing one is downloaded,
and only when asked. Downloads land in a temporary file that is renamed into place after its
checksum matches, so an interrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

ENV_VAR = "HEBBFORMER_DATA"


@dataclass(frozen=True)
class OfficialFile:
    url: str
    algorithm: str  # hashlib name
    digest: str


def data_root(root: str | os.PathLike | None) -> Path:
    if root:
        return Path(root).expanduser()
    return Path(os.environ.get(ENV_VAR) or "data").expanduser()


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, official: OfficialFile | None) -> None:
    """A file whose checksum is known must match it; the error names the file."""
    if official is None:
        return
    got = file_digest(path, official.algorithm)
    if got != official.digest:
        raise DataError(
            f"{path} is corrupt or not the official file: its {official.algorithm} is {got}, "
            f"expected {official.digest}. Delete it and download it again from {official.url}")


def download(official: OfficialFile, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(official.url, timeout=60) as r, open(tmp, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DataError(f"could not download {official.url} to {dest}: {err}. "
                        f"Download it by hand and put it at {dest}") from None
    try:
        verify(tmp, official)
    except DataError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest


def locate(root: Path, name: str, official: OfficialFile | None, allow_download: bool,
           what: str) -> Path:
    """``root/name`` as a folder, else ``root/name.zip`` (or the exact file ``root/name``),
    verified; downloaded when missing and allowed; else a clear error saying where we looked."""
    folder, archive = root / name, root / (name if "." in name else name + ".zip")
    if folder.is_dir():
        return folder
    if archive.is_file():
        verify(archive, official)
        return archive
    if allow_download and official is not None:
        return download(official, archive)
    hint = f" or pass data.download=true to fetch it from {official.url}" if official else ""
    raise DataError(
        f"{what} not found: looked for the folder {folder} and the file {archive}. "
        f"Point data.root (or ${ENV_VAR}) at the folder that holds it{hint}.")
