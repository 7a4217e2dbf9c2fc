"""One table over several study folders (``hebbformer study-combine``).

A study folder holds one comparison as it was tuned and trained (``experiments.study``). Some
comparisons span folders: one network per delay, each delay tuned in a folder of its own, read as
one curve against the delay. ``combine`` reads each folder's final runs (``runs/*.json``) and
tuning winners and writes ``summarise``'s table, CSV and figures over all of them into a folder of
its own, with ``sources.json`` naming where every run came from and with which settings. It
trains nothing and writes nothing into the folders it reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..errors import ConfigError, DataError
from .study import (
    BEFORE_SETTING,
    RESULT_KEYS,
    SHARED_SETTINGS,
    StudyConfig,
    read_json,
    summarise,
    well_formed,
    write_json_atomic,
)

SOURCES = "sources.json"


def combine(studies: list[Path], out: Path) -> str:
    """summarise() over the final runs of ``studies`` into ``out``; returns the Markdown. Refused
    before anything is written: fewer than two folders, a folder that is not a finished study, a
    run result that cannot be read, a run (task, module, seed) in two folders, two folders with
    different tuning winners for one task and module, and an ``out`` that is one of the studies
    or a study of its own (its summary would be overwritten)."""
    if len(studies) < 2:
        raise ConfigError(f"study-combine takes at least two study folders, got {len(studies)}")
    if len({s.resolve() for s in studies}) < len(studies):
        raise ConfigError("study-combine: a study folder is named twice")
    if out.resolve() in {s.resolve() for s in studies} or (out / "study.json").exists():
        raise ConfigError(f"--out {out} is a study folder; the combined table goes to a folder of its own")
    results, origin, tuning, sources = [], {}, {}, []
    for folder in studies:
        settings = _settings(folder)
        runs = sorted((folder / "runs").glob("*.json"))
        if not runs:
            raise ConfigError(f"{folder} has no finished runs (runs/*.json)")
        for path in runs:
            r = _result(path)
            key = (r["task"], r["module"], r["seed"])
            if key in origin:
                raise ConfigError(f"{r['task']}, {r['module']}, seed {r['seed']} is in both {origin[key]} and "
                                  f"{folder}: leave one of them out")
            origin[key] = folder
            results.append(r)
        for name, entry in _tuning(folder).items():
            if name in tuning and (tuning[name]["lr"], tuning[name]["write_rate"]) != (entry["lr"], entry["write_rate"]):
                raise ConfigError(f"{name} was tuned to different winners in two of the folders ({folder} is one)")
            tuning[name] = entry
        sources.append({"folder": str(folder), "runs": len(runs), "settings": {k: settings.get(k) for k in SHARED_SETTINGS}})
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / SOURCES, {"studies": sources}, indent=1)
    if tuning:
        write_json_atomic(out / "tuning.json", tuning, indent=1)
    return summarise(results, out, preface=_preface(sources))


def _settings(folder: Path) -> dict:
    path = folder / "study.json"
    if not path.is_file():
        raise ConfigError(f"{folder} is not a study folder (no study.json)")
    settings, why = read_json(path)
    if why is None and not isinstance(settings, dict):
        why = f"holds a JSON {type(settings).__name__}, not the study's settings"
    if why is not None:
        raise DataError(f"{path} {why}")
    return {**asdict(StudyConfig()), **BEFORE_SETTING, **settings}  # settings added since: as they were


def _result(path: Path) -> dict:
    r, why = read_json(path)
    if why is None and (not isinstance(r, dict) or any(k not in r for k in RESULT_KEYS) or not well_formed(r)):
        why = "is not a finished run's result"
    if why is not None:
        raise DataError(f"{path} {why}: rerun its study (it trains the run again) or leave the folder out")
    return r


def _tuning(folder: Path) -> dict:
    path = folder / "tuning.json"
    if not path.exists():
        return {}
    tuning, why = read_json(path)
    if why is None and not isinstance(tuning, dict):
        why = f"holds a JSON {type(tuning).__name__}, not tuning winners"
    if why is not None:
        raise DataError(f"{path} {why}")
    return tuning


def _preface(sources: list[dict]) -> str:
    """The summary's first lines: the folders, and the settings in which they differ."""
    lines = ["Combined from " + ", ".join(f"`{s['folder']}` ({s['runs']} runs)" for s in sources) + f" ({SOURCES}).", ""]
    differ = [k for k in SHARED_SETTINGS if len({json.dumps(s["settings"][k], sort_keys=True) for s in sources}) > 1]
    if differ:
        lines += ["Settings that differ between them: " + "; ".join(
            f"{k} " + " / ".join(json.dumps(s["settings"][k]) for s in sources) for k in differ) + ".", ""]
    return "\n".join(lines) + "\n"
