import copy
import math
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch._dynamo.utils import counters

from hebbformer.experiments.study import compile_token_steps, cpp_compiler
from hebbformer.models.sequence import MODULES, SequenceModel
from hebbformer.plasticity.fast_weights import FAST_WEIGHTS, MATCHED_SIZED, HebbianFastWeights, build_mixer

KINDS = list(FAST_WEIGHTS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("heads", [1, 4])
def test_sequence_form_equals_token_by_token(kind, heads):
    torch.manual_seed(0)
    mixer = build_mixer(kind, 16, heads).double()
    x = torch.randn(3, 11, 16, dtype=torch.float64)
    state, steps = mixer.init_state(3, x), []
    for t in range(11):
        y, state = mixer.step(x[:, t], state)
        steps.append(y)
    torch.testing.assert_close(mixer(x), torch.stack(steps, 1), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("matched_")])
def test_matched_sequence_form_trains_as_token_by_token(kind):
    """The matched mixers' sequence forms (the Hebbian sum in closed form, the gradient rule's loop
    with its projections hoisted) give every parameter the gradient the steps give, also for one token."""
    torch.manual_seed(2)
    mixer = build_mixer(kind, 12, 3).double()
    for t in (1, 7):
        x = torch.randn(2, t, 12, dtype=torch.float64)
        mixer.zero_grad()
        mixer(x).square().sum().backward()
        grads = lambda: [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in mixer.parameters()]  # noqa: E731
        whole = grads()
        mixer.zero_grad()
        state, steps = mixer.init_state(2, x), []
        for i in range(t):
            y, state = mixer.step(x[:, i], state)
            steps.append(y)
        torch.stack(steps, 1).square().sum().backward()
        for a, b, (name, _) in zip(whole, grads(), mixer.named_parameters()):  # one token: some get none
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=f"{kind} {name}, {t} tokens")


@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("beside_attention", [False, True])
def test_whole_model_token_by_token_equals_sequence(kind, beside_attention):
    torch.manual_seed(1)
    model = SequenceModel(kind, d_in=5, d_out=3, d_model=16, depth=2, heads=2, beside_attention=beside_attention)
    model = model.double()
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_token_by_token(x), rtol=1e-9, atol=1e-9)


@pytest.mark.slow  # inductor compiles C++ for each kind, 30-60 s
@pytest.mark.skipif(shutil.which(cpp_compiler()) is None, reason="torch.compile needs a C++ compiler")
@pytest.mark.parametrize("kind", ["plastic_hebbian", "plastic_gradient", "matched_hebbian", "matched_gradient", "gradient",
                                  "chaudhary_gradient"])
def test_compiled_token_steps_are_the_same_function(kind):
    """study --compile: the token loops through torch.compile give the eager outputs and gradients,
    to float32's rounding, with one compiled code for every sequence length; the untrained layers'
    stays eager."""
    torch.manual_seed(5)
    eager = SequenceModel(kind, d_in=5, d_out=3, d_model=8, depth=2, heads=2, beside_attention=True)
    compiled = copy.deepcopy(eager)
    graphs = counters["stats"]["unique_graphs"]
    compile_token_steps(compiled)
    x = torch.randn(4, 7, 5)
    outputs = [m(x) for m in (eager, compiled)]
    for y in outputs:
        y.square().sum().backward()
    assert (counters["stats"]["unique_graphs"] > graphs) == (kind != "chaudhary_gradient")  # compiled where it should be
    assert not counters["graph_break"]  # whole, not pieces with eager code between them
    torch.testing.assert_close(outputs[1], outputs[0])
    for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)
    compiled_graphs = counters["stats"]["unique_graphs"]
    compiled(torch.randn(4, 12, 5)).sum().backward()
    assert counters["stats"]["unique_graphs"] == compiled_graphs  # another length: the same code, not compiled again


@pytest.mark.parametrize("kind", list(MODULES))
def test_outputs_are_causal(kind):
    """Changing a later token changes nothing before it."""
    torch.manual_seed(2)
    model = SequenceModel(kind, d_in=4, d_out=2, d_model=8, depth=2, heads=2)
    x = torch.randn(1, 8, 4)
    later = x.clone()
    later[:, 5:] = torch.randn(1, 3, 4)
    torch.testing.assert_close(model(x)[:, :5], model(later)[:, :5])
    assert not torch.allclose(model(x)[:, 5:], model(later)[:, 5:])


@settings(max_examples=25, deadline=None)
@given(retention=st.floats(-8, 8), scale=st.floats(0.1, 100), seed=st.integers(0, 2 ** 16))
def test_hebbian_fast_weights_stay_bounded(retention, scale, seed):
    """|F| <= 1 whatever the inputs and the learned retention."""
    torch.manual_seed(seed)
    mixer = HebbianFastWeights(8, 2)
    with torch.no_grad():
        mixer.retention_logit.fill_(retention)
    x = scale * torch.randn(2, 40, 8)
    fast = mixer.init_state(2, x)
    for t in range(40):
        _, fast = mixer.step(x[:, t], fast)
        assert fast.abs().max() <= 1 + 1e-6


def test_neuromodulator_gates_the_hebbian_write():
    """With the neuromodulator silenced (m = 0) nothing is written and the module reads zeros."""
    mixer = HebbianFastWeights(8, 2)
    with torch.no_grad():
        mixer.neuromodulator.weight.zero_()
        mixer.neuromodulator.bias.zero_()
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(mixer(x), mixer.proj.bias.expand(2, 6, 8))


def test_hebbian_linear_control_is_linear_attention():
    """hebbian+linear forgets nothing: its read is sum_{s <= t} m_s v_s (k_s . q_t) with unit keys,
    m = 2 sigmoid(.), tanh values: linear attention, against a sum written out by hand."""
    torch.manual_seed(3)
    mixer = build_mixer("hebbian+linear", 8, 2).double()
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    q, k, v = (p.unflatten(-1, (2, 4)) for p in mixer.qkv(x).chunk(3, -1))
    k, v, q = torch.nn.functional.normalize(k, dim=-1), torch.tanh(v), q / 2  # q / sqrt(d_head)
    m = 2 * torch.sigmoid(mixer.neuromodulator(x))  # [B, T, H]; the learned rate starts at 1
    scores = torch.einsum("bthd,bshd->bhts", q, k) * torch.tril(torch.ones(7, 7, dtype=torch.float64))
    y = torch.einsum("bhts,bshd->bthd", scores * m.transpose(1, 2)[:, :, None], v)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), mixer.proj(y.flatten(2)))


def test_hebbian_linear_norm_reads_a_weighted_mean_of_its_values():
    """hebbian+linear+norm: the Hebbian sum over positive features phi = elu + 1, divided by the
    same sum with every value 1, against the weighted mean written out by hand."""
    torch.manual_seed(4)
    mixer = build_mixer("hebbian+linear+norm", 8, 2).double()
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    q, k, v = (p.unflatten(-1, (2, 4)) for p in mixer.qkv(x).chunk(3, -1))
    q, k, v = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1, torch.tanh(v)
    m = 2 * torch.sigmoid(mixer.neuromodulator(x))  # [B, T, H]
    scores = torch.einsum("bthd,bshd->bhts", q, k) * torch.tril(torch.ones(7, 7, dtype=torch.float64))
    scores = scores * m.transpose(1, 2)[:, :, None]
    y = torch.einsum("bhts,bshd->bthd", scores / scores.sum(-1, keepdim=True), v)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), mixer.proj(y.flatten(2)))
        # a weighted mean: every value the same, the read is that value whatever the scores
        mixer.qkv.weight[16:].zero_()
        mixer.qkv.bias[16:].fill_(0.5)
        expected = mixer.proj(torch.full((2, 7, 8), math.tanh(0.5), dtype=torch.float64))
        torch.testing.assert_close(mixer(x), expected)


def test_hebbian_linear_tied_reads_with_its_own_key():
    """hebbian+linear+tied: the score of a stored pair is the overlap of two unit keys, so a token's
    read weighs its own stored value by m_t / sqrt(d_head), whatever the query map holds."""
    torch.manual_seed(5)
    mixer = build_mixer("hebbian+linear+tied", 8, 2).double()
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    with torch.no_grad():
        before = mixer(x)
        mixer.qkv.weight[:8].normal_()  # the query map: unused
        torch.testing.assert_close(mixer(x), before)
        _, k, v = (p.unflatten(-1, (2, 4)) for p in mixer.qkv(x).chunk(3, -1))
        k, v = torch.nn.functional.normalize(k, dim=-1), torch.tanh(v)
        m = 2 * torch.sigmoid(mixer.neuromodulator(x))
        scores = torch.einsum("bthd,bshd->bhts", k / 2, k) * torch.tril(torch.ones(7, 7, dtype=torch.float64))
        y = torch.einsum("bhts,bshd->bthd", scores * m.transpose(1, 2)[:, :, None], v)
        torch.testing.assert_close(mixer(x), mixer.proj(y.flatten(2)))


def test_the_tied_sums_clip_and_eta_scale_shrink_each_write_as_duan_et_al():
    """+clip scales a token's write by min(1, 1 / |v_t|) (|v_t| over all heads: their update's norm
    for unit keys), +eta_scale by 0.1; the read through the unchanged memory is otherwise the
    tied sum's, so a one-token sequence (its own write read back) shows each factor exactly."""
    torch.manual_seed(7)
    tied = build_mixer("hebbian+linear+tied", 8, 2).double()
    x = torch.randn(3, 1, 8, dtype=torch.float64)
    with torch.no_grad():
        tied.qkv.bias[16:].fill_(3.0)  # values near 1 in all 8 channels: |v| about 2.8, so the clip acts
        plain = tied(x) - tied.proj.bias
        v = torch.tanh(tied.qkv(x)[..., 16:])
        for fix, factor in (("clip", torch.clamp(1 / v.norm(dim=-1, keepdim=True), max=1.0)), ("eta_scale", 0.1)):
            fixed = build_mixer(f"hebbian+linear+tied+{fix}", 8, 2).double()
            fixed.load_state_dict(tied.state_dict())
            torch.testing.assert_close(fixed(x) - fixed.proj.bias, plain * factor)
        assert (v.norm(dim=-1) > 2).all()


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_matched_tied_reads_with_its_key(rule):
    """matched_*+tied is the matched mixer with its query replaced by its unit key (over sqrt(d_head)):
    keys, values and write rates as the untied mixer's with the same weights, the read not."""
    torch.manual_seed(6)
    tied = build_mixer(f"matched_{rule}+tied", 8, 2).double()
    untied = build_mixer(f"matched_{rule}", 8, 2).double()
    untied.load_state_dict(tied.state_dict())
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    with torch.no_grad():
        q, k, v, eta = tied._signals(x)
        torch.testing.assert_close(q, k / 2)
        for a, b in zip((k, v, eta), untied._signals(x)[1:]):
            torch.testing.assert_close(a, b)
        assert not torch.allclose(tied(x), untied(x))
    ones = build_mixer(f"matched_{rule}+tied+A_ones", 8, 2)
    assert ones.tied and torch.equal(ones.plasticity, torch.ones(2, 4, 4))


ALL_UNDONE = {"keep", "tanh", "read_after", "no_clip"}


@pytest.mark.parametrize("kind, undone", [(f"matched_hebbian+tied+A_ones+{u}", {u}) for u in sorted(ALL_UNDONE)]
                         + [("matched_hebbian+tied+only_forgetting", ALL_UNDONE - {"keep"}),
                            ("matched_hebbian+tied+only_raw_value", ALL_UNDONE - {"tanh"}),
                            ("matched_hebbian+tied+only_read_first", ALL_UNDONE - {"read_after"}),
                            ("matched_hebbian+tied+only_clip", ALL_UNDONE - {"no_clip"}),
                            ("matched_hebbian+tied+only_learned_A", ALL_UNDONE)])
def test_matched_undo_takes_differences_out(kind, undone):
    """Duan et al.'s update read with its key with some of its differences from the tied Hebbian sum
    taken out (+A_ones+NAME: one; +only_NAME: all but one), against the update written out token by
    token with those differences out; each changes the output."""
    torch.manual_seed(7)
    mixer = build_mixer(kind, 8, 2).double()
    base = build_mixer("matched_hebbian+tied+A_ones", 8, 2).double()
    base.load_state_dict(mixer.state_dict())
    with torch.no_grad():
        mixer.plasticity.uniform_(0.5, 1.5)  # a learned A, not the ones it starts at
        base.plasticity.copy_(mixer.plasticity)
        mixer.qkv.weight.mul_(3)  # values large enough for the clip to bite
        base.qkv.weight.copy_(mixer.qkv.weight)
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    with torch.no_grad():
        q, k, v, eta = mixer._signals(x)
        raw_v = base._signals(x)[2]
        torch.testing.assert_close(v, torch.tanh(raw_v) if "tanh" in undone else raw_v)
        fast, ys = torch.zeros(2, 2, 4, 4, dtype=torch.float64), []
        for t in range(6):
            clip = torch.ones(2) if "no_clip" in undone else (1 / v[:, t].flatten(1).norm(dim=1)).clamp(max=1.0)
            e = eta[:, t, :, None, None]
            written = (1 if "keep" in undone else 1 - e) * fast \
                + e * clip[:, None, None, None] * mixer.plasticity * (v[:, t, :, :, None] * k[:, t, :, None, :])
            ys.append(((written if "read_after" in undone else fast) @ q[:, t, ..., None])[..., 0])
            fast = written
        torch.testing.assert_close(mixer(x), mixer.proj(torch.stack(ys, 1).flatten(2)))
        assert not torch.allclose(mixer(x), base(x))
    assert (raw_v.flatten(2).norm(dim=2) > 1).any()  # the clip had something to do


def test_matched_fixed_plasticity_is_held_at_ones():
    """+A_fixed is +A_ones with A a buffer: the same function at the start, and A never trained."""
    torch.manual_seed(8)
    fixed, ones = build_mixer("matched_hebbian+tied+A_fixed", 8, 2), build_mixer("matched_hebbian+tied+A_ones", 8, 2)
    fixed.load_state_dict(ones.state_dict())
    assert "plasticity" not in dict(fixed.named_parameters()) and "plasticity" in dict(ones.named_parameters())
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(fixed(x), ones(x))
    fixed(x).square().sum().backward()
    torch.optim.SGD(fixed.parameters(), lr=1.0).step()
    assert torch.equal(fixed.plasticity, torch.ones(2, 4, 4))


def test_matched_with_every_difference_undone_is_the_tied_sum_with_their_write_scale():
    """+A_fixed+all reads what hebbian+linear+tied+eta_scale reads (0.1 * 2 sigmoid(m) v_s k_s^T summed,
    read with the key after the write) once that sum's learned rate and read gain are at their start."""
    torch.manual_seed(9)
    undone, tied_sum = build_mixer("matched_hebbian+tied+A_fixed+all", 8, 2), build_mixer("hebbian+linear+tied+eta_scale", 8, 2)
    with torch.no_grad():
        tied_sum.qkv.load_state_dict(undone.qkv.state_dict())
        tied_sum.neuromodulator.load_state_dict(undone.modulator.state_dict())
        tied_sum.proj.load_state_dict(undone.proj.state_dict())
    x = torch.randn(3, 7, 8)
    torch.testing.assert_close(undone(x), tied_sum(x))


def test_delta_rule_recalls_what_it_stored_exactly():
    """beta = 1 and orthonormal keys: after writing (k1, v1), (k2, v2) and (k1, v1) again,
    W k1 = v1 and W k2 = v2. A Hebbian sum would hold 2 v1 for k1; the delta rule writes only
    the error, which is zero for a pair it already knows."""
    mixer = build_mixer("delta", 4, 1).double()
    values = torch.randn(4, 4, dtype=torch.float64)
    with torch.no_grad():  # q = k = the input, v = values @ input, beta = sigmoid(60) = 1
        mixer.qkv.weight.copy_(torch.cat([torch.eye(4), torch.eye(4), values]))
        mixer.qkv.bias.zero_()
        mixer.strength.weight.zero_()
        mixer.strength.bias.fill_(60.0)
    k1, k2 = torch.eye(4, dtype=torch.float64)[:2, None]
    w = mixer.init_state(1, k1)
    for x in (k1, k2, k1):
        _, w = mixer.step(x, w)
    torch.testing.assert_close((w[0, 0] @ k1[0]), values @ k1[0])
    torch.testing.assert_close((w[0, 0] @ k2[0]), values @ k2[0])


def test_gradient_module_meta_learns_through_its_inner_gradient():
    """The outer gradient reaches the parameters that set the inner target (second order)."""
    torch.manual_seed(3)
    mixer = build_mixer("gradient", 8, 2)
    mixer(torch.randn(2, 5, 8)).square().sum().backward()
    target_rows = mixer.qkt.weight.grad[16:]  # the self-determined target's projection
    assert target_rows.abs().sum() > 0 and mixer.step_size.weight.grad.abs().sum() > 0


def test_gradient_module_closed_form_equals_autodiff_of_its_inner_loss():
    from torch.func import grad

    from hebbformer.plasticity.fast_weights import squared_error_through_tanh
    mixer = build_mixer("gradient", 8, 2).double()
    w, k, target = (torch.randn(3, 2, 4, 4, dtype=torch.float64), torch.randn(3, 2, 4, dtype=torch.float64),
                    torch.randn(3, 2, 4, dtype=torch.float64))
    torch.testing.assert_close(mixer.inner_gradient(w, k, target), grad(squared_error_through_tanh)(w, k, target))


def test_gradient_module_takes_any_inner_loss():
    """Another inner loss drops in; its gradient comes from torch.func.grad."""
    from hebbformer.plasticity.fast_weights import GradientFastWeights

    class Linear(GradientFastWeights):
        inner_loss = staticmethod(lambda w, k, target: 0.5 * (((w @ k[..., None])[..., 0] - target) ** 2).sum())

    mixer = Linear(8, 2).double()
    w, k, target = torch.randn(1, 2, 4, 4, dtype=torch.float64), torch.randn(1, 2, 4, dtype=torch.float64), \
        torch.randn(1, 2, 4, dtype=torch.float64)
    expected = ((w @ k[..., None])[..., 0] - target)[..., :, None] * k[..., None, :]  # the delta rule's error term
    torch.testing.assert_close(mixer.inner_gradient(w, k, target), expected)


def test_unknown_module_is_named():
    with pytest.raises(ValueError, match="unknown fast-weight module 'hebian'"):
        build_mixer("hebian", 8, 2)


def test_matched_gradient_rule_writes_the_gradient_of_its_inner_loss():
    """z_t k_t^T is dL_t/dF for L_t = mean((w * (v_t + F k_t))^2), Duan et al.'s inner loss on the
    layer's output to its key; the Hebbian twin writes v_t k_t^T instead, nothing else differs."""
    from hebbformer.plasticity.fast_weights import MatchedGradient

    torch.manual_seed(0)
    m = MatchedGradient(16, 2).double()
    with torch.no_grad():
        m.loss_weight.uniform_(0.5, 1.5)
    fast = torch.randn(3, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    k = torch.nn.functional.normalize(torch.randn(3, 2, 8, dtype=torch.float64), dim=-1)
    v = torch.randn(3, 2, 8, dtype=torch.float64)
    loss = ((m.loss_weight * (v + (fast @ k[..., None])[..., 0])) ** 2).flatten(1).mean(1).sum()
    (expected,) = torch.autograd.grad(loss, fast)
    z = m._z(v, k, fast.detach())
    torch.testing.assert_close(z[..., :, None] * k[..., None, :], expected)


def test_matched_write_is_clipped_and_its_rate_modulated():
    """|eta_t c_t z_t k_t^T| <= 0.2 per sequence: eta = 0.2 sigmoid(m) and the update's norm clipped to 1."""
    from hebbformer.plasticity.fast_weights import MatchedHebbian

    torch.manual_seed(1)
    m = MatchedHebbian(16, 2)
    with torch.no_grad():
        m.plasticity.fill_(1.0)  # the raw write, A = 1
        m.qkv.weight.mul_(50)  # large values: the clip must bite
    x = torch.randn(4, 16)
    _, fast = m.step(x, m.init_state(4, x))
    assert (fast.flatten(1).norm(dim=1) <= 0.2 + 1e-6).all()
    eta = 0.2 * torch.sigmoid(m.modulator(x))
    assert ((0 < eta) & (eta < 0.2)).all()


@pytest.mark.parametrize("kind", list(MATCHED_SIZED))
def test_matched_sized_is_the_rule_it_names_with_its_read_scaled(kind):
    """``RULE+sized_as_X`` gives RULE's output with the read times its gain, from the same weights."""
    torch.manual_seed(10)
    sized = build_mixer(kind, 8, 2).double()
    rule = build_mixer(kind.rsplit("+sized_as_", 1)[0], 8, 2).double()
    rule.load_state_dict(sized.state_dict())
    assert sized.read_gain != 1
    x = torch.randn(3, 7, 8, dtype=torch.float64)
    bias = sized.proj.bias
    torch.testing.assert_close(sized(x) - bias, sized.read_gain * (rule(x) - bias), rtol=1e-9, atol=1e-12)
