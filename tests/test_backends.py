"""The equivalence matrix: every registered back-end runs a model to the same logits as the
model's own forward. Float back-ends to float32 rounding; the Quant model's back-ends (its
fake-quantised float64 forward, the integer path, the Loihi 2 networks on the emulator and on
lava) bit for bit. A back-end added to the registry is tested here without a new test."""

import pytest
import torch

from hebbformer import backends
from hebbformer.config import Config, ModelConfig
from hebbformer.errors import ConfigError
from hebbformer.families import build_model
from hebbformer.neuro.loihi.lava_sim import lava_available
from hebbformer.registry import BACKENDS
from test_plastic import episodes
from test_quant import args_of, quant_model

FLOAT_BACKENDS = [name for name, entry in BACKENDS.items() if not entry.quant_only]
# "board" writes on every step, so that the trace decay changes some writes by 1, on purpose
# (tests/test_attention_compiler.py shows it does); every other back-end must be exact.
EXACT_QUANT_BACKENDS = [name for name in BACKENDS if name != "board"]
# lava's own simulation takes seconds per episode: in the full run (CI), not the default one
SLOW = {"lava"}


def cases(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def run(model, backend, ep):
    if backend == "lava" and not lava_available():
        pytest.skip("lava-nc is not installed (docs/loihi.md)")
    with torch.no_grad():
        return backends.run(model, backend)(*args_of(ep))


@pytest.mark.parametrize("backend", cases(FLOAT_BACKENDS))
@pytest.mark.parametrize("attention", ["softmax", "linear", "relu"])
@pytest.mark.parametrize("depth, heads, readout", [(1, 1, "vocab"), (2, 2, "tied"), (2, 2, "attend")])
def test_float_backends_equal_the_model(backend, attention, depth, heads, readout):
    torch.manual_seed(depth)
    cfg = ModelConfig(encoder_channels=8, encoder_blocks=2, d_model=16, depth=depth, heads=heads, mlp_ratio=2,
                      max_ways=6, readout=readout, attention=attention)
    model = build_model(cfg, (1, 16, 16)).eval()
    ep = episodes()
    with torch.no_grad():
        expected = model(*args_of(ep))
    got = run(model, backend, ep)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert torch.equal(got.argmax(-1), expected.argmax(-1))
    model.double()  # in float64 the forms agree to its rounding
    torch.testing.assert_close(run(model, backend, ep), model(*args_of(ep)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", cases(EXACT_QUANT_BACKENDS))
@pytest.mark.parametrize("depth, heads, readout", [(1, 1, "vocab"), (2, 2, "tied")])
def test_quant_backends_equal_the_model_bit_for_bit(backend, depth, heads, readout):
    model = quant_model(depth, heads, readout, seed=depth)
    model.calibrate([args_of(episodes(seed=1))])
    ep = episodes(batch=2, seed=2)
    with torch.no_grad():
        expected = model.eval()(*args_of(ep))
    assert expected.dtype == torch.float64
    assert torch.equal(run(model, backend, ep), expected)


def test_every_backend_is_in_the_matrix():
    assert set(FLOAT_BACKENDS) | set(EXACT_QUANT_BACKENDS) | {"board"} == set(BACKENDS)
    assert "torch" in FLOAT_BACKENDS and "synaptic" in FLOAT_BACKENDS


def test_backend_names_are_checked():
    model = build_model(ModelConfig(encoder_channels=8, encoder_blocks=2, d_model=16, depth=1, heads=1,
                                    max_ways=6), (1, 16, 16))
    with pytest.raises(ConfigError, match="unknown backend 'gpu'; known: torch, synaptic"):
        backends.run(model, "gpu")
    with pytest.raises(ConfigError, match="backend 'loihi' runs a Quant model"):
        backends.run(model, "loihi")
    protonet = build_model(ModelConfig(encoder_channels=8, encoder_blocks=2, method="protonet"), (1, 16, 16))
    with pytest.raises(ConfigError, match="backend 'synaptic' runs the in-context learner; a ProtoNet"):
        backends.run(protonet, "synaptic")
    cfg = Config()
    cfg.override(["model.method=protonet", "eval.backend=synaptic"])
    with pytest.raises(ConfigError, match="eval.backend='synaptic' runs the in-context learner"):
        cfg.validate()
