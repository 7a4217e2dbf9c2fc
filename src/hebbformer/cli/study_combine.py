"""``hebbformer study-combine``: one table, CSV and figures over several study folders (trains nothing)."""

from __future__ import annotations

from .common import writable_folder


def add(sub) -> None:
    p = sub.add_parser("study-combine", help="one table, CSV and figures over several study folders (trains nothing)")
    p.add_argument("studies", nargs="+", metavar="STUDY",
                   help="study folders (each with study.json and runs/), e.g. one per delay; FOLDER:MODULE,MODULE "
                   "takes only those modules from it (a module tuned again elsewhere)")
    p.add_argument("--out", required=True, help="folder for the combined summary.md, results.csv, figures and "
                   "sources.json (not a study folder)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.study_combine import combine, source

    out = writable_folder(args.out, create=False)
    print(combine([source(s) for s in args.studies], out))
    print(f"wrote {out}/summary.md, results.csv, sources.json and the figures")
    return 0
