"""The README's Python snippet runs as written, on real images: characters of images_evaluation."""

import re
from pathlib import Path

import pytest
from PIL import Image

from conftest import SHARED_OMNIGLOT

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_snippet_labels_real_characters():
    folder = SHARED_OMNIGLOT / "images_evaluation" / "Atlantean"
    if not folder.is_dir():
        pytest.skip("../shared/data/omniglot/images_evaluation is not present")
    snippet, = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "hebbformer.load" in b]
    characters = sorted(folder.iterdir())[:5]
    drawings = [sorted(c.iterdir()) for c in characters]
    scope = {"support_images": [Image.open(d[0]) for d in drawings],
             "support_labels": [c.name for c in characters],
             "query_images": [Image.open(d[k]) for d in drawings for k in (1, 2)]}
    exec(snippet, scope)
    truth = [c.name for c in characters for _ in (1, 2)]
    hits = sum(a == b for a, b in zip(scope["labels"], truth))
    assert hits >= 8, (scope["labels"], truth)  # 10 queries, 5 classes: chance is 2
    assert all(0.2 <= p <= 1 for p in scope["probs"])
