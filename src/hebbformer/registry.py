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
    label: str = ""  # what a results table adds to the model's name ("" for the model's own forward)


BACKENDS: dict[str, BackendEntry] = {
    "torch": BackendEntry("the model's own forward: parallel masked attention (Float; Quant fake-quantised, float64)",
                          "hebbformer.backends.native:parallel", False),
    "synaptic": BackendEntry("the model's own arithmetic, every attention layer as plastic synapses written and read "
                             "token by token", "hebbformer.backends.native:synaptic", False, "synaptic, token by token"),
    "integer": BackendEntry("the Quant model on integers, its synapses as numpy slots",
                            "hebbformer.backends.integer:slots", True, "integer path"),
    "loihi": BackendEntry("the Quant model's attention layers as Loihi 2 networks on hebbformer's bit-exact emulator",
                          "hebbformer.backends.loihi:emulated", True, "Loihi 2 networks, emulated"),
    "board": BackendEntry("the emulated networks writing on every step, as a board's unknown random numbers would",
                          "hebbformer.backends.loihi:board", True, "Loihi 2 networks, emulated, board randomness"),
    "lava": BackendEntry("the Quant model's attention layers as Loihi 2 networks in lava-nc's simulation",
                         "hebbformer.backends.loihi:lava", True, "Loihi 2 networks, lava"),
}

METHOD_NAMES = {"icl": "in-context learner", "protonet": "ProtoNet", "maml": "MAML", "finetune": "fine-tuning"}


def model_name(model: dict, backend: str = "torch", encoder_probe: bool = False) -> str:
    """What a model (its config's ``model`` section, as a dict) run by ``backend`` is called in
    every results table and evaluation title: "in-context learner, relu, Quant, 8 heads (integer path)",
    "MAML, first order", "...: its encoder alone, as a ProtoNet"."""
    if encoder_probe:
        return model_name(model, "torch") + ": its encoder alone, as a ProtoNet"
    method = model.get("method", "icl")
    name = METHOD_NAMES.get(method, method)
    if method == "maml":
        return name + (", first order" if model.get("maml_first_order") else ", second order")
    if method != "icl":
        return name
    label = BACKENDS[backend].label if backend in BACKENDS else backend
    readout = model.get("readout", "vocab")  # the default, unnamed, as in every table before the others
    heads = f", {model['heads']} heads" if "heads" in model else ""  # two learners may differ in nothing else
    return (f"{name}, {model['attention']}, {'Quant' if model.get('quant') else 'Float'}{heads}"
            + (f", {readout} read-out" if readout != "vocab" else "") + (f" ({label})" if label else ""))
