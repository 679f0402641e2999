"""NNCLR (Dwibedi et al. 2021, arXiv:2104.14548): the loss and the neighbour search by hand, the support set's updates,
the heads as solo-learn builds them, save / load, exact resume, a digits run and the kNN pair graph."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.errors import InputError
from kspectral.methods import NNCLR
from kspectral.objectives import nearest_neighbours, nnclr
from kspectral.probes import linear_probe
from kspectral.spectral import rankme
from method_checks import assert_resumes_exactly


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def by_hand_direction(nn, p, temperature):
    """mean_i −log softmax_j(n̂_i·p̂_j/τ)[i], written out with numpy."""
    logits = unit(nn) @ unit(p).T / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diag(log_softmax)))


def by_hand_neighbours(z, support):
    index = np.argmax(unit(z) @ unit(support).T, axis=1)
    return support[index], index


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------ the objective
def test_nearest_neighbours_by_cosine_not_dot_product():
    support = np.array([[10.0, 10.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    z = np.array([[0.1, 1.0, 0.0], [0.0, 0.2, 1.0], [-2.0, 0.1, 0.0]])
    # row 0: dot products (11, 1, 0, −0.1) pick row 0, cosines (0.77, 0.995, 0, −0.1) row 1
    nn, index = nearest_neighbours(z, support, return_indices=True)
    assert numpy(index).tolist() == [1, 2, 3]
    np.testing.assert_array_equal(numpy(nn), support[[1, 2, 3]])  # the rows as stored
    rng = np.random.default_rng(0)
    z, support = rng.normal(size=(9, 5)), rng.normal(size=(40, 5)) * rng.uniform(0.1, 3, size=(40, 1))
    expected, expected_index = by_hand_neighbours(z, support)
    nn, index = nearest_neighbours(z, support, return_indices=True)
    np.testing.assert_array_equal(numpy(index), expected_index)
    np.testing.assert_allclose(numpy(nn), expected, rtol=1e-6)
    with pytest.raises(InputError, match="support set"):
        nearest_neighbours(z, support[:, :4])


def test_nnclr_loss_by_hand():
    rng = np.random.default_rng(1)
    p_a, p_b, nn_a, nn_b = (rng.normal(size=(6, 4)) for _ in range(4))
    terms = nnclr(p_a, p_b, nn_a, nn_b, temperature=0.2, return_terms=True)
    ab, ba = by_hand_direction(nn_a, p_b, 0.2), by_hand_direction(nn_b, p_a, 0.2)
    assert float(terms["loss_ab"]) == pytest.approx(ab, rel=1e-6)
    assert float(terms["loss_ba"]) == pytest.approx(ba, rel=1e-6)
    assert float(terms["loss"]) == pytest.approx((ab + ba) / 2, rel=1e-6)
    assert float(nnclr(p_a, p_b, nn_a, nn_b, temperature=0.2)) == pytest.approx((ab + ba) / 2, rel=1e-6)
    # the direction matters: nn_a is the positive of p_b, not of p_a
    assert float(terms["loss"]) != pytest.approx((by_hand_direction(nn_a, p_a, 0.2)
                                                  + by_hand_direction(nn_b, p_b, 0.2)) / 2, rel=1e-3)
    # the docstring's value: log(1 + e⁻²) on the identity at τ = 0.5
    assert float(nnclr(np.eye(2), np.eye(2), np.eye(2), np.eye(2), temperature=0.5)) == pytest.approx(
        np.log1p(np.exp(-2.0)), rel=1e-6)
    with pytest.raises(InputError):
        nnclr(p_a, p_b, nn_a[:, :3], nn_b[:, :3])


def test_nnclr_on_the_global_batch_is_the_mean_of_solo_learns_per_rank_losses():
    """solo-learn: each rank's local neighbours against the gathered predictions, labels offset by the rank."""
    rng = np.random.default_rng(2)
    p_a, p_b, nn_a, nn_b = (rng.normal(size=(8, 5)) for _ in range(4))

    def rank_loss(nn, p, rank, local=4, temperature=0.2):
        logits = unit(nn[rank * local:(rank + 1) * local]) @ unit(p).T / temperature
        labels = np.arange(rank * local, (rank + 1) * local)
        log_z = np.log(np.exp(logits).sum(axis=1))
        return float(np.mean(log_z - logits[np.arange(local), labels]))

    ranks = [rank_loss(nn_a, p_b, r) / 2 + rank_loss(nn_b, p_a, r) / 2 for r in (0, 1)]
    assert float(nnclr(p_a, p_b, nn_a, nn_b, temperature=0.2)) == pytest.approx(np.mean(ranks), rel=1e-6)


def test_no_gradient_reaches_the_neighbours():
    rng = np.random.default_rng(3)
    p_a, p_b, nn_a, nn_b = (tf.constant(rng.normal(size=(4, 3)), tf.float32) for _ in range(4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([p_a, nn_a])
        loss = nnclr(p_a, p_b, nn_a, nn_b)
    assert tape.gradient(loss, nn_a) is None
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, p_a)))) > 0


# ------------------------------------------------------------------ the method
def small(queue_size=16, **options):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8)])
    return NNCLR(encoder, projector="8-4", queue_size=queue_size, temperature=0.2, diagnostics=False, **options)


def test_heads_follow_solo_learn():
    model = methods.create("nnclr", mlp_encoder((8, 8, 1), "64"), projector="64-64")
    model.build((None, 8, 8, 1))
    assert model.predictor.spec == "4096-64" and model.predictor.last_bias  # derived from the projector
    assert model.queue.rows.shape == (65536, 64) and model.queue.source == "z_a"
    bn = model.projection_batchnorm
    assert bn.center and bn.scale  # solo-learn's last BatchNorm1d is affine
    np.testing.assert_allclose(np.linalg.norm(numpy(model.queue.rows[:100]), axis=1), 1.0, rtol=1e-5)
    solo = NNCLR(mlp_encoder((8, 8, 1), "64"), projector=methods.make_projector("2048-2048-256",
                                                                                 layer_defaults="pytorch"))
    assert solo.predictor.spec == "4096-256" and solo.predictor.layer_defaults == "pytorch"
    assert solo.projection_batchnorm.epsilon == 1e-5 and solo.projection_batchnorm.momentum == 0.9
    assert NNCLR(mlp_encoder((8, 8, 1), "64"), projector="32-16", output_batchnorm=False).projection_batchnorm is None
    assert NNCLR(mlp_encoder((8, 8, 1), "64"), projector="32-16", predictor_hidden=64).predictor.spec == "64-16"
    with pytest.raises(InputError, match="needs a projector"):
        NNCLR(mlp_encoder((8, 8, 1), "64"), projector=None)


def test_neighbours_come_from_the_queue_before_the_batch_enters_it():
    """Two steps at learning rate 0 (the weights, hence the step's projections, stay known): each step's loss is the
    by-hand loss on the queue as it stood before the step, and the queue then holds the first view's unit
    projections of step 1, then of step 2, in order, after the rows not yet overwritten."""
    model = small(queue_size=12)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(4, 6)).astype("float32"), rng.normal(size=(4, 6)).astype("float32"))
               for _ in range(2)]
    model.build((None, 6))
    queue = numpy(model.queue.rows).copy()
    for step, (a, b) in enumerate(batches):
        out = {k: numpy(v) for k, v in model.forward(tf.constant(a), tf.constant(b), training=True).items()}
        nn_a, _ = by_hand_neighbours(out["z_a"], queue)
        nn_b, _ = by_hand_neighbours(out["z_b"], queue)
        expected = (by_hand_direction(nn_a, out["p_b"], 0.2) + by_hand_direction(nn_b, out["p_a"], 0.2)) / 2
        after = np.concatenate([queue[:4 * step], unit(out["z_a"]), queue[4 * step + 4:]])  # had it pushed first
        nn_after, _ = by_hand_neighbours(out["z_a"], after)
        wrong = (by_hand_direction(nn_after, out["p_b"], 0.2) + by_hand_direction(nn_b, out["p_a"], 0.2)) / 2
        logs = model.train_on_batch(a, b, return_dict=True)
        assert logs["loss"] == pytest.approx(expected, rel=1e-5)
        assert abs(expected - wrong) > 1e-3  # the order is observable
        similarity = np.mean([np.mean(np.sum(unit(out[z]) * unit(nn), 1)) for z, nn in (("z_a", nn_a), ("z_b", nn_b))])
        assert logs["nn_similarity"] == pytest.approx(similarity, rel=1e-5)
        queue = after
        np.testing.assert_allclose(numpy(model.queue.rows), queue, rtol=1e-5, atol=1e-6)
    assert int(model.queue.position) == 8 and int(model.queue.filled) == 8


def test_keras_round_trip_restores_the_queue(tmp_path):
    model = small(queue_size=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)  # a few steps: tracing costs more
    rng = np.random.default_rng(1)
    batches = [tuple(rng.normal(size=(2, 8, 6)).astype("float32")) for _ in range(3)]
    for batch in batches[:2]:
        model.train_on_batch(*batch)
    path = tmp_path / "nnclr.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is NNCLR
    assert (loaded.queue_size, loaded.temperature, loaded.predictor.spec, loaded.output_batchnorm) == (
        16, 0.2, "4096-4", True)
    np.testing.assert_array_equal(numpy(loaded.queue.rows), numpy(model.queue.rows))
    assert int(loaded.queue.position) == int(model.queue.position) == 0  # 2 steps × 8 rows wrapped around 16
    assert int(loaded.queue.filled) == 16
    for w1, w2 in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    x = rng.normal(size=(5, 6)).astype("float32")
    np.testing.assert_array_equal(numpy(model.embed(x)), numpy(loaded.embed(x)))
    # the restored support set gives the same next step
    batch = batches[2]
    assert loaded.run_eagerly
    assert loaded.train_on_batch(*batch, return_dict=True)["loss"] == pytest.approx(
        model.train_on_batch(*batch, return_dict=True)["loss"], rel=1e-6)


def test_resumes_exactly(tmp_path):
    assert_resumes_exactly(tmp_path, "nnclr", projector="32-16", method_options={"queue_size": 256})


# ------------------------------------------------------------------ digits: no collapse, the pair graph
@pytest.fixture(scope="module")
def trained(digits_data):
    keras.utils.set_random_seed(0)
    model = NNCLR(mlp_encoder((8, 8, 1), "64"), projector="64-64-32", queue_size=1024, temperature=0.2)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0)
    history = model.fit(pairs, epochs=6, verbose=0, shuffle=False).history
    return model, history


def test_digits_run_does_not_collapse(trained, digits_data):
    model, history = trained
    assert history["loss"][-1] < history["loss"][0]
    h_train, h_test = model.encode(digits_data.x_train), model.encode(digits_data.x_test)
    assert rankme(h_test) > 25  # of 64 dimensions (measured 39)
    assert rankme(numpy(model.embed(digits_data.x_test))) > 10  # of 32 (measured 19)
    accuracy = linear_probe(h_train, digits_data.y_train, h_test, digits_data.y_test)
    assert accuracy > 0.9, accuracy  # chance 0.1; measured 0.956, raw pixels 0.967
    assert history["nn_similarity"][-1] > history["nn_similarity"][0]  # the support set fills with real neighbours


def test_pair_graph_is_the_knn_graph_of_the_embeddings_plus_the_pairs(trained, digits_data):
    model, _ = trained
    x = digits_data.x_test[:200]
    a, b = digits_augmenter(seed=1)(x, training=True), digits_augmenter(seed=2)(x, training=True)
    z_a, z_b = numpy(model.embed(a)), numpy(model.embed(b))
    G = NNCLR.pair_graph([z_a, z_b], k=1)
    dense = G.toarray()
    n = 200
    assert dense.shape == (2 * n, 2 * n) and np.array_equal(dense, dense.T) and not np.any(np.diag(dense))
    assert set(np.unique(dense)) <= {0.0, 1.0}
    assert np.all(dense[np.arange(n), np.arange(n) + n] == 1)  # the augmentation pairs
    Z = unit(np.vstack([z_a, z_b]))
    cosine = Z @ Z.T
    np.fill_diagonal(cosine, -np.inf)
    nearest = np.argmax(cosine, axis=1)
    assert np.all(dense[np.arange(2 * n), nearest] == 1)  # each row's nearest neighbour
    expected = np.zeros_like(dense)
    expected[np.arange(2 * n), nearest] = 1
    expected = np.maximum(np.maximum(expected, expected.T), np.kron([[0, 1], [1, 0]], np.eye(n)))
    np.testing.assert_array_equal(dense, expected)  # and nothing else
    single = NNCLR.pair_graph(z_a, k=3).toarray()
    assert single.shape == (n, n) and np.array_equal(single, single.T) and (single.sum(1) >= 3).all()
    estimator = NNCLR.spectral_baseline(NNCLR.pair_graph([z_a, z_b], k=5), dim=4)
    assert estimator.embedding_.shape == (2 * n, 4) and np.isfinite(estimator.embedding_).all()
    assert type(estimator).__name__ == NNCLR.spectral_counterpart(graph=NNCLR.pair_graph([z_a, z_b], k=5), dim=4)
