import json

import pytest

from hebbformer.cli import main

TINY = ["data.glyph_classes=40", "data.glyph_drawings=6", "data.image_size=16", "episode.ways=3",
        "episode.queries=2", "model.encoder_channels=8", "model.encoder_blocks=2", "model.d_model=16",
        "model.depth=1", "model.heads=2", "model.max_ways=5", "train.steps=4", "train.batch_size=2",
        "train.val_every=2", "train.val_episodes=2", "train.checkpoint_every=2", "eval.episodes=4",
        "eval.settings=3w1s,5w5s", "train.precision=fp32"]  # not auto: bf16 on some CPUs


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--out", str(out), *TINY]) == 0
    assert main(["eval", "--quiet", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3w1s" in text and "5w5s" in text
    report = json.loads((out / "eval.json").read_text())
    assert 0 <= report["results"][0]["accuracy"] <= 1
    # the run's encoder alone, as a ProtoNet, saved beside the model's own results
    assert main(["eval", "--quiet", str(out), "eval.encoder_probe=true"]) == 0
    assert "its encoder alone, as a ProtoNet" in capsys.readouterr().out
    assert json.loads((out / "eval_test_encoder_probe.json").read_text())["results"][0]["setting"] == "3w1s"
    # resume to more steps: refused as inexact unless asked for; a resume with nothing to do says so
    check_error(capsys, ["train", "--quiet", "--resume", "--out", str(out), "train.steps=6"],
                "train.steps changed would not continue the run exactly")
    assert main(["train", "--quiet", "--resume", "--inexact", "--out", str(out), "train.steps=6"]) == 0
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 6
    config = (out / "config.json").read_text()
    assert main(["train", "--quiet", "--resume", "--out", str(out), "train.steps=2"]) == 0
    assert "nothing to do" in capsys.readouterr().out and (out / "config.json").read_text() == config


@pytest.mark.slow
def test_quant_run_evaluates_through_its_integer_path(tmp_path, capsys):
    """Float -> Quant by init_from; eval on the integer backend and on the validation split gives
    the same answers as the fake-quantised torch forward on the same episodes."""
    fl, qu = tmp_path / "float", tmp_path / "quant"
    assert main(["train", "--quiet", "--out", str(fl), *TINY, "model.attention=relu"]) == 0
    assert main(["train", "--quiet", "--out", str(qu), *TINY, "model.attention=relu", "model.quant=true",
                 f"train.init_from={fl}"]) == 0
    for backend in ("torch", "integer", "loihi"):
        assert main(["eval", "--quiet", str(qu), "eval.split=val", f"eval.backend={backend}"]) == 0
    out = capsys.readouterr().out
    assert "Quant, 2 heads (integer path)" in out and "Loihi 2 networks, emulated" in out
    runs = [json.loads((qu / f"eval_val_{b}.json").read_text())["results"] for b in ("torch", "integer", "loihi")]
    assert [r["accuracy"] for r in runs[0]] == [r["accuracy"] for r in runs[1]] == [r["accuracy"] for r in runs[2]]
    # the four variants side by side (lava too where it is installed), overrides after an option
    table = tmp_path / "table"
    assert main(["variants", str(fl), str(qu), "--setting", "3w1s", "--episodes", "4", "--lava-episodes", "2",
                 "--out", str(table), "eval.split=val"]) == 0
    text = (table / "variants.md").read_text()
    saved = json.loads((table / "variants.json").read_text())
    assert saved["workers"] == 1 and saved["int8_products"] in ("int8", "float")  # what the times depend on
    for variant in ("Float", "Quant", "Loihi (emulated)", "Loihi, board randomness"):
        assert f"| {variant}" in text
    assert "logits identical to Quant in all 4 episodes" in text
    assert ("logits identical to Loihi (emulated) in all 2 episodes" in text) == ("| Lava |" in text)
    check_error(capsys, ["variants", str(qu), str(qu), "eval.split=val"], "is not a Float")
    check_error(capsys, ["variants", str(fl), str(fl), "eval.split=val"], "is not a Quant run")
    check_error(capsys, ["variants", str(fl), str(qu), "--setting", "3w", "eval.split=val"], "is not of the form")
    other = tmp_path / "softmax"  # a Float run, but not the Quant run's twin: the table would compare two models
    assert main(["train", "--quiet", "--out", str(other), *TINY, "model.attention=softmax"]) == 0
    check_error(capsys, ["variants", str(other), str(qu), "eval.split=val"], "is not the Float twin of", "differ in attention")


def test_demo_runs_with_overrides(tmp_path, capsys):
    assert main(["demo", "--quiet", "--out", str(tmp_path / "demo"), *TINY]) == 0
    assert "demo finished" in capsys.readouterr().out


def check_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hebbformer: error: ") and "Traceback" not in err
    for w in words:
        assert w in err, err


def test_bad_input_gives_one_clear_line(tmp_path, capsys):
    check_error(capsys, ["train", "model.depht=2"], "unknown config key 'model.depht'")
    check_error(capsys, ["train", "train.lr=-1"], "train.lr must be positive")
    check_error(capsys, ["train", "-c", str(tmp_path / "missing.toml")], "missing.toml", "does not exist")
    check_error(capsys, ["eval", str(tmp_path / "nothing")], "checkpoint", "does not exist")
    check_error(capsys, ["train", "--out", str(tmp_path / "r"), "data.name=omniglot",
                         f"data.root={tmp_path}"], "Omniglot set 'images_background' not found")
    check_error(capsys, ["train", "--quiet", "--out", str(tmp_path / "r2"), *TINY, "episode.ways=5",
                         "data.glyph_classes=20"], "5-way episodes need 5 classes", "validation pool has only 4")
    check_error(capsys, ["train", "--quiet", "--out", str(tmp_path / "r3"), *TINY, "episode.shots=3",
                         "episode.queries=4"], "3 shots + 4 queries per class need 7 drawings", "only 6")
    check_error(capsys, ["train", "--resume", "--out", str(tmp_path / "none")], "does not exist")
    check_error(capsys, ["train", "model.quant=true"], "model.quant needs model.attention='relu'")
    check_error(capsys, ["train", "eval.backend=integer"], "needs a Quant model")
    check_error(capsys, ["train", "eval.split=training"], "eval.split='training' is not one of")


@pytest.mark.slow
def test_report_collects_runs_studies_and_benchmarks(tmp_path, capsys):
    import csv

    from hebbformer.experiments.study import StudyConfig, run_study

    runs = tmp_path / "runs"
    assert main(["train", "--quiet", "--out", str(runs / "icl"), *TINY]) == 0
    assert main(["eval", "--quiet", str(runs / "icl")]) == 0
    assert main(["train", "--quiet", "--out", str(runs / "proto"), *TINY, "model.method=protonet"]) == 0
    assert main(["eval", "--quiet", str(runs / "proto"), "eval.split=val"]) == 0
    assert main(["train", "--quiet", "--out", str(runs / "pending"), *TINY]) == 0
    run_study(StudyConfig(modules=["static"], tasks=["association"], seeds=1, steps=2, batch_size=2, budget=2000,
                          eval_batches=1), runs / "study", log=lambda s: None)
    (runs / "bench").mkdir()
    (runs / "bench" / "token_cost.csv").write_text("kind,context,us_per_token\nsoftmax,16,1.0\n")
    (runs / "table").mkdir()
    (runs / "table" / "variants.md").write_text("| variant | x |\n| --- | --- |\n| Lava | 1 |\n")
    capsys.readouterr()

    assert main(["report", str(runs), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    acc = json.loads((runs / "icl" / "eval.json").read_text())["results"][0]
    assert f"| runs/icl | in-context learner, softmax, Float, 2 heads | glyphs | test | {100 * acc['accuracy']:.2f} ± {100 * acc['ci95']:.2f}" in md
    assert "| runs/proto | ProtoNet | glyphs | val |" in md
    from hebbformer.machine import describe, git_commit
    machine = describe()
    made = f"{(git_commit() or '?')[:10]} · {machine['cpu']} ({machine['cpu_capability']}, {machine['threads']} threads"
    assert md.count(made) == 2, "every row names the commit and the machine that made it"
    assert "Not evaluated yet (`hebbformer eval RUN`): runs/pending" in md
    assert "| association (accuracy, pairs=1) |" in md and "token_cost_0.csv" in md
    assert "## Float, Quant, Loihi and Lava" in md and "| Lava | 1 |" in md
    rows = list(csv.DictReader(open(tmp_path / "report" / "methods.csv")))
    assert {(r["run"], r["setting"]) for r in rows} >= {("runs/icl", "3w1s"), ("runs/proto", "3w1s")}
    for figure in ("accuracy_by_setting.png", "learning_curves.png", "study_study/levels.png"):
        assert (tmp_path / "report" / figure).stat().st_size > 0
    check_error(capsys, ["report", str(tmp_path / "nowhere")], "nowhere does not exist")
    (runs / "proto" / "eval_val_torch.json").write_text('{"accuracy": 1}')
    check_error(capsys, ["report", str(runs)], "eval_val_torch.json is not an evaluation written by hebbformer eval")
    (tmp_path / "empty").mkdir()
    check_error(capsys, ["report", str(tmp_path / "empty")], "no runs, studies or benchmarks")


def test_version(capsys):
    import hebbformer
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"hebbformer {hebbformer.__version__}"


def test_model_name_names_a_read_out_other_than_the_default():
    from hebbformer.registry import model_name
    model = {"method": "icl", "attention": "softmax", "quant": False}
    assert model_name(model) == "in-context learner, softmax, Float"
    assert model_name({**model, "readout": "vocab"}) == "in-context learner, softmax, Float"
    assert model_name({**model, "readout": "attend"}) == "in-context learner, softmax, Float, attend read-out"
    assert model_name({**model, "readout": "attend"}, encoder_probe=True) == \
        "in-context learner, softmax, Float, attend read-out: its encoder alone, as a ProtoNet"
    assert model_name({**model, "heads": 2, "readout": "attend"}) == "in-context learner, softmax, Float, 2 heads, attend read-out"
