"""Import lava-nc 0.10.0 on Python 3.11.

lava-nc 0.10.0 (its last release) declares Python <3.11. The one thing that breaks on 3.11 is
that some of its dataclasses have a default value of an unhashable type (e.g. a ``ByteEncoder``
instance), which Python 3.11 rejects ("mutable default ... use default_factory"); 3.10 accepted
it and shared the one default object between instances. ``import_lava`` therefore wraps the
dataclass field collection so that, for classes defined in ``lava.*`` modules only, such a
default becomes ``default_factory=lambda: <that same object>`` (exactly 3.10's sharing), and then
imports lava. Every other dataclass is untouched. lava's compiler imports process models lazily,
so the wrapper stays installed for the life of the interpreter once lava is asked for.

A second, version-independent snag: lava's message infrastructure calls
``multiprocessing.set_start_method("fork")`` when imported, which raises once anything in the
process (tqdm's lock, for one) has fixed the start method, even to "fork" itself. ``import_lava``
imports it first with that call made a no-op when it asks for the method already in force.
"""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import sys

_done = False


def install() -> None:
    global _done
    if _done or sys.version_info < (3, 11):
        return
    original = dataclasses._get_field

    def get_field(cls, name, type_, *args):
        if cls.__module__.startswith("lava."):
            default = cls.__dict__.get(name, dataclasses.MISSING)
            value = default.default if isinstance(default, dataclasses.Field) else default
            if value is not dataclasses.MISSING and type(value).__hash__ is None:
                factory = lambda shared=value: shared  # noqa: E731
                if isinstance(default, dataclasses.Field):  # keep its other settings
                    default.default, default.default_factory = dataclasses.MISSING, factory
                else:
                    setattr(cls, name, dataclasses.field(default_factory=factory))
        return original(cls, name, type_, *args)

    dataclasses._get_field = get_field
    _done = True


_MESSAGING = "lava.magma.runtime.message_infrastructure.multiprocessing"


def _import_messaging() -> None:
    if _MESSAGING in sys.modules:
        return
    original = multiprocessing.set_start_method

    def set_start_method(method, force=False):
        if multiprocessing.get_start_method(allow_none=True) != method:
            original(method, force)

    multiprocessing.set_start_method = set_start_method
    try:
        importlib.import_module(_MESSAGING)
    finally:
        multiprocessing.set_start_method = original


def import_lava(module: str = "lava.magma.core.run_configs"):
    """Import a lava module (after the 3.11 fix); a clear ImportError names the extra to install."""
    install()
    try:
        _import_messaging()
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"lava-nc is not importable ({err}); install it with: "
                          "pip install -e '.[lava]' and, on Python 3.11, pip install --no-deps --ignore-requires-python lava-nc==0.10.0 (docs/loihi.md)") from err
