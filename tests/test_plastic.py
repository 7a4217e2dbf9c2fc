import pytest
import torch

from conftest import tiny_config
from hebbformer import backends, checkpoint
from hebbformer.backends.synaptic import OuterProductSynapses, SlotSynapses
from hebbformer.data import ClassPool, episode_generator, sample_episodes
from hebbformer.families import build_model
from hebbformer.models.forward import MemoryRule
from hebbformer.plasticity import KEY_WRITE, VALUE_WRITE, HebbianRule
from hebbformer.train import train


def episodes(ways=4, shots=2, queries=3, batch=3, seed=0, label_space=6):
    g = torch.Generator().manual_seed(seed)
    pool = ClassPool(torch.randint(0, 256, (12, 6, 1, 16, 16), dtype=torch.uint8, generator=g),
                     [str(i) for i in range(12)])
    return sample_episodes(pool, ways, shots, queries, batch, episode_generator(seed, 0), label_space)


def both_forms(model, ep):
    args = (ep.support, ep.support_labels, ep.query, ep.label_ids)
    with torch.no_grad():
        return model(*args), backends.run(model, "synaptic")(*args)


@pytest.mark.parametrize("attention", ["softmax", "linear", "relu"])
def test_synaptic_form_on_a_trained_model(tmp_path, attention):
    cfg = tiny_config(tmp_path, model__depth=2, model__attention=attention)
    train(cfg, progress=False)
    model = build_model(cfg.model, (1, 16, 16))
    model.load_state_dict(checkpoint.load(tmp_path / "run")["model"])
    model.eval()
    for seed in range(3):
        parallel, plastic = both_forms(model, episodes(3, 1, 2, 4, seed, cfg.model.max_ways))
        torch.testing.assert_close(plastic, parallel, rtol=0, atol=1e-5)
        assert torch.equal(plastic.argmax(-1), parallel.argmax(-1))


def test_rules_are_outer_products():
    pre, post, third = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0]), torch.tensor([5.0, 7.0])
    two = HebbianRule("r", pre="x", post="y", lr=0.5)
    assert torch.equal(two.delta(pre, post), 0.5 * torch.outer(post, pre))
    three = HebbianRule("r3", pre="x", post="y", third="m")
    assert torch.equal(three.delta(pre, post, third), torch.outer(post * third, pre))
    with pytest.raises(ValueError, match="2-factor"):
        two.delta(pre, post, third)
    assert KEY_WRITE.factors == 2 and VALUE_WRITE.factors == 3


def test_linear_memory_does_not_grow():
    like = torch.zeros(())
    linear, slots = OuterProductSynapses(2, 2, 4, like), SlotSynapses(2, 2, 4, 50, like, MemoryRule("softmax"))
    before = linear.w.numel() + linear.z.numel()
    for i in range(10):
        k, v = torch.randn(2, 2, 4), torch.randn(2, 2, 4)
        linear.write(k, v)
        slots.write(i, k, v)
    assert linear.w.numel() + linear.z.numel() == before
    assert slots.n == 10 and slots.read_elements == 10 * slots.write_elements
    with pytest.raises(RuntimeError, match="synaptic memory is full"):
        slots.write(50, k, v)
