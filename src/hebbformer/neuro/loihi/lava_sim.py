"""Run a parity scenario on lava-nc's own CPU simulation of Loihi 2 (the judge of the emulator).

The network is lava's: RingBuffer -> LearningDense -> LIF, the LIF's spikes wired back as bAPs.
A 3F rule needs a neuron that also sends y1, y2, y3; lava 0.10's LearningLIF does not (pitfall
P3), so ``lava_processes.third_factor`` provides one: a LIF whose spikes are the bAPs and that
forwards a reward train as y2 (y1 = y3 = 0). Monitors read every recorded variable every step,
after the step's learning, as ``emulator.simulate`` records them.
"""

from __future__ import annotations

import numpy as np

from ..lava_compat import import_lava
from .engine_config import Synapses
from .scenario import Scenario

# lava var names of the recordable quantities: (process, var)
_VARS = {"weights": ("dense", "weights"), "tag_1": ("dense", "tag_1"), "tag_2": ("dense", "tag_2"),
         "x1": ("dense", "x1"), "x2": ("dense", "x2"), "y1": ("dense", "y1"), "y2": ("dense", "y2"),
         "y3": ("dense", "y3"), "u": ("lif", "u"), "v": ("lif", "v"), "spikes": ("lif", "s_out")}


def lava_available() -> bool:
    try:
        import_lava("lava.proc.dense.process")
    except ImportError:
        return False
    return True


def build_rule(s: Synapses):
    learning = import_lava("lava.magma.core.learning.learning_rule")
    r = s.rule
    common = dict(dw=r.dw, dd=r.dd, dt=r.dt, x1_impulse=r.x1_impulse, x1_tau=r.x1_tau, x2_impulse=r.x2_impulse,
                  x2_tau=r.x2_tau, t_epoch=r.t_epoch, rng_seed=r.rng_seed)
    if r.type == "3F":
        return learning.Loihi3FLearningRule(**common)
    return learning.Loihi2FLearningRule(**common, y1_impulse=r.y1_impulse, y1_tau=r.y1_tau, y2_impulse=r.y2_impulse,
                                        y2_tau=r.y2_tau, y3_impulse=r.y3_impulse, y3_tau=r.y3_tau)


def learning_dense(s: Synapses):
    """lava's LearningDense configured as ``s``."""
    dense_mod = import_lava("lava.proc.dense.process")
    constants = import_lava("lava.magma.core.learning.constants")
    weightutils = import_lava("lava.utils.weightutils")
    return dense_mod.LearningDense(
        weights=s.weights.copy(), tag_1=s.tag_1, learning_rule=build_rule(s), num_message_bits=s.num_message_bits,
        graded_spike_cfg=constants.GradedSpikeCfg[s.graded_spike_cfg], weight_exp=s.weight_exp,
        num_weight_bits=s.num_weight_bits, sign_mode=weightutils.SignMode[s.sign_mode])


def ring_buffer(data: np.ndarray, fixed: bool = True):
    """lava's RingBuffer sending data[:, t - 1] at step t (data [n, steps])."""
    source = import_lava("lava.proc.io.source")
    return source.RingBuffer(data=data.astype(np.int32) if fixed else data.astype(np.float64))


def wire_third_factor(dense, neuron) -> None:
    """A 3F LearningDense's output into a neuron whose bAPs and y1, y2, y3 go back to it."""
    dense.a_out.connect(neuron.a_in)
    neuron.s_out_bap.connect(dense.s_in_bap)
    neuron.s_out_y1.connect(dense.s_in_y1)
    neuron.s_out_y2.connect(dense.s_in_y2)
    neuron.s_out_y3.connect(dense.s_in_y3)


def _build(s: Scenario):
    """lava processes for a scenario: (source, LearningDense, neuron)."""
    lif_mod = import_lava("lava.proc.lif.process")

    n_post = s.weights.shape[0]
    src = ring_buffer(s.pre, s.fixed)
    dense = learning_dense(s.synapses())
    p = s.lif
    neuron_args = dict(shape=(n_post,), du=p.du, dv=p.dv, vth=p.vth, bias_mant=p.bias_mant, bias_exp=p.bias_exp)
    src.s_out.connect(dense.s_in)
    if s.rule.type == "3F":
        third = import_lava("hebbformer.neuro.loihi.lava_processes.third_factor")
        lif = third.ThirdFactorLIF(**neuron_args)
        reward = ring_buffer(s.reward, s.fixed)
        reward.s_out.connect(lif.a_third_factor_in)
        wire_third_factor(dense, lif)
    else:
        lif = lif_mod.LIF(**neuron_args)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(dense.s_in_bap)
    return src, dense, lif


def run_steps(src, steps: int, mode: str) -> None:
    """Run the network that ``src`` belongs to for ``steps`` steps in lava's Loihi 2 CPU simulation."""
    conditions = import_lava("lava.magma.core.run_conditions")
    run_configs = import_lava("lava.magma.core.run_configs")
    src.run(condition=conditions.RunSteps(num_steps=steps), run_cfg=run_configs.Loihi2SimCfg(select_tag=mode))


def run_lava(s: Scenario) -> dict[str, np.ndarray]:
    """Each recorded variable at every step [steps, ...], from lava's Loihi2SimCfg(s.mode)."""
    monitor = import_lava("lava.proc.monitor.process")
    src, dense, lif = _build(s)
    procs = {"dense": dense, "lif": lif}
    monitors = {}
    for name in s.record:
        proc, var = _VARS[name]
        m = monitor.Monitor()
        m.probe(getattr(procs[proc], var), s.steps)
        monitors[name] = (m, procs[proc], var)
    try:
        run_steps(src, s.steps, s.mode)
        out = {name: np.asarray(m.get_data()[proc.name][var], dtype=np.float64).reshape(s.steps, -1)
               for name, (m, proc, var) in monitors.items()}
    finally:
        src.stop()
    shapes = {"weights": s.weights.shape, "tag_1": s.weights.shape, "tag_2": s.weights.shape}
    return {k: v.reshape((s.steps,) + shapes.get(k, v.shape[1:])) for k, v in out.items()}


def time_lava(s: Scenario) -> tuple[float, np.ndarray]:
    """(seconds per step, final weights) of lava's own run with nothing recorded: one warm-up
    step (compile and process start-up), then the other steps timed."""
    import time

    src, dense, _ = _build(s)
    try:
        run_steps(src, 1, s.mode)
        tic = time.perf_counter()
        run_steps(src, s.steps - 1, s.mode)
        seconds = (time.perf_counter() - tic) / (s.steps - 1)
        weights = np.asarray(dense.weights.get(), dtype=np.float64)
    finally:
        src.stop()
    return seconds, weights
