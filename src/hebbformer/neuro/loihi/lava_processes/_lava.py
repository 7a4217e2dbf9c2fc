"""The lava pieces every process here is made of, imported once through the 3.11 fix, and the
registration of a CPU process model (no process or model is defined in this module)."""

from hebbformer.neuro.lava_compat import import_lava

ports = import_lava("lava.magma.core.process.ports.ports")
_py_ports = import_lava("lava.magma.core.model.py.ports")
_py_type = import_lava("lava.magma.core.model.py.type")
_decorator = import_lava("lava.magma.core.decorator")
_protocol = import_lava("lava.magma.core.sync.protocols.loihi_protocol")
_resources = import_lava("lava.magma.core.resources")

LavaPyType, PyInPort, PyOutPort = _py_type.LavaPyType, _py_ports.PyInPort, _py_ports.PyOutPort


def cpu_model(proc, *tags):
    """Class decorator: the model implements ``proc`` under lava's Loihi protocol, on the CPU,
    selected by ``tags`` (e.g. "fixed_pt")."""
    def register(model):
        model = _decorator.implements(proc=proc, protocol=_protocol.LoihiProtocol)(model)
        model = _decorator.requires(_resources.CPU)(model)
        return _decorator.tag(*tags)(model)
    return register
