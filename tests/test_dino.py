"""DINO (Caron et al. 2021, arXiv:2104.14294): the loss by hand (2 views, 2 + 2 crops), the head's weight-normalised
layer by hand, the centre and the teacher after a step, the frozen last layer, the teacher-temperature schedule, the
`.keras` round trip, exact resume, multi-crop from the command line, and a digits run that does not collapse."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods, objectives
from kspectral.errors import InputError
from kspectral.methods.components import DINOHead, WeightNormalizedDense
from kspectral.methods.dino import teacher_temperature_schedule

from method_checks import assert_resumes_exactly


# ---- numpy by hand -------------------------------------------------------------------------------------------------
def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _hand_dino(student, teacher, center, tau_s, tau_t):
    """The official DINOLoss: mean over (teacher view i, student view j ≠ i) of the batch-mean cross-entropy."""
    q = [_softmax((t - center) / tau_t) for t in teacher]
    log_p = [np.log(_softmax(s / tau_s)) for s in student]
    total, n = 0.0, 0
    for i in range(len(q)):
        for j in range(len(log_p)):
            if i != j:
                total += np.mean(-np.sum(q[i] * log_p[j], axis=1))
                n += 1
    rows = np.concatenate(q)
    mean = rows.mean(axis=0)
    return total / n, n, -np.sum(mean * np.log(mean)), np.mean(-np.sum(rows * np.log(rows), axis=1))


def _hand_kl(student, teacher, center, tau_s, tau_t):
    """mean over the same pairs of mean_b KL(P_t^i[b] ‖ P_s^j[b])."""
    q = [_softmax((t - center) / tau_t) for t in teacher]
    p = [_softmax(s / tau_s) for s in student]
    kls = [np.mean(np.sum(q[i] * np.log(q[i] / p[j]), axis=1)) for i in range(len(q)) for j in range(len(p)) if i != j]
    return np.mean(kls)


def _logits(count, batch=5, width=7, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, width)) for _ in range(count)]


def test_the_loss_on_two_views_is_the_official_mean_of_two_cross_entropies():
    student, teacher = _logits(2), _logits(2, seed=1)
    center = np.random.default_rng(2).normal(size=7)
    terms = objectives.dino(student, teacher, center, student_temperature=0.1, teacher_temperature=0.04,
                            return_terms=True)
    loss, pairs, prototype_entropy, teacher_entropy = _hand_dino(student, teacher, center, 0.1, 0.04)
    assert pairs == 2
    np.testing.assert_allclose(float(terms["loss"]), loss, rtol=1e-12)
    np.testing.assert_allclose(float(terms["prototype_entropy"]), prototype_entropy, rtol=1e-12)
    np.testing.assert_allclose(float(terms["teacher_entropy"]), teacher_entropy, rtol=1e-12)
    kl = _hand_kl(student, teacher, center, 0.1, 0.04)
    np.testing.assert_allclose(float(terms["kl_divergence"]), kl, rtol=1e-9)
    np.testing.assert_allclose(loss, teacher_entropy + kl, rtol=1e-12)  # H(P_t) + KL: the loss's two parts
    # the two terms by hand, written out: teacher a against student b, teacher b against student a
    qa, qb = _softmax((teacher[0] - center) / 0.04), _softmax((teacher[1] - center) / 0.04)
    la, lb = np.log(_softmax(student[0] / 0.1)), np.log(_softmax(student[1] / 0.1))
    assert np.isclose(loss, (np.mean(-(qa * lb).sum(1)) + np.mean(-(qb * la).sum(1))) / 2)


def test_the_multicrop_loss_skips_the_same_view_and_averages_six_pairs():
    student, teacher = _logits(4, seed=3), _logits(2, seed=4)
    center = np.random.default_rng(5).normal(size=(1, 7))
    loss, pairs, _, _ = _hand_dino(student, teacher, center, 0.1, 0.07)
    assert pairs == 6 and objectives.dino_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    assert len(objectives.dino_pairs(10)) == 2 * 10 - 2
    value = objectives.dino(student, teacher, center, teacher_temperature=0.07)
    np.testing.assert_allclose(float(value), loss, rtol=1e-12)
    # no gradient reaches the teacher's logits (stop-gradient); the student's get one
    s = [tf.Variable(x) for x in student]
    t = [tf.Variable(x) for x in teacher]
    with tf.GradientTape(persistent=True) as tape:
        out = objectives.dino(s, t, center)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in tape.gradient(out, t))
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in tape.gradient(out, s))


def test_the_loss_refuses_bad_views():
    student = _logits(2)
    with pytest.raises(InputError, match="global views only"):
        objectives.dino(student, _logits(3), np.zeros(7))
    with pytest.raises(InputError, match="same number of prototypes"):
        objectives.dino(student, _logits(2, width=5), np.zeros(7))
    with pytest.raises(InputError, match="list of"):
        objectives.dino(student[0], student, np.zeros(7))


def test_the_weight_normalised_last_layer_and_the_head_follow_the_hand_formula():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    head = DINOHead("16-8", num_prototypes=12)
    y = keras.ops.convert_to_numpy(head(x))
    mlp = keras.ops.convert_to_numpy(head.mlp(x))
    v = keras.ops.convert_to_numpy(head.last_layer.v)
    expected = (mlp / np.linalg.norm(mlp, axis=1, keepdims=True)) @ (v / np.linalg.norm(v, axis=0, keepdims=True))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(y) <= 1 + 1e-6)  # cosines of unit bottlenecks and unit prototypes
    assert [w.name for w in head.last_layer.trainable_weights] == ["v"]  # g ≡ 1 (norm_last_layer)
    # the MLP: Linear-GELU then Linear to the bottleneck, biases, no BatchNorm, N(0, 0.02²) kernels
    kinds = [type(layer).__name__ for layer in head.mlp.blocks]
    assert kinds == ["Dense", "Activation", "Dense"] and all(layer.use_bias for layer in head.mlp.blocks[::2])
    big = DINOHead("512-8", num_prototypes=4)
    big.build((None, 256))
    assert abs(float(np.std(keras.ops.convert_to_numpy(big.mlp.blocks[0].kernel))) - 0.02) < 1e-3
    # a trainable g scales each prototype
    layer = WeightNormalizedDense(3, norm_last_layer=False)
    layer.build((None, 2))
    layer.g.assign([1.0, 2.0, 3.0])
    v = keras.ops.convert_to_numpy(layer.v)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(np.eye(2, dtype="float32"))),
                               v / np.linalg.norm(v, axis=0) * [1.0, 2.0, 3.0], rtol=1e-6)
    restored = DINOHead.from_config(head.get_config())
    assert (restored.num_prototypes, restored.norm_last_layer, restored.mlp.activation) == (12, True, "gelu")


def _linear_encoder(dim=6, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((dim,)), keras.layers.Dense(8)])


def _views(count, batch=8, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(batch, dim)).astype("float32")
    return [base + 0.3 * rng.normal(size=base.shape).astype("float32") for _ in range(count)]


def _np(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def test_the_first_step_loss_centre_and_teacher_follow_the_hand_formulas():
    """One step of 2 views: the reported loss is the hand loss of the student's and the teacher's logits with a zero
    centre; then the centre is 0.1 × the mean teacher logits of both views, and the teacher τ t + (1 − τ) s."""
    model = methods.DINO(_linear_encoder(), projector="16-8", num_prototypes=10, base_tau=0.9, total_steps=100,
                         diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    views = _views(2)
    model.build((None, 6))
    student = [_np(model.embed(v)) for v in views]
    teacher = [_np(model.teacher(v)) for v in views]
    np.testing.assert_allclose(student[0], teacher[0], rtol=1e-6)  # the teacher starts as the student
    before = [w.copy() for w in model.head.get_weights()]
    history = model.fit(tf.data.Dataset.from_tensors(tuple(views)), epochs=1, verbose=0).history
    loss, _, prototype_entropy, teacher_entropy = _hand_dino(student, teacher, np.zeros(10), 0.1, 0.04)
    np.testing.assert_allclose(history["loss"][0], loss, rtol=1e-5)
    np.testing.assert_allclose(history["prototype_entropy"][0], prototype_entropy, rtol=1e-5)
    np.testing.assert_allclose(history["teacher_entropy"][0], teacher_entropy, rtol=1e-5)
    centre = 0.1 * np.concatenate(teacher).mean(axis=0)
    np.testing.assert_allclose(_np(model.centre.value), centre, rtol=1e-5, atol=1e-7)
    after = model.head.get_weights()
    tau = 0.9  # τ(0) = base_tau
    for t_new, t_old, s_new in zip(model.teacher.targets[1].get_weights(), before, after):
        np.testing.assert_allclose(t_new, tau * t_old + (1 - tau) * s_new, rtol=1e-5, atol=1e-7)
    # the second step: the centre moves on from the first with the moved teacher's logits
    teacher = [_np(model.teacher(v)) for v in views]
    model.fit(tf.data.Dataset.from_tensors(tuple(views)), epochs=1, verbose=0)
    np.testing.assert_allclose(_np(model.centre.value), 0.9 * centre + 0.1 * np.concatenate(teacher).mean(axis=0),
                               rtol=1e-5, atol=1e-7)


def test_on_four_views_the_teacher_sees_the_two_global_views_only():
    model = methods.DINO(_linear_encoder(), projector="16-8", num_prototypes=10, teacher_temperature=0.07,
                         diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    views = _views(4, seed=1)
    model.build((None, 6))
    outputs = model.forward_views([tf.constant(v) for v in views])
    assert (len(outputs["student"]), len(outputs["teacher"])) == (4, 2)
    student = [_np(model.embed(v)) for v in views]
    teacher = [_np(model.teacher(v)) for v in views[:2]]
    loss, pairs, _, _ = _hand_dino(student, teacher, np.zeros(10), 0.1, 0.07)
    evaluated = model.evaluate(tf.data.Dataset.from_tensors(tuple(views)), verbose=0, return_dict=True)
    assert pairs == 6
    np.testing.assert_allclose(evaluated["loss"], loss, rtol=1e-5)
    assert "dino" in methods.registry.multiview_names()


class _LastLayer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.v, self.mlp = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.v.append(keras.ops.convert_to_numpy(self.model.head.last_layer.v).copy())
        self.mlp.append(keras.ops.convert_to_numpy(self.model.head.mlp.blocks[0].kernel).copy())


def test_the_last_layer_is_frozen_for_its_epochs_then_moves_and_the_temperature_warms_up_per_epoch():
    """2 steps an epoch, the last layer frozen 1 epoch (with momentum and weight decay, which would move it), the
    teacher's temperature from 0.04 to 0.07 over 3 epochs: the history's per-epoch values are np.linspace's."""
    model = methods.DINO(_linear_encoder(), projector="16-8", num_prototypes=10, steps_per_epoch=2,
                         freeze_last_layer_epochs=1, teacher_temperature=0.07, warmup_teacher_temperature=0.04,
                         warmup_teacher_temperature_epochs=3, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9, weight_decay=0.1))
    model.build((None, 6))
    v0 = keras.ops.convert_to_numpy(model.head.last_layer.v).copy()
    mlp0 = keras.ops.convert_to_numpy(model.head.mlp.blocks[0].kernel).copy()
    assert model.freeze_last_layer_steps == 2
    seen = _LastLayer()
    data = tf.data.Dataset.from_tensor_slices(tuple(_views(2, batch=16))).batch(8)
    history = model.fit(data, epochs=4, verbose=0, callbacks=[seen]).history
    assert np.array_equal(seen.v[0], v0) and np.array_equal(seen.v[1], v0)  # steps 0 and 1: frozen
    assert np.max(np.abs(seen.v[2] - v0)) > 1e-4  # step 2: it moves
    assert np.max(np.abs(seen.mlp[0] - mlp0)) > 1e-4  # the rest of the head moves from the first step
    official = np.concatenate((np.linspace(0.04, 0.07, 3), np.ones(4 - 3) * 0.07))
    np.testing.assert_allclose(history["teacher_temperature"], official, rtol=1e-6)


def test_the_teacher_temperature_schedule_is_the_official_per_epoch_linspace():
    for warmup, epochs in ((3, 6), (1, 3), (5, 5)):
        official = np.concatenate((np.linspace(0.04, 0.07, warmup), np.ones(epochs - warmup) * 0.07))
        values = [float(teacher_temperature_schedule(k, 5, 0.07, 0.04, warmup)) for k in range(5 * epochs)]
        np.testing.assert_allclose(values, np.repeat(official, 5), rtol=1e-6)
    assert float(teacher_temperature_schedule(123, None, 0.07, 0.04, 0)) == pytest.approx(0.07)
    assert float(teacher_temperature_schedule(0, 5, 0.07, 0.04, 0)) == pytest.approx(0.07)
    with pytest.raises(InputError, match="steps_per_epoch"):
        methods.DINO(_linear_encoder(), projector="8", warmup_teacher_temperature_epochs=2)
    with pytest.raises(InputError, match="needs an MLP"):
        methods.DINO(_linear_encoder(), projector=None)


def test_the_generic_projector_spec_maps_onto_the_head():
    from kspectral.encoders import mlp_encoder

    model = methods.create("dino", mlp_encoder((8, 8, 1), "64"), projector="64-64")
    model.build((None, 8, 8, 1))
    assert tuple(model.head.mlp.widths) == (64, 64) and model.head.last_layer.units == model.num_prototypes == 4096
    assert tuple(model.embed(np.zeros((2, 8, 8, 1), "float32")).shape) == (2, 4096)
    assert model.freeze_last_layer_steps == 0 and model.frozen_weights() == []  # no steps_per_epoch: no freeze


def test_a_keras_round_trip_restores_teacher_centre_and_schedule(tmp_path):
    model = methods.DINO(_linear_encoder(), projector="16-8", num_prototypes=10, steps_per_epoch=2, total_steps=8,
                         base_tau=0.9, warmup_teacher_temperature_epochs=2, teacher_temperature=0.07,
                         joint_views=False, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.fit(tf.data.Dataset.from_tensor_slices(tuple(_views(2, batch=16))).batch(8), epochs=2, verbose=0)
    path = tmp_path / "dino.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is methods.DINO
    assert np.max(np.abs(_np(model.centre.value))) > 0
    np.testing.assert_array_equal(_np(loaded.centre.value), _np(model.centre.value))
    x = _views(1)[0]
    np.testing.assert_array_equal(_np(loaded.teacher(x)), _np(model.teacher(x)))
    np.testing.assert_array_equal(_np(loaded.embed(x)), _np(model.embed(x)))
    assert not np.allclose(_np(model.teacher(x)), _np(model.embed(x)))  # the teacher lags the student
    config = loaded.get_config()
    for key in ("num_prototypes", "teacher_temperature", "warmup_teacher_temperature_epochs", "steps_per_epoch",
                "total_steps", "base_tau", "joint_views", "freeze_last_layer_epochs", "center_momentum"):
        assert config[key] == model.get_config()[key], key
    assert int(loaded.optimizer.iterations) == 4


def test_dino_resumes_exactly(tmp_path):
    """Interrupted after step 5, resumed from step 4: the freeze (4 steps), the temperature warm-up (2 epochs), the
    teacher and the centre continue as in an uninterrupted run."""
    assert_resumes_exactly(tmp_path, "dino", projector="32-16",
                           method_options={"num_prototypes": 64, "teacher_temperature": 0.07,
                                           "warmup_teacher_temperature_epochs": 2, "base_tau": 0.99})


@pytest.fixture(scope="module")
def crops_folder(tmp_path_factory):
    from test_multiview import _folder

    return _folder(tmp_path_factory.mktemp("crops") / "colours")


@pytest.mark.slow
def test_the_command_line_trains_dino_on_multicrop(crops_folder, tmp_path):
    """`kspectral train --augment multicrop --method dino`: 4 views a batch (2 global, 2 local crops), the teacher
    on the global two; finite losses, a moving centre, the run's schedule arguments passed to the model."""
    from kspectral_cli.main import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(crops_folder), "--method", "dino", "--augment", "multicrop", "--encoder",
              "conv", "--set", "encoder_widths=8", "--projector", "8-8", "--epochs", "2", "--batch-size", "16",
              "--set", "augment_options.n_small=2", "--set", "method_options.num_prototypes=32", "--set",
              "online_probe=false", "--set", "baseline=none", "--set", "tensorboard=false", "--out", str(out)])
    assert exit_info.value.code in (0, None)
    config = json.loads((out / "config.json").read_text())
    assert (config["method"], config["augment"]) == ("dino", "multicrop")
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == 2 and all(np.isfinite(float(r["loss"])) for r in rows)
    loaded = keras.models.load_model(out / "model.keras")
    steps = loaded.steps_per_epoch
    assert steps >= 2 and loaded.total_steps == 2 * steps and loaded.freeze_last_layer_steps == steps
    assert np.max(np.abs(_np(loaded.centre.value))) > 0


def test_a_digits_run_does_not_collapse(digits_data):
    """DINO on digits (MLP encoder, 3 epochs of the digits views): the teacher uses many prototypes (its batch-mean
    entropy far above 0) without uniform rows (its row entropy far below log K), the representations keep a high
    RankMe, and a linear probe on them approaches the raw pixels'."""
    from kspectral.data import augmented_pairs, digits_augmenter
    from kspectral.encoders import mlp_encoder
    from kspectral.probes import linear_probe
    from kspectral.spectral.diagnostics import rankme

    keras.utils.set_random_seed(0)
    model = methods.DINO(mlp_encoder((8, 8, 1), "128"), projector="256-256-64", num_prototypes=256,
                         diagnostics=False)  # the official τ_t 0.04, τ_s 0.1, base_tau 0.996, centre momentum 0.9
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0)
    history = model.fit(pairs, epochs=3, verbose=0).history
    assert history["kl_divergence"][-1] < history["kl_divergence"][0], history["kl_divergence"]
    log_k = np.log(256)
    # not every sample on one prototype (batch-mean entropy near log K), not uniform rows (row entropy ≥ 1 nat lower)
    assert history["prototype_entropy"][-1] > 0.8 * log_k, history["prototype_entropy"]
    assert history["teacher_entropy"][-1] < log_k - 1.0, history["teacher_entropy"]
    train, test = model.encode(digits_data.x_train), model.encode(digits_data.x_test)
    rank = float(rankme(train))
    ytr, yte = digits_data.y_train, digits_data.y_test
    probe = linear_probe(train, ytr, test, yte)
    raw = linear_probe(digits_data.x_train.reshape(len(ytr), -1), ytr, digits_data.x_test.reshape(len(yte), -1), yte)
    print(f"digits DINO: RankMe {rank:.1f} of 128, probe {probe:.3f}, raw pixels {raw:.3f}, "
          f"prototype entropy {history['prototype_entropy'][-1]:.2f}, teacher entropy "
          f"{history['teacher_entropy'][-1]:.2f} (log K = {log_k:.2f})")
    assert rank > 10
    assert probe > raw - 0.05, (probe, raw)
