"""The Keras probes: the linear classifier for large data and Dubois et al.'s MLP probe."""

import numpy as np
import pytest

import kspectral.probes as probes
from kspectral.probes import linear_probe, mlp_probe


def xor_data(rng, n):
    x = rng.uniform(-1, 1, size=(n, 2))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)


def test_keras_linear_probe_agrees_with_sklearn(digits_data, monkeypatch):
    xtr, xte = digits_data.flat("train"), digits_data.flat("test")
    ytr, yte = digits_data.y_train, digits_data.y_test
    exact = linear_probe(xtr, ytr, xte, yte, backend="sklearn")
    keras_acc = linear_probe(xtr, ytr, xte, yte, backend="keras", epochs=30, batch_size=128)
    assert exact > 0.93 and abs(keras_acc - exact) <= 0.03
    assert linear_probe(xtr, ytr, xte, yte) == exact  # small data: "auto" is scikit-learn
    monkeypatch.setattr(probes, "KERAS_PROBE_SIZE", 100)
    assert linear_probe(xtr, ytr, xte, yte, epochs=30, batch_size=128) == keras_acc  # large data: Keras, seeded


def test_keras_linear_probe_string_labels_and_regularisation(rng):
    x = rng.normal(size=(200, 5))
    y = np.where(x[:, 0] + 0.3 * x[:, 1] > 0, "pos", "neg")
    assert linear_probe(x[:150], y[:150], x[150:], y[150:], backend="keras", epochs=20) > 0.9
    # C → 0 shrinks the weights to 0 (the bias is not penalised): every prediction is the training majority class
    heavy = linear_probe(x[:150], y[:150], x[150:], y[150:], backend="keras", C=1e-6, epochs=20)
    values, counts = np.unique(y[:150], return_counts=True)
    assert counts[0] != counts[1]
    assert heavy == pytest.approx(np.mean(y[150:] == values[np.argmax(counts)]))


def test_mlp_probe_on_digits_is_accurate_and_deterministic(digits_data):
    xtr, xte = digits_data.flat("train"), digits_data.flat("test")
    args = (xtr, digits_data.y_train, xte, digits_data.y_test)
    first = mlp_probe(*args, hidden=128, epochs=30)
    assert first > 0.9  # chance is 0.1
    assert mlp_probe(*args, hidden=128, epochs=30) == first
    assert mlp_probe(*args, hidden=128, epochs=30, layers=0) > 0.85  # a linear probe trained the same way


def test_mlp_probe_beats_the_linear_probe_on_xor(rng):
    xtr, ytr = xor_data(rng, 600)
    xte, yte = xor_data(rng, 300)
    linear = linear_probe(xtr, ytr, xte, yte)
    mlp = mlp_probe(xtr, ytr, xte, yte, hidden=64, epochs=50, batch_size=64)
    assert linear < 0.7 and mlp > 0.9


def test_keras_probe_errors(rng):
    x = rng.normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="unknown linear probe backend"):
        linear_probe(x, y, x, y, backend="torch")
    with pytest.raises(ValueError, match="C must be"):
        linear_probe(x, y, x, y, C=0)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        linear_probe(x, y, x, y, backend="keras", epochs=0)
    with pytest.raises(ValueError, match="learning_rate"):
        mlp_probe(x, y, x, y, learning_rate=-0.1)
    with pytest.raises(ValueError, match="hidden must be at least 1"):
        mlp_probe(x, y, x, y, hidden=0)
    with pytest.raises(ValueError, match="layers must be at least 0"):
        mlp_probe(x, y, x, y, layers=-1)
    with pytest.raises(ValueError, match="weight_decay"):
        mlp_probe(x, y, x, y, weight_decay=-1.0)
    with pytest.raises(ValueError, match="must match"):
        mlp_probe(x, y, rng.normal(size=(4, 2)), y[:4])
    with pytest.raises(ValueError, match="single class"):
        mlp_probe(x, np.zeros(20), x, y)
    with pytest.raises(TypeError, match="seed must be an integer"):
        mlp_probe(x, y, x, y, seed=0.5)
