"""A LIF neuron for three-factor learning: its spikes go out as bAPs and a third-factor input
(e.g. a reward train) goes out as y2, with y1 = y3 = 0, every step. lava 0.10's LearningLIF does
not send these (the reference's pitfall P3), so Loihi3FLearningRule needs a neuron like this."""

import numpy as np

from hebbformer.neuro.lava_compat import import_lava
from hebbformer.neuro.loihi.lava_processes._lava import LavaPyType, PyInPort, PyOutPort, cpu_model
from hebbformer.neuro.loihi.lava_processes._lava import ports as _ports

_lif_process = import_lava("lava.proc.lif.process")
_lif_models = import_lava("lava.proc.lif.models")


class ThirdFactorLIF(_lif_process.LIF):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        shape = kwargs["shape"]
        self.a_third_factor_in = _ports.InPort(shape=shape)
        self.s_out_bap = _ports.OutPort(shape=shape)
        self.s_out_y1 = _ports.OutPort(shape=shape)
        self.s_out_y2 = _ports.OutPort(shape=shape)
        self.s_out_y3 = _ports.OutPort(shape=shape)


def _third_factor_model(name, base, value_type, tags):
    class Model(base):
        implements_process = None  # the LIF model it extends implements LIF; this one, ThirdFactorLIF
        a_third_factor_in = LavaPyType(PyInPort.VEC_DENSE, value_type)
        s_out_bap = LavaPyType(PyOutPort.VEC_DENSE, bool)
        s_out_y1 = LavaPyType(PyOutPort.VEC_DENSE, value_type)
        s_out_y2 = LavaPyType(PyOutPort.VEC_DENSE, value_type)
        s_out_y3 = LavaPyType(PyOutPort.VEC_DENSE, value_type)

        def run_spk(self):
            super().run_spk()  # LIF dynamics; sets self.s_out_buff
            third = self.a_third_factor_in.recv()
            zeros = np.zeros_like(third)
            self.s_out_bap.send(self.s_out_buff.astype(bool))
            self.s_out_y1.send(zeros)
            self.s_out_y2.send(third)
            self.s_out_y3.send(zeros)

    Model.__name__ = Model.__qualname__ = name
    return cpu_model(ThirdFactorLIF, *tags)(Model)


PyThirdFactorLIFFixed = _third_factor_model("PyThirdFactorLIFFixed", _lif_models.PyLifModelBitAcc, np.int32, ("fixed_pt",))
PyThirdFactorLIFFloat = _third_factor_model("PyThirdFactorLIFFloat", _lif_models.PyLifModelFloat, float, ("floating_pt",))
