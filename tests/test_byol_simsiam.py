"""BYOL (Grill et al. 2020, arXiv:2006.07733) and SimSiam (Chen & He 2021, arXiv:2011.10566), with DirectPred (Tian,
Chen & Ganguli 2021, arXiv:2102.06810): the losses by hand, the stop-gradients, the momentum teacher after two steps,
DirectPred's closed-form predictor and the alignment diagnostic by hand, the heads as solo-learn builds them, save /
load with the teacher and F̂, exact resume, and digits runs that do not collapse."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.errors import InputError
from kspectral.methods import BYOL, SimSiam
from kspectral.methods.components import DirectPredictor, Predictor
from kspectral.methods.components.directpred import directpred_matrix, eigenbasis_alignment, predictor_matrix
from kspectral.objectives import byol, simsiam
from kspectral.probes import linear_probe
from kspectral.spectral import baselines, rankme
from method_checks import assert_resumes_exactly


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def cosines(p, t):
    """Row-wise cosine similarities, written out with numpy."""
    return np.sum(p * t, axis=1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1))


def pairs_of(x, seed=0):
    """Two views of ``x``: small Gaussian perturbations (deterministic)."""
    rng = np.random.default_rng(seed)
    return (x + 0.05 * rng.normal(size=x.shape)).astype("float32"), (x + 0.05 * rng.normal(size=x.shape)).astype(
        "float32")


# ------------------------------------------------------------------ the objectives
def test_byol_loss_by_hand(rng):
    p_a, p_b, t_a, t_b = (rng.normal(size=(6, 5)) for _ in range(4))
    expected = np.mean(2 - 2 * cosines(p_a, t_b)) + np.mean(2 - 2 * cosines(p_b, t_a))  # both directions summed
    terms = byol(p_a, p_b, t_a, t_b, return_terms=True)
    assert float(byol(p_a, p_b, t_a, t_b)) == pytest.approx(expected, rel=1e-6)
    assert float(terms["loss"]) == pytest.approx(expected, rel=1e-6)
    assert float(terms["similarity"]) == pytest.approx((cosines(p_a, t_b).mean() + cosines(p_b, t_a).mean()) / 2,
                                                       rel=1e-6)
    # a perfect prediction costs 0, an opposite one 8; the loss ignores the targets' and predictions' norms
    assert float(byol(p_a, p_b, 3 * p_b, 0.5 * p_a)) == pytest.approx(0.0, abs=1e-6)
    assert float(byol(p_a, p_b, -p_b, -p_a)) == pytest.approx(8.0, rel=1e-6)


def test_simsiam_loss_by_hand(rng):
    p_a, p_b, z_a, z_b = (rng.normal(size=(7, 4)) for _ in range(4))
    expected = -0.5 * (cosines(p_a, z_b).mean() + cosines(p_b, z_a).mean())  # the two directions averaged
    terms = simsiam(p_a, p_b, z_a, z_b, return_terms=True)
    assert float(simsiam(p_a, p_b, z_a, z_b)) == pytest.approx(expected, rel=1e-6)
    assert float(terms["similarity"]) == pytest.approx(-expected, rel=1e-6)
    assert float(simsiam(p_a, p_b, 2 * p_b, p_a)) == pytest.approx(-1.0, rel=1e-6)


def test_the_targets_take_no_gradient(rng):
    p_a, p_b, t_a, t_b = (tf.Variable(rng.normal(size=(5, 3)).astype("float32")) for _ in range(4))
    for loss in (byol, simsiam):
        with tf.GradientTape(persistent=True) as tape:
            value = loss(p_a, p_b, t_a, t_b)
        assert tape.gradient(value, t_a) is None and tape.gradient(value, t_b) is None, loss.__name__
        assert float(tf.reduce_max(tf.abs(tape.gradient(value, p_a)))) > 0.0


def test_objectives_refuse_bad_input(rng):
    a = rng.normal(size=(4, 3))
    for loss in (byol, simsiam):
        with pytest.raises(InputError, match="t_b|z_b.*same shape|same shape"):
            loss(a, a, a, rng.normal(size=(4, 2)))
        with pytest.raises(InputError, match=r"batch-first \(batch, dim\) matrix"):
            loss(a[0], a[0], a[0], a[0])
        bad = a.copy()
        bad[1, 2] = np.nan
        with pytest.raises(InputError, match="NaN"):
            loss(a, bad, a, a)


# ------------------------------------------------------------------ the heads, as solo-learn builds them
def test_heads_follow_the_papers_and_solo_learn():
    encoder = mlp_encoder((8, 8, 1), "32")
    model = BYOL(encoder, projector="64-16")
    model.build((None, 8, 8, 1))
    projector = [type(b).__name__ for b in model.projector.blocks]
    assert projector == ["Dense", "BatchNormalization", "ReLU", "Dense"] and model.projector.last_bias
    assert model.predictor.spec == "4096-16" and model.predictor.last_bias  # the projector's width, derived
    assert (model.base_tau, model.final_tau, model.total_steps) == (0.996, 1.0, None)  # the paper's ImageNet τ
    simsiam_model = SimSiam(mlp_encoder((8, 8, 1), "32"), projector="64-64-32")
    blocks = simsiam_model.projector.blocks
    assert [type(b).__name__ for b in blocks] == ["Dense", "BatchNormalization", "ReLU"] * 2 + [
        "Dense", "BatchNormalization"]
    assert not blocks[-1].center and not blocks[-1].scale and not simsiam_model.projector.last_bias  # BN(affine=False)
    assert simsiam_model.predictor.spec == "512-32"
    assert not hasattr(simsiam_model, "teacher") and SimSiam.view_limit() == BYOL.view_limit() == 2
    # the predictor follows the projector's layer defaults (PyTorch's in the recipes) unless told otherwise
    from kspectral.methods import Projector

    pytorch = BYOL(mlp_encoder((8, 8, 1), "32"), projector=Projector("64-16", layer_defaults="pytorch"))
    assert pytorch.predictor.layer_defaults == "pytorch"
    quiet = SimSiam(mlp_encoder((8, 8, 1), "32"), projector="16", diagnostics=False)  # the alignment is a diagnostic
    assert quiet.loss_terms == ("similarity",) and "predictor_alignment" not in [m.name for m in quiet.metrics]
    with pytest.raises(InputError, match="needs a projector"):
        BYOL(mlp_encoder((8, 8, 1), "32"), projector=None)
    with pytest.raises(InputError, match="unknown predictor"):
        SimSiam(mlp_encoder((8, 8, 1), "32"), projector="16", predictor="linear")


# ------------------------------------------------------------------ the momentum teacher
class AfterEachStep(keras.callbacks.Callback):
    """The online weights after each optimizer step (and before the first), and the logged alignment."""

    def __init__(self, model):
        super().__init__()
        self.online = [self.weights(model)]
        self.alignment = []

    @staticmethod
    def weights(model):
        return [numpy(w) for w in model.encoder.trainable_weights + model.projector.trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        self.online.append(self.weights(self.model))
        self.alignment.append(float(logs["predictor_alignment"]))


def test_teacher_is_the_hand_ema_and_the_alignment_is_logged_when_due(digits_data):
    keras.utils.set_random_seed(1)
    model = BYOL(mlp_encoder((8, 8, 1), "32"), projector="32-16", predictor_hidden=32, base_tau=0.9, total_steps=4,
                 diagnostics_every=2)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.build((None, 8, 8, 1))
    view_a, view_b = pairs_of(digits_data.x_train[:96])
    # DirectPred's alignment of batch 0 by hand: the MLP predictor's batch-mean Jacobian in F's eigenbasis
    z = np.concatenate([numpy(model.embed(v[:32], training=True)) for v in (view_a, view_b)])  # pre-step
    first = float(model.predictor_alignment(z))
    record = AfterEachStep(model)
    teacher_before = [numpy(w) for w in model.teacher.trainable_weights]
    assert not {id(v) for v in model.teacher.trainable_variables} & {id(v) for v in model.trainable_variables}
    ds = tf.data.Dataset.from_tensor_slices((view_a, view_b)).batch(32)  # three steps
    model.fit(ds, epochs=1, verbose=0, callbacks=[record], shuffle=False)
    hand = teacher_before
    for got, want in zip(hand, record.online[0]):
        np.testing.assert_array_equal(got, want)  # teacher and student start equal
    for step in (0, 1, 2):
        tau = 1.0 - (1.0 - 0.9) * (math.cos(math.pi * step / 4) + 1) / 2  # solo-learn's cosine τ(k), k = 0, 1, 2
        hand = [tau * t + (1 - tau) * o for t, o in zip(hand, record.online[step + 1])]
    for got, want in zip(model.teacher.trainable_weights, hand):
        np.testing.assert_allclose(numpy(got), want, rtol=1e-5, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(hand, record.online[3])) > 1e-3  # the teacher lags the student
    # the alignment is computed on batches 0 and 2 only (diagnostics_every=2); on batch 1 its weight is 0
    assert record.alignment[0] == pytest.approx(first, rel=1e-4) and 0.0 < first < 1.0
    assert record.alignment[1] == record.alignment[0]  # no zero averaged in
    assert record.alignment[2] != record.alignment[1]  # the mean of batches 0 and 2


def test_no_gradient_reaches_the_teacher_and_simsiam_targets(digits_data):
    x = digits_data.x_train[:16].astype("float32")
    model = BYOL(mlp_encoder((8, 8, 1), "16"), projector="16-8", predictor_hidden=16)
    model.build((None, 8, 8, 1))
    with tf.GradientTape(persistent=True) as tape:
        out = model.forward(x, x[::-1], training=True)
        loss = model.compute_objective(out)["loss"]
    assert all(g is None for g in tape.gradient(loss, model.teacher.trainable_variables))
    assert all(g is not None for g in tape.gradient(loss, model.predictor.trainable_variables))
    siam = SimSiam(mlp_encoder((8, 8, 1), "16"), projector="16-8", predictor_hidden=16)
    siam.build((None, 8, 8, 1))
    variables = siam.trainable_variables

    def gradients(targets):
        with tf.GradientTape() as tape:
            out = siam.forward(x, x[::-1], training=True)
            loss = targets(out)
        return [numpy(g) for g in tape.gradient(loss, variables)]

    model_loss = gradients(lambda o: siam.compute_objective(o)["loss"])
    detached = gradients(lambda o: simsiam(o["p_a"], o["p_b"], tf.constant(numpy(o["z_a"])),
                                           tf.constant(numpy(o["z_b"]))))
    for a, b in zip(model_loss, detached):  # SimSiam's targets carry no gradient: the same as constants
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)

    def unit(v):
        return v / tf.norm(v, axis=1, keepdims=True)

    through = gradients(lambda o: -0.5 * (tf.reduce_mean(tf.reduce_sum(unit(o["p_a"]) * unit(o["z_b"]), 1))
                                          + tf.reduce_mean(tf.reduce_sum(unit(o["p_b"]) * unit(o["z_a"]), 1))))
    assert max(np.abs(a - b).max() for a, b in zip(through, model_loss)) > 1e-4  # without stop-gradient: others


# ------------------------------------------------------------------ DirectPred
def hand_directpred(F, eps):
    s, U = np.linalg.eigh((F + F.T) / 2)
    p = np.maximum(np.sqrt(np.clip(s, 0, None) / s.max()) + eps, 1e-4)
    return U @ np.diag(p) @ U.T


def test_directpred_closed_form_by_hand(rng):
    z1, z2 = rng.normal(size=(20, 4)) * [3, 2, 1, 0.5], rng.normal(size=(20, 4))
    pred = DirectPredictor(4, rho=0.3, eps=0.1)
    pred.update(z1.astype("float32"))
    F = z1.T @ z1 / 20  # the first update sets F̂ = F
    np.testing.assert_allclose(numpy(pred.running_correlation), F, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(numpy(pred.matrix), hand_directpred(F, 0.1), rtol=1e-4, atol=1e-5)
    pred.update([z2[:10].astype("float32"), z2[10:].astype("float32")])  # the two views, stacked
    F = 0.3 * F + 0.7 * (z2.T @ z2 / 20)
    np.testing.assert_allclose(numpy(pred.running_correlation), F, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(numpy(pred.matrix), hand_directpred(F, 0.1), rtol=1e-4, atol=1e-5)
    assert int(pred.updates) == 2
    x = rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(numpy(pred(x)), x @ numpy(pred.matrix), rtol=1e-5)
    # W = U diag(√(s/max s) + ε) Uᵀ: its eigenvalues are the boosted, normalised square roots of F's
    s = np.linalg.eigvalsh(F)
    np.testing.assert_allclose(np.linalg.eigvalsh(numpy(pred.matrix)), np.sqrt(s / s.max()) + 0.1, rtol=1e-4)


def test_directpred_in_the_model_follows_the_global_batch_projections(digits_data):
    keras.utils.set_random_seed(2)
    model = SimSiam(mlp_encoder((8, 8, 1), "32"), projector="32-16", predictor="directpred", directpred_eps=0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    view_a, view_b = pairs_of(digits_data.x_train[:32])
    z_a, z_b = numpy(model.embed(view_a, training=True)), numpy(model.embed(view_b, training=True))  # pre-step
    model.fit(tf.data.Dataset.from_tensor_slices((view_a, view_b)).batch(32), epochs=1, verbose=0)
    z = np.concatenate([z_a, z_b])
    F = z.T @ z / 64  # both views, 2B rows, uncentred
    np.testing.assert_allclose(numpy(model.predictor.running_correlation), F, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numpy(model.predictor.matrix), hand_directpred(F, 0.1), rtol=1e-3, atol=1e-4)
    assert not model.predictor.trainable_weights and all(
        id(v) not in {id(w) for w in model.predictor.weights} for v in model.trainable_variables)


def test_alignment_by_hand(rng):
    F = np.cov(rng.normal(size=(50, 5)) * [5, 4, 3, 2, 1], rowvar=False)
    W = rng.normal(size=(5, 5))
    _, U = np.linalg.eigh(F)
    A = U.T @ W @ U
    assert float(eigenbasis_alignment(W, F)) == pytest.approx(np.sum(np.diag(A) ** 2) / np.sum(A ** 2), rel=1e-5)
    aligned = U @ np.diag([3.0, -1.0, 0.5, 2.0, 1.0]) @ U.T
    assert float(eigenbasis_alignment(aligned, F)) == pytest.approx(1.0, abs=1e-5)
    assert float(eigenbasis_alignment(hand_directpred(F, 0.1), F)) == pytest.approx(1.0, abs=1e-5)


def test_predictor_matrix_is_the_batch_mean_jacobian(rng):
    predictor = Predictor("12-5")
    z = rng.normal(size=(40, 5)).astype("float32")
    predictor(z, training=True)
    predictor.blocks[1].gamma.assign(rng.uniform(0.5, 2.0, size=12).astype("float32"))
    predictor.blocks[1].beta.assign(rng.normal(size=12).astype("float32"))
    K1, K2 = numpy(predictor.blocks[0].kernel), numpy(predictor.blocks[3].kernel)
    gamma, beta, eps = numpy(predictor.blocks[1].gamma), numpy(predictor.blocks[1].beta), predictor.blocks[1].epsilon
    h = z @ K1
    scale = gamma / np.sqrt(h.var(axis=0) + eps)
    a = (h - h.mean(axis=0)) * scale + beta
    jacobians = [K1 @ np.diag(scale * (a[i] > 0)) @ K2 for i in range(len(z))]  # per sample, BN stats held
    np.testing.assert_allclose(numpy(predictor_matrix(predictor, z)), np.mean(jacobians, axis=0), rtol=1e-4,
                               atol=1e-5)


# ------------------------------------------------------------------ save / load, resume
@pytest.mark.parametrize("name", ["byol", "simsiam"])
def test_keras_round_trip_restores_teacher_and_directpred_state(trained, digits_data, tmp_path, name):
    model, _ = trained[name]
    if name == "byol":  # the teacher has moved away from the student and is saved with the model
        teacher, online = model.teacher.trainable_weights, model.encoder.trainable_weights + \
            model.projector.trainable_weights
        assert max(float(np.abs(numpy(t) - numpy(o)).max()) for t, o in zip(teacher, online)) > 1e-4
    else:  # DirectPred's running correlation and matrix are model state
        assert type(model.predictor) is DirectPredictor and int(model.predictor.updates) > 1
    model.save(tmp_path / f"{name}.keras")
    loaded = keras.models.load_model(tmp_path / f"{name}.keras")
    assert type(loaded) is type(model) and type(loaded.predictor) is type(model.predictor)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(numpy(a), numpy(b), err_msg=a.path)
    config, restored = model.get_config(), loaded.get_config()
    assert {k: v for k, v in config.items() if k not in ("encoder", "projector", "name")} == {
        k: v for k, v in restored.items() if k not in ("encoder", "projector", "name")}
    x = digits_data.x_test[:8]
    np.testing.assert_array_equal(numpy(model.embed(x)), numpy(loaded.embed(x)))
    if name == "byol":
        np.testing.assert_array_equal(numpy(model.teacher(x)), numpy(loaded.teacher(x)))
        assert (loaded.base_tau, loaded.total_steps) == (0.99, 55)
    else:
        assert (loaded.predictor.rho, loaded.predictor.eps) == (0.3, 0.1)
        np.testing.assert_array_equal(numpy(loaded.predictor.running_correlation),
                                      numpy(model.predictor.running_correlation))


def test_byol_with_directpred_resumes_exactly(tmp_path):
    # the teacher (and its τ schedule over the run's total_steps) and DirectPred's F̂ are model state
    result = assert_resumes_exactly(tmp_path, "byol", projector="32-16", method_options={"predictor": "directpred"})
    model = keras.models.load_model(result.run_dir / "model.keras")
    assert model.total_steps == 8 and int(model.predictor.updates) == 8


# ------------------------------------------------------------------ the spectral reading
def test_spectral_reading_is_an_analogy_citing_directpred():
    for name in ("byol", "simsiam"):
        for regime, estimator in (("nonparametric", "LaplacianEigenmaps"), ("linear", "LinearVICReg")):
            case = baselines.resolve(name, regime)
            assert (case.estimator, case.status) == (estimator, "analogy")
            assert "arXiv:2102.06810" in case.citation


# ------------------------------------------------------------------ digits: no collapse
@pytest.fixture(scope="module")
def trained(digits_data):
    runs = {}
    for name, cls, options in (("byol", BYOL, {"predictor_hidden": 128, "base_tau": 0.99, "total_steps": 55}),
                               ("simsiam", SimSiam, {"predictor": "directpred"})):
        keras.utils.set_random_seed(0)
        model = cls(mlp_encoder((8, 8, 1), "128-64"), projector="128-32", **options)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0)
        runs[name] = model, model.fit(pairs, epochs=5, verbose=0, shuffle=False).history
    return runs


@pytest.mark.parametrize("name", ["byol", "simsiam"])
def test_digits_run_does_not_collapse(trained, digits_data, name):
    model, history = trained[name]
    assert history["loss"][-1] < history["loss"][0]
    h_train, h_test = model.encode(digits_data.x_train), model.encode(digits_data.x_test)
    # measured (5 epochs): RankMe of the test representations ≈ 38-40 of 64 (26 at initialisation), of the
    # embeddings ≈ 17-19 of 32; a collapsed run gives ≈ 1
    assert rankme(h_test) > 20, rankme(h_test)
    assert rankme(numpy(model.embed(digits_data.x_test))) > 8
    accuracy = linear_probe(h_train, digits_data.y_train, h_test, digits_data.y_test)
    assert accuracy > 0.93, accuracy  # measured ≈ 0.95; chance 0.1, the untrained encoder 0.914, raw pixels 0.967
    alignment = history["predictor_alignment"]  # on the first batch of each epoch; chance ≈ 1/32
    if name == "byol":  # DirectPred's claim, measured: the trained MLP predictor turns towards F's eigenbasis
        assert alignment[-1] > 2 * alignment[0], alignment
    else:  # DirectPred's predictor is F̂'s: nearly diagonal in the batch's F from the first step on
        assert min(alignment[1:]) > 0.9, alignment
