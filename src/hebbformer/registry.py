"""Every way of running a trained model, by name (``eval.backend``, ``--backend``): what it is,
whether it needs the Quant model, and where it is built (``module:function``, imported only when
chosen, so that this table sits below everything it names). A new back-end is a module with a
``build(model)`` function plus one entry here (``hebbformer.backends``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendEntry:
    summary: str
    build: str  # "module:function", the function taking the model and returning what runs it
    quant_only: bool  # runs the Quant model's integer path


BACKENDS: dict[str, BackendEntry] = {
    "torch": BackendEntry("the model's own forward: parallel masked attention (Float; Quant fake-quantised, float64)",
                          "hebbformer.backends.native:parallel", False),
    "synaptic": BackendEntry("the model's own arithmetic, every attention layer as plastic synapses written and read "
                             "token by token", "hebbformer.backends.native:synaptic", False),
    "integer": BackendEntry("the Quant model on integers, its synapses as numpy slots",
                            "hebbformer.backends.integer:slots", True),
    "loihi": BackendEntry("the Quant model's attention layers as Loihi 2 networks on hebbformer's bit-exact emulator",
                          "hebbformer.backends.loihi:emulated", True),
    "board": BackendEntry("the emulated networks writing on every step, as a board's unknown random numbers would",
                          "hebbformer.backends.loihi:board", True),
    "lava": BackendEntry("the Quant model's attention layers as Loihi 2 networks in lava-nc's simulation",
                         "hebbformer.backends.loihi:lava", True),
}
