"""``hebbformer classify``: label your own images in context, on any back-end."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_text
from ..errors import DataError
from .common import BACKEND_HELP, writable_file


def add(sub) -> None:
    p = sub.add_parser("classify", help="label your own images in context: support folders per class, query images")
    p.add_argument("model", help="a shipped model's name, a run folder or a checkpoint file")
    p.add_argument("--support", required=True, help="folder with one sub-folder per class (named by its label) of images")
    p.add_argument("--query", required=True, help="folder of images to label")
    p.add_argument("--backend", default="torch", help=BACKEND_HELP)
    p.add_argument("--out", help="also write the answers to this CSV file")
    p.set_defaults(func=run)


def run(args) -> int:
    import csv
    import io

    from ..predict import check_backend, image_files, load, read_image, read_support_folder

    check_backend(args.backend)
    if args.out:
        writable_file(args.out)
    images, labels = read_support_folder(Path(args.support))
    query_dir = Path(args.query)
    if not query_dir.is_dir():
        raise DataError(f"query folder {query_dir} does not exist")
    files = image_files(query_dir)
    if not files:
        raise DataError(f"query folder {query_dir} holds no images")
    model = load(args.model, args.backend)
    answers, probs = model.predict(images, labels, [read_image(f) for f in files])
    rows = [(f.name, a, float(p)) for f, a, p in zip(files, answers, probs)]
    width = max(len(r[0]) for r in rows)
    for name, answer, prob in rows:
        print(f"{name:<{width}}  {answer}  {prob:.3f}")
    if args.out:  # written whole, atomically (its folder made only now that there is something to write)
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(["query", "label", "probability"])
        writer.writerows(rows)
        write_text(args.out, text.getvalue())
    return 0
