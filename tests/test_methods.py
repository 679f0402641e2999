"""SSLModel, Projector and VICReg: building, training with fit(), metrics, save/load, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import build_encoder, mlp_encoder
from kspectral.methods import Projector, SSLModel, VICReg, parse_widths
from kspectral.objectives import vicreg
from kspectral.spectral import rankme as spectral_rankme


def tiny_encoder():
    return mlp_encoder((8, 8, 1), "64-32")


@pytest.fixture(scope="module")
def trained(digits_data):
    """A VICReg model trained for a few epochs on digits (shared by several tests)."""
    keras.utils.set_random_seed(0)
    model = VICReg(encoder=tiny_encoder(), projector="64-64")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0)
    history = model.fit(pairs, epochs=6, verbose=0, shuffle=False)
    return model, history


def test_fit_lowers_the_loss_and_reports_terms(trained, digits_data):
    model, history = trained
    h = history.history
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    for name in ("invariance", "variance", "covariance", "embedding_std", "rankme",
                 "sample_contrastive", "dimension_contrastive"):
        assert name in h and np.all(np.isfinite(h[name]))
    # the reported loss is the weighted sum of the reported terms (per-batch means average linearly)
    expected = 25 * h["invariance"][-1] + 25 * h["variance"][-1] + h["covariance"][-1]
    assert h["loss"][-1] == pytest.approx(expected, rel=1e-4)
    # VICReg's covariance term keeps the 64-D embeddings spread (measured 33; a collapsed projector gives ≈ 1), and
    # the logged value agrees with scikit-side RankMe of a batch of the same model's embeddings (measured 30.5)
    assert 20.0 < h["rankme"][-1] <= 64
    model = trained[0]
    z = keras.ops.convert_to_numpy(model.embed(digits_data.x_train[:128], training=True))
    assert h["rankme"][-1] == pytest.approx(spectral_rankme(z), rel=0.25)


def test_train_step_loss_equals_objective_on_same_batch(digits_data):
    keras.utils.set_random_seed(1)
    model = VICReg(encoder=tiny_encoder(), projector="32-16", diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # no update: compare before/after freely
    a = digits_data.x_train[:64]
    b = digits_data.x_train[64:128]
    logs = model.train_on_batch(a, b, return_dict=True)
    z_a, z_b = model.embed(a, training=True), model.embed(b, training=True)
    assert logs["loss"] == pytest.approx(float(vicreg(z_a, z_b)), rel=1e-5)


def test_save_load_gives_identical_embeddings(trained, digits_data, tmp_path):
    model, _ = trained
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, VICReg)
    assert loaded.invariance_weight == 25.0 and loaded.projector.spec == "64-64"
    x = digits_data.x_test[:50]
    np.testing.assert_array_equal(model.encode(x), loaded.encode(x))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.embed(x)), keras.ops.convert_to_numpy(loaded.embed(x))
    )
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_loaded_model_keeps_training(trained, digits_data, tmp_path):
    model, _ = trained
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=3)
    h = loaded.fit(pairs, epochs=1, verbose=0, shuffle=False).history
    assert np.isfinite(h["loss"][0])


def test_user_encoder_and_plain_fit(digits_data):
    """The README's usage: any Keras encoder, a projector spec, compile, fit on pairs."""
    encoder = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu")]
    )
    model = VICReg(encoder=encoder, projector="64-64")
    model.compile(optimizer="adam")
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=64)
    model.fit(pairs.take(3), epochs=1, verbose=0)
    assert model.encode(digits_data.x_test[:10]).shape == (10, 32)
    assert model(digits_data.x_test[:4]).shape == (4, 32)


def test_ssl_model_with_objective_function(digits_data):
    model = SSLModel(tiny_encoder(), projector=None, objective=vicreg)
    model.compile(optimizer="adam")
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=64)
    h = model.fit(pairs.take(2), epochs=1, verbose=0).history
    assert np.isfinite(h["loss"][0]) and "invariance" not in h


def test_ssl_model_needs_an_objective():
    with pytest.raises(ValueError, match="needs an objective"):
        SSLModel(tiny_encoder())


def test_encoder_must_return_flat_representations():
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)])
    model = VICReg(encoder=conv, projector="8")
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        model.build((None, 8, 8, 1))


def test_fit_on_single_views_gives_a_clear_error(digits_data):
    model = VICReg(encoder=tiny_encoder(), projector="16")
    model.compile(optimizer="adam")
    single = tf.data.Dataset.from_tensor_slices(digits_data.x_train[:64]).batch(32)
    with pytest.raises(ValueError, match="batches of views"):
        model.fit(single, epochs=1, verbose=0)


def test_encoder_type_checked():
    with pytest.raises(TypeError, match="Keras model or layer"):
        VICReg(encoder="resnet")


@pytest.mark.parametrize("spec,widths", [("512-512-128", (512, 512, 128)), ("64", (64,)), ((8, 4), (8, 4))])
def test_parse_widths(spec, widths):
    assert parse_widths(spec) == widths


@pytest.mark.parametrize("spec", ["512-x", "", "0-4", "-4", "4--4"])
def test_parse_widths_errors(spec):
    with pytest.raises(ValueError, match="projector spec"):
        parse_widths(spec)


def test_projector_structure_and_config():
    p = Projector("16-16-8")
    out = p(np.zeros((4, 12), "float32"), training=False)
    assert out.shape == (4, 8)
    kinds = [type(layer).__name__ for layer in p.blocks]
    assert kinds == ["Dense", "BatchNormalization", "ReLU", "Dense", "BatchNormalization", "ReLU", "Dense"]
    assert p.blocks[-1].use_bias is False
    clone = Projector.from_config(p.get_config())
    assert clone.spec == "16-16-8"


def test_registry():
    assert methods.get("vicreg") is VICReg
    assert "vicreg" in methods.names()
    with pytest.raises(ValueError, match="choose one of: .*vicreg"):
        methods.get("byol2")


def test_vicreg_spectral_baseline_forms(rng):
    from kspectral.spectral import LaplacianEigenmaps, LinearVICReg, knn_graph

    X = rng.normal(size=(50, 4))
    G = knn_graph(X, 5)
    nonparametric = VICReg.spectral_baseline(G, 2)
    linear = VICReg.spectral_baseline(G, 2, features=X)
    assert isinstance(nonparametric, LaplacianEigenmaps) and nonparametric.embedding_.shape == (50, 2)
    assert isinstance(linear, LinearVICReg) and linear.transform(X).shape == (50, 2)
    assert VICReg.spectral_counterpart() == "LaplacianEigenmaps"
    assert VICReg.spectral_counterpart("linear") == "LinearVICReg"


def test_mixed_precision_loss_is_float32(digits_data):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = VICReg(encoder=tiny_encoder(), projector="32-32")
        model.compile(optimizer="adam")
        a, b = digits_data.x_train[:32], digits_data.x_train[32:64]
        z = model.embed(a)
        assert keras.backend.standardize_dtype(z.dtype) == "bfloat16"
        terms = vicreg(z, model.embed(b), return_terms=True)
        assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in terms.values())
        logs = model.train_on_batch(a, b, return_dict=True)
        assert np.isfinite(logs["loss"])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_build_encoder_by_name():
    assert build_encoder("mlp", (8, 8, 1), "16").output_shape == (None, 16)
    assert build_encoder("conv", (8, 8, 1), "4-8").output_shape == (None, 8)
    with pytest.raises(ValueError, match="choose one of: mlp, conv"):
        build_encoder("resnet9000", (8, 8, 1))


def test_method_loss_is_its_objective_function(digits_data):
    """The class adds nothing to the function's formula: same weights, same value, same terms."""
    keras.utils.set_random_seed(2)
    model = VICReg(encoder=tiny_encoder(), projector="32-16", invariance_weight=3.0, variance_weight=7.0,
                   covariance_weight=0.5, diagnostics=False)
    a, b = digits_data.x_train[:32], digits_data.x_train[32:64]
    outputs = model.forward(a, b)
    terms = model.compute_objective(outputs)
    expected = vicreg(outputs["z_a"], outputs["z_b"], 3.0, 7.0, 0.5, return_terms=True)
    assert set(terms) == set(expected) == {"loss", *model.loss_terms}
    for key in terms:
        assert float(terms[key]) == pytest.approx(float(expected[key]), rel=1e-6)


def test_method_weights_validated():
    with pytest.raises(ValueError, match="invariance_weight"):
        VICReg(encoder=tiny_encoder(), projector="8", invariance_weight=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        methods.SimCLR(encoder=tiny_encoder(), projector="8", temperature=0.0)
    with pytest.raises(ValueError, match="combines only with dimensions='raw'"):
        methods.SimCLR(encoder=tiny_encoder(), projector="8", negatives="abs", dimensions="centered")


def test_plain_ssl_model_has_no_spectral_counterpart(rng):
    with pytest.raises(TypeError, match="not a registered method"):
        SSLModel.spectral_counterpart()
    with pytest.raises(TypeError, match="not a registered method"):
        SSLModel.spectral_baseline(np.eye(4), 2)
