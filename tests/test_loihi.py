"""The Loihi 2 emulator: the rule grammar, known answers from lava's behaviour, and parity with
lava itself on randomised scenarios (those skip where lava-nc is not installed)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hebbformer.cli import main
from hebbformer.errors import ConfigError
from hebbformer.neuro.loihi import Scenario, parse_rule, simulate
from hebbformer.neuro.loihi.lava_sim import lava_available

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "loihi"
needs_lava = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed (docs/loihi.md)")


# ------------------------------------------------------------------ grammar

@pytest.mark.parametrize("rule, dep, mant, exp, factors", [
    # normalised only until the mantissa fits 4 bits (lava 0.10 gives 6*2^1 and -4*2^1 here,
    # not the 3*2^2 and -1*2^3 the reference notes claim; lava is the judge)
    ("12*x0*y1", "x0", 6, 1, [("y1", 0, False)]),
    ("-8*x0", "x0", -4, 1, []),
    ("y0*(x1-10)", "y0", 1, 0, [("x1", -10, False)]),
    ("u1*(w-3)*2^3", "u", 1, 3, [("w", -3, False)]),
    ("x0*(10-x1)", "x0", -1, 0, [("x1", -10, False)]),  # lava: -(x1 - 10)
    ("x0*(-x1)", "x0", 1, 0, [("x1", 0, False)]),  # lava drops the sign
    ("y0*sgn(w+3)*x1", "y0", 1, 0, [("w", 3, True), ("x1", 0, False)]),
    ("x0*y0*x1", "x0", 1, 0, [("y0", 0, False), ("x1", 0, False)]),
])
def test_rule_grammar_known_answers(rule, dep, mant, exp, factors):
    (p,) = parse_rule(rule).products
    assert (p.dependency, p.s_mant, p.s_exp) == (dep, mant, exp)
    assert [(f.var, f.const, f.sgn) for f in p.factors] == factors


@pytest.mark.parametrize("rule", ["9*x0", "x0*2^9", "y1*2", "x0*sgn(x1)", "0.5*x0", "x0*(y1"])
def test_rules_lava_rejects_are_rejected_with_a_message(rule):
    with pytest.raises(ConfigError, match="learning rule"):
        parse_rule(rule)


def test_decimation_exponent_must_agree():
    assert parse_rule("u1*w - u1*x1").decimate_exponent == 1
    with pytest.raises(ConfigError, match="same K"):
        parse_rule("u1*w + u2*x1")


# ------------------------------------------------------------------ known answers (no lava needed)

def one_synapse(mode, dw, weight, **rule):
    """One presynaptic neuron spiking at step 1 onto one silent LIF neuron."""
    return Scenario.from_dict(dict(steps=1, mode=mode, pre=[[1]], weights=[[weight]], lif=dict(vth=10 ** 6),
                                   rule=dict(dw=dw, **rule), record=["weights", "x1"]))


def test_fixed_point_width_shift_and_float_have_none():
    """dw = 2^-2*x0*x1*w with x1 = 20 and w = 64: fixed point shifts the product of widths
    7 + 9 + 4 = 20 > 15 right by 5 (64 -> 74); floating point does not (64 -> 384)."""
    fixed = simulate(one_synapse("fixed_pt", "2^-2*x0*x1*w", 64, x1_impulse=20, x1_tau=4))
    assert fixed["x1"][0, 0] == 20  # the trace at the end of the epoch: the spike's impulse
    assert fixed["weights"][0, 0, 0] == 74
    assert simulate(one_synapse("floating_pt", "2^-2*x0*x1*w", 64, x1_impulse=20, x1_tau=4))["weights"][0, 0, 0] == 384


def test_mixed_sign_mode_truncates_the_lowest_bit_at_the_first_step():
    s = Scenario.from_dict(dict(steps=1, pre=[[0]] * 6, weights=[[1, 3, -1, -3, 11, 255]], lif=dict(vth=100),
                                rule=dict(dw="x0*2^-7"), record=["weights"]))
    assert simulate(s)["weights"][0, 0].tolist() == [0, 2, -2, -4, 10, 254]


def test_weights_saturate_at_the_9_bit_grid():
    s = one_synapse("fixed_pt", "7*2^8*x0", 250)
    assert simulate(s)["weights"][0, 0, 0] == 255


def test_same_seed_same_run_other_seed_other_run():
    d = json.loads((EXAMPLES / "stdp_2f.json").read_text())
    a, b = simulate(Scenario.from_dict(d)), simulate(Scenario.from_dict(d))
    d["rule"]["rng_seed"] += 1
    c = simulate(Scenario.from_dict(d))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_bad_scenarios_are_named(tmp_path):
    good = json.loads((EXAMPLES / "stdp_2f.json").read_text())
    for change, words in [({"mode": "fast"}, "mode='fast'"), ({"weights": [[1, 2]]}, "weights are (1, 2)"),
                          ({"rule": {**good["rule"], "dw": "x0*0.5"}}, "learning rule"),
                          ({"record": ["weights", "z"]}, "cannot record ['z']"), ({"steps": 3}, "steps=3"),
                          ({"rule": {**good["rule"], "type": "3F"}}, "a 3F rule needs reward"),
                          ({"colour": 1}, "unknown keys ['colour']")]:
        with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            Scenario.from_dict({**good, **change})
    with pytest.raises(ConfigError, match="does not exist"):
        Scenario.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    assert main(["loihi", "run", str(tmp_path / "bad.json")]) == 2


def test_cli_run_saves_the_recordings(tmp_path):
    out = tmp_path / "r.npz"
    assert main(["loihi", "run", str(EXAMPLES / "reward_3f.json"), "--out", str(out)]) == 0
    assert np.load(out)["weights"].shape == (60, 3, 5)
    plain = tmp_path / "plain"  # the file named, not plain.npz beside it (np.savez's habit with a name)
    assert main(["loihi", "run", str(EXAMPLES / "reward_3f.json"), "--out", str(plain)]) == 0
    assert np.load(plain)["weights"].shape == (60, 3, 5) and not (tmp_path / "plain.npz").exists()


# ------------------------------------------------------------------ parity with lava

@pytest.mark.slow
@needs_lava
@pytest.mark.parametrize("name", ["stdp_2f.json", "reward_3f.json", "key_write.json"])
def test_example_scenarios_match_lava(name, capsys):
    assert main(["loihi", "parity", str(EXAMPLES / name)]) == 0, capsys.readouterr().out


TRACES, SYNAPTIC = ["x1", "x2", "y1", "y2", "y3"], ["w", "d", "t"]


@st.composite
def products(draw, three_factor: bool, fixed: bool):
    dep = draw(st.sampled_from(["x0", "y0", "u0", "u1"]))
    terms = [dep]
    for _ in range(draw(st.integers(0, 2))):
        var = draw(st.sampled_from((["x1", "x2", "y2"] if three_factor else TRACES) + SYNAPTIC))
        kind = draw(st.sampled_from(["plain", "const", "sgn"] if var in SYNAPTIC else ["plain", "const"]))
        c = draw(st.integers(-20, 20))
        terms.append(var if kind == "plain" else f"({var}{c:+d})" if kind == "const" else f"sgn({var}{c:+d})")
    if fixed and dep in ("x0", "y0") and draw(st.booleans()):
        terms.append("y0" if dep == "x0" else "x0")  # a one-bit factor (fixed_pt only)
    mant, exp = draw(st.integers(-8, 7).filter(bool)), draw(st.integers(-7, 3))
    return f"{mant}*2^{exp}*" + "*".join(terms)


@st.composite
def scenarios(draw):
    mode = draw(st.sampled_from(["fixed_pt", "floating_pt"]))
    fixed, three = mode == "fixed_pt", draw(st.booleans())
    n_pre, n_post, steps = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(4, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    graded = draw(st.sampled_from(["binary", "USE_REGULAR_IMPULSE", "OVERWRITE", "ADD_WITH_SATURATION",
                                   "ADD_WITHOUT_SATURATION"]))
    pre = (rng.random((n_pre, steps)) < draw(st.floats(0.1, 0.6))).astype(int)
    if graded != "binary":
        pre = pre * rng.integers(1, 256, pre.shape)
    deps = st.sampled_from([1, 2, 3])
    k = draw(st.sampled_from(["u0", "u1"]))
    def rule_text():
        text = ""
        for _ in range(draw(deps)):
            term = draw(products(three, fixed))
            text += (f" - {term[1:]}" if term.startswith("-") else f" + {term}") if text else term
        return text.replace("u1", k).replace("u0", k)  # one K per rule, as lava requires

    taus = st.integers(0 if fixed else 1, 30)
    impulses = st.floats(0, 40).map(lambda v: round(v * 4) / 4)
    rule = dict(type="3F" if three else "2F", dw=rule_text(), t_epoch=draw(st.integers(1, 3)),
                rng_seed=draw(st.integers(0, 1000)), x1_impulse=draw(impulses), x1_tau=draw(taus),
                x2_impulse=draw(impulses), x2_tau=draw(taus))
    if draw(st.booleans()):
        rule["dt"] = rule_text()
    if draw(st.booleans()):
        rule["dd"] = rule_text()
    if not three:
        for y in ("y1", "y2", "y3"):
            rule[f"{y}_impulse"], rule[f"{y}_tau"] = draw(impulses), draw(taus)
    lif = dict(du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)), vth=draw(st.integers(1, 200)),
               bias_mant=draw(st.integers(0, 50)), bias_exp=draw(st.integers(0, 3)))
    if not fixed:
        lif = dict(du=lif["du"] / 4096, dv=lif["dv"] / 4096, vth=float(lif["vth"]), bias_mant=float(lif["bias_mant"]))
    d = dict(steps=steps, mode=mode, pre=pre.tolist(), num_message_bits=0 if graded == "binary" else 8,
             graded_spike_cfg="USE_REGULAR_IMPULSE" if graded == "binary" else graded,
             weights=rng.integers(-255, 256, (n_post, n_pre)).tolist(),
             sign_mode=draw(st.sampled_from(["MIXED", "EXCITATORY", "INHIBITORY"])),
             num_weight_bits=draw(st.integers(6, 8)), weight_exp=draw(st.integers(-3, 2)), rule=rule, lif=lif,
             record=["weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "u", "v", "spikes"])
    if three:
        d["reward"] = rng.integers(-40, 60, (n_post, steps)).tolist()
    return d


@pytest.mark.slow
@needs_lava
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_random_scenarios_match_lava(d):
    from hebbformer.neuro.loihi.parity import run_parity

    s = Scenario.from_dict(d)
    rows, _ = run_parity(s)
    assert all(r.ok for r in rows), [(r.name, r.max_abs) for r in rows if not r.ok]


@pytest.mark.slow
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_sparse_updates_equal_updating_every_synapse(d):
    """Computing the learning rule only where neurons spiked changes nothing (no lava needed)."""
    from hebbformer.neuro.loihi.emulator import FixedLearningDense

    s = Scenario.from_dict(d)
    sparse = simulate(s)
    FixedLearningDense.sparse_updates = False
    try:
        dense = simulate(s)
    finally:
        FixedLearningDense.sparse_updates = True
    for k in sparse:
        np.testing.assert_array_equal(sparse[k], dense[k], err_msg=k)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_hoisted_writes_equal_every_factor_entry_by_entry(d):
    """The fixed-point update with each product's per-row and per-column factors hoisted and the
    entries updated line by line (``kernels._learn_hoisted``) equals computing every factor entry
    by entry in lava's order (the path kept for products that can wrap), bit for bit."""
    from hebbformer.neuro.loihi import emulator, kernels

    s = Scenario.from_dict(d)
    hoisted = simulate(s)

    def entry_by_entry(*args):  # hoist (argument 14) off
        return kernels.learn_fixed(*args[:14], False, *args[15:])

    emulator.learn_fixed = entry_by_entry
    try:
        plain = simulate(s)
    finally:
        emulator.learn_fixed = kernels.learn_fixed
    for k in hoisted:
        np.testing.assert_array_equal(hoisted[k], plain[k], err_msg=k)


def test_hoisted_writes_are_exercised():
    """The scenarios above reach the hoisted path (a fixed-point rule whose products cannot wrap)."""
    from hebbformer.neuro.loihi.emulator import FixedLearningDense
    from hebbformer.neuro.loihi.engine_config import Rule, Synapses

    dense = FixedLearningDense(Synapses(weights=np.zeros((2, 3)), steps=4, rule=Rule(type="2F", dw="y0*x1 - x0*y1")))
    assert all(dense._hoist.values())


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.integers(0, 2 ** 16))
def test_lanes_run_as_separate_networks(d, seed):
    """Copies of a network side by side in lanes, each driven by spikes of its own (and rewards),
    end exactly where each would alone: every rule, epoch length and mode of the parity sweep."""
    from hebbformer.neuro.loihi.emulator import Network

    s = Scenario.from_dict(d)
    rng = np.random.default_rng(seed)
    pres = np.stack([s.pre, s.pre[rng.permutation(len(s.pre))][:, rng.permutation(s.steps)]])
    rewards = None if s.reward is None else np.stack([s.reward, s.reward[:, ::-1]])
    both = Network(s, pres, rewards)
    for t in range(1, s.steps + 1):
        both.step(t)
    for lane in range(2):
        alone = Network(s, pres[lane:lane + 1], None if rewards is None else rewards[lane:lane + 1])
        for t in range(1, s.steps + 1):
            alone.step(t)
        for name, value in alone.dense.variables(0).items():
            np.testing.assert_array_equal(both.dense.variables(lane)[name], value, err_msg=f"lane {lane}: {name}")


def test_graded_overwrite_rounds_half_to_even_as_lava():
    """x1 from graded spikes that overwrite it (``kernels.overwrite_x1``): lava's
    np.round(s / 2) as uint8 where s != 0, the spike time set there; elsewhere unchanged."""
    from hebbformer.neuro.loihi.kernels import overwrite_x1

    s = np.arange(-300, 300, dtype=np.int32).reshape(12, 50)
    x1, tx = np.full((12, 50), 7, np.int64), np.zeros((12, 50), np.int64)
    overwrite_x1(s, x1, tx, 3)
    expected = np.where(s != 0, np.round(s / 2).astype(np.int64) & 0xFF, 7)
    assert np.array_equal(x1, expected) and np.array_equal(tx, np.where(s != 0, 3, 0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("r_decay", [None, 0.0, 0.999])  # drawn; then none of 0..255 decays (tau 65535); then most do
def test_trace_history_equals_its_definition(seed, r_decay):
    """``kernels.trace_history``, rows of tau 0 (decay 0: forgotten at once) included, against
    the definition step by step in numpy: stochastic decay floor(p) + (r < frac(p)), then the
    impulse at each neuron's spike time, saturating; values beyond its table of 0..255 too."""
    from hebbformer.neuro.loihi.kernels import trace_history

    rng = np.random.default_rng(seed)
    lanes, rows, n, steps = 3, 3, 9, 3
    stored = rng.integers(0, 128, (lanes, rows, n))
    stored[0, :, 0], stored[1, :, 1] = 70_000, -3  # off the table
    decay = np.array([0.0, np.exp(-1 / 5), np.exp(-1 / 65535)])
    t_spike = rng.integers(0, steps + 1, (lanes, n))
    whole, frac = rng.integers(0, 60, rows), rng.integers(0, 256, rows)
    r_decay, r_impulse = rng.random() if r_decay is None else r_decay, int(rng.integers(0, 256))
    h = [stored]
    for k in range(1, steps + 1):
        p = decay[None, :, None] * h[-1]
        v = np.floor(p).astype(np.int64) + (r_decay < p - np.floor(p))
        impulse = (whole + (r_impulse < frac))[None, :, None]
        h.append(np.where((t_spike == k)[:, None, :], np.clip(v + impulse, 0, 127), v))
    assert np.array_equal(trace_history(stored, decay, t_spike, r_decay, whole, frac, r_impulse, steps, 127), np.stack(h))
