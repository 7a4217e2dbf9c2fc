"""Reading config values: TOML and JSON files, ``section.key=value`` text from the command line,
each value checked against its field's type with an error that names the key. Knows nothing of
the sections themselves (``config`` holds the schemas); works on any dataclass."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from pathlib import Path

from .errors import ConfigError


def field_types(obj) -> dict[str, type]:
    hints = typing.get_type_hints(type(obj))
    return {f.name: hints[f.name] for f in dataclasses.fields(obj)}


def set_field(obj, section: str, key: str, value) -> None:
    types = field_types(obj)
    where = f"{section}.{key}" if section else key
    if key not in types:
        known = ", ".join(types)
        raise ConfigError(f"unknown config key {where!r}; known keys{' in [' + section + ']' if section else ''}: {known}")
    setattr(obj, key, _coerce(where, types[key], value))


def _coerce(where: str, typ, value):
    """Check a value from a file against the field's type (ints are accepted for floats)."""
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(typ) is list:
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return list(value)
    elif dataclasses.is_dataclass(typ):
        raise ConfigError(f"config key {where!r} is a section; give it as a table of keys")
    raise ConfigError(f"config key {where!r} expects {_type_name(typ)}, got {value!r}")


def _type_name(typ) -> str:
    if typing.get_origin(typ) is list:
        return "a list of strings"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[typ]


def parse_text(obj, key: str, text: str, section: str):
    """Turn command-line text into the field's type; unknown keys fall through to set_field."""
    typ = field_types(obj).get(key)
    where = f"{section}.{key}" if section else key
    text = text.strip()
    try:
        if typ is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
        if typing.get_origin(typ) is list:
            return [s.strip() for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"config key {where!r} expects {_type_name(typ)}, got {text!r}") from None
    return text


def read_config_file(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
        d = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {err.strerror}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"config file {str(p)!r} is not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {err}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a table of sections, not a {type(d).__name__}")
    return d
