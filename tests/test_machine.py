"""The process settings in hebbformer.machine: glibc keeping freed memory for training's steps."""

import os
import platform
import subprocess
import sys

import pytest

from hebbformer.cli import main

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

# A fresh process each: mallopt changes the process for good. It allocates a 64 MiB block (above
# the largest mmap threshold glibc sets for itself), then frees it, and prints whether the block
# came from mmap and whether its memory stayed in the heap once freed.
PROBE = """
import ctypes, sys
import numpy as np
from hebbformer import machine

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
if not hasattr(libc, "mallinfo2"):  # glibc before 2.33
    print("no-mallinfo2"); sys.exit()
libc.mallinfo2.restype = MallInfo2
kept = machine.keep_freed_memory()
block = np.ones(64 << 20, np.uint8)
mapped = libc.mallinfo2().hblkhd >= 64 << 20
del block
print(kept, machine.describe()["freed_memory_kept"], mapped, libc.mallinfo2().fordblks >= 64 << 20)
"""


def probe(value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "HEBBFORMER_MALLOC"}
    if value is not None:
        env["HEBBFORMER_MALLOC"] = value
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    if run.stdout.split() == ["no-mallinfo2"]:
        pytest.skip("this glibc has no mallinfo2 (before 2.33)")
    return run.stdout.split()


@glibc
@pytest.mark.parametrize("value", [None, "keep"])
def test_kept_freed_memory_serves_a_large_block_from_the_heap_and_keeps_it(value):
    # in effect, recorded, the block not mmapped, and its memory still in the heap once freed
    assert probe(value) == ["True", "True", "False", "True"]


@glibc
def test_default_leaves_glibcs_settings():
    assert probe("default") == ["False", "False", "True", "False"]  # glibc maps the block and unmaps it


def test_an_unknown_setting_stops_training_the_demo_and_the_study_before_any_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEBBFORMER_MALLOC", "always")
    for argv in (["train", "--quiet", "--out", str(tmp_path / "run")], ["demo", "--quiet", "--out", str(tmp_path / "demo")],
                 ["study", "--out", str(tmp_path / "study"), "--tasks", "copy", "--modules", "attention"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("hebbformer: error: ") and "Traceback" not in err
        assert "$HEBBFORMER_MALLOC must be 'keep' or 'default'" in err and "'always'" in err
    assert not any(tmp_path.iterdir())
