"""What machine a figure was measured on, and what its hardware computes natively.

Machines differ more than one would guess: on an AVX512-BF16 CPU bf16 autocast makes the training
step faster; on an AVX2 CPU without native bf16 it was measured 2x slower than fp32. So the
precision is chosen from the hardware (:func:`resolve_precision`), and every measured figure is
stored with :func:`describe` of the machine that made it.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

from .errors import ConfigError


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(device: str) -> tuple[bool, str]:
    """Whether ``device`` computes bfloat16 natively, and why (or why not)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return ok, "CUDA GPU with bf16" if ok else "CUDA GPU without native bf16"
    if dev.type == "cpu":
        # torch's own probes (private: absent from some releases, where the answer is "no")
        probe = lambda name: bool(getattr(torch.cpu, name, lambda: False)())  # noqa: E731
        if probe("_is_amx_tile_supported"):
            return True, "CPU with AMX"
        if probe("_is_avx512_bf16_supported"):
            return True, "CPU with AVX512-BF16"
        return False, f"this CPU ({torch.backends.cpu.get_cpu_capability()}) has neither AVX512-BF16 nor AMX"
    return False, f"no bf16 rule for device type {dev.type!r}"


_warned: set[str] = set()


def resolve_precision(precision: str, device: str) -> str:
    """``train.precision`` as it will run: "auto" becomes bf16 where native, else fp32; a forced
    bf16 on hardware without it runs, with one warning naming the reason."""
    native, why = native_bf16(device)
    if precision == "auto":
        return "bf16" if native else "fp32"
    if precision == "bf16" and not native and why not in _warned:
        _warned.add(why)
        warnings.warn(f"train.precision=bf16 on {device}: {why}, so bf16 is emulated and likely slower "
                      "than fp32 (train.precision=auto chooses for you)", stacklevel=2)
    return precision


MALLOC_ENV = "HEBBFORMER_MALLOC"  # "default" leaves glibc's settings (a benchmark's before), "keep" or unset keeps
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_freed_memory_kept = False


def keep_freed_memory() -> bool:
    """Have glibc keep the memory torch frees for the next allocations, rather than give it back
    to the kernel; True where that is now in effect. By default glibc serves every block above a
    few MiB with fresh pages of its own and unmaps it when freed, so each training step faults in
    its activations and gradients again, every page zeroed by the kernel: on a 2-core AMD EPYC VM
    (AVX2) the training step took 1.3-1.8x as long (docs/results/speed.md). Here the main arena
    serves blocks up to 2 GiB from its heap, and keeps the freed ones. The cost is memory: the
    heap keeps what it once held until the process exits, and may peak higher (the demo there: 1.7
    and 2.9 GB in two runs, against 1.6). ``$HEBBFORMER_MALLOC=default`` leaves glibc's settings
    (and a user's own ``MALLOC_*_`` variables); off glibc (macOS, musl, Windows) nothing changes,
    and a glibc that refuses the threshold (older releases cap it at 32 MiB) is warned of once."""
    global _freed_memory_kept
    chosen = os.environ.get(MALLOC_ENV, "")
    if chosen not in ("", "keep", "default"):
        raise ConfigError(f"${MALLOC_ENV} must be 'keep' or 'default' (or unset: keep), got {chosen!r}")
    if _freed_memory_kept or chosen == "default" or MALLOC_ENV in _warned or not _glibc():
        return _freed_memory_kept
    import ctypes

    mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _freed_memory_kept = bool(mallopt(_M_MMAP_THRESHOLD, 2 ** 31 - 1) and mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))
    if not _freed_memory_kept:
        _warned.add(MALLOC_ENV)
        warnings.warn("glibc refused to keep freed memory (mallopt); training runs with glibc's settings, "
                      "which were measured up to 1.8x slower on one machine", stacklevel=2)
    return _freed_memory_kept


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))  # glibc's own answer; absent elsewhere
    except (AttributeError, ValueError, OSError):
        return False


def describe(device: str = "cpu") -> dict:
    """The machine as a figure's caption needs it."""
    info = {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16("cpu")[0],
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),  # a plain str: TorchVersion would not load weights_only
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "freed_memory_kept": _freed_memory_kept,  # keep_freed_memory: it changes how fast a step runs
    }
    if torch.device(device).type == "cuda":
        info["device"] = device
    return info


def describe_line(info: dict | None = None) -> str:
    i = info or describe()
    gpu = f", GPU {i['gpu']}" if i.get("gpu") else ", no GPU"
    kept = "; freed memory kept" if i.get("freed_memory_kept") else ""
    return (f"{i['cpu']} ({i['cpu_capability']}, native bf16 {'yes' if i['native_bf16'] else 'no'}), "
            f"{i['threads']} threads of {i['cores']} cores{gpu}; torch {i['torch']}{kept}")


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout this package runs from (None outside a git checkout); "+dirty"
    when the tracked files differ from it. Read once, at the first call: a process runs the code
    it started with, whatever is committed while it runs (a long job calls it as it starts)."""
    here = Path(__file__).resolve().parent
    git = {"cwd": here, "capture_output": True, "text": True, "check": True, "timeout": 10,
           "env": {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}}  # status must not take the index's lock from a commit
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **git).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def provenance(device: str = "cpu") -> dict:
    """How a figure was made: the command line, the commit, the date and the machine."""
    prog = "hebbformer" if Path(sys.argv[0]).name in ("hebbformer", "cli", "__main__.py") else f"python {sys.argv[0]}"
    return {"command": " ".join([prog, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
            "commit": git_commit(), "date": time.strftime("%Y-%m-%d"), "machine": describe(device)}


def save_figures(out: Path, name: str, figures: dict) -> Path:
    """A benchmark's figures with the machine and commit that measured them, as ``out/name.json``."""
    import json

    from .atomic import write_text

    return write_text(out / f"{name}.json", json.dumps({"figures": figures, **provenance()}, indent=2))
