"""The neurons of a compiled attention layer (``hebbformer.neuro.attention_compiler``) as lava
processes: slot neurons and read-out neurons, each told by the host what to do in a step through
a control input. Their models call the same step functions as the emulator, so the two differ
only in who moves the spikes."""

import numpy as np

from hebbformer.neuro.attention_compiler import readout_step, slot_step
from hebbformer.neuro.lava_compat import import_lava
from hebbformer.neuro.loihi.lava_processes._lava import LavaPyType, PyInPort, PyOutPort, cpu_model
from hebbformer.neuro.loihi.lava_processes._lava import ports as _ports

_process = import_lava("lava.magma.core.process.process")
_variable = import_lava("lava.magma.core.process.variable")
_py_model = import_lava("lava.magma.core.model.py.model")


class SlotNeurons(_process.AbstractProcess):
    """n slot neurons: drive in from the key synapses, graded spikes out to the value synapses,
    bAPs back to the key synapses; ``control_in`` says recruit, read or rest."""

    def __init__(self, *, shape: tuple, rate_shift: int):
        super().__init__(shape=shape, rate_shift=rate_shift)
        self.a_in = _ports.InPort(shape=shape)
        self.control_in = _ports.InPort(shape=shape)
        self.s_out = _ports.OutPort(shape=shape)
        self.s_out_bap = _ports.OutPort(shape=shape)
        self.rate_shift = _variable.Var(shape=(1,), init=rate_shift)


@cpu_model(SlotNeurons, "fixed_pt")
class PySlotNeuronsFixed(_py_model.PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    control_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=2)
    s_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    s_out_bap = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    rate_shift = LavaPyType(np.ndarray, int)

    def run_spk(self):
        spikes, bap = slot_step(self.a_in.recv(), self.control_in.recv(), int(self.rate_shift[0]))
        self.s_out.send(spikes)
        self.s_out_bap.send(bap)


class ReadoutNeurons(_process.AbstractProcess):
    """n read-out neurons: the value synapses' output in (kept, one row per step, in
    ``received``), and back to those synapses bAPs (write enable) and the value's negative and
    positive parts as the third factors y1 and y2, from ``control_in`` [3 * n]."""

    def __init__(self, *, shape: tuple, steps: int):
        super().__init__(shape=shape, steps=steps)
        self.a_in = _ports.InPort(shape=shape)
        self.control_in = _ports.InPort(shape=(3 * shape[0],))
        self.s_out_bap = _ports.OutPort(shape=shape)
        self.s_out_y1 = _ports.OutPort(shape=shape)
        self.s_out_y2 = _ports.OutPort(shape=shape)
        self.s_out_y3 = _ports.OutPort(shape=shape)
        self.received = _variable.Var(shape=(steps, shape[0]), init=0)


@cpu_model(ReadoutNeurons, "fixed_pt")
class PyReadoutNeuronsFixed(_py_model.PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    control_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    s_out_bap = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    s_out_y1 = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2 = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3 = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    received = LavaPyType(np.ndarray, np.int64)

    def run_spk(self):
        self.received[self.time_step - 1] = self.a_in.recv()
        gate, y1, y2 = readout_step(self.control_in.recv())
        self.s_out_bap.send(gate)
        self.s_out_y1.send(y1)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(np.zeros_like(y2))
