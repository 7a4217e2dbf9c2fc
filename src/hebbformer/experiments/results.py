"""The Omniglot results page, written from the shipped models' evaluations, with the published
figures beside ours: ``hebbformer results`` reads ``models/MANIFEST.json`` and what
``hebbformer eval NAME`` / ``hebbformer variants`` left in ``runs/eval/NAME/``, and writes
``docs/results/omniglot.md``. Every row carries the command, commit, machine and date that made it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import checkpoint, shipped
from ..atomic import write_text
from ..registry import model_name

SETTINGS = ("5w1s", "5w5s", "20w1s", "20w5s")

# Vinyals split, accuracy % (5w1s, 5w5s, 20w1s, 20w5s), as each paper reports it.
PUBLISHED_VINYALS = [
    ("Matching Networks (Vinyals et al., NeurIPS 2016)", (98.1, 98.9, 93.8, 98.5)),
    ("Prototypical Networks (Snell et al., NeurIPS 2017)", (98.8, 99.7, 96.0, 98.9)),
    ("MAML (Finn et al., ICML 2017)", (98.7, 99.9, 95.8, 98.9)),
    ("SNAIL (Mishra et al., ICLR 2018)", (99.07, 99.78, 97.64, 99.36)),
]
# Lake et al. (Science 2015), all_runs error %.
PUBLISHED_ALL_RUNS = [("People", 4.5), ("Bayesian Program Learning", 3.3), ("Siamese convnet (Koch et al., 2015; as reported)", 8.0),
                      ("Convnet", 13.5)]

BACKEND_FILES = {"torch": "eval.json", "integer": "eval_test_integer.json", "loihi": "eval_test_loihi.json",
                 "lava": "eval_test_lava.json", "probe": "eval_test_encoder_probe.json"}


def _label(cfg: dict, backend: str) -> str:
    return f"{_method(cfg, backend)}, {cfg['model']['encoder_channels']} ch."


def _method(cfg: dict, backend: str) -> str:
    return model_name(cfg["model"], "torch" if backend == "probe" else backend, encoder_probe=backend == "probe")


def _evaluations(eval_root: Path):
    """(name, entry, config, backend, eval report) of every shipped model's evaluation found."""
    for name, entry in shipped.manifest().items():
        cfg = checkpoint.load(shipped.models_dir() / entry["file"])["config"]
        for backend, file in BACKEND_FILES.items():
            path = eval_root / name / file
            if path.is_file():
                yield name, entry, cfg, backend, json.loads(path.read_text())


def _cell(report: dict, setting: str) -> str:
    for r in report["results"]:
        if r["setting"] == setting and r["accuracy"] is not None:
            return f"{100 * r['accuracy']:.2f} ±{100 * r['ci95']:.2f}"
    return "—"


def _made(report: dict) -> str:
    p = report.get("provenance", {})
    m = p.get("machine", {})
    return f"`{p.get('command', '?')}` · {(p.get('commit') or '?')[:10]} · {m.get('cpu', '?')} " \
           f"({m.get('cpu_capability', '?')}, {m.get('threads', '?')} threads) · {p.get('date', '?')}"


def build(eval_root: Path = Path("docs/results/omniglot-evals"), notes: Path | None = None) -> str:
    """The page; ``notes``: a hand-written reading of the figures, included after the tables."""
    rows = list(_evaluations(eval_root))
    vin = [r for r in rows if r[2]["data"]["split"] == "vinyals"]
    lake = [r for r in rows if r[2]["data"]["split"] == "lake"]
    out = ["# Omniglot: the standard benchmarks", "",
           "Written by `hebbformer results` from the shipped models (`models/`, `models/MANIFEST.json`) and their "
           "evaluations (`hebbformer eval NAME` writes `runs/eval/NAME/`; the copies this page was made from are in "
           "`docs/results/omniglot-evals/`); `scripts/omniglot_results.sh` reruns every evaluation and this page. "
           "Accuracy in %, mean ± 95% CI over 1,000 test episodes per setting; \"32 ch.\" / \"64 ch.\": the width of "
           "the Conv-4 encoder (64 is the papers' width).", "",
           "## Vinyals split", "",
           "Meta-trained on the 1,028 characters of `train.txt` (with their four rotations: 4,112 classes), "
           "validated on `val.txt`, tested on the 423 characters of `test.txt`, each rotation a class of its own "
           "(1,692 classes; an episode may hold two rotations of one character, as in the papers' code). Test "
           "protocol: 1,000 episodes per setting, 15 queries per class, label tokens and support order drawn anew "
           "for every episode; the same episodes for every method (seed 1234).", "",
           "| model | " + " | ".join(SETTINGS) + " | made by |", "| --- |" + " --- |" * (len(SETTINGS) + 1)]
    for name, values in PUBLISHED_VINYALS:
        out.append(f"| {name} (published) | " + " | ".join(f"{v:.2f}" for v in values) + " | the paper |")
    for name, entry, cfg, backend, rep in vin:
        out.append(f"| **{_label(cfg, backend)}** (`{name}`) | " + " | ".join(_cell(rep, s) for s in SETTINGS)
                   + f" | {_made(rep)} |")
    out += ["", "## Lake's protocol", "",
            "Meta-trained and validated on `images_background` alone (964 characters of 30 alphabets, with "
            "rotations; a tenth of the characters held out for validation); tested on the 20 alphabets of "
            "`images_evaluation` (659 characters, no rotations; 1,000 episodes per setting, 15 queries per class) "
            "and on Lake's 20 `all_runs` runs (20-way one-shot within an alphabet, error rate). "
            "`data.split=lake` refuses any evaluation set in training.", "",
            "| model | all_runs error | " + " | ".join(SETTINGS) + " | made by |",
            "| --- | --- |" + " --- |" * (len(SETTINGS) + 1)]
    for name, err in PUBLISHED_ALL_RUNS:
        out.append(f"| {name} (Lake et al., 2015) | {err:.1f}% |" + " |" * len(SETTINGS) + " the paper |")
    for name, entry, cfg, backend, rep in lake:
        err = f"{100 * rep['all_runs_error']:.2f}%" if "all_runs_error" in rep else "—"
        out.append(f"| **{_label(cfg, backend)}** (`{name}`) | {err} | "
                   + " | ".join(_cell(rep, s) for s in SETTINGS) + f" | {_made(rep)} |")
    per_run = [(n, r) for n, _, _, b, r in lake if "all_runs_per_run" in r and b == "torch"]
    if per_run:
        out += ["", "all_runs error per run (%):", "", "| model | " + " | ".join(f"{i + 1:02d}" for i in range(20)) + " |",
                "| --- |" + " --- |" * 20]
        for n, r in per_run:
            out.append(f"| `{n}` | " + " | ".join(f"{100 * e:.0f}" for e in r["all_runs_per_run"]) + " |")
    for name in shipped.manifest():
        path = eval_root / name / "variants.json"
        if path.is_file():
            v = json.loads(path.read_text())
            words = v.get("provenance", {}).get("command", "").split()
            runs = words[words.index("variants") + 1:words.index("variants") + 3] if "variants" in words else []
            which = f"Float: `{runs[0]}`, the others `{runs[1]}`; " if len(runs) == 2 else ""
            out += ["", f"## One model, four back-ends ({which}{v['setting']}, {v['where']})", "",
                    "| variant | executed by | episodes | accuracy | time | note |", "| --- | --- | --- | --- | --- | --- |"]
            for r in v["rows"]:
                out.append(f"| {r['variant']} | {r['backend']} | {r['episodes']} | {100 * r['accuracy']:.2f} "
                           f"±{100 * r['ci95']:.2f} | {r['seconds']:.0f} s | {r['note']} |")
            out += ["", f"Made by {_made(v)}."]
    out += ["", "## The shipped models", "",
            f"{len(shipped.manifest())} files, {shipped.total_bytes() / 1e6:.1f} MB in all. `hebbformer eval NAME` "
            "evaluates one; `tests/test_shipped.py` checks each on 100 fixed episodes.", "",
            "| name | what | weights | size | steps | training time | trained on | command |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in shipped.manifest().items():
        m = e.get("machine") or {}
        secs = e.get("train_seconds")
        out.append(f"| `{name}` | {e['description']} | {e['weights']} | {e['bytes'] / 1e6:.1f} MB | "
                   f"{e.get('trained_steps', '?')} | {f'{secs / 60:.1f} min' if secs else '?'} | "
                   f"{m.get('cpu', '?')} ({m.get('cpu_capability', '?')}, {m.get('threads', '?')} threads, "
                   f"{m.get('precision', '?')}) | `{e['command']}` |")
    if notes is not None and notes.is_file():
        out += ["", f"## Reading (by hand, from the figures above: `{notes.name}`)", "", notes.read_text().strip()]
    out.append("")
    out.append("CIFAR-FS: no row. CIFAR-100 could not be obtained on the machines these results were made on; "
               "its loader is tested on generated fixtures only.")
    return "\n".join(out) + "\n"


HEADLINE = ("<!-- omniglot-headline -->", "<!-- /omniglot-headline -->")


def headline(eval_root: Path = Path("docs/results/omniglot-evals")) -> str:
    """The README's table: one row per method, Vinyals split settings and Lake's all_runs error."""
    rows: dict[str, dict] = {}
    for name, entry, cfg, backend, rep in _evaluations(eval_root):
        if backend == "probe":
            continue
        row = rows.setdefault(_label(cfg, backend), {})
        if cfg["data"]["split"] == "vinyals":
            row.update({s: _cell(rep, s).split(" ")[0] for s in SETTINGS})
        elif cfg["data"]["split"] == "lake" and "all_runs_error" in rep:
            row["all_runs"] = f"{100 * rep['all_runs_error']:.2f}%"
    for name, entry in shipped.manifest().items():
        path = eval_root / name / "variants.json"
        if path.is_file():
            v = json.loads(path.read_text())
            cfg = checkpoint.load(shipped.models_dir() / entry["file"])["config"]
            for r in v["rows"]:
                if r["backend"] in ("integer", "loihi", "lava"):
                    rows.setdefault(_label(cfg, r["backend"]), {})[v["setting"]] = \
                        f"{100 * r['accuracy']:.2f} ({r['episodes']} ep.)"
    out = ["| Omniglot | Vinyals 5w1s | 5w5s | 20w1s | 20w5s | Lake all_runs error |", "| --- | --- | --- | --- | --- | --- |"]
    for label, r in rows.items():
        out.append(f"| hebbformer: {label} | " + " | ".join(r.get(s, "—") for s in SETTINGS) + f" | {r.get('all_runs', '—')} |")
    for name, values in PUBLISHED_VINYALS[1:]:
        short = name.split(" (")[0]
        out.append(f"| {short} (published) | " + " | ".join(f"{v:.2f}" for v in values) + " | |")
    out.append("| Siamese convnet / people (Lake et al., 2015) | | | | | 8.0% / 4.5% |")
    out += ["", "Accuracy in % over 1,000 test episodes per setting (15 queries per class; the Quant, Loihi and lava rows: "
            "5 queries, 5w1s only); the Vinyals columns are models trained on the Vinyals split, the all_runs column models "
            "trained under Lake's protocol (`images_background` only). Every figure with its confidence interval, "
            "command, commit and machine: [docs/results/omniglot.md](docs/results/omniglot.md)."]
    return "\n".join(out)


def update_readme(readme: Path, eval_root: Path = Path("docs/results/omniglot-evals")) -> bool:
    """Replace the table between the README's headline markers; False if it has no markers."""
    if not readme.is_file():
        return False
    text = readme.read_text()
    start, end = HEADLINE
    if start not in text:
        return False
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1] if end in rest else rest
    write_text(readme, f"{before}{start}\n{headline(eval_root)}\n{end}{after}")
    return True


def write(out: Path, eval_root: Path = Path("docs/results/omniglot-evals")) -> Path:
    return write_text(out, build(eval_root, out.with_name(out.stem + "-notes.md")))
