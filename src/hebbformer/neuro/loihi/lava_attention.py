"""A compiled attention layer (``hebbformer.neuro.attention_compiler``) run in lava-nc's Loihi 2
CPU simulation: ring buffers play the host's part (the graded spikes of keys and queries, and what
the slot and read-out neurons are told to do each step), lava's own LearningDense processes are
the key and value synapses and their learning rules, and ``lava_processes.attention`` the neurons."""

from __future__ import annotations

import numpy as np

from ..attention_compiler import LayerNet, Program, synapses
from ..lava_compat import import_lava
from .lava_sim import learning_dense, ring_buffer, run_steps, wire_third_factor


def run_lava(net: LayerNet, program: Program) -> np.ndarray:
    """The read-out neurons' input at every step [steps, 1, n_out], from lava's simulation."""
    neurons = import_lava("hebbformer.neuro.loihi.lava_processes.attention")
    if program.lanes != 1:
        raise ValueError(f"lava runs one lane of episodes, not {program.lanes}: compile with lanes=1")
    key, value = (learning_dense(cfg) for cfg in synapses(net, program.steps).values())
    keys_in = ring_buffer(program.key_payload[:, 0].T)
    slots = neurons.SlotNeurons(shape=(net.n_slots,), rate_shift=net.rate_shift)
    slot_control = ring_buffer(program.slot_control.T)
    readout = neurons.ReadoutNeurons(shape=(net.n_out,), steps=program.steps)
    readout_control = ring_buffer(program.readout_control[:, 0].T)

    keys_in.s_out.connect(key.s_in)
    key.a_out.connect(slots.a_in)
    slot_control.s_out.connect(slots.control_in)
    slots.s_out_bap.connect(key.s_in_bap)
    slots.s_out.connect(value.s_in)
    readout_control.s_out.connect(readout.control_in)
    wire_third_factor(value, readout)
    try:
        run_steps(keys_in, program.steps, "fixed_pt")
        return np.asarray(readout.received.get(), dtype=np.int64)[:, None]
    finally:
        keys_in.stop()
