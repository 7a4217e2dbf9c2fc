"""Duan et al.'s rule as the block's plastic MLP, its untrained form in the claims' source, and the
Hebbian module's fixes one at a time."""

import pytest
import torch
from torch.func import grad

from hebbformer.experiments import study
from hebbformer.experiments.study import StudyConfig, build, width_for_budget
from hebbformer.models.sequence import SequenceModel
from hebbformer.plasticity.fast_weights import HEBBIAN_ABLATION, HEBBIAN_FIXES, build_mixer
from hebbformer.plasticity.plastic_layers import PLASTIC_LAYERS, UNTRAINED_PLASTIC_LAYERS, WRITE_OFF_LAYERS
from hebbformer.tasks import build_task

WRITING = [k for k in PLASTIC_LAYERS if k not in WRITE_OFF_LAYERS]
DUAN_LAYERS = [k for k in WRITING if k not in UNTRAINED_PLASTIC_LAYERS]


def layer(kind, d=6, hidden=10, seed=0):
    torch.manual_seed(seed)
    return PLASTIC_LAYERS[kind](d, hidden).double()


@pytest.mark.parametrize("kind", ["plastic_gradient", "chaudhary_gradient"])
def test_gradient_rule_writes_the_gradient_of_its_inner_loss(kind):
    m = layer(kind)
    if kind == "plastic_gradient":
        with torch.no_grad():
            m.loss_weight.uniform_(0.5, 2)
    x = torch.randn(3, 6, dtype=torch.float64)
    fast = tuple(0.1 * torch.randn_like(f) for f in m.init_state(3, x))

    def loss(f):
        return m.inner_loss(m._layers(x, f)[2]).sum()  # each sequence's loss depends on its own F only

    pre, h, o = m._layers(x, fast)
    for closed, auto in zip(m.updates(x, pre, h, o, fast), grad(loss)(fast)):
        torch.testing.assert_close(closed, auto, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", DUAN_LAYERS)
def test_one_write_is_the_rule_read_before_it(kind):
    """F_1 = eta * min(1, 1/|G|) * A (.) G from F_0 = 0, and token 0 read W alone."""
    m = layer(kind)
    x = 3 * torch.randn(4, 6, dtype=torch.float64)
    with torch.no_grad():
        m.loss_weight.fill_(4.0)  # a gradient large enough to be clipped
    zero = m.init_state(4, x)
    pre, h, o = m._layers(x, zero)
    y, fast = m.step(x, zero)
    torch.testing.assert_close(y, (torch.relu(x @ m.w1 + m.b1) @ m.w2 + m.b2)[:, :6])
    grads = m.updates(x, pre, h, o, zero)
    norm = torch.sqrt(sum(g.flatten(1).square().sum(1) for g in grads))
    eta = 0.2 * torch.sigmoid(o[:, -1])
    plasticity = (m.plasticity_w1, m.plasticity_b1, m.plasticity_w2, m.plasticity_b2)
    for f, a, g in zip(fast, plasticity, grads):
        scale = (eta * torch.clamp(1 / norm, max=1)).reshape(-1, *[1] * (g.dim() - 1))
        torch.testing.assert_close(f, scale * a * g)
    if kind == "plastic_hebbian":  # pre x post; biases get no Hebbian term
        torch.testing.assert_close(grads[0], x[:, :, None] * h[:, None])
        assert not fast[1].any() and not fast[3].any()
    assert (norm > 1).any()  # the clip was exercised


@pytest.mark.parametrize("kind", WRITING)
def test_the_modulator_can_freeze_the_memory(kind):
    m = layer(kind)
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    state = m.init_state(2, x)
    with torch.no_grad():
        m.b2[-1] = -1e4  # eta = 0.2 sigmoid(m) = 0: nothing written, nothing forgotten
        for t in range(7):
            _, state = m.step(x[:, t], state)
    assert all(not f.any() for f in state)
    with torch.no_grad():
        m.b2[-1] = 0.0
        _, state = m.step(x[:, 0], state)
    assert state[0].abs().sum() > 0


@pytest.mark.parametrize("kind", list(UNTRAINED_PLASTIC_LAYERS))
def test_the_sources_write_is_its_rule_with_fixed_coefficients(kind):
    """Chaudhary's: F_1 = (1 - e) F_0 + e * 0.02 * G with e = 0.2 sigmoid(m) * min(1, 1/|G|) (the
    clip scaling the forgetting too), |G| over the weights alone, read with W + F_0 through GELU,
    and for the Hebbian rule G = pre x (linear output), a bias's the output."""
    m = layer(kind)
    x = torch.randn(4, 6, dtype=torch.float64) * torch.tensor([3, 3, 0.05, 0.05], dtype=torch.float64)[:, None]
    before = tuple(0.1 * torch.randn_like(f) for f in m.init_state(4, x))
    y, fast = m.step(x, before)
    gelu = torch.nn.functional.gelu
    pre = (x[:, None] @ (m.w1 + before[0]))[:, 0] + m.b1 + before[1]
    o = (gelu(pre)[:, None] @ (m.w2 + before[2]))[:, 0] + m.b2 + before[3]
    torch.testing.assert_close(y, o[:, :6])
    grads = m.updates(x, pre, gelu(pre), o, before)
    if kind == "chaudhary_hebbian":
        expected = (x[:, :, None] * pre[:, None], pre, gelu(pre)[:, :, None] * o[:, None], o)
        for g, e in zip(grads, expected):
            torch.testing.assert_close(g, e)
    norm = torch.sqrt(grads[0].flatten(1).square().sum(1) + grads[2].flatten(1).square().sum(1))
    assert (norm > 1).any() and (norm < 1).any()  # clipped and unclipped writes
    e = 0.2 * torch.sigmoid(o[:, -1]) * torch.clamp(1 / norm, max=1)
    for f0, f, g in zip(before, fast, grads):
        e_ = e.reshape(-1, *[1] * (g.dim() - 1))
        torch.testing.assert_close(f, (1 - e_) * f0 + e_ * 0.02 * g)


@pytest.mark.parametrize("kind", WRITING)
def test_the_task_loss_trains_the_write_in_duans_layers_and_not_in_the_sources(kind):
    """Duan et al.'s outer loss reaches A, the modulator and the inner loss through the writes;
    Chaudhary's code writes outside the graph: its coefficients are no parameters, and the
    modulator unit's weights and the extra outputs (which only the write reads) get no gradient."""
    torch.manual_seed(4)
    model = SequenceModel(kind, d_in=5, d_out=3, d_model=8, depth=2, heads=2, beside_attention=True).double()
    model(torch.randn(2, 7, 5, dtype=torch.float64)).square().sum().backward()
    for block in model.blocks:
        mlp, untrained = block.mlp, kind in UNTRAINED_PLASTIC_LAYERS
        names = {n for n, _ in mlp.named_parameters()}
        assert untrained != bool({"plasticity_w1", "loss_weight"} & names)
        write_only = torch.cat([mlp.w2.grad[:, 8:].flatten(), mlp.b2.grad[8:]])  # the extra outputs, the modulator
        assert (write_only.abs().max() == 0) == untrained
        assert mlp.w1.grad.abs().max() > 0 and mlp.w2.grad[:, :8].abs().max() > 0  # the read is trained


FAMILIES = [("plastic_off", "plastic_hebbian"), ("plastic_off", "plastic_gradient"),
            ("chaudhary_off", "chaudhary_hebbian"), ("chaudhary_off", "chaudhary_gradient")]


@pytest.mark.parametrize("off, rule", FAMILIES)
def test_the_write_off_is_its_familys_rule_with_no_plasticity(off, rule):
    """plastic_off and chaudhary_off: their family's rule with A (c) at 0, every write 0, F at
    its start, so the same outputs from the same slow weights, token by token and whole."""
    assert rule in WRITE_OFF_LAYERS[off].rules
    off, m = layer(off), layer(rule)
    m.load_state_dict(off.state_dict(), strict=False)  # the slow weights: W1, b1, W2, b2
    x = 3 * torch.randn(2, 9, 6, dtype=torch.float64)
    assert not torch.allclose(off(x), m(x))  # with its coefficients the rule does write
    with torch.no_grad():
        for name in m.shapes:
            getattr(m, f"plasticity_{name}").zero_()
    torch.testing.assert_close(off(x), m(x), rtol=1e-12, atol=1e-12)
    assert {n for n, _ in off.named_parameters()} == {"w1", "b1", "w2", "b2"} and off.init_state(2, x) == ()


@pytest.mark.parametrize("off, rule", FAMILIES)
def test_the_write_off_gets_its_familys_width_and_no_write_rate(off, rule):
    """The rules' width (fewer parameters where they learn A and w), and the grid's learning rates
    alone, as every static module gets them."""
    cfg = StudyConfig(modules=[off], tasks=["cue_reward"], beside_attention=True, tune_lrs=[1e-3, 1e-2],
                      tune_write_rates=[1.0, 2.0])
    task = build_task("cue_reward")
    assert width_for_budget(off, task, cfg) == width_for_budget(rule, task, cfg)
    d = width_for_budget(rule, task, cfg)
    fewer = study.plastic_parameters(build(off, task, d, cfg)) < study.plastic_parameters(build(rule, task, d, cfg))
    assert fewer == (off == "plastic_off")
    assert not study.writes(off) and study.writes(rule)
    assert [w for _, w in cfg.grid(off)] == [1.0] * 4 and len({lr for lr, _ in cfg.grid(off)}) == 4


@pytest.mark.parametrize("fix", HEBBIAN_FIXES)
def test_each_hebbian_fix_changes_the_module_and_reduces_to_it_when_neutral(fix):
    torch.manual_seed(3)
    base = build_mixer("hebbian", 8, 2).double()
    fixed = build_mixer(f"hebbian+{fix}", 8, 2).double()
    fixed.load_state_dict(base.state_dict(), strict=False)
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    assert not torch.allclose(base(x), fixed(x))
    if fix in ("rate", "plasticity"):  # a learned factor that, set to what the plain module uses, is it
        with torch.no_grad():
            if fix == "rate":
                fixed.rate.copy_(1 - torch.sigmoid(base.retention_logit))
            else:
                fixed.plasticity.fill_(1.0)
        torch.testing.assert_close(base(x), fixed(x))
    if fix == "read_first":  # the first token reads an empty memory
        torch.testing.assert_close(fixed(x)[:, 0], fixed.proj.bias.expand(2, 8))


def test_the_ablation_lists_each_fix_and_all():
    assert set(HEBBIAN_ABLATION) == {f"hebbian+{f}" for f in HEBBIAN_FIXES} | {"hebbian+all", "hebbian+all+A_ones",
                                                                            "hebbian+linear", "hebbian+linear+decay",
                                                                            "hebbian+linear+norm", "hebbian+linear+tied",
                                                                            "hebbian+linear+tied+plasticity",
                                                                            "hebbian+linear+tied+decay",
                                                                            "hebbian+linear+tied+read_first",
                                                                            "hebbian+linear+tied+clip",
                                                                            "hebbian+linear+tied+eta_scale"}
    assert HEBBIAN_ABLATION["hebbian+linear"].fixes == {"keys", "rate", "sigmoid", "keep"}
    assert HEBBIAN_ABLATION["hebbian+linear"].fixes - HEBBIAN_ABLATION["hebbian+linear+decay"].fixes == {"keep"}
    assert HEBBIAN_ABLATION["hebbian+linear+norm"].fixes ^ HEBBIAN_ABLATION["hebbian+linear"].fixes == {"keys", "norm"}
    assert HEBBIAN_ABLATION["hebbian+linear+tied"].fixes - HEBBIAN_ABLATION["hebbian+linear"].fixes == {"tied"}
    tied = HEBBIAN_ABLATION["hebbian+linear+tied"].fixes
    assert HEBBIAN_ABLATION["hebbian+linear+tied+plasticity"].fixes - tied == {"plasticity"}
    assert tied - HEBBIAN_ABLATION["hebbian+linear+tied+decay"].fixes == {"keep"}
    for fix in ("read_first", "clip", "eta_scale"):
        assert HEBBIAN_ABLATION[f"hebbian+linear+tied+{fix}"].fixes - tied == {fix}
    assert HEBBIAN_ABLATION["hebbian+all"].fixes == HEBBIAN_ABLATION["hebbian+all+A_ones"].fixes == frozenset(HEBBIAN_FIXES)
    torch.manual_seed(0)
    assert (build_mixer("hebbian+all+A_ones", 8, 2).plasticity == 1).all()
    assert (build_mixer("hebbian+all", 8, 2).plasticity < 0).any()
