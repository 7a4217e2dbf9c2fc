import json
import sys
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from hebbformer.families import build_model
from hebbformer.neuro.loihi.lava_sim import lava_available
from test_plastic import episodes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from throughput import ReferenceLearner  # noqa: E402


def test_throughput_reference_is_the_same_model(tmp_path):
    """The benchmark's stock-PyTorch reference, given the learner's weights, gives its logits:
    the speed comparison is between two implementations of one model."""
    cfg = tiny_config(tmp_path, model__depth=2, model__max_ways=6).model
    torch.manual_seed(0)
    ours = build_model(cfg, (1, 16, 16)).eval()
    ref = ReferenceLearner(cfg, 1, 16).copy_from(ours).eval()
    ep = episodes(ways=3, shots=2, queries=2, batch=2)
    args = (ep.support, ep.support_labels, ep.query, ep.label_ids)
    with torch.no_grad():
        torch.testing.assert_close(ref(*args), ours(*args), rtol=1e-4, atol=1e-5)


def test_token_cost_of_the_integer_path_counts_what_a_token_touches():
    from hebbformer.quant.integer import IntegerNumerics
    from test_quant import args_of, quant_model
    from token_cost import token_costs
    model = quant_model(depth=2, heads=2)
    model.calibrate([args_of(episodes(seed=1))])
    read, written, seconds = token_costs(IntegerNumerics.from_model(model), length=5, reps=3)
    assert (read, written) == (2 * 2 * 5 * 16, 2 * 2 * 16) and seconds > 0  # 2 layers, keys and values


def _bench(script: str, args: list[str], capsys, monkeypatch) -> str:
    import importlib

    monkeypatch.setattr(sys, "argv", [script] + args)
    importlib.import_module(script).main()
    return capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed (docs/loihi.md)")
def test_loihi_speed_checks_that_emulator_and_lava_agree(tmp_path, capsys, monkeypatch):
    out = _bench("loihi_speed", ["--size", "16", "--steps", "30", "--out", str(tmp_path)], capsys, monkeypatch)
    assert "final weights identical" in out
    assert json.loads((tmp_path / "loihi_speed.json").read_text())["figures"]["fixed_pt"]["identical"]


@pytest.mark.slow
def test_loihi_episodes_in_lanes_give_the_logits_of_one_by_one(tmp_path, capsys, monkeypatch):
    out = _bench("loihi_episodes", ["--episodes", "6", "--sequential", "3", "--batch", "4", "--queries", "2",
                                    "--out", str(tmp_path)], capsys, monkeypatch)
    assert "logits identical" in out
    assert json.loads((tmp_path / "loihi_episodes.json").read_text())["figures"]["identical"]
    from hebbformer.quant import fixed_point

    monkeypatch.setattr(fixed_point, "FLOAT_CONV_CHANNELS", fixed_point.FLOAT_CONV_CHANNELS)  # restored after
    monkeypatch.setattr(fixed_point, "DIRECT_CONV_CHANNELS", fixed_point.DIRECT_CONV_CHANNELS)
    out = _bench("loihi_episodes", ["--episodes", "2", "--sequential", "1", "--batch", "2", "--queries", "1",
                                    "--conv", "im2col", "--out", str(tmp_path)], capsys, monkeypatch)
    figures = json.loads((tmp_path / "loihi_episodes.json").read_text())["figures"]
    assert "logits identical" in out and "--conv im2col" in out and figures["conv"] == "im2col"
