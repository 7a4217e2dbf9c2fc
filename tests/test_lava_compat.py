"""The two fixes that let lava-nc 0.10.0 import on Python 3.11 and in a process that already
fixed its multiprocessing start method; both scoped to lava."""

import dataclasses
import subprocess
import sys

import pytest

from hebbformer.neuro.lava_compat import install
from hebbformer.neuro.loihi.lava_sim import lava_available


class Unhashable:
    __hash__ = None


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 accepts unhashable defaults itself")
def test_unhashable_defaults_are_shared_in_lava_classes_only():
    install()
    shared = Unhashable()
    lava_like = type("Channel", (), {"__module__": "lava.magma.fake", "__annotations__": {"encoder": Unhashable},
                                     "encoder": shared})
    made = dataclasses.dataclass(lava_like)
    assert made().encoder is shared and made().encoder is made().encoder  # 3.10's sharing
    other = type("Mine", (), {"__module__": "hebbformer.fake", "__annotations__": {"encoder": Unhashable},
                              "encoder": shared})
    with pytest.raises(ValueError, match="mutable default"):
        dataclasses.dataclass(other)


@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_imports_after_the_start_method_was_fixed():
    code = ("import multiprocessing as mp; mp.set_start_method('fork'); "
            "from hebbformer.neuro.lava_compat import import_lava; "
            "import_lava('lava.magma.runtime.runtime'); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
