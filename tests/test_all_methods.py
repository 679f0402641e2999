"""Every registered method and alias: trains through fit() on digits, round-trips through .keras, names and computes
its spectral counterpart, and runs from `kspectral train --method NAME`; the TF-free catalogue matches the registry."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import catalog, methods
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.spectral import knn_graph, pair_graph

NAMES = methods.names()  # canonical names and aliases
CANONICAL = methods.canonical_names()


def small_model(name):
    cls = methods.get(name)
    heads = {"projector": "64-64"} if cls.uses_projector else {}
    if cls is methods.DISSL:
        heads.update(n_classes=32, teacher="64-32", student_bottleneck=16)
    if cls is methods.CISSL:
        heads.update(student_dim=16, teacher="64-16")
    if cls is methods.MoCoV2:  # a queue of one batch: only real keys in it from the second step on (see below)
        heads.update(queue_size=128)
    return methods.create(name, mlp_encoder((8, 8, 1), "64"), **heads)


def test_registry_holds_every_method_of_the_three_papers():
    expected = {"vicreg", "vicreg_exp", "vicreg_ctr", "barlow_twins", "tcr", "simclr", "simclr_abs", "simclr_sq",
                "simclr_centered", "simclr_standardized", "dcl", "spectral_contrastive", "cissl", "dissl"}
    assert expected <= set(NAMES)
    assert set(CANONICAL) == set(NAMES) - set(catalog.ALIASES)
    assert methods.names(aliases=False) == CANONICAL
    for name in CANONICAL:
        cls = methods.get(name)
        assert cls.registry_name == name
        assert methods.resolve(name) == (cls, {})
        assert cls.spectral_counterpart() and cls.spectral_counterpart("linear"), name
        assert "spectral counterpart" in (cls.__doc__ or "").lower(), f"{name}'s docstring must name its counterpart"


def test_catalog_equals_registry():
    assert set(catalog.METHODS) == set(CANONICAL)
    for name, entry in catalog.METHODS.items():
        assert methods.get(name).__name__ == entry.class_name
        assert "arXiv:" in entry.description, name
    for alias, (canonical, options) in catalog.ALIASES.items():
        cls, alias_options = methods.resolve(alias)
        assert cls is methods.get(canonical) and cls.registry_name == canonical
        assert alias_options == options and options
        model = methods.create(alias, mlp_encoder((8, 8, 1), "16"), projector="8")
        assert all(getattr(model, key) == value for key, value in options.items()), alias
    assert catalog.names() == NAMES and catalog.canonical_names() == CANONICAL


def test_catalog_imports_no_tensorflow():
    code = ("import sys, kspectral.catalog as c; c.resolve_name('simclr_abs'); "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_registry_api_resolves_aliases_and_refuses_conflicts():
    assert methods.get("simclr_abs") is methods.SimCLR
    assert methods.resolve("simclr_centered") == (methods.SimCLR, {"dimensions": "centered"})
    encoder = mlp_encoder((8, 8, 1), "16")
    model = methods.create("simclr_sq", encoder, projector="8", temperature=0.2)
    assert (model.negatives, model.dimensions, model.temperature) == ("sq", "raw", 0.2)
    assert methods.create("simclr_sq", mlp_encoder((8, 8, 1), "16"), projector="8", negatives="sq").negatives == "sq"
    with pytest.raises(ValueError, match="negatives='abs'.*conflicts with negatives='sq'"):
        methods.create("simclr_abs", encoder, projector="8", negatives="sq")
    with pytest.raises(ValueError, match="choose one of: .*simclr_abs"):
        methods.get("simclr_cube")
    with pytest.raises(ValueError, match="unknown method"):
        methods.resolve(3)


@pytest.mark.parametrize("name", NAMES)
def test_method_trains_saves_and_loads(name, digits_data, tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model(name)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0).take(4)
    history = model.fit(pairs, epochs=4, verbose=0, shuffle=False).history
    losses = history["loss"]
    assert np.all(np.isfinite(losses))
    # MoCo v2's loss rises while the keys replace its queue's random initial rows (easy negatives): compare the
    # epochs after its queue filled (tests/test_moco.py builds and saves the default 32768-row queue)
    first = 1 if methods.get(name) is methods.MoCoV2 else 0
    # DINO's loss is H(P_t) + KL(P_t‖P_s): the centre flattens the teacher's peaked first rows, so H(P_t) rises in the
    # first steps while the student's KL to the teacher falls (tests/test_dino.py): compare the KL
    if methods.get(name) is methods.DINO:
        losses = history["kl_divergence"]
    assert losses[-1] < losses[first], f"{name}: {losses}"
    for term in (*model.loss_terms, "rankme", "embedding_std", "sample_contrastive", "dimension_contrastive"):
        assert term in history and np.all(np.isfinite(history[term])), term
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    for key, value in methods.resolve(name)[1].items():  # an alias's options survive the round trip
        assert getattr(loaded, key) == value, key
    x = digits_data.x_test[:16]
    np.testing.assert_array_equal(model.encode(x), loaded.encode(x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.embed(x)),
                                  keras.ops.convert_to_numpy(loaded.embed(x)))
    config = model.get_config()
    for key, value in loaded.get_config().items():
        if key not in ("encoder", "projector", "name"):
            assert config[key] == value, key


@pytest.mark.parametrize("name", CANONICAL)
def test_method_spectral_baseline(name, rng):
    cls = methods.get(name)
    X = rng.normal(size=(40, 6)) + 4 * np.eye(6)[np.arange(40) % 3]
    Xa = rng.normal(size=(60, 6))
    Xb = Xa + 0.1 * rng.normal(size=(60, 6))
    G_pairs = pair_graph(60)
    linear = cls.spectral_baseline(G_pairs, 3, features=np.vstack([Xa, Xb]))
    assert linear.transform(Xa).shape == (60, 3)
    assert np.isfinite(linear.transform(Xa)).all()
    assert type(linear).__name__ == cls.spectral_counterpart("linear", graph=G_pairs, dim=3)
    G = knn_graph(X, 6)
    if name in ("barlow_twins",):
        G = pair_graph(20)  # the invariant subspace needs components; a kNN graph has one
    nonparametric = cls.spectral_baseline(G, 3)
    assert nonparametric.embedding_.shape == (G.shape[0], 3)
    assert type(nonparametric).__name__ == cls.spectral_counterpart("nonparametric", graph=G, dim=3)


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
@pytest.mark.parametrize("name", [*CANONICAL, "simclr_abs"])  # an alias is its class plus options (tested above)
def test_cli_trains_every_method(name, tmp_path):
    """`kspectral train --method NAME` on digits: one epoch of 4 steps, the closed-form baseline and the probes (a
    128-wide projector: the default 1024-wide one gives NNCLR's 65 536-row support set 1024 columns)."""
    from kspectral_cli.main import main

    out = tmp_path / name
    projector = ["--projector", "128-128"] if methods.get(name).uses_projector else []
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--method", name, "--epochs", "1", "--steps-per-epoch", "4", *projector, "--out", str(out)])
    assert exit_info.value.code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["probes"]) == {"raw pixels", f"{name} encoder", f"spectral baseline ({name})"}
    baseline = metrics["spectral_baseline"]
    assert baseline["estimator"] == methods.get(name).spectral_counterpart(baseline["regime"])
    assert 0.1 < metrics["probes"][f"{name} encoder"]["linear_top1"] <= 1.0  # chance is 0.1
