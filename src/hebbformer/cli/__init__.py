"""The ``hebbformer`` command: train, eval, demo, study, study-combine, variants, classify, pack,
results, report, loihi; one module per command, each with ``add(subparsers)`` and ``run(args)``.

Every command takes ``section.key=value`` overrides after its options (see ``hebbformer.config``).
Bad input ends with one line naming the problem and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import HebbformerError
from . import classify, demo, eval, loihi, pack, report, results, study, study_combine, train, variants

COMMANDS = [train, eval, demo, study, study_combine, variants, classify, pack, results, report, loihi]


def build_parser() -> argparse.ArgumentParser:
    """Every command's arguments (also what docs/cli.md is generated from)."""
    parser = argparse.ArgumentParser(prog="hebbformer", description="transformers that learn in context through "
                                     "synaptic plasticity: train, evaluate, run on Loihi 2")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"hebbformer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra  # overrides given after an option: train -c F a.b=1 --out D c.d=2
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except HebbformerError as err:
        print(f"hebbformer: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hebbformer: interrupted; the last checkpoint is kept (resume with --resume)", file=sys.stderr)
        return 130
