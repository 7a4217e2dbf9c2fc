"""``hebbformer study --read-size``: each module's read where its runs start, nothing trained."""

import json

import pytest

from hebbformer.cli import main
from hebbformer.experiments.read_size import read_sizes
from hebbformer.experiments.study import StudyConfig
from hebbformer.plasticity.fast_weights import MATCHED_SIZED

SIZED = "matched_hebbian+tied+A_ones+sized_as_all"


def test_the_sizes_are_of_each_runs_own_start():
    """Known ratios: the tied sum writes ten times what it writes with Duan et al.'s scale 0.1 (its rate and
    read gain start at 1), their update with every difference out is that scaled sum, and a sized row is its
    rule's size times its gain; each from its run's own seed, width and first batch."""
    modules = ["hebbian+linear+tied", "hebbian+linear+tied+eta_scale", "matched_hebbian+tied+A_fixed+all",
               "matched_hebbian+tied+A_ones", SIZED, "plastic_hebbian"]
    cfg = StudyConfig(modules=modules, tasks=["association"], seeds=2, budget=3000, batch_size=4)
    rows = {r["module"]: r for r in read_sizes(cfg)}
    first_block = {m: [s[0] for s in rows[m]["per_seed"]] for m in modules[:-1]}
    assert first_block["hebbian+linear+tied"] == pytest.approx([10 * s for s in first_block["hebbian+linear+tied+eta_scale"]])
    assert first_block["matched_hebbian+tied+A_fixed+all"] == pytest.approx(first_block["hebbian+linear+tied+eta_scale"])
    gain = MATCHED_SIZED[SIZED].read_gain
    assert first_block[SIZED] == pytest.approx([gain * s for s in first_block["matched_hebbian+tied+A_ones"]])
    assert first_block["hebbian+linear+tied"][0] != pytest.approx(first_block["hebbian+linear+tied"][1])  # two seeds' own
    assert rows["hebbian+linear+tied"]["mean"][0] == pytest.approx(sum(first_block["hebbian+linear+tied"]) / 2)
    assert rows["plastic_hebbian"]["per_seed"] == [None, None] and "mean" not in rows["plastic_hebbian"]


def test_the_cli_writes_the_table_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "sizes"
    assert main(["study", "--read-size", "--out", str(out), "--modules", "static,plastic_hebbian", "--tasks", "association",
                 "--seeds", "1", "--budget", "2000"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["read_size.json", "read_size.md"]  # no study.json, no runs
    saved = json.loads((out / "read_size.json").read_text())
    assert [r["module"] for r in saved["rows"]] == ["static", "plastic_hebbian"] and "commit" in json.dumps(saved["provenance"])
    table = (out / "read_size.md").read_text()
    assert "| association | static | " in table and "no token mixer (plastic layers)" in table
    assert "read_size.md" in capsys.readouterr().out


@pytest.mark.parametrize("setting", [["--tune-lrs", "1e-3", "--tune-write-rates", "1,2"], ["--compile"]])
def test_a_tuning_grid_or_compile_is_refused_before_the_folder_is_made(tmp_path, capsys, setting):
    out = tmp_path / "sizes"
    assert main(["study", "--read-size", "--out", str(out), "--modules", "static", "--tasks", "association", *setting]) == 2
    err = capsys.readouterr().err
    assert "takes no tuning grid and no --compile" in err and err.count("\n") == 1 and not out.exists()
