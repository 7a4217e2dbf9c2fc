import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbformer.data import ClassPool, check_fits, episode_generator, sample_episodes
from hebbformer.errors import ConfigError


def numbered_pool(classes=12, drawings=7):
    """Pixel (0, 0) holds the class, pixel (0, 1) the drawing: every image says where it came from."""
    images = torch.zeros(classes, drawings, 1, 4, 4, dtype=torch.uint8)
    images[:, :, 0, 0, 0] = torch.arange(classes)[:, None]
    images[:, :, 0, 0, 1] = torch.arange(drawings)[None, :]
    return ClassPool(images, [f"c{i}" for i in range(classes)])


@settings(max_examples=40, deadline=None)
@given(ways=st.integers(2, 12), shots=st.integers(1, 3), queries=st.integers(1, 4),
       batch=st.integers(1, 5), seed=st.integers(0, 2**31), space=st.integers(0, 8))
def test_episode_invariants(ways, shots, queries, batch, seed, space):
    pool = numbered_pool()
    label_space = ways + space
    ep = sample_episodes(pool, ways, shots, queries, batch, episode_generator(seed, 0), label_space)
    assert ep.support.shape == (batch, ways * shots, 1, 4, 4)
    assert ep.query.shape == (batch, ways * queries, 1, 4, 4)
    for b in range(batch):
        classes, tokens = ep.classes[b], ep.label_ids[b]
        assert len(set(classes.tolist())) == ways and len(set(tokens.tolist())) == ways
        assert tokens.max() < label_space
        token_to_class = {int(t): int(c) for t, c in zip(tokens, classes)}
        # each support carries the label token of its own class, K times per class
        s_cls = ep.support[b, :, 0, 0, 0].long()
        for img_cls, tok in zip(s_cls.tolist(), ep.support_labels[b].tolist()):
            assert token_to_class[tok] == img_cls
        assert torch.bincount(ep.support_labels[b], minlength=label_space).max() == shots
        # each query's answer is its own class
        q_cls = ep.query[b, :, 0, 0, 0].long()
        assert torch.equal(classes[ep.query_labels[b]], q_cls)
        # support and query drawings of a class never coincide
        for c in classes.tolist():
            s_draw = set(ep.support[b, s_cls == c, 0, 0, 1].tolist())
            q_draw = set(ep.query[b, q_cls == c, 0, 0, 1].tolist())
            assert len(s_draw) == shots and len(q_draw) == queries and not s_draw & q_draw


def test_labels_are_permuted_across_episodes():
    pool = numbered_pool(classes=20)
    ep = sample_episodes(pool, 5, 1, 1, 200, episode_generator(0, 0), 20)
    # The class behind a label token, and the token of a class, vary from episode to episode.
    assert len({tuple(r) for r in ep.label_ids.tolist()}) > 150
    first_position_label = ep.support_labels[:, 0]
    assert len(set(first_position_label.tolist())) == 20  # position reveals nothing


def test_seeded_and_reproducible():
    pool = numbered_pool()
    a = sample_episodes(pool, 4, 2, 3, 3, episode_generator(7, 11), 6)
    b = sample_episodes(pool, 4, 2, 3, 3, episode_generator(7, 11), 6)
    c = sample_episodes(pool, 4, 2, 3, 3, episode_generator(7, 12), 6)
    d = sample_episodes(pool, 4, 2, 3, 3, episode_generator(8, 11), 6)
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values()))
    assert not torch.equal(a.classes, c.classes)
    assert not torch.equal(a.classes, d.classes)  # the seed matters too (it once did not: torch keeps 32 bits)


def test_too_many_ways_or_drawings_is_named():
    pool = numbered_pool(classes=12, drawings=7)
    with pytest.raises(ConfigError, match="13-way episodes need 13 classes, but the test pool has only 12"):
        check_fits(pool, 13, 1, 1, "test")
    with pytest.raises(ConfigError, match="5 shots \\+ 3 queries per class need 8 drawings.*only 7"):
        check_fits(pool, 5, 5, 3, "meta-train")
    with pytest.raises(ConfigError, match="label tokens"):
        sample_episodes(pool, 6, 1, 1, 1, episode_generator(0, 0), 4)
