import pytest
import torch

from conftest import blob_pool, tiny_config
from hebbformer.config import ModelConfig
from hebbformer.data import Pools
from hebbformer.errors import ConfigError
from hebbformer.evaluate import episode_accuracies
from hebbformer.families import build_model
from hebbformer.train import train
from test_plastic import episodes


def baseline(method, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(encoder_channels=8, encoder_blocks=2, max_ways=6, method=method, **kw)
    return build_model(cfg, (1, 16, 16))


def blob_accuracy_after_training(tmp_path, method, steps):
    """Meta-train ``method`` on blob classes through the common loop, reload its checkpoint and
    return its mean 3-way 1-shot accuracy on 100 episodes of unseen blob classes (eval mode)."""
    from hebbformer import checkpoint

    cfg = tiny_config(tmp_path, model__method=method, train__steps=steps, train__lr=2e-3, train__batch_size=8,
                      train__val_every=1000, train__checkpoint_every=1000)
    pools = Pools(blob_pool(100, 0), blob_pool(20, 1), blob_pool(20, 2))
    train(cfg, progress=False, pools=pools)
    model = build_model(cfg.model, pools.test.image_shape)
    model.load_state_dict(checkpoint.load(tmp_path / "run")["model"])
    return episode_accuracies(model, pools.test, 3, 1, 2, 100, seed=5).mean()


def args_of(ep):
    return ep.support, ep.support_labels, ep.query, ep.label_ids


def test_protonet_logits_are_negative_squared_distances_to_class_means():
    model = baseline("protonet").eval()
    ep = episodes(ways=3, shots=2, queries=2, batch=2)
    logits = model(*args_of(ep))
    for b in range(2):
        z = model.encoder(torch.cat([ep.support[b], ep.query[b]]))
        zs, zq = z[: len(ep.support[b])], z[len(ep.support[b]):]
        for n, token in enumerate(ep.label_ids[b]):
            proto = zs[ep.support_labels[b] == token].mean(0)
            torch.testing.assert_close(logits[b, :, n], -((zq - proto) ** 2).sum(-1), rtol=1e-4, atol=1e-3)


def test_encoder_probe_is_a_protonet_on_the_models_own_encoder():
    from hebbformer.baselines import encoder_probe

    learner = baseline("icl", d_model=16, heads=2).eval()
    protonet = baseline("protonet").eval()
    protonet.encoder.load_state_dict(learner.encoder.state_dict())
    probe = encoder_probe(learner, learner.cfg, (1, 16, 16))
    assert probe.encoder is learner.encoder and not probe.training
    ep = episodes(ways=3, shots=2, queries=2, batch=2)
    assert torch.equal(probe(*args_of(ep)), protonet(*args_of(ep)))
    with pytest.raises(ConfigError, match="a Maml has no image encoder"):
        encoder_probe(baseline("maml"), ModelConfig(method="maml"), (1, 16, 16))


@pytest.mark.parametrize("method", ["protonet", "maml", "finetune"])
def test_baselines_answer_any_label_assignment_the_same_way(method):
    """Relabelling an episode's classes with other tokens permutes nothing but the token names:
    the answers (as class positions) stay the same."""
    model = baseline(method).eval()
    ep = episodes(ways=3, shots=1, queries=2, batch=2)
    a = model(*args_of(ep))
    remap = torch.tensor([5, 4, 3, 2, 1, 0])  # another token for every token
    b = model(ep.support, remap[ep.support_labels], ep.query, remap[ep.label_ids])
    assert a.shape == (2, 6, 3)
    if method == "maml":  # the head's initial rows differ per token only after meta-training
        torch.testing.assert_close(a, b)
    assert torch.equal(a.argmax(-1), b.argmax(-1))


def test_maml_second_order_differentiates_through_the_inner_loop():
    """The meta-gradient of second-order MAML differs from the first-order approximation."""
    ep = episodes(ways=3, shots=1, queries=2, batch=1)
    grads = {}
    for first_order in (False, True):
        model = baseline("maml", maml_first_order=first_order, maml_inner_steps=2).train()
        with torch.random.fork_rng():
            torch.manual_seed(1)
            with torch.no_grad():
                model.net.head.weight.normal_()  # a non-zero head, so that both orders have work to do
            logits = model(*args_of(ep))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ep.query_labels.flatten())
        loss.backward()
        grads[first_order] = model.net.encoder.net[0].weight.grad.clone()
    assert not torch.allclose(grads[False], grads[True], rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("training", [True, False])
def test_maml_adapts_each_episode_of_a_batch_on_its_own(training):
    """The vmapped inner loop gives each episode exactly what a batch of that episode alone gets:
    adaptation and batch-norm statistics never mix episodes."""
    model = baseline("maml", maml_inner_steps=2).train(training)
    with torch.no_grad():
        model.net.head.weight.normal_()
    ep = episodes(ways=3, shots=2, queries=2, batch=3)
    together = model(*args_of(ep))
    for b in range(3):
        alone = model(*(x[b:b + 1] for x in args_of(ep)))
        torch.testing.assert_close(together[b:b + 1], alone, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_meta_trained_maml_labels_unseen_classes_in_eval_mode(tmp_path):
    """Meta-trained, then evaluated as `hebbformer eval` does (eval mode, no_grad outside, batch
    statistics, as many inner steps as in meta-training): far above chance."""
    assert blob_accuracy_after_training(tmp_path, "maml", steps=60) > 0.7  # chance 1/3


def test_method_errors_are_named(tmp_path):
    with pytest.raises(ConfigError, match="model.method='mamll' is not one of"):
        tiny_config(tmp_path, model__method="mamll")
    with pytest.raises(ConfigError, match="model.quant applies to the in-context learner"):
        tiny_config(tmp_path, model__method="protonet", model__quant="true", model__attention="relu")
    with pytest.raises(ConfigError, match="model.maml_inner_lr positive"):
        tiny_config(tmp_path, model__method="maml", model__maml_inner_lr="-0.1")


@pytest.mark.slow
def test_protonet_meta_trains_through_the_common_loop(tmp_path):
    assert blob_accuracy_after_training(tmp_path, "protonet", steps=100) > 0.8  # chance 1/3


@pytest.mark.slow
def test_an_encoder_trained_by_one_method_starts_another(tmp_path):
    from hebbformer import checkpoint
    from hebbformer.errors import CheckpointError
    from hebbformer.train import init_encoder

    source = tiny_config(tmp_path / "p", model__method="protonet", train__steps=1)
    train(source, progress=False)
    learner = build_model(tiny_config(tmp_path / "i").model, (1, 16, 16))
    init_encoder(learner, str(tmp_path / "p" / "run"))
    trained = checkpoint.load(tmp_path / "p" / "run")["model"]
    assert all(torch.equal(v, trained[f"encoder.{k}"]) for k, v in learner.encoder.state_dict().items())
    wider = build_model(tiny_config(tmp_path / "w", model__encoder_channels=16).model, (1, 16, 16))
    with pytest.raises(CheckpointError, match="its encoder does not fit"):
        init_encoder(wider, str(tmp_path / "p" / "run"))


@pytest.mark.slow
def test_a_frozen_encoder_stays_as_it_started(tmp_path):
    from hebbformer import checkpoint

    source = tiny_config(tmp_path / "p", model__method="protonet", train__steps=2)
    train(source, progress=False)
    cfg = tiny_config(tmp_path / "i", train__init_encoder_from=str(tmp_path / "p" / "run"),
                      train__freeze_encoder="true")
    train(cfg, progress=False)
    before, after = (checkpoint.load(tmp_path / x / "run")["model"] for x in "pi")
    encoder = [k for k in after if k.startswith("encoder.") and "num_batches_tracked" not in k]  # a mere count
    assert encoder and all(torch.equal(after[k], before[k]) for k in encoder)  # weights and BN statistics
    assert not torch.equal(after["embed.weight"], build_model(cfg.model, (1, 16, 16)).embed.weight)
