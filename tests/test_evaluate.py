import math
from types import SimpleNamespace

import pytest
import torch

from hebbformer.data.omniglot import OneShotRun
from hebbformer.evaluate import all_runs_errors, evaluate_settings
from hebbformer.stats import mean_ci95, mean_ci_seeds, proportion_ci95, t95


class PixelMatcher(torch.nn.Module):
    """A stand-in learner that answers from context alone: a query's logit for class n is minus
    its pixel distance to the support carrying class n's label token."""

    cfg = SimpleNamespace(max_ways=20)

    def forward(self, support, support_labels, query, label_ids):
        d = torch.cdist(query.flatten(2).float(), support.flatten(2).float())  # [B, Q, S]
        match = support_labels[:, None, :] == label_ids[:, :, None]  # [B, N, S]: support s has class n
        return -(d[:, :, None, :] * match[:, None].float()).sum(-1)  # one support per class


def fake_run(seed):
    g = torch.Generator().manual_seed(seed)
    train = torch.randint(0, 256, (20, 1, 8, 8), dtype=torch.uint8, generator=g)
    answers = torch.randperm(20, generator=g)
    noise = torch.randint(-60, 60, (20, 1, 8, 8), generator=g)
    test = (train[answers].int() + noise).clamp(0, 255).to(torch.uint8)
    return OneShotRun(f"run{seed}", train, test, answers)


def test_all_runs_protocol_matches_nearest_neighbour():
    runs = [fake_run(s) for s in range(4)]
    errors = all_runs_errors(PixelMatcher(), runs, seed=0)
    for run, err in zip(runs, errors):
        nn = torch.cdist(run.test.flatten(1).float(), run.train.flatten(1).float()).argmin(1)
        assert err == (nn != run.answers).float().mean().item()
    # a confusing run: test images that are another class's training image are all wrong
    run = runs[0]
    wrong = OneShotRun("bad", run.train, run.train[(run.answers + 1) % 20], run.answers)
    assert all_runs_errors(PixelMatcher(), [wrong], seed=0) == [1.0]


def test_mean_ci95_known_answer():
    accs = torch.tensor([0.0, 1.0] * 50)
    mean, ci = mean_ci95(accs)
    assert mean == 0.5
    assert math.isclose(ci, 1.96 * accs.std().item() / 10, rel_tol=1e-6)


def test_settings_the_pool_cannot_supply_are_skipped_with_a_reason():
    from hebbformer.data import ClassPool
    pool = ClassPool(torch.randint(0, 256, (6, 2, 1, 8, 8), dtype=torch.uint8), [str(i) for i in range(6)])
    results = evaluate_settings(PixelMatcher(), pool, ["3w1s", "3w5s", "10w1s"], episodes=10, queries=15, seed=0)
    assert results[0].queries == 1 and results[0].accuracy is not None
    assert results[1].accuracy is None and "2 drawings per class" in results[1].note
    assert results[2].accuracy is None and "6 classes" in results[2].note


def test_mean_ci_over_seeds_uses_students_t():
    mean, ci = mean_ci_seeds([1.0, 2.0, 3.0])  # sd 1, n 3: t(2) = 4.30
    assert mean == 2.0 and abs(ci - 4.30 / 3 ** 0.5) < 1e-12
    assert math.isnan(mean_ci_seeds([0.5])[1])
    # past the first ten degrees of freedom too (20 seeds: t(19) = 2.093, not the normal's 1.96)
    assert abs(mean_ci_seeds([0.0, 1.0] * 10)[1] - 2.09 * (20 / 19 / 4) ** 0.5 / 20 ** 0.5) < 1e-12
    for df, exact in ((31, 2.0395), (60, 2.0003), (120, 1.9799)):
        assert abs(t95(df) - exact) < 1e-3


def test_wilson_interval_for_seeds_that_solved():
    assert proportion_ci95(4, 10) == pytest.approx((0.1682, 0.6873), abs=1e-4)
    low, high = proportion_ci95(0, 5)
    assert low == 0 and high == pytest.approx(0.4345, abs=1e-4)  # not empty at 0 of n
    assert proportion_ci95(5, 5) == pytest.approx((0.5655, 1.0), abs=1e-4)
    for k, n in ((6, 5), (1.5, 3), (True, 2)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            proportion_ci95(k, n)
    for df in (0, -1, 2.5):
        with pytest.raises(ValueError, match="degrees of freedom"):
            t95(df)
