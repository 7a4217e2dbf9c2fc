import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import blob_pool, tiny_config
from hebbformer import checkpoint
from hebbformer.backends.synaptic import synaptic_memory
from hebbformer.config import ModelConfig
from hebbformer.data import Pools
from hebbformer.errors import CheckpointError, ConfigError
from hebbformer.evaluate import episode_accuracies
from hebbformer.families import build_model
from hebbformer.models.forward import forward
from hebbformer.quant import fixed_point
from hebbformer.quant.fixed_point import (
    int_matmul,
    isqrt,
    requantise,
    shift_clip,
    shift_round,
    slot_rate,
    synapse_round,
    synapse_write,
)
from hebbformer.quant.integer import IntegerNumerics
from hebbformer.train import train
from test_plastic import episodes

# ------------------------------------------------------------------ fixed-point primitives

def test_synapse_write_known_answers():
    """A write stores the mantissa on the synapse grid, rounded half up, within -127..127."""
    assert synapse_round(np.array([3, -3, 5]), -1, 0).tolist() == [2, -1, 3]  # 1.5, -1.5, 2.5
    assert synapse_round(np.array([10_000, -10_000]), 0, 0).tolist() == [127, -127]  # one 7-bit trace per sign


@given(st.lists(st.integers(-2 ** 20, 2 ** 20), min_size=1, max_size=20), st.integers(-6, 6), st.integers(-4, 4))
def test_synapse_write_twins_agree(mantissas, value_exp, exp):
    """The float fake-quantised write and the integer one are the same function."""
    acc = np.array(mantissas, dtype=np.int64)
    fake = synapse_write(torch.tensor(acc, dtype=torch.float64) * 2.0 ** value_exp, exp)
    assert np.array_equal((fake * 2.0 ** -exp).numpy().astype(np.int64), synapse_round(acc, value_exp, exp))


@given(st.lists(st.integers(-2 ** 40, 2 ** 40), min_size=1, max_size=20), st.integers(-8, 20))
def test_shift_round_is_round_half_up(values, shift):
    acc = np.array(values, dtype=np.int64)
    expected = [math.floor(v * 2.0 ** -shift + 0.5) if shift > 0 else v << -shift for v in values]
    assert shift_round(acc, shift).tolist() == expected


@settings(deadline=None)  # the first call compiles the kernel
@given(st.integers(0, 2 ** 16), st.integers(-70, 70),
       st.sampled_from([(-128, 127), (0, 255), (-(2 ** 15), 2 ** 15 - 1), (-(2 ** 63), 2 ** 63 - 1), (2 ** 62, 2 ** 62 + 5)]),
       st.booleans(), st.sampled_from([np.int64, np.int32, np.int8, np.uint8]))
def test_shift_clip_is_the_exact_rounded_and_clipped_value(seed, shift, bounds, strided, dtype):
    """The shift-and-clip gives the integers of exact arithmetic (Python's unbounded ints) on any
    integer array, strided too, values and bounds up to the int64 range's ends: a left shift
    saturates where shifting the value itself would wrap, a rounding right shift does not wrap
    near the range's top, and a shift past 63 gives 0."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    acc = rng.integers(info.min, info.max, (3, 7, 10), dtype=dtype, endpoint=True)
    acc = (acc >> rng.integers(0, info.bits, (3, 7, 10)).astype(dtype)) if info.min < 0 else acc
    acc.ravel()[:4] = info.min, info.max, 0, 1
    acc = acc[:, ::2, 1:] if strided else acc
    values = acc.ravel().tolist()
    assert shift_clip(acc, shift, *bounds).ravel().tolist() == _exact_shift_clip(values, shift, *bounds)
    assert slot_rate(acc.astype(np.int64), shift).ravel().tolist() == _exact_shift_clip(
        [max(v, 0) for v in values], shift, 0, 255)


def test_shift_clip_is_exact_for_uint64_and_for_shifts_past_int64():
    """uint64 values above int64's top, and shifts too large for int64, as Python's ints give."""
    big = np.array([2 ** 64 - 1, 2 ** 61, 5, 0], np.uint64)
    for shift, lo, hi in ((-4, 0, 2 ** 63 - 1), (-70, 0, 255), (3, 0, 2 ** 62), (70, 0, 255)):
        assert shift_clip(big, shift, lo, hi).tolist() == _exact_shift_clip(big.tolist(), shift, lo, hi)
    small = np.array([-5, 0, 5])
    for shift in (-200, 200):
        assert shift_clip(small, shift, -128, 127).tolist() == _exact_shift_clip(small.tolist(), shift, -128, 127)
    assert shift_clip(small, -(2 ** 70), -128, 127).tolist() == [-128, 0, 127]  # (a shift int64 cannot hold)
    assert shift_clip(small, 2 ** 70, -128, 127).tolist() == [0, 0, 0]


def _exact_shift_clip(values: list[int], shift: int, lo: int, hi: int) -> list[int]:
    """v * 2**-shift rounded half up, clipped: Python's ints never wrap."""
    return [min(max((v + (1 << (shift - 1))) >> shift if shift > 0 else v << -shift, lo), hi) for v in values]


@settings(deadline=None)  # the first call compiles the kernels
@given(st.integers(0, 2 ** 16), st.integers(1, 40), st.sampled_from([2 ** 8, 2 ** 15, 2 ** 24]))
def test_compiled_layer_norm_and_table_equal_numpy(seed, d, scale):
    """The integer layer norm's compiled rows and the GELU table's compiled look-up give numpy's
    integers (constant rows too, whose deviation is 0)."""
    from hebbformer.quant.integer import IntNorm, layer_norm_reference, look_up

    rng = np.random.default_rng(seed)
    x = rng.integers(-scale, scale, (3, 5, d))
    x[0, 0] = x[0, 0, 0]  # a constant row
    g, b = rng.integers(-127, 128, d), rng.integers(-(2 ** 20), 2 ** 20, d)
    assert np.array_equal(IntNorm(g, b, 0)(x), layer_norm_reference(x, g, b))
    table, index = rng.integers(-128, 128, 256), rng.integers(-128, 128, (4, d))
    assert np.array_equal(look_up(table, index, 128), table[index + 128])
    with pytest.raises(IndexError):
        look_up(table, np.array([128]), 128)


def test_requantise_saturates():
    assert requantise(np.array([1000, -1000, 300]), 0, 1, 8).tolist() == [127, -128, 127]
    assert requantise(np.array([-5, 511]), 0, 1, 8, signed=False).tolist() == [0, 255]


@given(st.lists(st.integers(0, 2 ** 52), min_size=1, max_size=30))
def test_isqrt_is_exact(values):
    assert isqrt(np.array(values, dtype=np.int64)).tolist() == [math.isqrt(v) for v in values]


def test_int_matmul_is_exact_on_every_path():
    """int8 GEMM (signed, and unsigned activations shifted by 128), float BLAS, numpy's int loop;
    the ranges' extremes included."""
    rng = np.random.default_rng(0)
    signed = rng.integers(-128, 128, (5, 7)), rng.integers(-128, 128, (7, 3))
    unsigned = rng.integers(0, 256, (5, 7)), rng.integers(-128, 128, (7, 3))
    floats = rng.integers(-1000, 1000, (5, 7)), rng.integers(-128, 128, (7, 3))
    big = rng.integers(-2 ** 30, 2 ** 30, (5, 7)), rng.integers(-2 ** 30, 2 ** 30, (7, 3))  # > 2**53: int loop
    signed[0][0], signed[1][:, 0], unsigned[0][1], unsigned[1][:, 1] = -128, -128, 255, -128
    for a, b in (signed, unsigned, floats, big):
        expected = [[sum(int(a[i, k]) * int(b[k, j]) for k in range(7)) for j in range(3)] for i in range(5)]
        assert int_matmul(a, b).tolist() == expected
        assert int_matmul(a[None], b)[0].tolist() == expected  # leading axes
        assert int_matmul(a.T.copy().T, b).tolist() == expected  # a strided a
        bias = rng.integers(-2 ** 40, 2 ** 40, 3)
        assert int_matmul(a, b, bias).tolist() == (np.array(expected) + bias).tolist()
        for shift, lo, hi in ((9, -128, 127), (0, -(2 ** 15), 2 ** 15 - 1), (-2, 0, 255), (70, -5, 5)):
            sums = [v + int(bias[j]) for row in expected for j, v in enumerate(row)]  # requantised as widened:
            assert int_matmul(a, b, bias, (shift, lo, hi)).ravel().tolist() == _exact_shift_clip(sums, shift, lo, hi)


@pytest.mark.parametrize("gemm", ["int8", "float"])
@pytest.mark.parametrize("k", [9, 1024, 1025, 3000])  # float32 up to 2**10 terms (sums up to 2**24), float64 above
def test_int8_matmul_is_exact_on_either_gemm(monkeypatch, gemm, k):
    """torch's int8 GEMM and the float GEMM that replaces it where it is slower give the same
    int32, at the sums' extremes too: +-k * 2**14, and, past 2**10 terms, an odd sum above 2**24,
    which float32 cannot hold."""
    monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, gemm)
    rng = np.random.default_rng(k)
    a, b = rng.integers(-128, 128, (17, k)), rng.integers(-128, 128, (k, 16))
    a[0], b[:, 0], b[:, 1] = -128, -128, 127  # row 0 against columns 0 and 1: +-k * 2**14
    a[1], b[:, 2] = -128, -128
    a[1, 0] = b[0, 2] = -127  # row 1 against column 2: (k - 1) * 2**14 + 127**2, odd
    out = fixed_point.int8_matmul(torch.from_numpy(a).to(torch.int8), torch.from_numpy(b).to(torch.int8))
    assert out.dtype == torch.int32 and out.tolist() == (a @ b).tolist()
    assert out[0, 0] == k * 2 ** 14 and out[0, 1] == -k * 128 * 127 and out[1, 2] == (k - 1) * 2 ** 14 + 127 ** 2


def test_exact_linear_equals_int_matmul_or_declines():
    """A layer on float32 GEMM (``exact_linear``) gives int_matmul's requantised integers, and with
    a table the table's entries at them, as float32 for the next layer; it declines (None) where a
    partial sum could reach 2**24, where the shift is not a rounding one, where the bias or the
    clip range leaves int32, or where the table is too short or holds what float32 cannot."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 256, (4, 6, 300))
    x[0, 0, :] = 255
    w = rng.integers(-128, 128, (40, 300))
    w[0] = -128  # |x| * sum|w| = 255 * 128 * 300, the largest partial sums of the range
    bias = rng.integers(-2 ** 20, 2 ** 20, 40)
    floats, weights = fixed_point.FloatInput.of(x), fixed_point.FloatWeights(w)
    for shift, lo, hi in ((9, -128, 127), (1, -(2 ** 15), 2 ** 15 - 1), (12, 0, 255)):
        expected = int_matmul(x, w.T, bias, (shift, lo, hi))
        out = fixed_point.exact_linear(floats, weights, bias, shift, lo, hi)
        assert out.dtype == np.int64 and np.array_equal(out, expected)
        table = rng.integers(-100, 100, hi - lo + 1)
        looked = fixed_point.exact_linear(floats, weights, bias, shift, lo, hi, table, -lo)
        assert looked.x.dtype == torch.float32 and np.array_equal(looked.x.numpy(), table[expected - lo])
        assert looked.abs_max == np.abs(table).max()
    declined = [(bias, 0, -128, 127, None), (np.full(40, 2 ** 31 - 2 ** 20), 9, -128, 127, None),
                (bias, 1, 2 ** 32, 2 ** 32 + 5, None),  # a clip range beyond int32
                (bias, 9, -128, 127, np.zeros(10, np.int64)),  # a table too short
                (bias, 9, -128, 127, np.arange(256) + 2 ** 24 + 1),  # entries float32 would round
                (bias, 9, -128, 127, np.linspace(0, 1, 256))]  # not integers
    for b, shift, lo, hi, table in declined:
        assert fixed_point.exact_linear(floats, weights, b, shift, lo, hi, table, 128) is None
    wide = fixed_point.FloatWeights(np.full((3, 520), -128))  # 255 * 128 * 520 > 2**24
    assert fixed_point.exact_linear(fixed_point.FloatInput.of(np.full((2, 520), 255)), wide, None, 9, -128, 127) is None
    assert fixed_point.exact_linear(fixed_point.FloatInput.of(np.full((2, 520), 250)), wide, None, 9, -128, 127) is not None
    assert fixed_point.FloatInput.of(np.array([[2 ** 24]])) is None and fixed_point.FloatInput.of(np.zeros((0, 3), np.int64)) is None


def test_int8_products_is_chosen_by_timing_or_named(monkeypatch):
    monkeypatch.delenv(fixed_point.INT8_GEMM_ENV, raising=False)
    assert fixed_point.int8_products() in ("int8", "float")
    monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, "float")
    assert fixed_point.int8_products() == "float"
    monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, "vnni")
    with pytest.raises(ConfigError, match="HEBBFORMER_INT8_GEMM must be 'int8' or 'float'.*'vnni'"):
        fixed_point.int8_products()


# ------------------------------------------------------------------ the model

def quant_model(depth=2, heads=2, readout="vocab", seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(encoder_channels=8, encoder_blocks=2, d_model=16, depth=depth, heads=heads, mlp_ratio=2,
                      max_ways=6, readout=readout, attention="relu", quant=True)
    return build_model(cfg, (1, 16, 16))


def args_of(ep):
    return ep.support, ep.support_labels, ep.query, ep.label_ids


def assert_integer_path_equals_fake_quant(model, ep):
    model.eval()
    with torch.no_grad():
        fake = model(*args_of(ep))
    assert fake.dtype == torch.float64
    numerics = IntegerNumerics.from_model(model)
    ints, exp = forward(numerics, synaptic_memory, *(t.numpy() for t in args_of(ep))), numerics.logit_exp
    mantissas = fake * 2.0 ** -exp
    assert torch.equal(mantissas, mantissas.round()), "fake-quantised logits are off the integer grid"
    assert np.array_equal(mantissas.numpy().astype(np.int64), ints)


@pytest.mark.parametrize("products", ["int8", "float"])  # float: the layers through exact_linear
@pytest.mark.parametrize("depth, heads, readout", [(1, 1, "vocab"), (2, 2, "vocab"), (3, 4, "tied")])
def test_integer_path_equals_fake_quantised_forward(depth, heads, readout, products, monkeypatch):
    monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, products)
    model = quant_model(depth, heads, readout, seed=depth)
    model.calibrate([args_of(episodes(seed=1))])
    assert len(set(model.exponents.tolist())) > 1  # the calibration set real grids
    assert_integer_path_equals_fake_quant(model, episodes(seed=2))


def test_integer_form_runs_bit_for_bit_as_the_model_it_came_from(tmp_path):
    """A shipped Quant model keeps only its mantissas and exponents: reloaded from them it gives
    the same float64 logits and the same integer path, in under a third of the float32 bytes; the
    float weights it dropped are NaN, not silently random."""
    model = quant_model(depth=2, heads=2, seed=3)
    for bn in (model.encoder.net[1], model.encoder.net[5]):  # a fold that is not the identity
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0), bn.weight.data.uniform_(0.5, 1.5)
    model.calibrate([args_of(episodes(seed=1))])
    model.eval()
    form, rest = model.integer_form()
    nbytes = lambda tensors: sum(t.numel() * t.element_size() for t in tensors)  # noqa: E731
    held = nbytes([*rest.values(), *(t for p in form.values() for t in (p["w"], p["b"]))])
    assert held < nbytes(model.state_dict().values()) / 2  # int8 weights; a tiny model's biases weigh
    path = tmp_path / "int.pt"
    torch.save({"form": form, "rest": rest}, path)
    saved = torch.load(path, weights_only=True)
    twin = quant_model(depth=2, heads=2, seed=4).eval()
    twin.load_integer_form(saved["form"], saved["rest"])
    ep = episodes(seed=2)
    with torch.no_grad():
        assert torch.equal(model(*args_of(ep)), twin(*args_of(ep)))
        assert torch.isnan(twin.embed.weight).all() and torch.isnan(twin.encoder.net[1].running_var).all()
    assert_integer_path_equals_fake_quant(twin, ep)
    with pytest.raises(ValueError, match="no float weights to calibrate"):
        twin.calibrate([args_of(ep)])
    deeper = quant_model(depth=3, heads=2)
    with pytest.raises(ValueError, match="integer layers do not fit this config.*blocks.2"):
        deeper.load_integer_form(form, rest)


def test_packed_quant_run_is_its_integer_form(tmp_path, monkeypatch):
    """hebbformer pack ships a Quant run in its integer form: it evaluates as the run does, and
    training cannot start from it (it has no float weights), with an error that says so."""
    from hebbformer import shipped
    from hebbformer.experiments.shipped_check import load_model

    cfg = tiny_config(tmp_path, model__attention="relu", model__quant="true", train__steps=2)
    train(cfg, progress=False)
    monkeypatch.setenv(shipped.ENV_VAR, str(tmp_path / "models"))
    entry = shipped.pack(tmp_path / "run", "tiny-quant", "a test model", "hebbformer train ...")
    assert entry["weights"] == "int8"
    state = checkpoint.load(shipped.resolve("tiny-quant"))
    assert {v.dtype for p in state[checkpoint.INTEGER_FORM].values() for v in (p["w"], p["b"])} == {torch.int8, torch.int32}
    overrides = [f"data.root={cfg.data.root}"] if cfg.data.root else []
    _, run_model, pool = load_model(tmp_path / "run", overrides=overrides)
    _, shipped_model, _ = load_model(shipped.resolve("tiny-quant"), pool, overrides)
    from hebbformer.data import episode_generator, sample_episodes
    ep = sample_episodes(pool, 3, 1, 2, 4, episode_generator(9, 0), cfg.model.max_ways)
    with torch.no_grad():
        assert torch.equal(run_model(*args_of(ep)), shipped_model(*args_of(ep)))
    again = tiny_config(tmp_path / "b", model__attention="relu", model__quant="true",
                        train__init_from=str(shipped.resolve("tiny-quant")))
    with pytest.raises(CheckpointError, match="integer mantissas only.*start from the run that trained it"):
        train(again, progress=False)


def test_quant_forward_tracks_the_float_model():
    """Same weights, fixed point vs float: close logits and mostly the same answers."""
    model = quant_model()
    float_model = build_model(ModelConfig(**{**vars(model.cfg), "quant": False}), (1, 16, 16))
    float_model.load_state_dict(model.state_dict(), strict=False)
    ep = episodes(batch=8, seed=3)
    model.calibrate([args_of(episodes(batch=8, seed=4))])
    with torch.no_grad():
        q, f = model.eval()(*args_of(ep)).float(), float_model.eval()(*args_of(ep))
    assert (q - f).abs().max() < 0.1 * f.abs().max()
    assert (q.argmax(-1) == f.argmax(-1)).float().mean() > 0.8


def test_quant_needs_a_fixed_point_attention_kind():
    with pytest.raises(ConfigError, match="model.quant needs model.attention='relu'"):
        tiny_config(__import__("pathlib").Path("."), model__quant="true")
    with pytest.raises(ConfigError, match="model.quant needs model.readout='vocab' or 'tied'"):
        tiny_config(__import__("pathlib").Path("."), model__quant="true", model__attention="relu", model__readout="attend")
    with pytest.raises(ConfigError, match="train.aux_protonet applies to the Float in-context learner, not the Quant"):
        tiny_config(__import__("pathlib").Path("."), model__quant="true", model__attention="relu", train__aux_protonet=1)
    with pytest.raises(ConfigError, match="model.quant trains without model.dropout"):
        tiny_config(__import__("pathlib").Path("."), model__quant="true", model__attention="relu", model__dropout=0.1)


def test_init_from_rejects_a_model_that_does_not_fit(tmp_path):
    source = tiny_config(tmp_path / "a", train__steps=1)
    train(source, progress=False)
    other = tiny_config(tmp_path / "b", model__d_model=32, train__init_from=str(tmp_path / "a" / "run"))
    with pytest.raises(CheckpointError, match="does not fit this config"):
        train(other, progress=False)


def test_quant_run_resumes_exactly(tmp_path):
    """The calibrated exponents travel in the checkpoint, so a killed QAT run resumes exactly."""
    opts = dict(model__attention="relu", model__quant="true")
    straight, killed = tiny_config(tmp_path / "a", **opts), tiny_config(tmp_path / "b", **opts)
    train(straight, progress=False)
    train(killed, progress=False, stop_after=5)
    train(killed, resume=True, progress=False)
    a, b = (checkpoint.load(tmp_path / x / "run")["model"] for x in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_quantisation_aware_training_keeps_in_context_learning(tmp_path):
    """Float (softmax) -> relu attention -> Quant by fine-tuning, each from the last: the
    fixed-point model still labels unseen classes from context far above chance (1/3), and its
    integer path gives exactly its answers."""
    pools = Pools(blob_pool(100, 0), blob_pool(20, 1), blob_pool(20, 2))
    common = dict(train__lr=2e-3, train__batch_size=16, train__warmup_steps=20, model__d_model=32,
                  model__depth=2, model__readout="tied", train__val_every=1000, train__checkpoint_every=1000)
    stages = [("float", dict(train__steps=400)),
              ("relu", dict(train__steps=100, model__attention="relu")),
              ("quant", dict(train__steps=60, model__attention="relu", model__quant="true", train__lr=5e-4))]
    previous = None
    for name, opts in stages:
        init = {"train__init_from": str(previous)} if previous else {}
        cfg = tiny_config(tmp_path / name, **{**common, **opts, **init})
        train(cfg, progress=False, pools=pools)
        previous = tmp_path / name / "run"
    model = build_model(cfg.model, pools.test.image_shape)
    model.load_state_dict(checkpoint.load(previous)["model"])
    acc = episode_accuracies(model, pools.test, 3, 1, 2, 200, seed=5).mean().item()
    assert acc > 0.7, acc
    from hebbformer.data import episode_generator, sample_episodes
    ep = sample_episodes(pools.test, 3, 1, 2, 8, episode_generator(9, 0), cfg.model.max_ways)
    assert_integer_path_equals_fake_quant(model, ep)


@pytest.mark.parametrize("products", ["int8", "float"])
@pytest.mark.parametrize("ranges", [(127, 127, 127), (100_000,) * 3, (127, 100_000, 127), (127, 127, 100_000)])
def test_integer_conv_stack_equals_conv_block_in_turn(ranges, products, monkeypatch):
    """The Conv-4 on int8 patches, or where products run in float on torch's float32 convolution
    (from the second block, here from one channel on), in chunks (channels last between blocks),
    gives conv_block's integers, block after block: pixels and weights at their extremes, odd
    sizes, bias; a block whose weights leave int8 goes through conv_block, and the next one back
    on int8 or float."""
    from hebbformer.quant import fixed_point

    monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, products)
    monkeypatch.setattr(fixed_point, "FLOAT_CONV_CHANNELS", 1)

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (7, 2, 11, 11))
    x[0] = 255
    blocks = []
    for i, ((c_in, c_out), top) in enumerate(zip([(2, 4), (4, 5), (5, 3)], ranges)):  # 11x11 -> 5x5 -> 2x2 -> 1x1
        w = rng.integers(-top - 1, top + 1, (c_out, c_in * 9))
        w[0, :3] = -128, 127, 0
        blocks.append((w, rng.integers(-5000, 5000, c_out), -12 + i, -4 + i))
    monkeypatch.setattr(fixed_point, "CONV_CHUNK", 3)
    expected = x
    for w, b, acc_exp, exp in blocks:
        expected = fixed_point.conv_block(expected, w, b, acc_exp, exp, bits=8)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):  # the chunks in turn, and spread over threads of their own
            torch.set_num_threads(n)
            assert np.array_equal(fixed_point.conv_stack(x.astype(np.uint8), blocks, 8), expected.reshape(len(x), -1))
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("shift", [0, 8, 30, -2, -60])
def test_direct_conv_block_equals_conv_block_or_declines(shift, monkeypatch):
    """The Conv-4's narrow first block as a direct int32 convolution gives conv_block's integers
    (odd sizes, extremes, every shift it takes), and is declined where a shift is negative or a
    sum could leave int32, conv_stack then taking another way to the same integers."""
    from hebbformer.quant import fixed_point

    rng = np.random.default_rng(abs(shift) + 10)
    x = rng.integers(0, 256, (5, 3, 9, 7))
    x[0] = 255
    w, b = rng.integers(-128, 128, (4, 3 * 9)), rng.integers(-5000, 5000, 4)
    w[0] = 127
    expected = fixed_point.conv_block(x, w, b, -12, -12 + shift, 8)
    assert fixed_point._direct_conv_fits(w, b, -12, -12 + shift, 8) == (shift >= 0)
    if shift >= 0:
        channels_last = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.uint8))
        out = fixed_point._direct_conv_block(channels_last, w, b, -12, -12 + shift, 8)
        assert np.array_equal(out.permute(0, 3, 1, 2).numpy(), expected)
    for products in ("int8", "float"):  # on either product, a left shift saturating (-60) as conv_block's
        monkeypatch.setenv(fixed_point.INT8_GEMM_ENV, products)
        assert np.array_equal(fixed_point.conv_stack(x.astype(np.uint8), [(w, b, -12, -12 + shift)], 8),
                              expected.reshape(len(x), -1))
    big, pixels = np.full((1, 7 * 9), 140_000), np.full((1, 7, 6, 6), 255)  # 255 * 63 * 140,000 > 2**31
    assert not fixed_point._direct_conv_fits(big, None, -12, -4, 8)
    assert np.array_equal(fixed_point.conv_stack(pixels.astype(np.uint8), [(big, None, -12, -4)], 8),
                          fixed_point.conv_block(pixels, big, None, -12, -4, 8).reshape(1, -1))


@pytest.mark.parametrize("weight_range", [100, 100_000])  # partial sums below 2**24 (float32), then above (float64)
def test_integer_conv_block_is_exact_on_every_path(weight_range, monkeypatch):
    """The Conv-4 block on float convolution equals its int64 im2col (forced), bit for bit."""
    from hebbformer.quant import fixed_point

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 4, 9, 9))
    w = rng.integers(-weight_range, weight_range + 1, (5, 4 * 9))
    b = rng.integers(-5000, 5000, 5)
    fast = fixed_point.conv_block(x, w, b, acc_exp=-12, exp=-4, bits=8)
    monkeypatch.setattr(fixed_point, "_exact_float", lambda bound: None)
    assert np.array_equal(fast, fixed_point.conv_block(x, w, b, acc_exp=-12, exp=-4, bits=8))
    assert fast.shape == (3, 5, 4, 4) and fast.min() >= 0 and fast.max() <= 255
