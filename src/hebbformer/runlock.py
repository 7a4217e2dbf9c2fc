"""One writer per run folder, or per run of a study: an advisory lock that the operating system
releases when its holder exits, however it exits (a kill included), so a stale lock never blocks
a resume."""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path

from .errors import ConfigError, RunInUseError

try:
    import fcntl
except ImportError:  # not a POSIX system: no lock (said once, when a run starts)
    fcntl = None

LOCK_NAME = ".lock"


class RunLock:
    """``folder/name`` locked while in the ``with`` block: at once, or ``RunInUseError`` naming the
    holder; with ``wait``, once the holder lets go."""

    def __init__(self, folder: Path, name: str = LOCK_NAME, wait: bool = False):
        self.path = Path(folder) / name
        self.wait = wait
        self.file = None

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as err:  # a file where the folder should be, a folder one may not write to
            raise ConfigError(f"cannot make the lock file {self.path} ({err.strerror or err}): "
                              f"{self.path.parent} must be a folder this user can write to") from None
        if fcntl is None:
            warnings.warn("no file locks on this system: nothing stops a second training into this folder")
            return self
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except OSError as err:
            if not isinstance(err, BlockingIOError):  # e.g. a network file system without locks
                warnings.warn(f"cannot lock {self.path} ({err.strerror}); nothing stops a second training into it")
                return self
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise RunInUseError(f"{self.path.parent} is in use by {holder}; wait for it to finish, or "
                                "choose another --out") from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(json.dumps({"pid": os.getpid(), "host": platform.node(),
                                    "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        self.file.flush()
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()  # closing releases the lock
