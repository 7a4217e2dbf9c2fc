"""One writer per run folder: an advisory lock that the operating system releases when its holder
exits, however it exits (a kill included), so a stale lock never blocks a resume."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from .errors import RunInUseError

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self.file = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise RunInUseError(f"{self.path.parent} is in use by {holder}; wait for it to finish, or "
                                "choose another --out") from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                                    "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        self.file.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
