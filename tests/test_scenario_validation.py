"""The scenario file format's schema: every field's type, finiteness and range is checked before
anything runs, and a bad file ends in one line naming the field (exit 2), never in a hang inside
lava, a parity "ok" between two NaN runs, or an absurd allocation."""

import copy
import json
import math
from pathlib import Path

import pytest

from hebbformer.cli import main
from hebbformer.errors import ConfigError
from hebbformer.neuro.loihi import Scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "loihi"


def example(name="stdp_2f.json") -> dict:
    return json.loads((EXAMPLES / name).read_text())


def refused(d: dict, words: str):
    with pytest.raises(ConfigError) as info:
        Scenario.from_dict(d)
    assert words in str(info.value), str(info.value)
    assert "\n" not in str(info.value)
    return str(info.value)


def changed(path: str, value, name="stdp_2f.json") -> dict:
    """The example with one field (dotted path, [i] for list items) set to value."""
    d = copy.deepcopy(example(name))
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target = d
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return d


@pytest.mark.parametrize("name", ["stdp_2f.json", "reward_3f.json", "key_write.json"])
def test_the_examples_pass(name):
    Scenario.load(EXAMPLES / name)


@pytest.mark.parametrize("path, value, words", [
    ("lif.vth", "100", "scenario field 'lif.vth' expects an integer, got '100'"),  # hung lava before
    ("weights[1][2]", math.nan, "scenario field 'weights[1][2]' must be a finite number, got nan"),
    ("weights[0][0]", math.inf, "'weights[0][0]' must be a finite number, got inf"),
    ("weights[0][0]", 1000, "'weights[0][0]' must lie in -256..255, got 1000"),
    ("weights[0][0]", 2.5, "'weights[0][0]' expects an integer in fixed_pt, got 2.5"),
    ("weights[0][0]", True, "'weights[0][0]' expects a number, got true (a boolean)"),
    ("weights[0][0]", 10 ** 400, "'weights[0][0]' must lie in -256..255, got an integer of about 401 digits"),
    ("pre[0][3]", "1", "'pre[0][3]' expects a number, got '1'"),
    ("pre[0][3]", math.nan, "'pre[0][3]' must be a finite number"),
    ("pre[0][3]", None, "'pre[0][3]' expects a number, got null"),
    ("pre[1]", 0, "'pre[1]' expects a list of numbers, got 0"),
    ("pre[1]", [0, 1], "rows must have equal lengths: pre[0] has 50 values, pre[1] has 2"),
    ("pre", [], "'pre' expects a non-empty list of rows"),
    ("steps", True, "scenario field 'steps' expects an integer, got true (a boolean)"),
    ("steps", "50", "'steps' expects an integer, got '50'"),
    ("steps", 50.5, "'steps' expects an integer, got 50.5"),
    ("steps", 3_000_000_000, "'steps' must lie in 1..1000000, got 3000000000"),
    ("steps", 0, "'steps' must lie in 1..1000000, got 0"),
    ("num_weight_bits", 9, "'num_weight_bits' must lie in 1..8, got 9"),
    ("num_weight_bits", False, "'num_weight_bits' expects an integer, got false (a boolean)"),
    ("num_message_bits", 10 ** 9, "'num_message_bits' must lie in 0..24"),
    ("weight_exp", 40, "'weight_exp' must lie in -8..7, got 40"),
    ("mode", 1, "'mode' expects one of fixed_pt, floating_pt, got 1"),
    ("sign_mode", "mixed", "'sign_mode' expects one of MIXED, EXCITATORY, INHIBITORY, got sign_mode='mixed'"),
    ("rule", [], "'rule' expects an object (of rule fields), got a list of 0"),
    ("rule.type", "4F", "'rule.type' expects one of 2F, 3F, got type='4F'"),
    ("rule.dw", 3, "'rule.dw' expects a learning rule string (or null), got 3"),
    ("rule.dw", " ", "'rule.dw' is an empty rule"),
    ("rule.x1_tau", math.inf, "'rule.x1_tau' must be a finite number, got inf"),
    ("rule.x1_tau", 70000, "'rule.x1_tau' must lie in 0..65535, got 70000"),
    ("rule.x1_tau", -1, "'rule.x1_tau' must lie in 0..65535, got -1"),
    ("rule.x1_impulse", "16", "'rule.x1_impulse' expects a number, got '16'"),
    ("rule.x1_impulse", 500, "'rule.x1_impulse' must lie in 0..127, got 500"),
    ("rule.t_epoch", 2 ** 40, "'rule.t_epoch' must lie in 1..1000000"),
    ("rule.t_epoch", 51, "rule.t_epoch=51 is longer than steps=50: the rule would never apply"),
    ("rule.rng_seed", -3, "'rule.rng_seed' must lie in 0..2147483647, got -3"),
    ("rule.colour", 1, "scenario field 'rule' has unknown keys ['colour']"),
    ("lif", "fast", "'lif' expects an object (of lif fields), got 'fast'"),
    ("lif.du", 5000, "'lif.du' must lie in 0..4095, got 5000"),
    ("lif.du", 0.5, "'lif.du' expects an integer, got 0.5"),
    ("lif.vth", math.nan, "'lif.vth' must be a finite number, got nan"),
    ("lif.vth", 2 ** 30, "'lif.vth' must lie in 0..16777215"),
    ("lif.bias_exp", 9, "'lif.bias_exp' must lie in 0..7, got 9"),
    ("record", "weights", "'record' expects a non-empty list of names"),
    ("record", [], "'record' expects a non-empty list of names"),
    ("record", ["weights", 3], "'record[1]' expects a name, got 3"),
    ("record", ["weights", "weights"], "'record' names ['weights'] more than once"),
])
def test_each_field_is_checked_and_named(path, value, words):
    refused(changed(path, value), words)


def test_an_integer_too_long_to_print_is_named():
    # (from Python: a JSON file cannot hold one, its parser refuses more than 4,300 digits)
    refused({**example(), "steps": 10 ** 5000}, "'steps' must lie in 1..1000000, got an integer of about 5001 digits")


def test_floating_point_ranges():
    d = changed("mode", "floating_pt")
    d["lif"] = {"du": 0.1, "dv": 0.1, "vth": 100.5, "bias_mant": 0.5}
    d["weights"][0][0] = 2.5  # floating_pt weights need not be integers
    Scenario.from_dict(d)
    refused({**d, "lif": {**d["lif"], "du": 1.5}}, "'lif.du' must lie in 0..1, got 1.5")
    refused({**d, "lif": {**d["lif"], "vth": "100"}}, "'lif.vth' expects a number, got '100'")
    refused({**d, "weights": [[1e300] * 6] * 4}, "'weights[0][0]' must lie in -1e+09..1e+09")
    # a trace of tau 0 is NaN in floating point: a rule that uses it would give NaN on both sides
    refused({**d, "rule": {**d["rule"], "y1_tau": 0}}, "the rule uses y1 but rule.y1_tau is 0")


def test_reward_is_checked_too():
    d = example("reward_3f.json")
    refused(changed("reward[0][5]", math.nan, "reward_3f.json"), "'reward[0][5]' must be a finite number")
    refused(changed("reward[0][5]", 0.5, "reward_3f.json"), "'reward[0][5]' expects an integer in fixed_pt")
    refused(changed("reward[0][5]", 2 ** 40, "reward_3f.json"), "'reward[0][5]' must lie in -8388608..8388607")
    refused({**d, "rule": {**d["rule"], "y1_tau": 4}}, "sets ['y1_tau'], which a 3F rule ignores")


def test_sizes_are_refused_before_allocation():
    refused({**example(), "steps": 10 ** 10}, "'steps' must lie in 1..1000000")
    # 300 x 300 weights recorded over 3,000 steps: 270 million values
    d = {"steps": 3000, "pre": [[0] * 3000] * 300, "weights": [[0] * 300] * 300, "rule": {"dw": "x0"},
         "record": ["weights"]}
    refused(d, "would hold 270,000,000 values, more than 268,435,456")


def test_missing_and_unknown_fields():
    d = example()
    del d["weights"]
    refused(d, "scenario field 'weights' is required but missing")
    refused({**example(), "colour": 1}, "scenario has unknown keys ['colour']")
    with pytest.raises(ConfigError, match="a scenario is a JSON object"):
        Scenario.from_dict([1, 2])


@pytest.mark.parametrize("content, words", [
    (b"{", "is not valid JSON: Expecting property name"),
    (b"\xff\xfe{}", "is not UTF-8 text (byte 0"),
    (b"[1, 2]", "holds a JSON list; a scenario is a JSON object"),
    (b'"steps"', "holds a JSON string"),
    (b'{"steps": 1, "steps": 2}', "key 'steps' appears twice in one object"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"steps": ' + b"9" * 5000 + b"}", "Exceeds the limit (4300 digits)"),
])
def test_unreadable_files_get_one_line(tmp_path, content, words):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Scenario.load(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "vth.json"
    bad.write_text(json.dumps(changed("lif.vth", "100")))
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(changed("weights[1][2]", math.nan)))  # json writes NaN, Python reads it back
    (tmp_path / "folder.json").mkdir()
    for path, words in [(bad, "scenario field 'lif.vth' expects an integer, got '100'"),
                        (nan, "scenario field 'weights[1][2]' must be a finite number, got nan"),
                        (tmp_path / "folder.json", "is not a file")]:
        for command in ("run", "parity"):
            capsys.readouterr()
            assert main(["loihi", command, str(path), "--out", str(tmp_path / "o.npz")] if command == "run"
                        else ["loihi", command, str(path)]) == 2
            err = capsys.readouterr().err
            assert words in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o.npz").exists()
