"""The Quant learner's attention layers compiled to Loihi 2 networks: on the emulator and on lava
they give exactly what the integer path's numpy slots give."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hebbformer.backends.synaptic import synaptic_memory
from hebbformer.models.forward import MemoryRule
from hebbformer.neuro.attention_compiler import (
    READ,
    RECRUIT,
    TRACE_TAU,
    LayerNet,
    NetworkMemory,
    compile_program,
    read_out,
    run_emulated,
    run_stepped,
    safe_steps,
    schedule,
    synapses,
)
from hebbformer.neuro.loihi.emulator import FixedLearningDense, trace_streams
from hebbformer.neuro.loihi.engine_config import Rule, Synapses
from hebbformer.neuro.loihi.lava_sim import lava_available
from hebbformer.plasticity.rules import QUANT_KEY_WRITE, QUANT_VALUE_WRITE
from hebbformer.quant.fixed_point import slot_rate

needs_lava = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed (docs/loihi.md)")


def integer_rule(shift: int) -> MemoryRule:
    return MemoryRule("relu", rate=lambda drive: slot_rate(drive, shift), shift=shift,
                      key_write=QUANT_KEY_WRITE, value_write=QUANT_VALUE_WRITE)


def slot_core(q, k, v, n_support, shift):
    """The integer slots in numpy: what every network must give."""
    return synaptic_memory(q, k, v, n_support, integer_rule(shift))


def network(run, q, k, v, n_support, shift, **kw):
    return NetworkMemory(run, **kw)(q, k, v, n_support, integer_rule(shift))


def random_layer(rng, episodes, tokens, heads, d_head):
    q = rng.integers(-128, 128, (episodes, tokens, heads, d_head))
    k, v = (rng.integers(-127, 128, (episodes, tokens, heads, d_head)) for _ in range(2))
    return q, k, v


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(0, 4),
       st.integers(0, 9), st.integers(0, 2 ** 16))
def test_network_on_the_emulator_equals_the_numpy_slots(episodes, heads, d_head, n_support, n_query, rate_shift, seed):
    """Back-to-back episodes (clearing between them), several heads in one matrix (masks), queries
    overwriting the spare slot, extreme keys and values: the same read-outs, exactly."""
    q, k, v = random_layer(np.random.default_rng(seed), episodes, n_support + n_query, heads, d_head)
    expected = slot_core(q, k, v, n_support, rate_shift)
    assert np.array_equal(network(run_emulated, q, k, v, n_support, rate_shift), expected)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 7), st.integers(1, 8), st.integers(1, 3), st.integers(0, 3), st.integers(0, 2 ** 16))
def test_episodes_side_by_side_equal_one_after_another(episodes, lanes, n_support, n_query, seed):
    """Copies of the network in lanes (the last one padded with empty episodes when the lanes do
    not divide the episodes) read out exactly what one network gives running them in turn."""
    q, k, v = random_layer(np.random.default_rng(seed), episodes, n_support + n_query, 2, 3)
    one = network(run_emulated, q, k, v, n_support, 2, lanes=1)
    assert np.array_equal(network(run_emulated, q, k, v, n_support, 2, lanes=lanes), one)
    assert np.array_equal(one, slot_core(q, k, v, n_support, 2))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 20), st.integers(1, 3), st.integers(0, 3),
       st.integers(0, 2 ** 16))
def test_heads_apart_in_lanes_equal_one_network_of_all_heads(episodes, heads, lanes, n_support, n_query, seed):
    """Each head a one-head network of its own, the heads in lanes (``heads_apart``): the same
    read-outs, bit for bit, as every head in one masked network running the episodes in turn."""
    q, k, v = random_layer(np.random.default_rng(seed), episodes, n_support + n_query, heads, 3)
    one = network(run_emulated, q, k, v, n_support, 3, lanes=1)
    assert np.array_equal(network(run_emulated, q, k, v, n_support, 3, heads_apart=True, lanes=lanes or None), one)
    assert np.array_equal(one, slot_core(q, k, v, n_support, 3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 3),
       st.one_of(st.integers(-2, 9), st.sampled_from([-50, -70])), st.integers(1, 8), st.booleans(),
       st.integers(0, 2 ** 16))
def test_compiled_step_loop_equals_the_emulator_stepped_from_python(episodes, heads, d_head, n_support, n_query,
                                                                   rate_shift, lanes, avoid_decay, seed):
    """``run_emulated`` (the step loop compiled) and ``run_stepped`` (FixedLearningDense by
    FixedLearningDense): every read-out at every step the same, with writes on unsafe steps
    (traces that decay) too, several heads in one masked network, lanes, slot rates of every
    shift (negative: a left shift, saturating even where shifting the drive would pass int64)."""
    q, k, v = random_layer(np.random.default_rng(seed), episodes, n_support + n_query, heads, d_head)
    net = LayerNet(heads, d_head, n_support + 1, rate_shift)
    program = compile_program(net, q, k, v, n_support, avoid_decay, lanes)
    assert np.array_equal(run_emulated(net, program), run_stepped(net, program))


def test_compiled_step_loop_decays_traces_as_the_emulator_stepped_from_python():
    """Every write on a step where a written trace of 127 decays (on the key side, the value side
    or both): the keys and values that lose 1, and so the read-outs, the same in both. Small
    queries and a small shift keep the slot rates off their saturation, so a key that lost 1
    shows in them."""
    net = LayerNet(heads=1, d_head=3, capacity=3, rate_shift=2)
    rng = np.random.default_rng(0)
    q = rng.integers(1, 4, (1, 3, 3, 1, 3))  # [lanes, episodes, tokens, heads, d_head]
    k, v = np.full_like(q, 127), np.full_like(q, -127)
    steps = 6000
    streams = trace_streams(0, steps)
    p = np.exp(-1 / TRACE_TAU) * 127.0
    decays = lambda side: streams[side][2::2] >= p - np.floor(p)  # noqa: E731  (floor(p) + (r < frac(p)) = 126)
    program = schedule(net, q, k, v, 2, decays("x_decay") | decays("y_decay"))
    assert program is not None and program.steps > 1000
    assert np.array_equal(run_emulated(net, program), run_stepped(net, program))
    exact = compile_program(net, q[0], k[0], v[0], 2)
    assert not np.array_equal(read_out(program, run_emulated(net, program)), read_out(exact, run_emulated(net, exact)))


def test_compiled_step_loop_refuses_synapses_it_does_not_run():
    """Two-step epochs (say), or synapses already stepped, are the emulator's alone: a clear
    refusal naming what is missing, not other integers."""
    key = synapses(LayerNet(1, 2, 2, 0), 8)["key"]
    two_step = Synapses(weights=key.weights, rule=Rule(type="2F", dw=key.rule.dw, t_epoch=2), steps=8,
                        num_message_bits=8, graded_spike_cfg="OVERWRITE", tag_1=key.tag_1)
    with pytest.raises(ValueError, match="one-step epochs"):
        FixedLearningDense(two_step).step_constants()
    stepped = FixedLearningDense(key)  # a loop starts from the initial state: not from one already stepped
    stepped.spike(1, np.full((1, key.weights.shape[1]), 4, np.int32))
    stepped.learn(1)
    with pytest.raises(ValueError, match="a fresh state"):
        stepped.step_constants()


def test_safe_steps_are_the_steps_where_no_written_trace_decays():
    """Lava's fixed-point decay: floor(p) + (r < frac(p)), p = exp(-1/tau) * trace."""
    steps = 4000
    safe, streams = safe_steps(steps), trace_streams(0, steps)
    p = np.exp(-1 / TRACE_TAU) * np.arange(1, 128, dtype=np.float64)
    for side in ("x_decay", "y_decay"):
        r = streams[side][2::2][:, None]
        decays = (np.floor(p) + (r < p - np.floor(p))) != np.arange(1, 128)
        assert not decays[safe].any()
    assert 0.98 < safe.mean() < 1  # some steps are unsafe, few


@pytest.mark.slow
def test_without_safe_steps_some_writes_lose_one():
    """What a board, whose random numbers the host does not know, would do: writes on unsafe steps
    lose 1 in their large components, so some read-outs differ."""
    q, k, v = random_layer(np.random.default_rng(0), 100, 8, 2, 4)  # 2,500 steps: a write on an unsafe one
    k[:], v[:] = 127, -127  # the traces most likely to decay
    exact = slot_core(q, k, v, 4, 3)
    assert np.array_equal(network(run_emulated, q, k, v, 4, 3), exact)
    assert not np.array_equal(network(run_emulated, q, k, v, 4, 3, avoid_decay=False, lanes=1), exact)


def test_program_recruits_one_slot_per_head_and_reads_three_steps_later():
    net = LayerNet(heads=2, d_head=3, capacity=3, rate_shift=2)
    q, k, v = random_layer(np.random.default_rng(1), 2, 4, 2, 3)
    program = compile_program(net, q, k, v, n_support=2)
    assert program.lanes == 1 and program.key_payload.shape[1] == 1
    writes = np.flatnonzero((program.slot_control == RECRUIT).sum(1) == net.heads)
    assert len(writes) == 2 * 4  # every token of both episodes
    assert np.array_equal(program.readout_steps.reshape(-1), writes + 1 + 3)
    slots = [np.flatnonzero(program.slot_control[t] == RECRUIT) % net.capacity for t in writes[:4]]
    assert [s[0] for s in slots] == [0, 1, 2, 2]  # supports 0, 1; both queries in the spare slot
    assert (program.slot_control[writes + 2] == READ).all()
    assert (program.slot_control == RECRUIT).all(1).sum() == 2  # one clearing step per episode
    assert (program.key_payload[writes] > 0).all()  # every key trace is overwritten (0 is sent as 1)


def test_program_rejects_what_the_network_cannot_hold():
    net = LayerNet(heads=1, d_head=2, capacity=2, rate_shift=0)
    q, k, v = random_layer(np.random.default_rng(2), 1, 4, 1, 2)
    with pytest.raises(ValueError, match="need 3 slots"):
        compile_program(net, q, k, v, n_support=2)
    k[0, 0, 0, 0] = 128
    with pytest.raises(ValueError, match="within -127..127"):
        compile_program(LayerNet(1, 2, 3, 0), q, k, v, n_support=2)
    k[0, 0, 0, 0], q[0, 0, 0, 0] = 0, 2 ** 15
    with pytest.raises(ValueError, match="queries must lie within"):
        compile_program(LayerNet(1, 2, 3, 0), q, k, v, n_support=2)
