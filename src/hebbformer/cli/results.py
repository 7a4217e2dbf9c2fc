"""``hebbformer results``: the Omniglot results page from the shipped models' evaluations."""

from __future__ import annotations

from pathlib import Path

from .common import writable_file


def add(sub) -> None:
    p = sub.add_parser("results", help="the Omniglot results page from the shipped models' evaluations")
    p.add_argument("--evals", default="docs/results/omniglot-evals",
                   help="folder of the evaluations, one sub-folder per model (default docs/results/omniglot-evals, "
                        "the copies of runs/eval/ that the committed page was made from)")
    p.add_argument("--out", default="docs/results/omniglot.md", help="the page to write (default docs/results/omniglot.md)")
    p.add_argument("--readme", default="README.md",
                   help="README whose headline table (between <!-- omniglot-headline --> markers) to rewrite; '' for none")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.results import update_readme, write

    print(f"wrote {write(writable_file(args.out), Path(args.evals))}")
    if args.readme and update_readme(Path(args.readme), Path(args.evals)):
        print(f"updated the headline table of {args.readme}")
    return 0
