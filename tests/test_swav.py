"""SwAV (Caron et al. 2020, arXiv:2006.09882): hand-computed Sinkhorn codes and swapped-prediction losses (2 views
and 2 + 2 crops), unit and frozen prototypes, the queue's entry into Sinkhorn, the .keras round trip, exact resume,
multi-crop, and a digits run that does not collapse."""

import keras
import numpy as np
import pytest

from kspectral import methods, objectives
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.errors import InputError
from method_checks import assert_resumes_exactly


# ---------------------------------------------------------------- numpy by hand
def np_sinkhorn(scores, iterations, epsilon):
    """The official distributed_sinkhorn on one device, written out in numpy (float64)."""
    q = np.exp(np.asarray(scores, np.float64) / epsilon).T  # K × N
    k, n = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(axis=1, keepdims=True) / k
        q = q / q.sum(axis=0, keepdims=True) / n
    return (q * n).T


def np_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def np_cross_entropy(q, s, temperature):
    """−mean_b Σ_k q[b, k] log softmax(s[b] / τ)_k."""
    return float(-np.mean(np.sum(q * np_log_softmax(np.asarray(s) / temperature), axis=1)))


def np_swav(scores, codes, temperature):
    """The official reduction: per assigned view i the mean over the V − 1 other views, then the mean over i."""
    total = 0.0
    for i, q in enumerate(codes):
        total += sum(np_cross_entropy(q, scores[v], temperature) for v in range(len(scores)) if v != i) / (
            len(scores) - 1)
    return total / len(codes)


def unit_rows(rng, n, d):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def batches(items):
    """A ``tf.data.Dataset`` of the given batches of views, in order."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(tuple(np.stack(v) for v in zip(*items)))


# ---------------------------------------------------------------- the objectives
def test_sinkhorn_one_iteration_by_hand_and_the_official_iterations():
    # exp(scores / ε) = [[3, 1], [1, 1]] (ε = 1): total 6; rows (prototypes) of Qᵀ: [3, 1]/4 and [1, 1]/2, each / K;
    # columns then [3/8, 1/4] → [3/5, 2/5] and [1/8, 1/4] → [1/3, 2/3]
    codes = to_numpy(objectives.sinkhorn(np.log([[3.0, 1.0], [1.0, 1.0]]), iterations=1, epsilon=1.0))
    np.testing.assert_allclose(codes, [[3 / 5, 2 / 5], [1 / 3, 2 / 3]], rtol=1e-12)
    rng = np.random.default_rng(0)
    scores = unit_rows(rng, 6, 4) @ unit_rows(rng, 5, 4).T  # cosines of 6 samples and 5 prototypes
    codes = to_numpy(objectives.sinkhorn(scores.astype("float32")))  # 3 iterations, ε = 0.05
    np.testing.assert_allclose(codes, np_sinkhorn(scores, 3, 0.05), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(codes.sum(axis=1), 1.0, rtol=1e-5)  # each sample's code sums to 1 (after × B)
    balanced = to_numpy(objectives.sinkhorn(scores, iterations=500, epsilon=0.05))
    np.testing.assert_allclose(balanced.sum(axis=0), 6 / 5, rtol=1e-6)  # each prototype: B/K (equipartition)
    np.testing.assert_allclose(balanced.sum(axis=1), 1.0, rtol=1e-12)


def test_sinkhorn_of_identical_scores_is_uniform_and_passes_no_gradient():
    import tensorflow as tf

    scores = tf.Variable(np.tile([[0.3, -0.2, 0.9]], (4, 1)))
    with tf.GradientTape() as tape:
        codes = objectives.sinkhorn(scores)
        total = tf.reduce_sum(codes * tf.constant(np.arange(12.0).reshape(4, 3)))
    np.testing.assert_allclose(to_numpy(codes), 1 / 3, rtol=1e-12)
    assert tape.gradient(total, scores) is None


def test_swav_loss_on_two_views_by_hand():
    # B = 1, K = 2, τ = 1: q_1 = [1, 0] predicted from s_2 = [0, ln 3] → −log(1/4); q_2 = [1/2, 1/2] from s_1 = [0, 0]
    # → −log(1/2); the loss is their mean
    s = [np.zeros((1, 2)), np.array([[0.0, np.log(3.0)]])]
    q = [np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])]
    expected = (np.log(4.0) + np.log(2.0)) / 2
    assert float(objectives.swav(s, q, temperature=1.0)) == pytest.approx(expected, rel=1e-12)
    rng = np.random.default_rng(1)
    scores = [unit_rows(rng, 4, 3) @ unit_rows(rng, 6, 3).T for _ in range(2)]
    codes = [np_sinkhorn(s, 3, 0.05) for s in scores]
    terms = objectives.swav(scores, codes, temperature=0.1, return_terms=True)
    expected = (np_cross_entropy(codes[0], scores[1], 0.1) + np_cross_entropy(codes[1], scores[0], 0.1)) / 2
    assert float(terms["loss"]) == pytest.approx(expected, rel=1e-10)
    assert set(terms) == {"loss", "prototype_entropy"}


def test_swav_loss_on_two_plus_two_crops_averages_the_pairs_as_the_official_code():
    rng = np.random.default_rng(2)
    scores = [unit_rows(rng, 5, 4) @ unit_rows(rng, 7, 4).T for _ in range(4)]
    codes = [np_sinkhorn(s, 3, 0.05) for s in scores[:2]]
    value = float(objectives.swav(scores, codes, temperature=0.1))
    pairs = [np_cross_entropy(codes[i], scores[v], 0.1) for i in range(2) for v in range(4) if v != i]
    # the official (Σ_{v≠i} / (V − 1)) / A is the mean over the A·(V − 1) = 6 pairs
    assert value == pytest.approx(np.mean(pairs), rel=1e-10)
    assert value == pytest.approx(np_swav(scores, codes, 0.1), rel=1e-10)
    assert value != pytest.approx(np.sum(pairs) / 8, rel=1e-3)  # not the mean over A·V


def test_prototype_entropy_reads_collapse_from_the_hard_assignments():
    spread = np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]
    assert float(objectives.prototype_usage_entropy(spread)) == pytest.approx(np.log(4.0), rel=1e-6)
    assert float(objectives.prototype_usage_entropy([np.eye(4)[[0, 0, 1, 1]], np.eye(4)[[0, 0, 0, 0]]])) == (
        pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), rel=1e-6))
    uniform = np.full((6, 4), 0.25)  # collapsed embeddings: Sinkhorn gives uniform codes, argmax the first prototype
    assert float(objectives.prototype_usage_entropy(uniform)) == 0.0


def test_bad_input_is_named():
    with pytest.raises(InputError, match="lists"):
        objectives.swav(np.zeros((2, 3)), [np.zeros((2, 3))])
    with pytest.raises(InputError, match="one shape"):
        objectives.swav([np.zeros((2, 3)), np.zeros((2, 4))], [np.zeros((2, 3))])
    with pytest.raises(InputError, match="iterations"):
        objectives.sinkhorn(np.zeros((2, 3)), iterations=0)
    with pytest.raises(InputError, match="embedding width"):
        methods.SwAV(mlp_encoder((8, 8, 1), "16"), projector=None, queue_size=8)


# ---------------------------------------------------------------- the model
def small_swav(**options):
    keras.utils.set_random_seed(0)
    options = {"projector": "16-8", "num_prototypes": 10, "diagnostics": False, **options}
    return methods.create("swav", mlp_encoder((8, 8, 1), "16"), **options)


def views(rng, count=2, batch=4):
    x = rng.normal(size=(batch, 8, 8, 1)).astype("float32")
    return [x + 0.1 * rng.normal(size=x.shape).astype("float32") for _ in range(count)]


def test_the_generic_projector_maps_to_the_official_head_and_prototypes_on_its_output():
    model = methods.create("swav", mlp_encoder((8, 8, 1), "64"), projector="64-64")
    z = model.embed(np.zeros((2, 8, 8, 1), "float32"))
    assert tuple(z.shape) == (2, 64)
    assert tuple(model.projector.widths) == (64, 64) and model.projector.last_bias  # Linear-BN-ReLU-Linear(bias)
    assert tuple(model.prototypes.kernel.shape) == (64, 3000)
    assert (model.num_prototypes, model.temperature, model.sinkhorn_iterations, model.epsilon) == (3000, 0.1, 3, 0.05)
    np.testing.assert_allclose(np.linalg.norm(to_numpy(model.prototypes.kernel), axis=0), 1.0, rtol=1e-6)
    assert model.frozen_weights() == [] and model.queue_start_step is None  # no steps_per_epoch: no freeze, no queue


def test_the_model_loss_is_sinkhorn_of_the_unit_embeddings_scores():
    rng = np.random.default_rng(3)
    model = small_swav()
    a, b = views(rng)
    outputs = model.forward(a, b, training=False)
    kernel = to_numpy(model.prototypes.kernel)
    z = [to_numpy(outputs["z_a"]), to_numpy(outputs["z_b"])]
    np.testing.assert_allclose(np.linalg.norm(z[0], axis=1), 1.0, rtol=1e-6)
    scores = [zi @ kernel for zi in z]
    np.testing.assert_allclose(to_numpy(outputs["p_a"]), scores[0], rtol=1e-5, atol=1e-6)
    codes = [np_sinkhorn(s, 3, 0.05) for s in scores]
    terms = model.compute_objective(outputs)
    assert float(terms["loss"]) == pytest.approx(np_swav(scores, codes, 0.1), rel=1e-4)


class KernelLog(keras.callbacks.Callback):
    def __init__(self, model):
        super().__init__()
        self.kernels = [to_numpy(model.prototypes.kernel).copy()]

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(to_numpy(self.model.prototypes.kernel).copy())


def test_prototypes_stay_unit_norm_are_frozen_for_the_first_epochs_then_move():
    rng = np.random.default_rng(4)
    model = small_swav(steps_per_epoch=2, freeze_prototypes_epochs=1.5)  # 3 frozen steps
    assert model.freeze_steps == 3
    model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9), jit_compile=False)
    data = [tuple(views(rng, batch=8)) for _ in range(6)]
    model.embed(data[0][0])  # built: unit prototypes from the start
    log = KernelLog(model)
    model.fit(batches(data), epochs=1, verbose=0, callbacks=[log])
    for kernel in log.kernels:
        np.testing.assert_allclose(np.linalg.norm(kernel, axis=0), 1.0, rtol=1e-6)
    moves = [float(np.max(np.abs(k - log.kernels[0]))) for k in log.kernels]
    assert max(moves[:4]) < 1e-6, moves  # steps 0, 1, 2 frozen
    assert moves[4] > 1e-3 and moves[6] > moves[4], moves  # from step 3 on they move


def test_the_queue_enters_sinkhorn_only_from_its_start_epoch_once_full():
    rng = np.random.default_rng(5)
    model = small_swav(queue_size=8, queue_start_epoch=1, steps_per_epoch=2, freeze_prototypes_epochs=0)
    # lr 0: the weights stay, only the queue changes the loss
    model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=False)
    a, b = views(rng)
    outputs = model.forward(a, b, training=True)  # batch statistics, as in fit
    scores = [to_numpy(outputs["p_a"]), to_numpy(outputs["p_b"])]
    plain = np_swav(scores, [np_sinkhorn(s, 3, 0.05) for s in scores], 0.1)
    model.optimizer.iterations.assign(2)  # the start step, but the queue holds only its initial rows
    assert not bool(model.queue_in_use())
    assert float(model.compute_objective(outputs)["loss"]) == pytest.approx(plain, rel=1e-4)
    model.optimizer.iterations.assign(0)
    model.fit(batches([(a, b)] * 2), epochs=1, verbose=0)  # steps 0 and 1 fill both queues
    queues = [to_numpy(q.rows) for q in model.queues]
    z = [to_numpy(outputs["z_a"]), to_numpy(outputs["z_b"])]
    for rows, zi in zip(queues, z):
        np.testing.assert_allclose(rows, np.vstack([zi, zi]), rtol=1e-5, atol=1e-6)
    kernel = to_numpy(model.prototypes.kernel)
    with_queue = []
    for rows, s in zip(queues, scores):
        with_queue.append(np_sinkhorn(np.vstack([rows @ kernel, s]), 3, 0.05)[-4:])  # the batch's codes only
    queued = np_swav(scores, with_queue, 0.1)
    assert abs(queued - plain) > 1e-3
    model.optimizer.iterations.assign(1)  # epoch 0: the full queue is not used yet
    assert float(model.compute_objective(outputs)["loss"]) == pytest.approx(plain, rel=1e-4)
    for step in (2, 5):  # epoch ≥ 1
        model.optimizer.iterations.assign(step)
        assert float(model.compute_objective(outputs)["loss"]) == pytest.approx(queued, rel=1e-4)


def test_keras_round_trip_restores_the_prototypes_and_the_queues(tmp_path):
    rng = np.random.default_rng(6)
    model = small_swav(queue_size=8, queue_start_epoch=0, steps_per_epoch=1, freeze_prototypes_epochs=0,
                       temperature=0.2, joint_views=False)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    model.fit(batches([tuple(views(rng)) for _ in range(3)]), epochs=1, verbose=0)
    path = tmp_path / "swav.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is methods.SwAV
    for name in ("num_prototypes", "temperature", "queue_size", "queue_start_epoch", "steps_per_epoch",
                 "freeze_prototypes_epochs", "joint_views"):
        assert getattr(loaded, name) == getattr(model, name), name
    np.testing.assert_array_equal(to_numpy(loaded.prototypes.kernel), to_numpy(model.prototypes.kernel))
    for q1, q2 in zip(model.queues, loaded.queues):
        np.testing.assert_array_equal(to_numpy(q1.rows), to_numpy(q2.rows))
        assert int(q1.position) == int(q2.position) == 4 and int(q1.filled) == int(q2.filled) == 8
    a, b = views(rng)
    assert bool(loaded.queue_in_use(3))
    out1, out2 = model.forward(a, b), loaded.forward(a, b)
    assert float(model.compute_objective(out1)["loss"]) == float(loaded.compute_objective(out2)["loss"])


def test_multicrop_codes_from_the_global_views_predictions_from_all():
    # 2 global views of 12 px and 2 small ones of 6 px (multi-crop's shapes), through one convnet of any input size
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(7)
    batch = [rng.uniform(size=(8, size, size, 3)).astype("float32") for size in (12, 12, 6, 6)]
    encoder = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                                keras.layers.GlobalAveragePooling2D()])
    model = methods.create("swav", encoder, projector="8-8", num_prototypes=6, diagnostics=False)
    assert model.view_limit() is None
    outputs = model.forward_views(batch, training=False)
    outputs.pop("h")
    scores = [to_numpy(p) for p in outputs["p"]]
    codes = [np_sinkhorn(s, 3, 0.05) for s in scores[:2]]
    terms = model.compute_multiview_objective(outputs)
    assert float(terms["loss"]) == pytest.approx(np_swav(scores, codes, 0.1), rel=1e-4)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(batches([tuple(batch)]), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert max(float(np.max(np.abs(x - y))) for x, y in zip(before, model.get_weights())) > 0


@pytest.fixture(scope="module")
def crops_folder(tmp_path_factory):
    from test_multiview import _folder

    return _folder(tmp_path_factory.mktemp("crops") / "colours")


@pytest.mark.slow
def test_a_multicrop_run_trains_with_the_runs_schedule(crops_folder, tmp_path):
    """`kspectral train`'s workflow on 2 global and 2 small crops: the run passes steps_per_epoch, so the prototypes
    are frozen for the first epoch and the queue (full after one step) enters Sinkhorn from the second (steps 2-3)."""
    import csv

    from kspectral import runs

    config = runs.RunConfig(dataset=str(crops_folder), method="swav", encoder="conv", encoder_widths="8",
                            projector="8-8", augment="multicrop", augment_options={"n_small": 2}, epochs=2,
                            steps_per_epoch=2, batch_size=8, baseline="none", tensorboard=False, online_probe=False,
                            method_options={"num_prototypes": 6, "queue_size": 8, "queue_start_epoch": 1,
                                            "freeze_prototypes_epochs": 1})
    result = runs.train(config, out=tmp_path / "run")
    model = keras.models.load_model(result.run_dir / "model.keras")
    assert (model.steps_per_epoch, model.freeze_steps, model.queue_start_step) == (2, 2, 2)
    assert int(model.queues[0].filled) == 8 and bool(model.queue_in_use(2))
    with open(result.run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(np.isfinite(float(r["loss"])) for r in rows)
    assert all(0.0 <= float(r["prototype_entropy"]) <= np.log(6) + 1e-6 for r in rows)


@pytest.mark.slow
def test_swav_resumes_exactly_with_a_queue_that_starts_within_the_run(tmp_path):
    # 2 epochs of 4 steps of 64: each queue (128 rows) is full after step 1 and used from step 4; prototypes frozen
    # for steps 0-1; interrupted after step 5 and resumed from step 4
    assert_resumes_exactly(tmp_path, "swav", projector="32-16",
                           method_options={"queue_size": 128, "queue_start_epoch": 1, "num_prototypes": 30,
                                           "freeze_prototypes_epochs": 0.5})


def test_swav_on_digits_does_not_collapse(digits_data):
    """80 steps of batch 128 (measured: prototype entropy 3.35 of log 30 = 3.40, RankMe 13.3 of the 32-d test
    embeddings, linear probe 0.975 against 0.967 on raw pixels and 0.958 on the untrained encoder; chance 0.1)."""
    from kspectral.probes import linear_probe
    from kspectral.spectral import rankme

    keras.utils.set_random_seed(0)
    model = methods.create("swav", mlp_encoder((8, 8, 1), "128"), projector="128-32", num_prototypes=30,
                           steps_per_epoch=10, freeze_prototypes_epochs=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0).take(10)
    history = model.fit(pairs, epochs=8, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    entropy = history["prototype_entropy"][-1]
    assert entropy > 0.9 * np.log(30), history["prototype_entropy"]  # the codes' argmax spread over the prototypes
    z = model.embed(digits_data.x_test)
    assert rankme(to_numpy(z)) > 8
    x_train, x_test = digits_data.x_train, digits_data.x_test
    accuracy = linear_probe(model.encode(x_train), digits_data.y_train, model.encode(x_test), digits_data.y_test)
    assert accuracy > 0.93, accuracy
