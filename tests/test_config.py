import json

import pytest

from hebbformer.config import Config, load_config, parse_setting
from hebbformer.errors import ConfigError


def test_defaults_validate():
    assert load_config().model.attention == "softmax"


def test_overrides_parse_types():
    cfg = load_config(None, ["train.lr=3e-4", "data.rotations=true", "data.train_sets=a,b", "episode.ways=7"])
    assert cfg.train.lr == 3e-4 and cfg.data.rotations is True
    assert cfg.data.train_sets == ["a", "b"] and cfg.episode.ways == 7


@pytest.mark.parametrize("override, words", [
    ("model.dept=3", ["unknown config key 'model.dept'", "depth"]),
    ("modle.depth=3", ["unknown config section 'modle'"]),
    ("train.lr=-0.1", ["train.lr must be positive", "-0.1"]),
    ("train.lr=fast", ["train.lr", "expects a number", "fast"]),
    ("episode.ways=30", ["episode.ways=30", "model.max_ways=20"]),
    ("model.attention=cosine", ["model.attention='cosine'", "softmax"]),
    ("model.readout=pointer", ["model.readout='pointer'", "attend"]),
    ("train.aux_protonet=-1", ["train.aux_protonet must not be negative"]),
    ("model.dropout=1", ["model.dropout must lie in [0, 1)", "got 1"]),
    ("data.name=imagenet", ["data.name='imagenet'"]),
    ("model.heads=3", ["not divisible by model.heads=3"]),
    ("episode.shots=0", ["episode.shots must be at least 1"]),
    ("eval.settings=5way", ["'5way'", "<N>w<K>s"]),
    ("train.lr", ["not of the form section.key=value"]),
])
def test_bad_values_are_named(override, words):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    for w in words:
        assert w in str(err.value)


def test_file_toml_and_json(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('out_dir = "x"\n[model]\ndepth = 3\n[train]\nlr = 1\n')
    cfg = load_config(toml, ["model.depth=4"])
    assert cfg.model.depth == 4 and cfg.train.lr == 1.0 and cfg.out_dir == "x"
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"episode": {"ways": 10}}))
    assert load_config(js).episode.ways == 10


@pytest.mark.parametrize("text, words", [
    ('[model]\ndepthh = 3\n', ["unknown config key 'model.depthh'"]),
    ('[model]\ndepth = "3"\n', ["model.depth", "expects an integer"]),
    ('[model\n', ["not valid TOML"]),
    ('[foo]\nx = 1\n', ["unknown config section 'foo'"]),
])
def test_bad_files_are_named(tmp_path, text, words):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    for w in words:
        assert w in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_round_trip_through_dict():
    cfg = load_config(None, ["model.depth=5", "data.test_sets=all_runs"])
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_parse_setting():
    assert parse_setting("20w5s") == (20, 5)
    with pytest.raises(ConfigError):
        parse_setting("1w1s")


def test_a_huge_encoder_depth_is_refused_without_computing_its_image_size():
    """2**blocks for blocks = 2**70 would take all memory; the check must not compute it."""
    cfg = Config()
    cfg.override([f"model.encoder_blocks={2 ** 70}"])
    with pytest.raises(ConfigError, match=r"too small for model.encoder_blocks=\d+ .*needs at least 2\*\*\d+"):
        cfg.validate()


def test_every_model_family_has_its_checks():
    from hebbformer.config import FAMILY_CHECKS, METHODS

    assert set(FAMILY_CHECKS) == set(METHODS)
