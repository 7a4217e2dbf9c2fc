"""One attention layer of the Quant learner, compiled to a Loihi 2 network, and its step program.

All heads of a layer share one network of five parts::

    key source --graded spikes--> key synapses --drive--> slot neurons --rates--> value synapses --> read-out neurons
      (host)                     (LearningDense 2F) <-bAP--  (custom)           (LearningDense 3F) <-bAP, y1, y2--'

Writing takes one learning epoch (``t_epoch`` 1, one step). Token i recruits slot i of every
head (a query: the spare slot, which each query overwrites). Its key arrives as graded spikes,
each sign of each component on a presynaptic neuron of its own (payload 2|k|, so that the trace
x1 = |k|; a zero component is sent as payload 1, which still overwrites x1 with 0), while the
recruited slot neurons send bAPs, and the two-factor rule::

    dw = y0*x0*x1*t - 4*y0*x0*w*t

overwrites the recruited rows with the traces. Its value arrives as the read-out neurons' third
factor (y2 its positive part, y1 its negative part), gated by their bAPs, while the recruited
slot spikes, and the three-factor rule::

    dw = y0*x0*y2*t - y0*x0*y1*t - 4*y0*x0*w*t

overwrites the recruited columns. ``t`` (tag_1) is a fixed mask: ``MASK`` where a synapse joins
two neurons of one head, 0 across heads, so heads share one matrix and a write never touches
another head's synapses. Its value undoes the fixed-point engine's width shift: a product of
x0 (1 bit), a trace (7), t (9) and the 4-bit scale is shifted down by 21 - 15 = 6 bits, and
with w (9) instead of the trace by 8, hence t = 64 and the scale 4. Every product then lands on
a whole weight: the write is exact, with no stochastic rounding.

Reading takes three steps: the query goes out as signed graded spikes (+q to the positive
presynaptic half, -q to the negative one); a step later the slot neurons receive their drive
k.q and send their rate, relu(drive) requantised by a shift, as graded spikes; a step later the
read-out neurons receive sum(rate * v). The next token's write overlaps that last step.

In fixed point a trace decays stochastically every step (``floor(p) + (r < frac(p))`` with
``p = exp(-1/tau) * trace`` and one random number r per step and side): with tau 65535 a trace of
1..127 loses 1 only on steps whose r exceeds about 1 - 127/65535. Lava's streams are numpy's
PCG64 seeded by the rule, so the host knows them and schedules writes only on steps where no
trace can decay (``safe_steps``); every write is then exact, as the Quant model assumes. A board
draws its own random numbers: there about one write in 250 would lose 1 in some components
(``avoid_decay=False`` emulates that).

Between episodes one clearing step recruits every slot with all-zero traces, which sets every
weight to 0. What runs where: the key and value synapses, their learning rules and the slot
neurons are the neuromorphic network; the host (``hebbformer.quant.IntegerNumerics``) computes
what it sends (layer norm, the q, k, v projections), and turns the read-out into the layer's
output (the 1/n of ReLU attention, the output projection, the MLP); the image encoder too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plasticity.rules import LOIHI
from ..quant.fixed_point import slot_rate
from .loihi.emulator import FixedLearningDense, trace_streams
from .loihi.engine_config import Rule, Synapses
from .loihi.kernels import READ, RECRUIT, run_slot_program

KEY_RULE = "y0*x0*x1*t - 4*y0*x0*w*t"  # two-factor: key sign-halves x1 into the recruited slot's row
VALUE_RULE = "y0*x0*y2*t - y0*x0*y1*t - 4*y0*x0*w*t"  # three-factor: value (y2 - y1) into its column
MASK = 64  # tag_1 within a head (see the module docstring)
TRACE_TAU = 65535  # x1 of the key synapses; the third-factor y traces are fixed at this by lava
RNG_SEED = 0  # both LearningDense processes' rule seed
TRACE_MAX = LOIHI.largest  # a written key or value component: one 7-bit trace per sign
LANE_BYTES = 2 ** 27  # the emulator's synapses (weights and two tags, int32) over all lanes of a layer


@dataclass(frozen=True)
class LayerNet:
    """The network of one attention layer: ``heads`` heads of ``d_head`` components, ``capacity``
    slot neurons per head, and the slot neurons' rate requantisation: rate = relu(drive) on the
    grid 2**rate_shift (``requantise`` from the drive's grid 0)."""
    heads: int
    d_head: int
    capacity: int
    rate_shift: int

    @property
    def n_key_pre(self) -> int:
        return self.heads * 2 * self.d_head

    @property
    def n_slots(self) -> int:
        return self.heads * self.capacity

    @property
    def n_out(self) -> int:
        return self.heads * self.d_head

    def key_mask(self) -> np.ndarray:
        """tag_1 of the key synapses [slots, key pre]: MASK within a head."""
        return self._within_heads(self.capacity, 2 * self.d_head)

    def value_mask(self) -> np.ndarray:
        """tag_1 of the value synapses [outputs, slots]: MASK within a head."""
        return self._within_heads(self.d_head, self.capacity)

    def _within_heads(self, rows: int, cols: int) -> np.ndarray:
        return MASK * np.kron(np.eye(self.heads, dtype=np.int64), np.ones((rows, cols), np.int64))


def slot_step(drive: np.ndarray, control: np.ndarray, rate_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """The slot neurons in one step: (graded spikes to the value synapses, bAPs to the key
    synapses). Recruited slots spike 1 and send a bAP; reading slots send their rate."""
    spikes = np.where(control == READ, slot_rate(drive.astype(np.int64), rate_shift), control == RECRUIT)
    spikes = spikes.astype(np.int32)
    return spikes, control == RECRUIT


def readout_step(control: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The read-out neurons' signals to the value synapses: (bAP, y1, y2) from the host's
    control [..., 3 * n_out]: a write-enable bit, the value's negative and positive parts."""
    gate, y1, y2 = np.moveaxis(control.reshape(control.shape[:-1] + (3, -1)), -2, 0)
    return gate.astype(bool), y1, y2


def safe_steps(steps: int, seed: int = RNG_SEED) -> np.ndarray:
    """Which steps 1..steps (index t - 1) no written trace can decay at: the key synapses'
    x-side and the value synapses' y-side decay random numbers both below every trace's
    fractional part."""
    traces = np.arange(1, TRACE_MAX + 1, dtype=np.float64)
    p = np.exp(-1 / TRACE_TAU) * traces  # as lava computes it (float64)
    lowest = (p - np.floor(p)).min()
    streams = trace_streams(seed, steps)
    return (streams["x_decay"][2::2] < lowest) & (streams["y_decay"][2::2] < lowest)


@dataclass
class Program:
    """What the host sends to one layer's network, step by step, for runs of episodes back to
    back in ``lanes`` copies of the network side by side (lane l runs episodes l * E/lanes ...
    (l + 1) * E/lanes - 1; the copies share every step's schedule and differ in their keys,
    queries and values), and when each token's read-out arrives."""
    key_payload: np.ndarray  # [steps, lanes, n_key_pre] int16 graded spikes into the key synapses
    slot_control: np.ndarray  # [steps, n_slots] kernels.IDLE / RECRUIT / READ, the same in every lane
    readout_control: np.ndarray  # [steps, lanes, 3 * n_out] int8 write-enable, y1, y2
    readout_steps: np.ndarray  # [episodes per lane, tokens] the (1-based) step each token's read-out arrives
    episodes: int  # how many are real (the last lane may be padded with empty ones)

    @property
    def steps(self) -> int:
        return len(self.key_payload)

    @property
    def lanes(self) -> int:
        return self.key_payload.shape[1]


def compile_program(net: LayerNet, q: np.ndarray, k: np.ndarray, v: np.ndarray, n_support: int,
                    avoid_decay: bool = True, lanes: int = 1) -> Program:
    """The step program of episodes [E, tokens, heads, d_head] (integer q, k, v mantissas; k and v
    within -127..127): the first ``n_support`` tokens of each episode are written into slots
    0..n_support-1 and read; each later token (a query) is written into the spare slot and read."""
    episodes, tokens = q.shape[:2]
    needed = n_support + (tokens > n_support)  # the queries share one spare slot
    if net.capacity < needed:
        raise ValueError(f"{tokens} tokens with {n_support} supports need {needed} slots, have {net.capacity}")
    if max(np.abs(k).max(initial=0), np.abs(v).max(initial=0)) > TRACE_MAX:
        raise ValueError(f"keys and values must lie within -{TRACE_MAX}..{TRACE_MAX}")
    if np.abs(q).max(initial=0) > 2 ** 15 - 1:  # the program's int16 payloads
        raise ValueError("queries must lie within -32767..32767")
    lanes = max(1, min(lanes, episodes))
    per_lane = -(-episodes // lanes)
    pad = lanes * per_lane - episodes  # empty episodes (all zeros) fill the last lane
    q, k, v = (np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]).reshape((lanes, per_lane) + x.shape[1:])
               for x in (q, k, v))
    budget = 3 * per_lane * (tokens + 1) + 8
    while True:  # the skipped unsafe steps can overrun a budget: then schedule again with more
        safe = safe_steps(budget) if avoid_decay else np.ones(budget, bool)
        program = schedule(net, q, k, v, n_support, safe)
        if program is not None:
            program.episodes = episodes
            return program
        budget *= 2


def _signed_halves(x: np.ndarray) -> np.ndarray:
    """[lanes, E, T, heads, d] -> [E, T, lanes, heads * 2 * d] int16: each sign of each component
    on a presynaptic neuron of its own (+x, then -x, per head), laid out as the program's steps
    are, so that writing them into it copies whole rows (in int64 and transposed, the copies took
    most of compile_program's time)."""
    x = x.astype(np.int16).transpose(1, 2, 0, 3, 4)
    halves = np.empty(x.shape[:4] + (2, x.shape[4]), np.int16)
    halves[..., 0, :], halves[..., 1, :] = x, -x
    return halves.reshape(x.shape[:3] + (-1,))


def schedule(net, q, k, v, n_support, safe) -> Program | None:
    """The step program of q, k, v [lanes, episodes per lane, tokens, heads, d_head] whose writes
    take only steps 1..len(safe) that ``safe`` allows (``compile_program``: the steps where no
    trace decays; a test: those where one does), or None if they run out."""
    budget = len(safe)
    h, cap = net.heads, net.capacity
    lanes, episodes, tokens = q.shape[:3]
    # The step of every token's write and of every episode's clearing: a walk over the safe steps
    # (a write takes a safe step t, the read goes out at t + 1 and arrives at t + 3, where the next
    # write may start; the clearing step needs no safety). The steps depend on nothing else, so
    # the payloads are then written for all tokens at once, in a few array operations.
    write_at, clear_at = np.zeros((episodes, tokens), np.int64), np.zeros(episodes, np.int64)
    t = 1
    for e in range(episodes):
        for i in range(tokens):
            while t <= budget and not safe[t - 1]:
                t += 1
            if t > budget:
                return None
            write_at[e, i] = t
            t += 3
        clear_at[e] = t
        t += 1
    steps = t - 1
    key_payload = np.zeros((steps, lanes, net.n_key_pre), np.int16)
    slot_control = np.zeros((steps, net.n_slots), np.int8)
    readout_control = np.zeros((steps, lanes, 3, net.n_out), np.int8)
    at = write_at - 1  # [E, T] step indices of the writes
    key_payload[at] = np.maximum(2 * np.maximum(_signed_halves(k), 0), 1)  # x1 = max(k, 0) per half; 0 sent as 1
    key_payload[at + 1] = _signed_halves(q)  # read: +q and -q
    slot = np.minimum(np.arange(tokens), n_support)  # supports their own slot, queries the spare one
    slot_control[at[..., None], np.arange(h) * cap + slot[None, :, None]] = RECRUIT
    slot_control[at + 2] = READ
    values = v.reshape(lanes, episodes, tokens, -1).transpose(1, 2, 0, 3)  # [E, T, lanes, n_out]
    readout_control[at, :, 0] = 1
    readout_control[at, :, 1] = np.maximum(-values, 0)
    readout_control[at, :, 2] = np.maximum(values, 0)
    # clear every slot for the next episode: all traces 0, every slot recruited
    key_payload[clear_at - 1] = 1
    slot_control[clear_at - 1] = RECRUIT
    readout_control[clear_at - 1, :, 0] = 1
    return Program(key_payload, slot_control, readout_control.reshape(steps, lanes, -1), write_at + 3,
                   lanes * episodes)


def read_out(program: Program, received: np.ndarray) -> np.ndarray:
    """The read-out neurons' input [steps, lanes, n_out] at each token's read-out step -> [E, tokens, n_out]."""
    at = received[program.readout_steps - 1]  # [episodes per lane, tokens, lanes, n_out]
    return at.transpose(2, 0, 1, 3).reshape((-1,) + at.shape[1:2] + at.shape[3:])[:program.episodes]


def synapses(net: LayerNet, steps: int) -> dict[str, Synapses]:
    """The two LearningDense processes of a layer's network: key synapses [slots, key pre] with
    the two-factor rule, value synapses [outputs, slots] with the three-factor rule, each with its
    tag_1 mask; graded spikes that overwrite x1; zero weights; fixed point."""
    def dense(shape, rule, mask):
        return Synapses(weights=np.zeros(shape), rule=rule, steps=steps, num_message_bits=8,
                        graded_spike_cfg="OVERWRITE", tag_1=mask)
    return {"key": dense((net.n_slots, net.n_key_pre), Rule(type="2F", dw=KEY_RULE, x1_tau=TRACE_TAU, rng_seed=RNG_SEED),
                         net.key_mask()),
            "value": dense((net.n_out, net.n_slots), Rule(type="3F", dw=VALUE_RULE, rng_seed=RNG_SEED), net.value_mask())}


def run_emulated(net: LayerNet, program: Program) -> np.ndarray:
    """Run a program on hebbformer's Loihi 2 emulator, all lanes at once: the read-out neurons'
    input at every step [steps, lanes, n_out]. The step loop compiled (``kernels.run_slot_program``):
    the same kernels, in the same order, as ``run_stepped``, and the same integers (tested)."""
    key, value = (FixedLearningDense(cfg, program.lanes).step_constants() for cfg in synapses(net, program.steps).values())
    return run_slot_program(program.key_payload, program.slot_control, program.readout_control, net.rate_shift, key,
                            value)


def run_stepped(net: LayerNet, program: Program) -> np.ndarray:
    """``run_emulated`` stepped from Python, one ``FixedLearningDense`` call per process and phase, in
    lava's phase order (see ``emulator.Network``): the emulator as lava judges it, and the
    reference the compiled loop is tested against."""
    lanes = program.lanes
    key, value = (FixedLearningDense(cfg, lanes) for cfg in synapses(net, program.steps).values())
    received = np.zeros((program.steps, lanes, net.n_out), np.int64)
    zeros = np.zeros((lanes, net.n_out), np.int64)
    for t in range(1, program.steps + 1):
        drive = key.spike(t, program.key_payload[t - 1])
        spikes, bap = slot_step(drive, program.slot_control[t - 1], net.rate_shift)
        key.post(t, np.broadcast_to(bap, drive.shape))
        key.learn(t)
        received[t - 1] = value.spike(t, spikes)
        gate, y1, y2 = readout_step(program.readout_control[t - 1])
        value.post(t, gate, (y1, y2, zeros))
        value.learn(t)
    return received


class NetworkMemory:
    """A memory of the one forward (``models.forward``) on integer numerics: each attention layer
    compiled to its network and run by ``run`` (``run_emulated``, or ``lava_attention.run_lava``)
    over all episodes back to back, in ``lanes`` copies of the network side by side (None: as many
    as ``LANE_BYTES`` of synapses allow; lava runs one); its slot neurons compute the memory
    rule's rates (``shift``).

    ``heads_apart``: each head runs as a network of its own (``LayerNet`` with one head), the
    heads of an episode in lanes side by side, instead of all heads in one network whose tag_1
    mask keeps them apart. The read-outs are the same, bit for bit: the mask leaves every synapse
    across heads at 0 for good, so it adds nothing to any drive or read-out, and the heads share
    every step's schedule and the rule's random numbers either way. What it saves is those zero
    synapses: a one-head network has 1/heads of the layer network's synapses, and the emulator's
    time goes with the synapses it touches. ``lanes`` then counts one-head networks."""

    def __init__(self, run=run_emulated, avoid_decay: bool = True, lanes: int | None = None, heads_apart: bool = False):
        self.run, self.avoid_decay, self.lanes, self.heads_apart = run, avoid_decay, lanes, heads_apart

    def __call__(self, q, k, v, n_support: int, rule) -> np.ndarray:
        if rule.kind != "relu" or rule.shift is None:
            raise ValueError("a Loihi 2 network runs the Quant model's integer ReLU attention only")
        b, n, heads, d_head = q.shape
        if self.heads_apart:  # [b, n, heads, d] -> [b * heads, n, 1, d]: each head an episode of a one-head network
            q, k, v = (x.transpose(0, 2, 1, 3).reshape(b * heads, n, 1, d_head) for x in (q, k, v))
        net = LayerNet(q.shape[2], d_head, n_support + 1, rule.shift)
        lanes = self.lanes or max(1, LANE_BYTES // (12 * net.n_slots * (net.n_key_pre + net.n_out)))
        program = compile_program(net, q, k, v, n_support, self.avoid_decay, lanes)
        read = read_out(program, self.run(net, program))  # [episodes, n, n_out]
        if self.heads_apart:
            return read.reshape(b, heads, n, d_head).transpose(0, 2, 1, 3)
        return read.reshape(b, n, heads, d_head)
