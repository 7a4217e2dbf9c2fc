"""A parity scenario: one plastic synapse layer between a spike source and LIF neurons, as plain
JSON, run the same way on lava and on the emulator.

    pre --(LearningDense: weights, learning rule)--> LIF --spikes as bAPs--> back to the synapses
                                                      ^ reward (3F only) into y2

Keys (defaults in brackets): ``steps``; ``mode`` ("fixed_pt" | "floating_pt"); ``pre`` (n_pre
lists of ``steps`` values: 0/1, or graded payloads 0..255); ``num_message_bits`` [0: binary];
``graded_spike_cfg`` ["USE_REGULAR_IMPULSE" | "OVERWRITE" | "ADD_WITH_SATURATION" |
"ADD_WITHOUT_SATURATION"]; ``weights`` (n_post lists of n_pre); ``sign_mode`` ["MIXED" |
"EXCITATORY" | "INHIBITORY"]; ``num_weight_bits`` [8]; ``weight_exp`` [0]; ``rule`` (``type``
"2F" | "3F", ``dw``/``dd``/``dt`` strings, ``x1_impulse``, ``x1_tau``, ... ``y3_tau`` [0],
``t_epoch`` [1], ``rng_seed`` [0]); ``lif`` (``du``, ``dv``, ``vth``, ``bias_mant`` [0],
``bias_exp`` [0]); ``reward`` (3F: n_post lists of ``steps`` integers, sent as y2); ``record``
(any of weights, tag_1, tag_2, x1, x2, y1, y2, y3, u, v, spikes).

Every field's type, finiteness and range is checked by one schema (``SCHEMA`` below) before
anything is built, so that a bad file ends in one line naming the field, never in a hang inside
lava (a string ``vth``), a parity "ok" between two NaN runs (a NaN weight), or an allocation of an
absurd size. The checks that relate fields to each other are in :meth:`Scenario.validate`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .engine_config import LifParams, Rule, Synapses
from .rule_grammar import DEPENDENCIES

MODES = ("fixed_pt", "floating_pt")
GRADED = ("USE_REGULAR_IMPULSE", "OVERWRITE", "ADD_WITH_SATURATION", "ADD_WITHOUT_SATURATION")
SIGN_MODES = ("MIXED", "EXCITATORY", "INHIBITORY")
RECORDABLE = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "u", "v", "spikes")

# Size limits, checked before anything is allocated. Far above any parity scenario (the benchmark
# is 256 x 256 neurons for 1,000 steps) and far below what would exhaust the machine.
MAX_STEPS = 1_000_000
MAX_NEURONS = 65_536  # per side (n_pre, n_post)
MAX_RECORDED = 2 ** 28  # values recorded over all steps (float64: 2 GiB in the emulator, as much in lava)
MAX_FILE_BYTES = 64 * 2 ** 20  # a JSON file beyond this would take gigabytes as Python lists
MAX_RULE_CHARS = 4096
FLOAT_LIMIT = 1e9  # |value| bound for floating_pt weights, thresholds, biases and rewards: far beyond
# anything Loihi computes, and small enough that no sum over the run overflows to inf (two runs
# that both overflow to NaN would otherwise "agree")


# ------------------------------------------------------------------ the schema of the file format

class _Bad(Exception):
    """One field's problem: the field's dotted name and what is wrong with its value."""

    def __init__(self, path: str, problem: str):
        super().__init__(path, problem)
        self.path, self.problem = path, problem


def _show(value) -> str:
    """A value as the message shows it: JSON's spelling for true/false/null, short."""
    if isinstance(value, (bool, np.bool_)):
        return f"{'true' if value else 'false'} (a boolean)"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than Python converts to text
        return _huge(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _huge(value: int) -> str:
    return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _number(value, path: str, lo: float, hi: float, integer: bool):
    """A finite number in lo..hi (an integral one if ``integer``), as int or float."""
    if not _is_number(value):
        raise _Bad(path, f"expects {'an integer' if integer else 'a number'}, got {_show(value)}")
    try:
        as_float = float(value)
    except OverflowError:  # an integer beyond float's range
        raise _Bad(path, f"must lie in {_range(lo, hi)}, got {_huge(value)}") from None
    if not math.isfinite(as_float):
        raise _Bad(path, f"must be a finite number, got {as_float}")
    if integer and as_float != math.floor(as_float):
        raise _Bad(path, f"expects an integer, got {_show(value)}")
    if not lo <= value <= hi:
        raise _Bad(path, f"must lie in {_range(lo, hi)}, got {_show(value)}")
    return int(value) if integer else (value if isinstance(value, int) else float(value))


def _range(lo: float, hi: float) -> str:
    def fmt(v):
        return f"{v:g}" if isinstance(v, float) else str(v)
    return f"{fmt(lo)}..{fmt(hi)}"


@dataclass(frozen=True)
class _Int:
    lo: int
    hi: int

    def __call__(self, value, path, fixed):
        return _number(value, path, self.lo, self.hi, True)


@dataclass(frozen=True)
class _Num:
    """A number whose range (and integrality) may depend on the mode: fixed_pt registers hold
    integers of a given width, floating_pt values are any finite float in their range."""
    lo: float
    hi: float
    fixed: tuple[int, int] | None = None  # fixed_pt: an integer in this range instead

    def __call__(self, value, path, fixed):
        if fixed and self.fixed is not None:
            return _number(value, path, *self.fixed, True)
        return _number(value, path, self.lo, self.hi, False)


@dataclass(frozen=True)
class _Choice:
    options: tuple[str, ...]

    def __call__(self, value, path, fixed):
        if not isinstance(value, str) or value not in self.options:
            raise _Bad(path, f"expects one of {', '.join(self.options)}, got {path.split('.')[-1]}={_show(value)}"
                       if isinstance(value, str) else f"expects one of {', '.join(self.options)}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class _RuleText:
    def __call__(self, value, path, fixed):
        if value is None:
            return None
        if not isinstance(value, str):
            raise _Bad(path, f"expects a learning rule string (or null), got {_show(value)}")
        if not value.strip():
            raise _Bad(path, "is an empty rule; leave the key out (or null) for no rule")
        if len(value) > MAX_RULE_CHARS:
            raise _Bad(path, f"is a rule of {len(value)} characters; at most {MAX_RULE_CHARS}")
        return value


@dataclass(frozen=True)
class _Names:
    options: tuple[str, ...]

    def __call__(self, value, path, fixed):
        if not isinstance(value, list) or not value:
            raise _Bad(path, f"expects a non-empty list of names from {', '.join(self.options)}, got {_show(value)}")
        for i, name in enumerate(value):
            if not isinstance(name, str):
                raise _Bad(f"{path}[{i}]", f"expects a name, got {_show(name)}")
        bad = [n for n in value if n not in self.options]
        if bad:
            raise _Bad(path, f"cannot record {bad}; choose from {self.options}")
        twice = sorted({n for n in value if value.count(n) > 1})
        if twice:
            raise _Bad(path, f"names {twice} more than once")
        return list(value)


@dataclass(frozen=True)
class _Matrix:
    """A non-empty 2-D list of finite numbers (rows of equal length) in a range, as float64."""
    max_rows: int
    max_cols: int
    lo: float
    hi: float
    integer: bool = False
    fixed: tuple[int, int] | None = None  # fixed_pt: integers in this range instead
    nullable: bool = False

    def __call__(self, value, path, fixed):
        if value is None and self.nullable:
            return None
        lo, hi, integer = (*self.fixed, True) if fixed and self.fixed is not None else (self.lo, self.hi, self.integer)
        if isinstance(value, np.ndarray):  # from Python callers; a file gives lists
            if value.dtype.kind not in "iuf" or value.ndim != 2:
                raise _Bad(path, f"expects a 2-D array of numbers, got {_show(value)}")
            self._size(path, *value.shape)
        else:
            if not isinstance(value, list) or not value:
                raise _Bad(path, f"expects a non-empty list of rows (lists of numbers), got {_show(value)}")
            cols = None
            for i, row in enumerate(value):
                if not isinstance(row, list):
                    raise _Bad(f"{path}[{i}]", f"expects a list of numbers, got {_show(row)}")
                if cols is None:
                    cols = self._size(path, len(value), len(row))
                elif len(row) != cols:
                    raise _Bad(path, f"rows must have equal lengths: {path}[0] has {cols} values, "
                                     f"{path}[{i}] has {len(row)}")
                if not set(map(type, row)) <= {int, float}:  # the fast path: plain JSON numbers
                    for j, v in enumerate(row):
                        if not _is_number(v):
                            raise _Bad(f"{path}[{i}][{j}]", f"expects a number, got {_show(v)}")
        try:
            a = np.array(value, dtype=np.float64)
        except OverflowError:  # an integer beyond float's range
            i, j = next((i, j) for i, row in enumerate(value) for j, v in enumerate(row) if abs(v) >= 1e308)
            raise _Bad(f"{path}[{i}][{j}]", f"must lie in {_range(lo, hi)}, got {_huge(value[i][j])}") from None
        for bad, problem in ((~np.isfinite(a), "must be a finite number"),
                             ((a < lo) | (a > hi), f"must lie in {_range(lo, hi)}"),
                             ((a != np.round(a)) if integer else None,
                              f"expects an integer{' in fixed_pt' if fixed and self.fixed else ''}")):
            if bad is not None and bad.any():
                i, j = np.argwhere(bad)[0]
                raise _Bad(f"{path}[{i}][{j}]", f"{problem}, got {a[i, j]:g}")
        return a

    def _size(self, path, rows: int, cols: int) -> int:
        if not 1 <= rows <= self.max_rows:
            raise _Bad(path, f"has {rows} rows; expects 1..{self.max_rows}")
        if not 1 <= cols <= self.max_cols:
            raise _Bad(path, f"has rows of {cols} values; expects 1..{self.max_cols}")
        return cols


@dataclass(frozen=True)
class _Object:
    cls: type
    schema: dict

    def __call__(self, value, path, fixed):
        if not isinstance(value, dict):
            raise _Bad(path, f"expects an object (of {path} fields), got {_show(value)}")
        return self.cls(**_check_fields(value, self.schema, path, fixed))


def _check_fields(d: dict, schema: dict, prefix: str, fixed: bool, required: tuple = ()) -> dict:
    unknown = set(d) - set(schema)
    if unknown:
        raise _Bad(prefix, f"has unknown keys {sorted(map(str, unknown))}; known: {sorted(schema)}")
    for key in required:
        if key not in d:
            raise _Bad(f"{prefix}.{key}".lstrip("."), "is required but missing")
    return {key: check(d[key], f"{prefix}.{key}".lstrip("."), fixed) for key, check in schema.items() if key in d}


_FLOAT = (-FLOAT_LIMIT, FLOAT_LIMIT)
TRACE_IMPULSE = _Num(0, 127)  # a 7-bit trace; impulses keep 8 fractional bits (stochastic rounding)
TRACE_TAU = _Int(0, 65535)  # uint16, as lava's 3F rule's fixed 65535 shows

RULE_SCHEMA = {
    "type": _Choice(("2F", "3F")),
    "dw": _RuleText(), "dd": _RuleText(), "dt": _RuleText(),
    **{f"{y}_{kind}": TRACE_IMPULSE if kind == "impulse" else TRACE_TAU
       for y in ("x1", "x2", "y1", "y2", "y3") for kind in ("impulse", "tau")},
    "t_epoch": _Int(1, MAX_STEPS),
    "rng_seed": _Int(0, 2 ** 31 - 1),  # lava draws its own seeds below int32's maximum
}
LIF_SCHEMA = {  # fixed_pt ranges: lava's PyLifModelBitAcc registers
    "du": _Num(0.0, 1.0, fixed=(0, 4095)),  # 12 bits; floating_pt: the decay fraction per step
    "dv": _Num(0.0, 1.0, fixed=(0, 4095)),
    "vth": _Num(0.0, FLOAT_LIMIT, fixed=(0, 2 ** 24 - 1)),  # lava shifts it left by 6 in int32
    "bias_mant": _Num(*_FLOAT, fixed=(-4096, 4095)),  # 13 bits signed
    "bias_exp": _Int(0, 7),  # 3 bits unsigned
}
SCHEMA = {  # "mode" first: the ranges of other fields depend on it
    "mode": _Choice(MODES),
    "steps": _Int(1, MAX_STEPS),
    "pre": _Matrix(MAX_NEURONS, MAX_STEPS, 0, 255, integer=True),  # 0/1 spikes or 8-bit graded payloads
    "num_message_bits": _Int(0, 24),  # 0: binary spikes; graded payloads of up to 24 bits
    "graded_spike_cfg": _Choice(GRADED),
    "weights": _Matrix(MAX_NEURONS, MAX_NEURONS, *_FLOAT, fixed=(-256, 255)),  # the 9-bit synaptic grid
    "sign_mode": _Choice(SIGN_MODES),
    "num_weight_bits": _Int(1, 8),
    "weight_exp": _Int(-8, 7),
    "rule": _Object(Rule, RULE_SCHEMA),
    "lif": _Object(LifParams, LIF_SCHEMA),
    # y2 of a 3F rule: a 24-bit graded payload in fixed_pt (lava sends it as int32)
    "reward": _Matrix(MAX_NEURONS, MAX_STEPS, *_FLOAT, fixed=(-(2 ** 23), 2 ** 23 - 1), nullable=True),
    "record": _Names(RECORDABLE),
}
REQUIRED = ("steps", "pre", "weights", "rule")


def _fail(where: str, msg: str) -> ConfigError:
    return ConfigError(msg if where == "scenario" else f"{where}: {msg}")


@dataclass
class Scenario:
    steps: int
    pre: np.ndarray  # [n_pre, steps]
    weights: np.ndarray  # [n_post, n_pre]
    rule: Rule
    lif: LifParams = field(default_factory=LifParams)
    mode: str = "fixed_pt"
    num_message_bits: int = 0
    graded_spike_cfg: str = "USE_REGULAR_IMPULSE"
    sign_mode: str = "MIXED"
    num_weight_bits: int = 8
    weight_exp: int = 0
    reward: np.ndarray | None = None  # [n_post, steps], 3F
    record: list[str] = field(default_factory=lambda: ["weights"])

    @property
    def fixed(self) -> bool:
        return self.mode == "fixed_pt"

    def synapses(self) -> Synapses:
        """The scenario's LearningDense, as the emulator and lava_sim build it."""
        return Synapses(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Synapses) if f.name != "tag_1"})

    @classmethod
    def from_dict(cls, d: dict, where: str = "scenario") -> "Scenario":
        """A scenario from its JSON object: every field checked against ``SCHEMA`` (type,
        finiteness, range) and then against each other (:meth:`validate`), before anything runs."""
        if not isinstance(d, dict):
            raise _fail(where, f"a scenario is a JSON object of fields, got {_show(d)}")
        try:
            mode = SCHEMA["mode"](d.get("mode", "fixed_pt"), "mode", True)
            checked = _check_fields(d, SCHEMA, "", mode == "fixed_pt", REQUIRED)
        except _Bad as bad:
            raise _fail(where, f"scenario field '{bad.path}' {bad.problem}" if bad.path
                        else f"scenario {bad.problem}") from None
        s = cls(**checked).validate(where)
        if s.rule.type == "3F":
            given = sorted(k for k in d["rule"] if k[:2] in ("y1", "y2", "y3"))
            if given:  # they would be replaced silently by the 3F rule's own y traces
                raise _fail(where, f"scenario field 'rule' sets {given}, which a 3F rule ignores: lava's "
                                   "Loihi3FLearningRule fixes the y traces (the reward arrives as y2); remove them")
        return s

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"scenario file {p} does not exist")
        if not p.is_file():
            raise ConfigError(f"scenario file {p} is not a file")
        try:
            size = p.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ConfigError(f"scenario file {p} is {size / 2 ** 20:.0f} MiB; a scenario file may be at most "
                                  f"{MAX_FILE_BYTES // 2 ** 20} MiB")
            raw = p.read_bytes()
        except OSError as err:
            raise ConfigError(f"scenario file {p} cannot be read ({err.strerror or err})") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ConfigError(f"scenario file {p} is not UTF-8 text (byte {err.start}: {raw[err.start:err.start + 1]!r}); "
                              "scenarios are JSON in UTF-8") from None
        try:
            d = json.loads(text, object_pairs_hook=_object_without_repeats)
        except ConfigError as err:
            raise ConfigError(f"scenario file {p}: {err}") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"scenario file {p} is not valid JSON: {err}") from None
        except RecursionError:
            raise ConfigError(f"scenario file {p} is nested too deeply to be a scenario") from None
        except ValueError as err:  # Python refuses integers of more than 4,300 digits
            raise ConfigError(f"scenario file {p} is not a scenario: {str(err).split(';')[0]}") from None
        if not isinstance(d, dict):
            raise ConfigError(f"scenario file {p} holds a JSON {_json_kind(d)}; a scenario is a JSON object "
                              "of fields (docs/loihi.md)")
        return cls.from_dict(d, str(p))

    def validate(self, where: str = "scenario") -> "Scenario":
        """The checks between fields (shapes that must agree, combinations lava cannot run)."""
        def check(ok, msg):
            if not ok:
                raise ConfigError(f"{where}: {msg}")

        check(self.mode in MODES, f"mode={self.mode!r} is not one of {MODES}")
        check(self.graded_spike_cfg in GRADED, f"graded_spike_cfg={self.graded_spike_cfg!r} is not one of {GRADED}")
        check(self.sign_mode in SIGN_MODES, f"sign_mode={self.sign_mode!r} is not one of {SIGN_MODES}")
        check(self.rule.type in ("2F", "3F"), f"rule.type={self.rule.type!r} is not 2F or 3F")
        check(self.steps >= 1 and self.pre.shape[1] == self.steps,
              f"pre has {self.pre.shape[1]} columns, steps={self.steps}")
        check(self.weights.shape[1] == self.pre.shape[0],
              f"weights are {self.weights.shape} (n_post x n_pre) but pre has {self.pre.shape[0]} neurons")
        check(self.rule.t_epoch >= 1, "rule.t_epoch must be at least 1")
        check(self.rule.t_epoch <= self.steps,
              f"rule.t_epoch={self.rule.t_epoch} is longer than steps={self.steps}: the rule would never apply")
        check(1 <= self.num_weight_bits <= 8, "num_weight_bits must lie in 1..8")
        check(np.all(self.pre >= 0) and np.all(self.pre <= 255) and np.all(self.pre == np.round(self.pre)),
              "pre values must be integers in 0..255 (binary spikes or graded payloads)")
        check(self.num_message_bits > 0 or np.all(self.pre <= 1), "binary spikes (num_message_bits=0) must be 0 or 1")
        check(self.num_message_bits > 0 or self.graded_spike_cfg == "USE_REGULAR_IMPULSE",
              "graded_spike_cfg other than USE_REGULAR_IMPULSE needs num_message_bits > 0")
        for name in ("x1", "x2", "y1", "y2", "y3"):
            check(getattr(self.rule, f"{name}_impulse") >= 0 and getattr(self.rule, f"{name}_tau") >= 0,
                  f"rule.{name}_impulse and rule.{name}_tau must not be negative")
        try:
            series = self.rule.series()
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        check(series, "the rule needs at least one of dw, dd, dt")
        check(len({s.decimate_exponent for s in series.values()} - {None}) <= 1,
              "all uK terms across dw, dd and dt must use the same K")
        if not self.fixed:  # lava's float applier cannot evaluate these (and then hangs, pitfall P2)
            for s in series.values():
                check(all(f.var not in DEPENDENCIES for p in s.products for f in p.factors),
                      "floating_pt cannot use x0 or y0 as a factor")
            # in floating_pt a trace of tau 0 is NaN (lava's and ours alike), so a rule using it
            # turns the weights into NaN on both sides, and parity would call that agreement
            (_, x_tau), (_, y_tau) = self.rule.impulses_taus()
            taus = dict(zip(("x1", "x2", "y1", "y2", "y3"), [*x_tau, *y_tau]))
            used = sorted({f.var for s in series.values() for p in s.products for f in p.factors if f.var in taus})
            zero = [v for v in used if taus[v] == 0]
            if zero:
                check(False, f"floating_pt: the rule uses {', '.join(zero)} but rule.{zero[0]}_tau is 0, which makes "
                             "that trace NaN in floating point; give it a tau of at least 1")
        if self.fixed:
            check(np.all(self.weights == np.round(self.weights)), "fixed_pt weights must be integers")
        if self.rule.type == "3F":
            check(self.reward is not None and self.reward.shape == (self.weights.shape[0], self.steps),
                  f"a 3F rule needs reward: n_post x steps = {self.weights.shape[0]} x {self.steps}")
        else:
            check(self.reward is None, "reward is the third factor: only for rule.type 3F")
        bad = [r for r in self.record if r not in RECORDABLE]
        check(not bad, f"cannot record {bad}; choose from {RECORDABLE}")
        n_post, n_pre = self.weights.shape
        per_step = {"weights": n_post * n_pre, "tag_1": n_post * n_pre, "tag_2": n_post * n_pre,
                    "x1": n_pre, "x2": n_pre}
        recorded = self.steps * sum(per_step.get(r, n_post) for r in set(self.record))
        check(recorded <= MAX_RECORDED, f"recording {sorted(set(self.record))} over {self.steps} steps would hold "
                                        f"{recorded:,} values, more than {MAX_RECORDED:,}; record fewer variables "
                                        "or run fewer steps")
        return self


def _object_without_repeats(pairs: list) -> dict:
    """A JSON object, refusing a key given twice (json keeps the last one silently)."""
    d = {}
    for key, value in pairs:
        if key in d:
            raise ConfigError(f"key {key!r} appears twice in one object")
        d[key] = value
    return d


def _json_kind(value) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
