"""The fixed small episode set every shipped model is checked on, per back-end.

``hebbformer pack`` records these counts in ``models/MANIFEST.json``; ``tests/test_shipped.py``
measures them again and compares: the integer, Loihi and Lava back-ends compute in integers and
must give the same count exactly; the float back-end may differ by what float differences between
CPUs allow (a few queries whose two best logits nearly tie).
"""

from __future__ import annotations

import torch

from .. import backends, checkpoint
from ..config import Config
from ..data import build_pools
from ..evaluate import episode_batches, forward_batches
from ..families import build_model

SETTING = (5, 1)  # 5-way 1-shot
QUERIES = 5  # per class
EPISODES = {"torch": 100, "integer": 100, "loihi": 100, "lava": 10}  # lava simulates slowly
SEED = 2024
EXACT = ("integer", "loihi", "lava")


def backends_of(cfg: Config) -> list[str]:
    return ["torch", "integer", "loihi", "lava"] if cfg.model.quant else ["torch"]


def load_model(path, pool=None, overrides: list[str] | None = None):
    state = checkpoint.load(path)
    cfg = Config.from_dict(state["config"])
    cfg.override(overrides or [])  # e.g. data.root=PATH where the data lie elsewhere
    cfg.validate()
    pool = pool or build_pools(cfg.data, ("test",)).test
    model = build_model(cfg.model, pool.image_shape)
    checkpoint.load_into(model, state, path)
    return cfg, model.eval(), pool


@torch.no_grad()
def check_counts(path, names: list[str] | None = None, pool=None,
                 overrides: list[str] | None = None) -> dict[str, dict]:
    """{backend: {"correct": queries answered right, "queries": queries asked, "episodes": n}}."""
    cfg, model, pool = load_model(path, pool, overrides)
    out = {}
    for backend in names or backends_of(cfg):
        queries = min(QUERIES, pool.n_drawings - SETTING[1])  # all_runs-like pools have two drawings
        batches = list(episode_batches(pool, *SETTING, queries, EPISODES[backend], SEED, cfg.model.max_ways))
        right = forward_batches(backends.run(model, backend), batches).argmax(-1) == torch.cat(
            [ep.query_labels for ep in batches])
        out[backend] = {"correct": int(right.sum()), "queries": right.numel(), "episodes": EPISODES[backend]}
    return out
