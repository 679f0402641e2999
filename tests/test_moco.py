"""MoCo v3 (Chen, Xie & He 2021, arXiv:2104.02057) and MoCo v2 (Chen, Fan, Girshick & He 2020, arXiv:2003.04297;
solo-learn's symmetric MoCo V2+): the losses by hand (logits, log-softmax, the 2τ factor, the queue's negatives), the
queues after two steps (the pushed keys in order, wrapping around), the teacher against a hand EMA, the heads as
solo-learn builds them, save / load with the teacher and the queues, exact resume, and a digits run that does not
collapse."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.errors import InputError
from kspectral.methods import MoCoV2, MoCoV3, Projector
from kspectral.methods.components import MomentumTeacher, Predictor
from kspectral.objectives import mocov2, mocov3
from kspectral.probes import linear_probe
from kspectral.spectral import baselines, rankme
from method_checks import assert_resumes_exactly


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def log_softmax(logits):
    """Row-wise log-softmax, written out (max-shifted)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy_diagonal(q, k, temperature):
    """mean_i −log softmax(q̂ k̂ᵀ/τ)[i, i]: each query's target is its own row's key."""
    logits = unit(q) @ unit(k).T / temperature
    return -np.mean(np.diag(log_softmax(logits)))


def info_nce_first(q, k, negatives, temperature):
    """mean_i −log softmax([q̂_i·k̂_i, q̂_i·n̂_1, …]/τ)[0]: MoCo's logits, the positive in column 0."""
    q, k, negatives = unit(q), unit(k), unit(negatives)
    logits = np.concatenate([np.sum(q * k, axis=1, keepdims=True), q @ negatives.T], axis=1) / temperature
    return -np.mean(log_softmax(logits)[:, 0])


def dense_encoder(dim_in=6, width=8, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((dim_in,)), keras.layers.Dense(width)])


# ------------------------------------------------------------------ the losses by hand
def test_mocov3_loss_by_hand_with_the_2tau_factor(rng):
    q_a, q_b, k_a, k_b = (rng.normal(size=(6, 4)) for _ in range(4))
    for temperature in (0.2, 1.0):
        terms = {k: float(v) for k, v in mocov3(q_a, q_b, k_a, k_b, temperature=temperature,
                                                 return_terms=True).items()}
        # the official contrastive_loss: CrossEntropyLoss()(logits, labels) * 2T, the two directions summed
        by_hand = 2 * temperature * (cross_entropy_diagonal(q_a, k_b, temperature)
                                     + cross_entropy_diagonal(q_b, k_a, temperature))
        assert terms["loss"] == pytest.approx(by_hand, rel=1e-12)
        assert terms["attraction"] + terms["repulsion"] == pytest.approx(by_hand, rel=1e-12)
        positives = np.mean(np.sum(unit(q_a) * unit(k_b), 1)) + np.mean(np.sum(unit(q_b) * unit(k_a), 1))
        assert terms["attraction"] == pytest.approx(-2 * positives, rel=1e-12)
    # the directions are (q_a, k_b) and (q_b, k_a): swapping the keys changes the value
    assert float(mocov3(q_a, q_b, k_b, k_a)) != pytest.approx(float(mocov3(q_a, q_b, k_a, k_b)), rel=1e-3)
    # scale invariance (everything is normalised) and the bound at equal keys: 2 · 2τ · log N
    assert float(mocov3(3 * q_a, q_b, k_a, 0.5 * k_b)) == pytest.approx(float(mocov3(q_a, q_b, k_a, k_b)), rel=1e-12)
    same = np.ones((6, 4))
    assert float(mocov3(q_a, q_b, same, same, temperature=0.2)) == pytest.approx(4 * 0.2 * math.log(6), rel=1e-12)


def test_mocov2_loss_by_hand_with_a_queue_per_view(rng):
    q_a, q_b, k_a, k_b = (rng.normal(size=(5, 4)) for _ in range(4))
    queue_a, queue_b = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    temperature = 0.2
    terms = {k: float(v) for k, v in mocov2(q_a, q_b, k_a, k_b, queue=(queue_a, queue_b), temperature=temperature,
                                             return_terms=True).items()}
    # solo-learn: (loss(q1, k2, queue[1]) + loss(q2, k1, queue[0])) / 2, queue[v] the past keys of view v
    by_hand = (info_nce_first(q_a, k_b, queue_b, temperature) + info_nce_first(q_b, k_a, queue_a, temperature)) / 2
    assert terms["loss"] == pytest.approx(by_hand, rel=1e-12)
    assert terms["attraction"] + terms["repulsion"] == pytest.approx(by_hand, rel=1e-12)
    positives = np.mean(np.sum(unit(q_a) * unit(k_b), 1)) + np.mean(np.sum(unit(q_b) * unit(k_a), 1))
    assert terms["attraction"] == pytest.approx(-positives / (2 * temperature), rel=1e-12)
    # the queues are not interchangeable; one matrix is both directions' negatives
    swapped = float(mocov2(q_a, q_b, k_a, k_b, queue=(queue_b, queue_a), temperature=temperature))
    assert swapped != pytest.approx(by_hand, rel=1e-3)
    one = (info_nce_first(q_a, k_b, queue_a, temperature) + info_nce_first(q_b, k_a, queue_a, temperature)) / 2
    assert float(mocov2(q_a, q_b, k_a, k_b, queue=queue_a, temperature=temperature)) == pytest.approx(one, rel=1e-12)
    # all keys and negatives equal: log(1 + Q)
    same = np.ones((5, 4))
    assert float(mocov2(q_a, q_b, same, same, np.ones((7, 4)))) == pytest.approx(math.log(8), rel=1e-12)


def test_no_gradient_reaches_the_keys_or_the_queue(rng):
    q_a, q_b, k_a, k_b = (tf.constant(rng.normal(size=(4, 3))) for _ in range(4))
    queue = tf.constant(rng.normal(size=(5, 3)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([q_a, k_a, k_b, queue])
        v3 = mocov3(q_a, q_b, k_a, k_b)
        v2 = mocov2(q_a, q_b, k_a, k_b, queue)
    for loss in (v3, v2):
        gradient = tape.gradient(loss, q_a)  # the queries are trained: a nonzero gradient reaches them
        assert gradient is not None and float(tf.reduce_max(tf.abs(gradient))) > 1e-6
        assert all(tape.gradient(loss, x) is None for x in (k_a, k_b))
    assert tape.gradient(v2, queue) is None


def test_losses_refuse_bad_input(rng):
    q = rng.normal(size=(4, 3))
    with pytest.raises(InputError, match="dimension 5"):
        mocov2(q, q, q, q, rng.normal(size=(6, 5)))
    with pytest.raises(InputError, match="pair"):
        mocov2(q, q, q, q, [q, q, q])
    with pytest.raises(InputError, match="same shape"):
        mocov3(q, q, q, rng.normal(size=(5, 3)))
    with pytest.raises(InputError, match="temperature"):
        mocov3(q, q, q, q, temperature=0.0)


# ------------------------------------------------------------------ the heads
def test_heads_match_solo_learn():
    v3 = MoCoV3(dense_encoder(), projector="32-16", predictor_hidden=24)
    v3.build((None, 6))
    # _build_mlp(2, ...): Linear(bias=False)-BN-ReLU-Linear(bias=False)-BN(affine=False); predictor last_bn=False
    assert [type(layer).__name__ for layer in v3.projector.blocks] == ["Dense", "BatchNormalization", "ReLU", "Dense",
                                                                       "BatchNormalization"]
    assert not any(getattr(layer, "use_bias", False) for layer in v3.projector.blocks)
    last_bn = v3.projector.blocks[-1]
    assert not last_bn.center and not last_bn.scale
    assert isinstance(v3.predictor, Predictor) and tuple(v3.predictor.widths) == (24, 16)
    assert [type(layer).__name__ for layer in v3.predictor.blocks] == ["Dense", "BatchNormalization", "ReLU", "Dense"]
    assert not any(getattr(layer, "use_bias", False) for layer in v3.predictor.blocks)
    assert isinstance(v3.teacher, MomentumTeacher) and v3.teacher.source == ["encoder", "projector"]
    assert (v3.base_tau, v3.final_tau, v3.temperature) == (0.99, 1.0, 0.2)
    # a projector built with PyTorch's initialisation gives the predictor the same
    pytorch = Projector("32-16", last_batchnorm=True, layer_defaults="pytorch")
    assert MoCoV3(dense_encoder(), projector=pytorch, predictor_hidden=24).predictor.layer_defaults == "pytorch"

    v2 = MoCoV2(dense_encoder(), projector="32-16", queue_size=64)
    # mocov2plus: Linear-ReLU-Linear, with biases
    assert [type(layer).__name__ for layer in v2.projector.blocks] == ["Dense", "ReLU", "Dense"]
    assert all(layer.use_bias for layer in v2.projector.blocks if isinstance(layer, keras.layers.Dense))
    assert (v2.base_tau, v2.final_tau, v2.temperature) == (0.99, 0.999, 0.2)
    assert [(q.size, q.dim, q.source) for q in (v2.queue_a, v2.queue_b)] == [(64, 16, "k_a"), (64, 16, "k_b")]
    assert MoCoV2(dense_encoder(), projector="32-16").queue_size == 32768
    for cls in (MoCoV2, MoCoV3):
        assert cls.max_views == 2
        with pytest.raises(InputError, match="needs a projector"):
            cls(dense_encoder(), projector=None)


def test_three_views_are_refused():
    model = MoCoV2(dense_encoder(), projector="8-4", queue_size=64)
    model.compile(optimizer="sgd")
    x = np.zeros((8, 6), "float32")
    with pytest.raises(InputError, match="view"):
        model.fit(tf.data.Dataset.from_tensors((x, x, x)), epochs=1, verbose=0)


# ------------------------------------------------------------------ the queues and the teacher, step by step
def _step(model, x_a, x_b):
    return model.fit(tf.data.Dataset.from_tensors((x_a, x_b)), epochs=1, verbose=0).history["loss"][0]


def _weights(networks):
    return [numpy(w).copy() for n in networks for w in n.trainable_weights]


def test_mocov2_queues_teacher_and_loss_after_two_steps(rng):
    total, base, final = 10, 0.9, 1.0
    model = MoCoV2(dense_encoder(), projector="8-4", queue_size=48, base_tau=base, final_tau=final,
                   total_steps=total, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    batches = [tuple(rng.normal(size=(32, 6)).astype("float32") for _ in range(2)) for _ in range(2)]
    model.build((None, 6))
    initial = [numpy(q.rows).copy() for q in (model.queue_a, model.queue_b)]
    teacher = _weights(model.teacher.targets)
    assert all(np.array_equal(t, o) for t, o in zip(teacher, _weights([model.encoder, model.projector])))

    keys = []
    for step, (x_a, x_b) in enumerate(batches):
        # no BatchNorm anywhere: the forward pass of the step is the inference one
        q_a, q_b = numpy(model.embed(x_a)), numpy(model.embed(x_b))
        k_a, k_b = numpy(model.teacher(x_a)), numpy(model.teacher(x_b))
        queues = [numpy(q.rows).copy() for q in (model.queue_a, model.queue_b)]
        loss = _step(model, x_a, x_b)
        # the loss read the queues before this step's keys entered them
        by_hand = (info_nce_first(q_a, k_b, queues[1], 0.2) + info_nce_first(q_b, k_a, queues[0], 0.2)) / 2
        assert loss == pytest.approx(by_hand, rel=1e-5)
        keys.append((unit(k_a), unit(k_b)))
        # the teacher: t ← τ(step) t + (1 − τ(step)) o, τ cosine from 0.9 to 1.0 over 10 steps
        tau = final - (final - base) * (math.cos(math.pi * step / total) + 1) / 2
        online = _weights([model.encoder, model.projector])
        teacher = [tau * t + (1 - tau) * o for t, o in zip(teacher, online)]
        for expected, actual in zip(teacher, _weights(model.teacher.targets)):
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)

    for view, queue in enumerate((model.queue_a, model.queue_b)):
        rows = numpy(queue.rows)
        first, second = keys[0][view], keys[1][view]
        # step 1 wrote rows 0-31; step 2 wrote rows 32-47 and wrapped around to rows 0-15
        np.testing.assert_allclose(rows[32:48], second[:16], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rows[0:16], second[16:], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rows[16:32], first[16:], rtol=1e-5, atol=1e-6)
        assert (int(queue.position), int(queue.filled)) == (64 % 48, 48)
        assert not np.allclose(rows, initial[view])
    assert not np.allclose(numpy(model.queue_a.rows), numpy(model.queue_b.rows))


def test_a_queue_smaller_than_the_batch_is_refused(rng):
    model = MoCoV2(dense_encoder(), projector="8-4", queue_size=16, diagnostics=False)
    model.compile(optimizer="sgd")
    x = rng.normal(size=(32, 6)).astype("float32")
    with pytest.raises(InputError, match="does not fit a queue of 16"):
        _step(model, x, x)


def test_mocov3_teacher_is_the_hand_ema_after_a_step(rng):
    model = MoCoV3(dense_encoder(), projector="8-4", predictor_hidden=8, base_tau=0.9, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.build((None, 6))
    before = _weights([model.encoder, model.projector])
    predictor = _weights([model.predictor])
    x_a, x_b = (rng.normal(size=(16, 6)).astype("float32") for _ in range(2))
    _step(model, x_a, x_b)
    online = _weights([model.encoder, model.projector])
    assert any(not np.allclose(b, o) for b, o in zip(before, online))
    assert any(not np.allclose(b, o) for b, o in zip(predictor, _weights([model.predictor])))  # trained
    for t, b, o in zip(_weights(model.teacher.targets), before, online):
        np.testing.assert_allclose(t, 0.9 * b + 0.1 * o, rtol=1e-5, atol=1e-7)
    # the teacher's variables are not the optimizer's; the predictor's are
    trained = {id(v) for v in model.trainable_variables}
    assert not any(id(v) in trained for v in model.teacher.trainable_variables)
    assert all(id(v) in trained for v in model.predictor.trainable_variables)


# ------------------------------------------------------------------ save / load, resume
def test_keras_round_trip_restores_teacher_and_queues(tmp_path, digits_data, rng):
    for model in (MoCoV2(mlp_encoder((8, 8, 1), "32"), projector="64-64"),  # the default queue: 32768 rows
                  MoCoV3(mlp_encoder((8, 8, 1), "32"), projector="32-16", predictor_hidden=32, total_steps=50)):
        model.build((None, 8, 8, 1))
        # a state no fresh model has: the teacher moved away from the student, keys pushed into the queues
        for w in model.teacher.trainable_weights:
            w.assign(numpy(w) + rng.normal(size=w.shape).astype("float32"))
        if isinstance(model, MoCoV2):
            for queue in (model.queue_a, model.queue_b):
                queue.push(rng.normal(size=(200, 64)).astype("float32"))
        path = tmp_path / f"{type(model).__name__}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model)
        assert len(loaded.weights) == len(model.weights)
        for a, b in zip(model.weights, loaded.weights):
            assert a.name == b.name
            np.testing.assert_array_equal(numpy(a), numpy(b))
        x = digits_data.x_test[:16]
        np.testing.assert_array_equal(numpy(model.teacher(x)), numpy(loaded.teacher(x)))
        assert not np.allclose(numpy(loaded.teacher(x)), numpy(loaded.embed(x)))
        config, again = model.get_config(), loaded.get_config()
        for key in ("temperature", "base_tau", "final_tau", "total_steps", "queue_size", "predictor_hidden"):
            assert config.get(key) == again.get(key), key
        if isinstance(model, MoCoV2):
            assert [(int(q.position), int(q.filled), q.size) for q in (loaded.queue_a, loaded.queue_b)] == [
                (200, 200, 32768)] * 2
        else:
            assert loaded.total_steps == 50 and isinstance(loaded.predictor, Predictor)


def test_mocov2_resumes_exactly(tmp_path):
    # 8 steps of 64 into a queue of 96: it wraps around, and the resumed run must hold the same queue
    assert_resumes_exactly(tmp_path, "mocov2", projector="32-16", method_options={"queue_size": 96})


@pytest.mark.slow
def test_mocov3_resumes_exactly(tmp_path):
    assert_resumes_exactly(tmp_path, "mocov3", projector="32-16", method_options={"predictor_hidden": 32})


# ------------------------------------------------------------------ the spectral reading
def test_spectral_reading_is_the_nt_xent_family_by_analogy():
    for name in ("mocov3", "mocov2"):
        simplex = baselines.resolve(name, "nonparametric")
        linear = baselines.resolve(name, "linear")
        assert simplex.status == linear.status == "analogy"
        assert (simplex.estimator, linear.estimator) == (baselines.resolve("simclr", "nonparametric").estimator,
                                                         baselines.resolve("simclr", "linear").estimator)
        simplex_case = baselines.BASELINES[name].cases("nonparametric")[0]
        assert (simplex_case.estimator, simplex_case.status) == ("SimplexEmbedding", "analogy")
        assert "NT-Xent" in simplex_case.citation  # SimCLR's clique optimum, not established with a queue / teacher


# ------------------------------------------------------------------ digits: no collapse
@pytest.mark.slow
def test_digits_run_does_not_collapse(digits_data):
    raw = linear_probe(digits_data.x_train.reshape(len(digits_data.x_train), -1), digits_data.y_train,
                       digits_data.x_test.reshape(len(digits_data.x_test), -1), digits_data.y_test)
    results = {}
    for name, cls, options in (("mocov3", MoCoV3, {"predictor_hidden": 128, "temperature": 0.2}),
                               ("mocov2", MoCoV2, {"queue_size": 1024, "temperature": 0.2})):
        keras.utils.set_random_seed(0)
        model = cls(mlp_encoder((8, 8, 1), "128-64"), projector="128-32", total_steps=60, **options)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0)
        model.fit(pairs, epochs=6, verbose=0, shuffle=False)
        h_train, h_test = model.encode(digits_data.x_train), model.encode(digits_data.x_test)
        rank = float(rankme(h_test))
        accuracy = linear_probe(h_train, digits_data.y_train, h_test, digits_data.y_test)
        results[name] = (rank, accuracy)
        assert rank > 10, (name, rank)  # of 64 dimensions; a collapsed encoder gives ≈ 1
        assert accuracy > 0.85, (name, accuracy, raw)  # chance 0.1
    print({"raw_pixels": raw, **results})
