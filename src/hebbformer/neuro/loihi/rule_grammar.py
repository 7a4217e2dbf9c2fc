"""Loihi 2 learning rules: the sum-of-products grammar, parsed as lava-nc 0.10.0 parses it.

A rule string such as ``"2^-2*x0*y1 - 3*y0*x1*(w-10)"`` is a sum of products. Each product has
one dependency (``x0``: a presynaptic spike in the epoch, ``y0``: a postsynaptic one, ``uK``:
every 2**K-th epoch), a scale ``s_mant * 2**s_exp`` with a 4-bit mantissa, and factors: traces
``x1 x2 y1 y2 y3``, synaptic variables ``w d t`` (each optionally ``+ const``, or ``sgn(...)``),
or a later ``x0``/``y0`` as a one-bit factor. lava's own quirks are kept on purpose (they decide
what the hardware computes): ``(-x1)`` is ``x1``, ``(10 - x1)`` is ``-(x1 - 10)``, literals are
integers or ``N*2^E`` only, and only the first digit of ``uK`` counts.
(``../shared/reference/lava-learning-engine.md`` §1.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...errors import ConfigError

DEPENDENCIES = ("x0", "y0", "u")
TRACES = ("x1", "x2", "y1", "y2", "y3")
SYNAPTIC = ("w", "d", "t")
WIDTH = {"x0": 1, "y0": 1, "u": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 9, "t": 9}
MANT_BITS = 4  # W_S_MANT

_LITERALS = [
    (re.compile(r"[+-]?(\d+)\*2\^([+-]?\d+)"), lambda m: (int(m.group(1)), int(m.group(2)))),
    (re.compile(r"[+-]?2\^([+-]?\d+)"), lambda m: (1, int(m.group(1)))),
    (re.compile(r"[+-]?(\d+)"), lambda m: (int(m.group(1)), 0)),
]


@dataclass(frozen=True)
class Factor:
    var: str  # x0 y0 (one-bit), x1 x2 y1 y2 y3, w d t
    const: int = 0
    sgn: bool = False


@dataclass(frozen=True)
class Product:
    dependency: str  # x0, y0 or u
    s_mant: int
    s_exp: int  # the scale is s_mant * 2**s_exp; lava stores s_exp + 7
    factors: tuple[Factor, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ProductSeries:
    products: tuple[Product, ...]
    decimate_exponent: int | None  # K of uK, if any product uses u


def _tokenise(text: str, rule: str) -> list:
    """Tokens: operators, symbols, ('lit', mant, exp), ('()', [...]) and ('sgn', [...])."""
    tokens, i = [], 0
    while i < len(text):
        c = text[i]
        if c in "+-*":
            tokens.append(c)
            i += 1
            continue
        if text.startswith(("x0", "y0"), i):
            tokens.append(text[i:i + 2])
            i += 2
            continue
        m = re.compile(r"u(\d)").match(text, i)
        if m:
            tokens.append(("u", int(m.group(1))))
            i += 2
            while i < len(text) and text[i].isdigit():  # only the first digit counts
                i += 1
            continue
        m = re.compile(r"x[12]|y[123]|[wdt]").match(text, i)
        if m and not text.startswith("sgn(", i):
            tokens.append(m.group(0))
            i = m.end()
            continue
        if c == "(" or text.startswith("sgn(", i):
            start = i + (4 if c != "(" else 1)
            depth, j = 1, start
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise ConfigError(f"learning rule {rule!r}: unbalanced brackets")
            tokens.append(("sgn" if c != "(" else "()", _tokenise(text[start:j - 1], rule)))
            i = j
            continue
        for pattern, value in _LITERALS:
            m = pattern.match(text, i)
            if m:
                mant, exp = value(m)
                sign = -1 if m.group(0).startswith("-") else 1
                tokens.append(("lit", sign * mant, exp))
                i = m.end()
                break
        else:
            raise ConfigError(f"learning rule {rule!r}: cannot read {text[i:]!r} (literals are integers "
                              "or N*2^E; symbols x0 y0 uK x1 x2 y1 y2 y3 w d t sgn())")
    return tokens


def _is_var(tok) -> bool:
    return isinstance(tok, str) and tok in TRACES + SYNAPTIC


def _product(tokens: list, rule: str) -> Product:
    mant, exp, dep, factors, k = 1, 0, None, [], None
    for tok in tokens:
        if tok == "*":
            continue
        if tok in ("+", "-"):
            mant *= -1 if tok == "-" else 1
        elif tok in ("x0", "y0"):
            if dep is None:
                dep = tok
            elif dep == "u":
                raise ConfigError(f"learning rule {rule!r}: x0/y0 after a uK dependency")
            else:
                factors.append(Factor(tok))
        elif isinstance(tok, tuple) and tok[0] == "u":
            if dep in ("x0", "y0"):
                raise ConfigError(f"learning rule {rule!r}: a uK after an x0/y0 dependency")
            if dep is None:
                dep, k = "u", tok[1]
        elif isinstance(tok, tuple) and tok[0] == "lit":
            mant, exp = mant * tok[1], exp + tok[2]
        elif _is_var(tok):
            factors.append(Factor(tok))
        elif isinstance(tok, tuple) and tok[0] in ("()", "sgn"):
            sub = tok[1] if tok[1] and tok[1][0] in ("+", "-") else ["+", *tok[1]]
            if tok[0] == "sgn":
                if len(sub) not in (2, 4) or not any(s in SYNAPTIC for s in sub if isinstance(s, str)):
                    raise ConfigError(f"learning rule {rule!r}: sgn() takes w, d or t (plus a constant)")
            if len(sub) == 2:
                op, x = sub
                if isinstance(x, tuple) and x[0] == "lit":
                    mant, exp = mant * x[1] * (-1 if op == "-" else 1), exp + x[2]
                elif _is_var(x):  # lava drops the sign: "(-x1)" is x1
                    factors.append(Factor(x, 0, tok[0] == "sgn"))
                else:
                    raise ConfigError(f"learning rule {rule!r}: cannot use {x!r} in brackets")
            elif len(sub) >= 4:
                (op_a, a, op_b, b) = sub[:4]  # lava ignores anything after the fourth token
                var_first = _is_var(a)
                op_v, v, op_c, c = (op_a, a, op_b, b) if var_first else (op_b, b, op_a, a)
                if not _is_var(v) or not (isinstance(c, tuple) and c[0] == "lit"):
                    raise ConfigError(f"learning rule {rule!r}: brackets hold a variable and a constant")
                const = c[1] * 2 ** c[2] * (-1 if op_c == "-" else 1)
                if op_v == "-":
                    if tok[0] == "sgn":
                        raise ConfigError(f"learning rule {rule!r}: sgn() of a negated variable")
                    mant, const = -mant, -const
                factors.append(Factor(v, int(const), tok[0] == "sgn"))
            else:
                raise ConfigError(f"learning rule {rule!r}: cannot read a bracket of {len(sub)} tokens")
    if dep is None:
        raise ConfigError(f"learning rule {rule!r}: every product needs a dependency x0, y0 or uK")
    while abs(mant) > 7 and mant % 2 == 0 and exp < 8:
        mant, exp = mant // 2, exp + 1
    if not (-8 <= mant <= 7 and -7 <= exp <= 8):
        raise ConfigError(f"learning rule {rule!r}: scale {mant}*2^{exp} does not fit a 4-bit mantissa "
                          "in -8..7 and an exponent in -7..8")
    return Product(dep, mant, exp, tuple(factors)), k


def parse_rule(rule: str) -> ProductSeries:
    """Parse one of a rule's dw, dd, dt strings."""
    tokens = _tokenise(rule.replace(" ", ""), rule)
    groups, current = [], []
    for tok in tokens:  # split at top-level + and -; the sign belongs to the next product
        if tok in ("+", "-") and current:
            groups.append(current)
            current = [tok]
        else:
            current.append(tok)
    if current:
        groups.append(current)
    products, ks = [], set()
    for g in groups:
        p, k = _product(g, rule)
        products.append(p)
        if k is not None:
            ks.add(k)
    if len(ks) > 1:
        raise ConfigError(f"learning rule {rule!r}: all uK terms must use the same K")
    return ProductSeries(tuple(products), ks.pop() if ks else None)
