"""Your own images in: hebbformer.load(...).predict and `hebbformer classify`."""

import numpy as np
import pytest
from PIL import Image

import hebbformer
from conftest import blob_pool, tiny_config
from hebbformer.cli import main
from hebbformer.errors import DataError
from hebbformer.train import train
from test_cli import check_error


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny ProtoNet meta-trained on blobs (any method predicts alike; this one learns in seconds)."""
    from hebbformer.data import Pools

    tmp = tmp_path_factory.mktemp("predict")
    cfg = tiny_config(tmp, model__method="protonet", train__steps=100, train__val_every=1000,
                      train__checkpoint_every=1000)
    train(cfg, progress=False, pools=Pools(blob_pool(100, 0), blob_pool(20, 1), blob_pool(20, 2)))
    return tmp / "run"


def test_predict_labels_new_classes_from_numpy_and_pil_images_of_any_size(trained):
    model = hebbformer.load(trained)
    pool = blob_pool(20, 7)  # classes never seen, as numpy arrays of another size and as PIL images
    big = lambda c, d: np.kron(pool.images[c, d, 0].numpy(), np.ones((3, 3), np.uint8))  # 48 x 48  # noqa: E731
    hits = total = 0
    for start in range(0, 12, 3):
        classes = range(start, start + 3)
        support = [big(c, 0) for c in classes]
        query = [Image.fromarray(big(c, d)) for c in classes for d in (1, 2, 3)]
        labels, probs = model.predict(support, [f"class{c}" for c in classes], query, invert=False)
        hits += sum(a == f"class{c}" for a, c in zip(labels, [c for c in classes for _ in range(3)]))
        total += len(query)
        assert np.all((probs > 1 / 3 - 1e-9) & (probs <= 1))
    assert hits / total > 0.6, hits / total  # chance 1/3


def test_predict_converts_as_in_training(trained):
    model = hebbformer.load(trained)
    dark_on_light = np.full((40, 40), 255, np.uint8)
    dark_on_light[10:30, 14:26] = 0
    as_float_rgb = np.repeat(dark_on_light[..., None], 3, 2) / 255.0
    for image in (dark_on_light, as_float_rgb, Image.fromarray(dark_on_light).convert("RGBA")):
        x = model.convert(image)
        assert x.shape == (1, 16, 16) and x.dtype == np.uint8
        assert x[0, 0, 0] == 0 and x[0, 8, 8] > 200  # inverted: bright ink on black, as Omniglot is read
    with pytest.raises(DataError, match="float pixels must lie in"):
        model.convert(np.full((8, 8), 2.0))
    with pytest.raises(DataError, match="this model answers at most 5"):
        model.predict([dark_on_light] * 6, list("abcdef"), [dark_on_light])


def test_classify_command_reads_folders_and_names_bad_input(trained, tmp_path, capsys):
    pool = blob_pool(6, 9)
    support, query = tmp_path / "support", tmp_path / "query"
    query.mkdir()
    for c, name in enumerate(("cat", "dog", "emu")):
        (support / name).mkdir(parents=True)
        Image.fromarray(pool.images[c, 0, 0].numpy()).save(support / name / "1.png")
        Image.fromarray(pool.images[c, 1, 0].numpy()).save(query / f"q{c}.png")
    out = tmp_path / "answers.csv"
    assert main(["classify", str(trained), "--support", str(support), "--query", str(query), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].startswith("q0.png")
    assert out.read_text().splitlines()[0] == "query,label,probability"
    (support / "empty").mkdir()
    check_error(capsys, ["classify", str(trained), "--support", str(support), "--query", str(query)],
                "class folder", "empty holds no images")
    (support / "empty").rmdir()
    (query / "broken.png").write_bytes(b"not a png")
    check_error(capsys, ["classify", str(trained), "--support", str(support), "--query", str(query)],
                "broken.png is not a readable image")
    check_error(capsys, ["classify", str(trained), "--support", str(support), "--query", str(query),
                         "--backend", "loihi"], "runs the in-context learner; model.method='protonet' runs on 'torch' only")
