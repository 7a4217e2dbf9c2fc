"""One table over several study folders (``hebbformer study-combine``).

A study folder holds one comparison as it was tuned and trained (``experiments.study``). Some
comparisons span folders: one network per delay, each delay tuned in a folder of its own, read as
one curve against the delay. ``combine`` reads each folder's final runs (``runs/*.json``) and
tuning winners and writes ``summarise``'s table, CSV and figures over all of them into a folder of
its own, with ``sources.json`` naming each folder and the run files taken from it. It trains
nothing and writes nothing into the folders it reads. A study still training is read as it stands:
the seeds finished so far (results.csv and the plateau and solved counts give each row's number).
A folder may give only some of its modules (``FOLDER:MODULE,MODULE``): a module tuned again in a
folder of its own then replaces its runs in the first (the LSTM tuned at every length, say).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError, DataError
from ..models.sequence import MODULES
from .study import (
    RESULT_KEYS,
    SHARED_SETTINGS,
    read_json,
    read_json_dict,
    summarise,
    trained_settings,
    well_formed,
    write_json_atomic,
)

SOURCES = "sources.json"
# settings a (task, module)'s runs may differ in between folders: how its point was chosen
TUNING_SETTINGS = ("tune_lrs", "tune_write_rates", "tune_seeds", "tuning_from")


def source(arg: str) -> tuple[Path, tuple[str, ...] | None]:
    """A command line's study: ``FOLDER`` (every module) or ``FOLDER:MODULE,MODULE`` (only those)."""
    folder, colon, names = arg.rpartition(":")
    if not colon or Path(arg).is_dir():  # a folder whose own name holds a colon is a folder
        return Path(arg), None
    if not folder:
        raise ConfigError(f"{arg}: no study folder before the ':'")
    modules = tuple(dict.fromkeys(n for n in names.split(",") if n))
    if not modules:
        raise ConfigError(f"{arg}: no module named after the ':' (FOLDER:MODULE,MODULE)")
    unknown = [n for n in modules if n not in MODULES]
    if unknown:
        raise ConfigError(f"{arg}: {', '.join(map(repr, unknown))} is not a module (known: {', '.join(MODULES)})")
    return Path(folder), modules


def combine(chosen: list[tuple[Path, tuple[str, ...] | None]], out: Path) -> str:
    """summarise() over the final runs of the studies ``chosen`` into ``out``; returns the
    Markdown. Each is (folder, modules): only those modules' runs and tuning (None: all), as
    ``source`` reads them from the command line.

    Everything is read and checked before anything is written. Refused: fewer than two folders,
    one named twice, a folder that is not a study, a run file that is not the finished run its
    name says, one run in two folders, one task and module trained with different settings in
    two folders (its seeds would be pooled), two different tuning entries for one task and
    module, and an ``out`` that is one of the studies or inside one, a study itself, or a folder
    holding files that an earlier combine did not write, and a module named for a folder that
    holds no run of it."""
    studies = [folder for folder, _ in chosen]
    if len(studies) < 2:
        raise ConfigError(f"study-combine takes at least two study folders, got {len(studies)}")
    for folder in studies:
        if not folder.is_dir():
            raise ConfigError(f"{folder} {'does not exist' if not folder.exists() else 'is not a folder'}")
    resolved = [s.resolve() for s in studies]
    if len(set(resolved)) < len(studies):
        raise ConfigError("study-combine: a study folder is named twice (FOLDER:MODULE,MODULE takes several of "
                          "its modules at once)")
    _check_out(out, resolved)
    results, origin, tuning, sources, trained = [], {}, {}, [], {}
    for folder, modules in chosen:
        settings = _settings(folder)
        runs = sorted((folder / "runs").glob("*.json"))
        if not runs:
            raise ConfigError(f"{folder} has no finished runs (runs/*.json)")
        taken = [(path, r) for path, r in ((path, _result(path)) for path in runs)
                 if modules is None or r["module"] in modules]
        missing = sorted(set(modules or ()) - {r["module"] for _, r in taken})
        if missing:
            raise ConfigError(f"{folder} holds no run of {', '.join(missing)}")
        runs = [path for path, _ in taken]
        for path, r in taken:
            key = (r["task"], r["module"], r["seed"])
            if key in origin:
                raise ConfigError(f"{r['task']}, {r['module']}, seed {r['seed']} is in both {origin[key]} and "
                                  f"{folder}: leave one of them out")
            origin[key] = folder
            results.append(r)
            _check_pooled_training(r, folder, settings, trained)
        for name, entry in _tuning(folder).items():
            if modules is not None and entry["module"] not in modules:
                continue
            if name in tuning and tuning[name] != entry:
                raise ConfigError(f"{name} has different tuning entries in two of the folders ({folder} is one)")
            tuning[name] = entry
        sources.append({"folder": str(folder), "modules": list(modules) if modules else None,  # None: all
                        "path": str(folder.resolve()), "runs": [p.name for p in runs],
                        "settings": {k: settings[k] for k in SHARED_SETTINGS}})
    _check_levels(results)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("paired.png", "solved.png"):  # an earlier combine's, which this one may not draw again
        (out / name).unlink(missing_ok=True)
    write_json_atomic(out / SOURCES, {"studies": sources}, indent=1)
    write_json_atomic(out / "tuning.json", tuning, indent=1)
    return summarise(results, out, preface=_preface(sources))


def _check_out(out: Path, studies: list[Path]) -> None:
    target = out.resolve()
    if any(target == s or s in target.parents for s in studies):
        raise ConfigError(f"--out {out} is one of the study folders or inside one; the combined table goes to "
                          "a folder of its own")
    if (out / "study.json").exists():
        raise ConfigError(f"--out {out} is a study folder; the combined table goes to a folder of its own")
    if out.is_dir() and not (out / SOURCES).exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out} holds files that study-combine did not write: give a new or empty folder")


def _settings(folder: Path) -> dict:
    path = folder / "study.json"
    if not path.is_file():
        raise ConfigError(f"{folder} is not a study folder (no study.json)")
    settings = read_json_dict(path, "the study's settings")
    return trained_settings(settings)


def _result(path: Path) -> dict:
    """The finished run a runs/ file holds, checked as far as summarise relies on it."""
    r, why = read_json(path)
    if why is None:
        why = _malformed(r, path.name)
    if why is not None:
        raise DataError(f"{path} {why}: rerun its study (it trains a broken run again) or leave the folder out")
    return r


def _malformed(r, name: str) -> str | None:
    if not isinstance(r, dict) or any(k not in r for k in RESULT_KEYS) or not well_formed(r):
        return "is not a finished run's result"
    if not (isinstance(r["task"], str) and isinstance(r["module"], str) and type(r["seed"]) is int
            and isinstance(r["metric"], str) and all(isinstance(k, str) and k.isdigit() for k in r["levels"])):
        return "is not a finished run's result (task, module, seed, metric or levels of the wrong kind)"
    if r["module"] not in MODULES:
        return f"holds a run of {r['module']!r}, a module this version does not know"
    if name != f"{r['task']}__{r['module']}__s{r['seed']}.json":
        return f"holds the run of {r['task']}, {r['module']}, seed {r['seed']}, not the one its name says"
    return None


def _check_pooled_training(r: dict, folder: Path, settings: dict, trained: dict) -> None:
    """One task and module's seeds pool into one row: refused where two folders trained them differently."""
    shared = {k: settings[k] for k in SHARED_SETTINGS if k not in TUNING_SETTINGS}
    first = trained.setdefault((r["task"], r["module"]), (folder, shared))
    if first[1] != shared:
        changed = "; ".join(f"{k} {first[1][k]} / {shared[k]}" for k in shared if shared[k] != first[1][k])
        raise ConfigError(f"{r['task']}, {r['module']} was trained with other settings in {first[0]} and {folder} "
                          f"({changed}): its seeds cannot be pooled into one row")


def _check_levels(results: list[dict]) -> None:
    """Every seed of one task and module scored at the same levels, by the same metric."""
    seen = {}
    for r in results:
        shape = (r["metric"], r["level_name"], sorted(r["levels"]))
        first = seen.setdefault((r["task"], r["module"]), (r["seed"], shape))
        if first[1] != shape:
            raise DataError(f"{r['task']}, {r['module']}: seeds {first[0]} and {r['seed']} were scored differently "
                            f"({first[1]} against {shape})")


def _tuning(folder: Path) -> dict:
    path = folder / "tuning.json"
    if not path.exists():
        return {}
    tuning = read_json_dict(path, "tuning winners")
    if not all(_tuning_entry(e) for e in tuning.values()):
        raise DataError(f"{path} holds an entry without its winner and grid (lr, write_rate, grid of points)")
    return tuning


def _tuning_entry(e) -> bool:
    number = (int, float)
    return (isinstance(e, dict) and isinstance(e.get("task"), str) and isinstance(e.get("module"), str)
            and isinstance(e.get("lr"), number) and isinstance(e.get("write_rate"), number)
            and isinstance(e.get("grid"), list) and all(
                isinstance(p, dict) and all(isinstance(p.get(k), number) for k in ("lr", "write_rate", "val"))
                for p in e["grid"]))


def _preface(sources: list[dict]) -> str:
    """The summary's first lines: the folders, and the settings in which they differ."""
    lines = ["Combined from " + ", ".join(f"`{s['folder']}` ({_which(s)}{len(s['runs'])} runs)" for s in sources)
             + f" ({SOURCES} lists them).", ""]
    differ = [k for k in SHARED_SETTINGS if len({json.dumps(s["settings"][k], sort_keys=True) for s in sources}) > 1]
    if differ:
        lines += ["Settings that differ between them: " + "; ".join(
            f"{k} " + " / ".join(json.dumps(s["settings"][k]) for s in sources) for k in differ) + ".", ""]
    return "\n".join(lines) + "\n"


def _which(source: dict) -> str:
    return "" if source["modules"] is None else ", ".join(source["modules"]) + ": "
