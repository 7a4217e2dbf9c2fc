"""Fault injection: random values for every config key, through the parser and the command line.

Whatever the value, a config either validates or is refused with a ConfigError that names the key
(exit status 2 and one line from the CLI), never another exception; and a SIGKILL at a random step
followed by --resume gives the uninterrupted run's weights exactly.
"""

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hebbformer import checkpoint
from hebbformer.config import SECTIONS, Config
from hebbformer.errors import ConfigError

KEYS = [(s, f.name) for s in SECTIONS for f in dataclasses.fields(getattr(Config(), s))]
TEXT = st.one_of(
    st.sampled_from(["", "nan", "inf", "-inf", "-1", "0", "1e400", "99999999999999999999999", "true", "x",
                     "1.5", "-0", "a,b", "5w1s", "20w5s,", "0w0s", "cuda:99", "relu", "  7 ", "1_000"]),
    st.integers(min_value=-2 ** 70, max_value=2 ** 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)


def configured(section: str, name: str, text: str) -> tuple[Config, ConfigError | None]:
    """The default config with ``section.name=text`` applied and validated, and its refusal if any."""
    cfg = Config()
    try:
        cfg.override([f"{section}.{name}={text}"])
        cfg.validate()
    except ConfigError as err:
        return cfg, err
    return cfg, None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), text=TEXT)
def test_any_value_of_any_key_validates_or_is_refused_by_name(key, text):
    section, name = key
    cfg, err = configured(section, name, text)
    if err is not None:
        assert str(err) and "\n" not in str(err)
        return
    value = getattr(getattr(cfg, section), name)  # accepted: then it is a sane value of its type
    if isinstance(value, float):
        assert math.isfinite(value) or (name == "grad_clip" and value == math.inf)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), text=TEXT)
def test_the_command_line_gives_one_line_and_exit_2_for_a_bad_value(key, text):
    from hebbformer.cli import main

    section, name = key
    if configured(section, name, text)[1] is None:
        return  # a valid value: nothing to refuse (running it is the other tests' business)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", "--quiet", "--out", os.devnull + "-never", f"{section}.{name}={text}"])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("hebbformer: error: "), lines


def _train_command(out, steps):
    return [sys.executable, "-m", "hebbformer.cli", "train", "--quiet", "--out", str(out),
            "data.name=glyphs", "data.glyph_classes=40", "data.glyph_drawings=6", "data.image_size=16",
            "episode.ways=3", "episode.queries=2", "model.encoder_channels=8", "model.encoder_blocks=2",
            "model.d_model=16", "model.depth=1", "model.heads=2", "model.max_ways=5", f"train.steps={steps}",
            "train.batch_size=4", "train.checkpoint_every=1", "train.val_every=1000", "train.precision=fp32",
            "train.threads=1", "eval.settings=3w1s"]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(tmp_path):
    steps = 1500
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(_train_command(tmp_path / "whole", steps), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    rng = torch.Generator().manual_seed(1)
    reached = []
    for _ in range(3):  # killed three times at random moments, then resumed to the end
        cmd = _train_command(killed, steps)
        if (killed / "checkpoint.pt").exists():
            cmd = [sys.executable, "-m", "hebbformer.cli", "train", "--quiet", "--resume", "--out", str(killed)]
        before = checkpoint.load(killed)["step"] if (killed / "checkpoint.pt").exists() else 0
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait until this run has written a checkpoint of its own (start-up takes seconds on a
        # busy machine), then kill it at a random moment of its training
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if (killed / "checkpoint.pt").exists() and checkpoint.load(killed)["step"] != before:
                break
            time.sleep(0.05)
        time.sleep(2 * torch.rand(1, generator=rng).item())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (killed / "checkpoint.pt").exists():
            reached.append(checkpoint.load(killed)["step"])
    assert any(r < steps for r in reached), reached  # kills did land mid-run
    subprocess.run([sys.executable, "-m", "hebbformer.cli", "train", "--quiet", "--resume", "--out", str(killed)],
                   check=True, env=env, capture_output=True)
    a, b = checkpoint.load(tmp_path / "whole"), checkpoint.load(killed)
    assert a["step"] == b["step"] == steps
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
