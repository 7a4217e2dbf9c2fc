"""``hebbformer report``: one Markdown report with figures and CSV from the runs found."""

from __future__ import annotations

from pathlib import Path

from .common import writable_folder


def add(sub) -> None:
    p = sub.add_parser("report", help="one Markdown report with figures and CSV from the runs, studies and benchmarks found")
    p.add_argument("roots", nargs="*", default=["runs"], help="folders to search (default: runs)")
    p.add_argument("--out", default="report", help="report folder (default: report)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.report import build_report

    path = build_report([Path(r) for r in args.roots], writable_folder(args.out))
    print(f"wrote {path} (figures and CSV beside it)")
    return 0
