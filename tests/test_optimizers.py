"""LARS, the warm-up + cosine schedule, the linear scaling rule and optimisers by name."""

import copy
import math

import keras
import numpy as np
import pytest

from kspectral.optimizers import LARS, OPTIMIZERS, WarmupCosine, build_optimizer, scaled_learning_rate


def _lars_reference(w, g, m, *, lr, momentum, wd, eta, decay_and_adapt):
    """The official VICReg LARS step for one parameter, in numpy."""
    if decay_and_adapt:
        g = g + wd * w
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
        g = g * (eta * w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0)
    m = momentum * m + g
    return w - lr * m, m


def test_lars_matches_hand_computed_two_steps():
    W = keras.Variable(np.array([[3.0, 0.0], [0.0, 4.0]]), dtype="float64", name="kernel")
    b = keras.Variable(np.array([1.0, -1.0]), dtype="float64", name="bias")
    opt = LARS(learning_rate=0.1, momentum=0.9, weight_decay=0.1, trust_coefficient=0.03)
    tol = 1e-9  # Keras holds the learning rate in float32: 0.1 is stored as 0.1 + 1.5e-9

    # Step 1 by hand. Kernel: g = gW + 0.1 W = [[0, 0], [0, 3]], ‖W‖ = 5, ‖g‖ = 3, q = 0.03·5/3 = 0.05,
    # m = q g = [[0, 0], [0, 0.15]], W ← W − 0.1 m = [[3, 0], [0, 3.985]].
    # Bias (1-D: no decay, no trust ratio): m = g = [0.5, 0.5], b ← b − 0.1 m = [0.95, −1.05].
    gW1 = np.array([[-0.3, 0.0], [0.0, 2.6]])
    gb1 = np.array([0.5, 0.5])
    opt.apply([gW1, gb1], [W, b])
    np.testing.assert_allclose(W.numpy(), [[3.0, 0.0], [0.0, 3.985]], atol=tol)
    np.testing.assert_allclose(b.numpy(), [0.95, -1.05], atol=tol)

    # Step 2 against the numpy reference, from the hand-computed state.
    gW2 = np.array([[1.0, 0.0], [0.0, 0.0]])
    gb2 = np.array([-1.0, 0.25])
    hyper = dict(lr=0.1, momentum=0.9, wd=0.1, eta=0.03)
    W1, mW1 = np.array([[3.0, 0.0], [0.0, 3.985]]), np.array([[0.0, 0.0], [0.0, 0.15]])
    W_ref, _ = _lars_reference(W1, gW2, mW1, decay_and_adapt=True, **hyper)
    b_ref, _ = _lars_reference(np.array([0.95, -1.05]), gb2, np.array([0.5, 0.5]), decay_and_adapt=False, **hyper)
    opt.apply([gW2, gb2], [W, b])
    np.testing.assert_allclose(W.numpy(), W_ref, atol=tol)
    np.testing.assert_allclose(b.numpy(), b_ref, atol=tol)
    # The bias moved by plain momentum SGD: b − 0.1 (0.9·[0.5, 0.5] + [−1, 0.25]).
    np.testing.assert_allclose(b.numpy(), [0.95 - 0.1 * (0.45 - 1.0), -1.05 - 0.1 * (0.45 + 0.25)], atol=tol)
    # The kernel's step is q·(gW2 + 0.1·W) with ‖W‖ = √(9 + 3.985²), plus momentum 0.9·0.15 on the (1, 1) entry.
    g = gW2 + 0.1 * W1
    q = 0.03 * math.sqrt(9 + 3.985**2) / np.linalg.norm(g)
    assert W.numpy()[0, 0] == pytest.approx(3.0 - 0.1 * q * 1.3, abs=tol)
    assert W.numpy()[1, 1] == pytest.approx(3.985 - 0.1 * (0.9 * 0.15 + q * 0.3985), abs=tol)


def test_lars_zero_weight_and_inclusion_options():
    # A zero 2-D weight has no trust ratio (q = 1): the step is plain momentum SGD with coupled decay.
    W = keras.Variable(np.zeros((2, 2)), dtype="float64")
    opt = LARS(learning_rate=0.5, momentum=0.9, weight_decay=0.1)
    opt.apply([np.full((2, 2), 2.0)], [W])
    np.testing.assert_allclose(W.numpy(), np.full((2, 2), -1.0))
    # exclude_bias_and_norm=False: a 1-D bias gets decay and the trust ratio like any other variable.
    b = keras.Variable(np.array([3.0, 4.0]), dtype="float64")
    opt = LARS(learning_rate=1.0, momentum=0.0, weight_decay=0.5, trust_coefficient=0.1, exclude_bias_and_norm=False)
    opt.apply([np.array([-1.5, -2.0])], [b])  # g + 0.5 b = 0: q falls back to 1, the step is 0
    np.testing.assert_allclose(b.numpy(), [3.0, 4.0])
    opt.apply([np.array([0.0, 1.0])], [b])  # g = [1.5, 3], ‖b‖ = 5, q = 0.1·5/‖g‖
    g = np.array([1.5, 3.0])
    np.testing.assert_allclose(b.numpy(), np.array([3.0, 4.0]) - 0.5 * g / np.linalg.norm(g))


def test_lars_exclusions_by_name():
    kernel = keras.Variable(np.ones((2, 2)), dtype="float64", name="kernel")
    other = keras.Variable(np.ones((2, 2)), dtype="float64", name="other")
    opt = LARS(learning_rate=1.0, momentum=0.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["kernel"])
    opt.exclude_from_adaptation(var_list=[kernel, other])
    opt.apply([np.zeros((2, 2)), np.zeros((2, 2))], [kernel, other])
    np.testing.assert_allclose(kernel.numpy(), np.ones((2, 2)))  # neither decayed nor adapted
    np.testing.assert_allclose(other.numpy(), np.full((2, 2), 0.5))  # decayed: 1 − 1·0.5·1
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_adaptation(var_names=["other"])


def test_lars_trains_a_small_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=LARS(learning_rate=0.1, trust_coefficient=0.02, weight_decay=1e-4), loss="mse")
    history = model.fit(x, y, batch_size=64, epochs=15, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.05 * history[0]


def test_lars_config_round_trip():
    schedule = WarmupCosine(0.6, total_steps=1000, warmup_steps=100, final_learning_rate=0.001)
    opt = LARS(schedule, momentum=0.8, weight_decay=1.5e-6, trust_coefficient=0.002, epsilon=1e-8,
               exclude_bias_and_norm=False, clipnorm=1.0)
    config = opt.get_config()
    assert config["weight_decay"] == 1.5e-6 and config["trust_coefficient"] == 0.002
    again = LARS.from_config(copy.deepcopy(config))  # Keras' from_config edits the dict it is given
    assert again.get_config() == config
    assert isinstance(again._learning_rate, WarmupCosine)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(restored, LARS) and restored.get_config() == config
    with pytest.raises(ValueError, match="momentum"):
        LARS(momentum=1.0)
    with pytest.raises(ValueError, match="trust_coefficient"):
        LARS(trust_coefficient=0.0)


def test_warmup_cosine_values():
    schedule = WarmupCosine(0.4, total_steps=110, warmup_steps=10, final_learning_rate=0.004)
    values = {t: float(schedule(t)) for t in (0, 5, 10, 60, 110, 500)}
    assert values[0] == 0.0
    assert values[5] == pytest.approx(0.2)  # halfway through the linear warm-up
    assert values[10] == pytest.approx(0.4)  # end of warm-up: the peak
    assert values[60] == pytest.approx((0.4 + 0.004) / 2)  # cosine midpoint
    assert values[110] == pytest.approx(0.004) and values[500] == pytest.approx(0.004)
    quarter = 0.004 + (0.4 - 0.004) * 0.5 * (1 + math.cos(math.pi / 4))
    assert float(schedule(35)) == pytest.approx(quarter)
    no_warmup = WarmupCosine(1.0, total_steps=4)
    assert float(no_warmup(0)) == pytest.approx(1.0) and float(no_warmup(2)) == pytest.approx(0.5)
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert restored.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="smaller than total_steps"):
        WarmupCosine(0.1, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="base_learning_rate"):
        WarmupCosine(0.0, total_steps=10)


def test_scaled_learning_rate():
    assert scaled_learning_rate(0.2, 2048) == pytest.approx(1.6)
    assert scaled_learning_rate(0.3, 128) == pytest.approx(0.15)
    assert scaled_learning_rate(1.0, 100, reference=50) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="batch_size"):
        scaled_learning_rate(0.3, 0)


def test_build_optimizer_by_name():
    assert OPTIMIZERS == ("lars", "sgd", "adamw", "lamb")
    lars = build_optimizer("lars", 0.3, weight_decay=1e-4, momentum=0.8, trust_coefficient=0.02)
    assert isinstance(lars, LARS) and lars.momentum == 0.8 and lars.trust_coefficient == 0.02
    assert lars.get_config()["weight_decay"] == 1e-4
    sgd = build_optimizer("SGD", 0.1, weight_decay=5e-4)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9 and sgd.weight_decay == 5e-4
    assert isinstance(build_optimizer("lamb", 1e-3, weight_decay=1e-2), keras.optimizers.Lamb)
    assert build_optimizer("sgd", 0.1).weight_decay is None
    with pytest.raises(ValueError, match="unknown optimizer 'adam'.*lars, sgd, adamw, lamb"):
        build_optimizer("adam", 0.1)


@pytest.mark.parametrize("name", ["sgd", "adamw", "lamb"])
def test_build_optimizer_excludes_bias_and_norm_from_decay(name):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones"), keras.layers.BatchNormalization()]
    )
    opt = build_optimizer(name, 0.1, weight_decay=0.5)
    before = [v.numpy().copy() for v in model.trainable_variables]
    opt.apply([np.zeros(v.shape, "float32") for v in model.trainable_variables], model.trainable_variables)
    kernel, bias, gamma, beta = (v.numpy() for v in model.trainable_variables)
    np.testing.assert_allclose(kernel, before[0] * (1 - 0.1 * 0.5), rtol=1e-6)  # zero gradients: decoupled decay only
    np.testing.assert_array_equal(bias, before[1])
    np.testing.assert_array_equal(gamma, before[2])
    np.testing.assert_array_equal(beta, before[3])


@pytest.mark.slow
def test_lars_with_warmup_cosine_fits_a_small_resnet():
    from kspectral.encoders import build_encoder

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 4, size=32)
    keras.utils.set_random_seed(0)
    encoder = build_encoder("resnet18", (16, 16, 3), widths="8-16-32-64", zero_init_residual=True)
    model = keras.Sequential([encoder, keras.layers.Dense(4)])
    schedule = WarmupCosine(scaled_learning_rate(2.0, 16), total_steps=40, warmup_steps=4)
    model.compile(
        optimizer=build_optimizer("lars", schedule, weight_decay=1e-5, trust_coefficient=0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.1 * history[0]  # random labels: memorised


# ---------------------------------------------------------------- solo-learn's LARS and schedule


def _solo_lars_reference(w, g, m, *, lr, momentum, wd, eta, eps, clip, adapted):
    """solo-learn's LARS step (solo/utils/lars.py) for one parameter, in numpy; ``m`` is None before the first step."""
    if adapted:
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
        if w_norm != 0 and g_norm != 0:
            ratio = eta * w_norm / (g_norm + w_norm * wd + eps)
            if clip:
                ratio = min(ratio / lr, 1.0)
            g = ratio * (g + wd * w)
    m = g.copy() if m is None else momentum * m + g
    return w - lr * m, m


def test_solo_learn_lars_matches_hand_computed_step():
    W = keras.Variable(np.array([[3.0, 0.0], [0.0, 4.0]]), dtype="float64", name="kernel")
    b = keras.Variable(np.array([1.0, -1.0]), dtype="float64", name="bias")
    gW, gb = np.array([[0.0, 0.0], [0.0, 2.0]]), np.array([0.5, 0.5])
    # ‖W‖ = 5, ‖g‖ = 2, λ = 0.1: q = 0.02·5 / (2 + 0.5 + 1e-8) = 0.04; clipped: min(0.04 / 0.1, 1) = 0.4;
    # g ← 0.4·(g + 0.1 W) = [[0.12, 0], [0, 0.96]]; W ← W − 0.1·g = [[2.988, 0], [0, 3.904]]: a step of q·(g + λW),
    # whatever the learning rate. The bias (1-D) takes the plain step b − 0.1·g, without decay.
    opt = LARS(0.1, momentum=0.9, weight_decay=0.1, trust_coefficient=0.02, rule="solo_learn", clip_lr=True)
    opt.apply([gW, gb], [W, b])
    np.testing.assert_allclose(W.numpy(), [[2.988, 0.0], [0.0, 3.904]], atol=1e-8)
    np.testing.assert_allclose(b.numpy(), [0.95, -1.05], atol=1e-8)
    # Without the clip the ratio multiplies the learning rate: W ← W − 0.1·0.04·(g + 0.1 W).
    W2 = keras.Variable(np.array([[3.0, 0.0], [0.0, 4.0]]), dtype="float64", name="kernel")
    LARS(0.1, momentum=0.9, weight_decay=0.1, trust_coefficient=0.02, rule="solo_learn").apply([gW], [W2])
    np.testing.assert_allclose(W2.numpy(), [[2.9988, 0.0], [0.0, 3.9904]], atol=1e-8)
    # The official rule's ratio is η‖W‖/‖g + λW‖ = 0.02·5/‖[[0.3, 0], [0, 2.4]]‖ (not ‖g‖ + λ‖W‖).
    W3 = keras.Variable(np.array([[3.0, 0.0], [0.0, 4.0]]), dtype="float64", name="kernel")
    LARS(0.1, momentum=0.9, weight_decay=0.1, trust_coefficient=0.02).apply([gW], [W3])
    q = 0.02 * 5 / math.hypot(0.3, 2.4)
    np.testing.assert_allclose(W3.numpy(), np.array([[3.0, 0.0], [0.0, 4.0]]) - 0.1 * q * np.array([[0.3, 0], [0, 2.4]]),
                               atol=1e-8)


@pytest.mark.parametrize("clip", [True, False])
def test_solo_learn_lars_matches_the_reference_over_a_schedule(clip):
    rng = np.random.default_rng(3)
    schedule = WarmupCosine(0.3, total_steps=12, warmup_steps=4, warmup_start=3e-5, warmup_law="pl_bolts")
    opt = LARS(schedule, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.02, rule="solo_learn", clip_lr=clip)
    values = [rng.normal(size=(4, 3)), rng.normal(size=(3,)), np.zeros((2, 2))]
    variables = [keras.Variable(v, dtype="float64") for v in values]
    state = [(v.copy(), None) for v in values]
    for step in range(12):
        grads = [rng.normal(size=v.shape) for v in values]
        lr = float(schedule(step))
        state = [_solo_lars_reference(w, g, m, lr=lr, momentum=0.9, wd=1e-4, eta=0.02, eps=1e-8, clip=clip,
                                      adapted=w.ndim > 1) for (w, m), g in zip(state, grads)]
        opt.apply(grads, variables)
    for variable, (w, _) in zip(variables, state):
        np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5, atol=1e-8)  # the rate is held in float32


def test_lars_rule_options_round_trip_and_errors():
    opt = LARS(0.1, rule="solo_learn", clip_lr=True, trust_coefficient=0.02)
    config = opt.get_config()
    assert (config["rule"], config["clip_lr"], config["epsilon"]) == ("solo_learn", True, 1e-8)
    assert LARS.from_config(config).get_config() == config
    assert LARS(0.1).get_config()["rule"] == "official" and LARS(0.1).epsilon == 0.0
    with pytest.raises(ValueError, match="unknown LARS rule"):
        LARS(0.1, rule="bolts")
    with pytest.raises(TypeError, match="clip_lr"):
        LARS(0.1, clip_lr="yes")
    built = build_optimizer("lars", 0.3, weight_decay=1e-4, rule="solo_learn", clip_lr=True)
    assert (built.rule, built.clip_lr) == ("solo_learn", True)


def test_warmup_cosine_start_and_pl_bolts_law():
    # pl_bolts' LinearWarmupCosineAnnealingLR (solo-learn): lr(t) = 3e-5 + t·(0.3 − 3e-5)/(W − 1) for t < W = 10,
    # the peak at t = 9 and 10, then 0.3·½(1 + cos(π (t − 10)/90)).
    schedule = WarmupCosine(0.3, total_steps=100, warmup_steps=10, warmup_start=3e-5, warmup_law="pl_bolts")
    expected = {0: 3e-5, 1: 3e-5 + 0.29997 / 9, 5: 3e-5 + 5 * 0.29997 / 9, 9: 0.3, 10: 0.3,
                55: 0.3 * 0.5 * (1 + math.cos(math.pi * 45 / 90)), 100: 0.0, 150: 0.0}
    for t, value in expected.items():
        assert float(schedule(t)) == pytest.approx(value, rel=1e-5, abs=1e-9), t
    # the Keras law from a start rate: lr(t) = 3e-5 + t·(0.3 − 3e-5)/10
    keras_law = WarmupCosine(0.3, total_steps=100, warmup_steps=10, warmup_start=3e-5)
    assert float(keras_law(5)) == pytest.approx(3e-5 + 0.5 * 0.29997, rel=1e-6)
    assert float(keras_law(10)) == pytest.approx(0.3, rel=1e-6)
    restored = WarmupCosine.from_config(schedule.get_config())
    assert [float(restored(t)) for t in (0, 5, 42)] == [float(schedule(t)) for t in (0, 5, 42)]
    with pytest.raises(ValueError, match="warmup_law"):
        WarmupCosine(0.3, 100, 10, warmup_law="torch")
