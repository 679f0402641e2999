"""Every registered method: trains through fit() on digits, round-trips through .keras, names and computes its
spectral counterpart, and runs from `kspectral train --method NAME`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.spectral import knn_graph, pair_graph

NAMES = methods.names()


def small_model(name):
    cls = methods.get(name)
    heads = {"projector": "64-64"} if cls.uses_projector else {}
    if name == "dissl":
        heads.update(n_classes=32, teacher="64-32", student_bottleneck=16)
    if name == "cissl":
        heads.update(student_dim=16, teacher="64-16")
    return cls(encoder=mlp_encoder((8, 8, 1), "64"), **heads)


def test_registry_holds_every_method_of_the_three_papers():
    expected = {"vicreg", "vicreg_exp", "vicreg_ctr", "barlow_twins", "tcr", "simclr", "simclr_abs", "simclr_sq",
                "simclr_centered", "simclr_standardized", "dcl", "spectral_contrastive", "cissl", "dissl"}
    assert expected <= set(NAMES)
    for name in NAMES:
        cls = methods.get(name)
        assert cls.registry_name == name
        assert cls.spectral_counterpart, name
        assert "spectral counterpart" in (cls.__doc__ or "").lower(), f"{name}'s docstring must name its counterpart"


@pytest.mark.parametrize("name", NAMES)
def test_method_trains_saves_and_loads(name, digits_data, tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model(name)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0).take(4)
    history = model.fit(pairs, epochs=4, verbose=0, shuffle=False).history
    losses = history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], f"{name}: {losses}"
    for term in (*model.loss_terms, "rankme", "embedding_std", "sample_contrastive", "dimension_contrastive"):
        assert term in history and np.all(np.isfinite(history[term])), term
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    x = digits_data.x_test[:16]
    np.testing.assert_array_equal(model.encode(x), loaded.encode(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.embed(x)),
                               keras.ops.convert_to_numpy(loaded.embed(x)), rtol=1e-6, atol=1e-6)
    config = model.get_config()
    for key, value in loaded.get_config().items():
        if key not in ("encoder", "projector", "name"):
            assert config[key] == value, key


@pytest.mark.parametrize("name", NAMES)
def test_method_spectral_baseline(name, rng):
    cls = methods.get(name)
    X = rng.normal(size=(40, 6)) + 4 * np.eye(6)[np.arange(40) % 3]
    Xa = rng.normal(size=(60, 6))
    Xb = Xa + 0.1 * rng.normal(size=(60, 6))
    linear = cls.spectral_baseline(pair_graph(60), 3, features=np.vstack([Xa, Xb]))
    assert linear.transform(Xa).shape == (60, 3)
    assert np.isfinite(linear.transform(Xa)).all()
    G = knn_graph(X, 6)
    if name in ("barlow_twins",):
        G = pair_graph(20)  # the invariant subspace needs components; a kNN graph has one
    nonparametric = cls.spectral_baseline(G, 3)
    assert nonparametric.embedding_.shape == (G.shape[0], 3)


def test_cissl_student_head_is_linear():
    model = small_model("cissl")
    model.build((None, 8, 8, 1))
    kinds = [type(layer).__name__ for layer in model.student.layers]
    assert kinds == ["Dense", "BatchNormalization"]
    assert any(type(layer).__name__ == "ReLU" for layer in model.teacher.layers[0].blocks)


def test_dissl_gradients_reach_teacher_from_all_terms_and_student_from_distillation(digits_data):
    model = small_model("dissl")
    a, b = digits_data.x_train[:32], digits_data.x_train[32:64]
    model.build((None, 8, 8, 1))
    student_vars = model.student.trainable_variables
    teacher_vars = model.teacher.trainable_variables
    for term in ("distillation", "marginal_entropy", "invariance"):
        with tf.GradientTape() as tape:
            terms = model.compute_objective(model.forward(a, b, training=True))
            value = terms[term]
        grads = tape.gradient(value, teacher_vars + student_vars)
        teacher_grads, student_grads = grads[: len(teacher_vars)], grads[len(teacher_vars):]
        assert any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in teacher_grads), term
        reaches_student = any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in student_grads)
        assert reaches_student == (term == "distillation"), term


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cli_trains_every_method(name, tmp_path):
    from kspectral_cli.main import main

    out = tmp_path / name
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--method", name, "--epochs", "1", "--out", str(out)])
    assert exit_info.value.code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["probes"]) == {"raw pixels", f"{name} encoder", f"spectral baseline ({name})"}
    assert metrics["spectral_baseline"]["counterpart"] == methods.get(name).spectral_counterpart
    assert 0.1 < metrics["probes"][f"{name} encoder"]["linear_top1"] <= 1.0  # chance is 0.1
