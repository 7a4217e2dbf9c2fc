import torch

from hebbformer.config import ModelConfig
from hebbformer.data import ClassPool, episode_generator, sample_episodes
from hebbformer.families import build_model
from hebbformer.models.attention import context_mask


def small_model(**kw):
    torch.manual_seed(0)
    args = dict(encoder_channels=8, encoder_blocks=2, d_model=16, depth=2, heads=2, mlp_ratio=2, max_ways=6)
    cfg = ModelConfig(**{**args, **kw})
    return build_model(cfg, (1, 16, 16)).eval()


def random_episode(batch=2, ways=4, shots=2, queries=3):
    pool = ClassPool(torch.randint(0, 256, (10, 6, 1, 16, 16), dtype=torch.uint8), [str(i) for i in range(10)])
    return sample_episodes(pool, ways, shots, queries, batch, episode_generator(0, 0), 6)


def test_mask_supports_causal_queries_alone():
    m = context_mask(3, 2)
    expected = torch.tensor([
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0],
        [1, 1, 1, 0, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)


def test_each_query_is_answered_as_if_alone():
    """Batching queries into one sequence equals appending each query alone to the supports."""
    model, ep = small_model(), random_episode()
    together = model(ep.support, ep.support_labels, ep.query, ep.label_ids)
    for q in range(ep.query.shape[1]):
        alone = model(ep.support, ep.support_labels, ep.query[:, q:q + 1], ep.label_ids)
        torch.testing.assert_close(alone[:, 0], together[:, q], rtol=1e-5, atol=1e-5)


def test_answer_does_not_depend_on_support_order_at_the_query():
    """No positional encoding: permuting the supports changes nothing for a 1-layer model's queries."""
    model, ep = small_model(depth=1), random_episode()
    base = model(ep.support, ep.support_labels, ep.query, ep.label_ids)
    perm = torch.randperm(ep.support.shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = model(ep.support[:, perm], ep.support_labels[:, perm], ep.query, ep.label_ids)
    torch.testing.assert_close(base, shuffled, rtol=1e-5, atol=1e-5)


def test_logits_cover_the_episode_classes():
    model, ep = small_model(), random_episode(batch=1)
    logits = model(ep.support, ep.support_labels, ep.query, ep.label_ids)
    assert logits.shape == (1, ep.query.shape[1], ep.ways)


def test_dropout_acts_in_training_only():
    ep = random_episode()
    args = (ep.support, ep.support_labels, ep.query, ep.label_ids)
    plain, dropped = small_model(), small_model(dropout=0.5)  # same seed: same weights
    torch.testing.assert_close(dropped(*args), plain(*args), rtol=0, atol=0)
    dropped.train()
    torch.manual_seed(1)
    first = dropped(*args)
    assert not torch.allclose(first, dropped(*args))


def test_random_rotations_are_orthogonal_and_differ():
    from hebbformer.models.transformer import random_rotations

    torch.manual_seed(0)
    r = random_rotations(3, 8, "cpu")
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(8).expand(3, 8, 8), rtol=0, atol=1e-5)
    assert not torch.allclose(r[0], r[1])


def test_feature_rotations_act_in_training_only():
    ep = random_episode()
    args = (ep.support, ep.support_labels, ep.query, ep.label_ids)
    plain, rotated = small_model(), small_model(rotate_features=True)
    torch.testing.assert_close(rotated(*args), plain(*args), rtol=0, atol=0)
    plain.train(), rotated.train()
    assert not torch.allclose(rotated(*args), plain(*args))
