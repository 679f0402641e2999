"""Protocol fidelity: the settings the CIFAR recipes train with (solo-learn's), each as a run option that a test
pins: the solo-learn online probe, input normalisation, projector options, the padded CIFAR stem, Barlow Twins'
loss scale, SimCLR's per-view forward, automatic precision and a warm-up longer than the run."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods, runs
from kspectral.data import NORMALIZATION
from kspectral.methods import Projector
from kspectral.objectives import barlow_twins
from kspectral.optimizers import LARS
from kspectral.runs.workflows import build_probe_optimizer, warmup_note, warmup_steps


def small_encoder(d=6):
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(d)])


# ---------------------------------------------------------------- the online probe as solo-learn trains it


def test_solo_learn_probe_is_initialised_as_pytorch_linear_without_touching_the_backbone():
    keras.utils.set_random_seed(0)
    plain = methods.VICReg(small_encoder(), projector="8-8")
    plain.build((None, 5))
    keras.utils.set_random_seed(0)
    solo = methods.VICReg(small_encoder(), projector="8-8", online_probe_classes=3,
                          online_probe_protocol="solo_learn")
    solo.build((None, 5))
    for a, b in zip(plain.encoder.weights + plain.projector.weights, solo.encoder.weights + solo.projector.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # the probe draws from a stream of its own
    kernel, bias = (w.numpy() for w in solo.online_probe.weights)
    bound = 1 / np.sqrt(6)  # nn.Linear(6, 3): U(±1/√6) for the weight and the bias
    assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(kernel).max() > 0.5 * bound and np.abs(bias).max() > 0  # drawn, not zeros
    with pytest.raises(ValueError, match="online_probe_protocol"):
        methods.VICReg(small_encoder(), online_probe_classes=3, online_probe_protocol="lightly")


def test_solo_learn_probe_trains_on_both_views():
    """One SGD step of lr 1 moves the probe by minus the gradient of the mean of the two views' cross-entropies."""
    model = methods.VICReg(small_encoder(), projector="8-8", online_probe_classes=3,
                           online_probe_protocol="solo_learn", online_probe_optimizer=keras.optimizers.SGD(1.0))
    model.build((None, 5))
    rng = np.random.default_rng(0)
    h_a, h_b = (tf.constant(rng.normal(size=(8, 6)).astype(np.float32)) for _ in range(2))
    y = tf.constant([0, 1, 2, 0, -1, 1, 2, 0])  # one unlabelled row
    before = [w.numpy().copy() for w in model.online_probe.weights]
    with tf.GradientTape() as tape:
        mask = tf.cast(y >= 0, tf.float32)
        target = tf.maximum(y, 0)
        losses = [tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
            target, model.online_probe(h), from_logits=True) * mask) / tf.reduce_sum(mask) for h in (h_a, h_b)]
        expected_loss = (losses[0] + losses[1]) / 2
    grads = tape.gradient(expected_loss, model.online_probe.trainable_variables)
    model.online_probe.update([h_a, h_b], y)
    for w0, g, w in zip(before, grads, model.online_probe.weights):
        np.testing.assert_allclose(w.numpy(), w0 - g.numpy(), atol=1e-6)
    tracker = model.online_probe.accuracy
    assert float(tracker.count) == 14.0  # the labelled rows of both views
    # kspectral's protocol trains on the first view only
    first = methods.VICReg(small_encoder(), projector="8-8", online_probe_classes=3,
                           online_probe_optimizer=keras.optimizers.SGD(1.0))
    first.build((None, 5))
    first.online_probe.update([h_a, h_b], y)
    assert float(first.online_probe.accuracy.count) == 7.0


def test_solo_learn_probe_round_trips_through_keras(tmp_path):
    model = methods.VICReg(small_encoder(), projector="8-8", online_probe_classes=3,
                           online_probe_protocol="solo_learn")
    model.compile(optimizer="sgd")
    model.build((None, 5))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.online_probe_protocol == "solo_learn"
    for a, b in zip(model.online_probe.weights, loaded.online_probe.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def digits_config(**fields):
    base = dict(epochs=2, batch_size=128, encoder="mlp", encoder_widths="32", projector="32-32", baseline="none",
                tensorboard=False, optimizer="lars", learning_rate=0.3, lr_scaling="linear")
    return runs.RunConfig(**{**base, **fields})


def test_classifier_lr_builds_solo_learns_parameter_group():
    config = digits_config(classifier_lr=0.1, warmup_epochs=1, weight_decay=1e-4,
                           optimizer_options={"trust_coefficient": 0.02, "rule": "solo_learn", "clip_lr": True},
                           schedule_options={"warmup_start": 3e-5, "warmup_law": "pl_bolts"}).validate()
    probe = build_probe_optimizer(config, steps=10)
    assert isinstance(probe, LARS)
    assert (probe.lars_weight_decay, probe.rule, probe.clip_lr, probe.trust_coefficient) == (0.0, "solo_learn",
                                                                                            True, 0.02)
    schedule = probe._learning_rate  # the schedule (``learning_rate`` reads its current value)
    assert schedule.base_learning_rate == pytest.approx(0.1 * 128 / 256)  # scaled as learning_rate
    assert (schedule.warmup_steps, schedule.total_steps, schedule.warmup_start) == (10, 20, 3e-5)
    assert build_probe_optimizer(digits_config(), steps=10) is None
    digits_config(classifier_lr=0.1, online_probe=False).validate()  # a recipe with its probe turned off
    with pytest.raises(ValueError, match="classifier_lr must be a positive"):
        digits_config(classifier_lr=-1.0).validate()


def test_a_run_with_classifier_lr_trains_the_solo_learn_probe(tmp_path):
    # SGD, so that 22 steps suffice for the probe to learn (LARS with η = 0.02 moves it by ~2 % per step)
    config = digits_config(optimizer="sgd", learning_rate=0.05, classifier_lr=0.5)
    result = runs.train(config, out=tmp_path / "run")
    model = runs.load_run_model(result.run_dir)
    assert model.online_probe_protocol == "solo_learn"
    probe = model.online_probe_optimizer
    assert isinstance(probe, keras.optimizers.SGD) and not probe.weight_decay  # the run's optimizer, no decay
    assert probe._learning_rate.base_learning_rate == pytest.approx(0.25)  # 0.5 × 128/256
    history = (result.run_dir / "history.csv").read_text().splitlines()
    assert "online_linear_top1" in history[0] and len(history) == 3
    from kspectral.data import digits
    from kspectral.runs.workflows import _monitors

    # solo-learn validates with BatchNorm's moving statistics; kspectral's own probe re-estimates them first
    assert _monitors(config, digits())[0].calibration == 0
    assert _monitors(digits_config(), digits())[0].calibration == 1024
    final = result.metrics["final_train_metrics"]
    assert final["online_linear_train_top1"] > 0.5, final  # 10 classes: chance is 0.1
    assert final["online_linear_top1"] > 0.2, final  # BatchNorm's moving statistics lag after 22 steps


# ---------------------------------------------------------------- normalisation, projector, stem, losses


def test_normalize_puts_the_dataset_statistics_in_the_encoder(tmp_path):
    from kspectral.encoders import build_encoder, with_input_normalization

    base = build_encoder("conv", (8, 8, 3), "4")
    encoder = with_input_normalization(base, (8, 8, 3), "cifar10")
    x = np.random.default_rng(0).random((3, 8, 8, 3)).astype(np.float32)
    mean, std = (np.array(v, np.float32) for v in NORMALIZATION["cifar10"])
    np.testing.assert_allclose(encoder(x, training=False), base((x - mean) / std, training=False), atol=1e-5)
    assert encoder.layers[1].name == "normalize"
    with pytest.raises(ValueError, match="normalize"):
        runs.RunConfig(augment_options={"normalize": "cifar10"}).validate()
    with pytest.raises(ValueError, match="unknown normalize"):
        runs.RunConfig(normalize="svhn").validate()


def test_projector_options():
    plain = Projector("16-4", batchnorm=False)
    plain.build((None, 8))
    kinds = [type(layer).__name__ for layer in plain.blocks]
    assert kinds == ["Dense", "ReLU", "Dense"] and plain.blocks[0].use_bias  # solo-learn's SimCLR head
    torch = Projector("16-4", last_bias=True, layer_defaults="pytorch")
    torch.build((None, 8))
    dense, bn = torch.blocks[0], torch.blocks[1]
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)  # nn.BatchNorm1d's ε and momentum 0.1
    bound = 1 / np.sqrt(8)
    assert np.abs(dense.kernel.numpy()).max() <= bound and np.abs(dense.kernel.numpy()).max() > 0.8 * bound
    last = torch.blocks[-1]
    assert 0 < np.abs(last.bias.numpy()).max() <= 1 / np.sqrt(16)
    assert Projector.from_config(torch.get_config()).layer_defaults == "pytorch"
    with pytest.raises(ValueError, match="unknown projector_options"):
        runs.RunConfig(projector_options={"dropout": 0.1}).validate()
    with pytest.raises(ValueError, match="projector_options.batchnorm must be true or false"):
        runs.RunConfig(projector_options={"batchnorm": "no"}).validate()
    with pytest.raises(ValueError, match="unknown schedule_options"):
        runs.RunConfig(schedule_options={"warmup": 1}).validate()


def test_cifar_pad2_stem_is_solo_learns():
    from kspectral.encoders import resnet18

    model = resnet18((32, 32, 3), stem="cifar_pad2")
    assert model.get_layer("conv1").output.shape[1:3] == (34, 34)  # Conv2d(3, 64, 3, padding=2) on 32×32
    assert model.count_params() == resnet18((32, 32, 3), stem="cifar").count_params()
    assert model.output_shape == (None, 512)


def test_barlow_twins_scale_loss():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(16, 4)), rng.normal(size=(16, 4))
    full = barlow_twins(z_a, z_b, return_terms=True)
    scaled = barlow_twins(z_a, z_b, scale_loss=0.1, return_terms=True)
    assert float(scaled["loss"]) == pytest.approx(0.1 * float(full["loss"]), rel=1e-12)
    assert float(scaled["invariance"]) == float(full["invariance"])  # the terms are reported unscaled
    model = methods.BarlowTwins(small_encoder(), projector="8-8", scale_loss=0.1)
    assert methods.BarlowTwins.from_config(model.get_config()).scale_loss == 0.1
    with pytest.raises(ValueError, match="scale_loss"):
        barlow_twins(z_a, z_b, scale_loss=0.0)


def test_simclr_can_embed_each_view_on_its_own():
    encoder = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6), keras.layers.BatchNormalization()])
    joint = methods.SimCLR(encoder, projector="8-4")
    alone = methods.SimCLR(encoder, projector=joint.projector, joint_views=False)
    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(8, 5)).astype(np.float32))
    b = tf.constant(rng.normal(3.0, 2.0, size=(8, 5)).astype(np.float32))
    joint.build((None, 5))
    alone.build((None, 5))
    separate = alone.forward(a, b, training=True)
    np.testing.assert_allclose(separate["z_a"], alone.embed(a, training=True), atol=1e-5)  # view a alone
    together = joint.forward(a, b, training=True)
    assert not np.allclose(together["z_a"], separate["z_a"], atol=1e-3)  # BatchNorm over both views differs
    assert methods.SimCLR.from_config(alone.get_config()).joint_views is False


# ---------------------------------------------------------------- precision and warm-up


def test_precision_auto_is_fp32_on_cpus():
    from kspectral.runs.execution import prepare, resolve_precision

    assert resolve_precision("auto") == "fp32"  # these machines have no GPU
    assert resolve_precision("bf16") == "bf16"
    assert prepare(runs.RunConfig(precision="auto").validate()).policy == "float32"


def test_a_run_shorter_than_its_warmup_clips_it_with_a_note(tmp_path):
    config = digits_config(epochs=1, warmup_epochs=10).validate()  # a recipe smoke-tested with --epochs 1
    assert warmup_steps(config, 11) == 10 and warmup_steps(digits_config(warmup_epochs=1), 11) == 11
    assert "clipped to the run (10 of its 11 steps)" in warmup_note(config, 11)
    assert warmup_note(digits_config(warmup_epochs=1), 11) is None
    stages = []
    result = runs.train(config, out=tmp_path / "run", on_stage=stages.append)
    assert sum("warm-up is clipped" in s for s in stages) == 1
    assert json.loads((result.run_dir / "config.json").read_text())["warmup_epochs"] == 10
    with pytest.raises(ValueError, match="warmup_epochs"):
        digits_config(warmup_epochs=-1).validate()
