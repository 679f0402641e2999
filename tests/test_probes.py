"""Linear and kNN probes: agreement with scikit-learn / brute force, presets, errors."""

import numpy as np
import pytest

from kspectral.probes import KNN_PRESETS, knn_probe, linear_probe


def brute_force_knn(xtr, ytr, xte, k, t):
    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    sim = unit(xte) @ unit(xtr).T
    preds = []
    for row in sim:
        top = np.argsort(-row)[:k]
        votes = {}
        for j in top:
            votes[ytr[j]] = votes.get(ytr[j], 0.0) + np.exp(row[j] / t)
        preds.append(max(votes, key=votes.get))
    return np.array(preds)


def test_knn_probe_matches_brute_force(rng):
    xtr = rng.normal(size=(200, 8))
    ytr = rng.integers(0, 4, size=200)
    xtr += np.eye(4, 8)[ytr] * 1.5
    xte = rng.normal(size=(50, 8))
    yte = rng.integers(0, 4, size=50)
    xte += np.eye(4, 8)[yte] * 1.5
    for preset, (k, t) in KNN_PRESETS.items():
        expected = np.mean(brute_force_knn(xtr, ytr, xte, min(k, 200), t) == yte)
        assert knn_probe(xtr, ytr, xte, yte, preset=preset, batch_size=7) == pytest.approx(expected)
    assert 0.5 < knn_probe(xtr, ytr, xte, yte) <= 1.0


def test_knn_probe_override_and_string_labels(rng):
    xtr = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    ytr = np.array(["a", "a", "b", "b"])
    assert knn_probe(xtr, ytr, np.array([[1.0, 0.05]]), np.array(["a"]), k=1) == 1.0
    assert knn_probe(xtr, ytr, np.array([[0.05, 1.0]]), np.array(["a"]), k=3, temperature=0.5) == 0.0


def test_linear_probe_matches_sklearn(digits_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    xtr, xte = digits_data.flat("train"), digits_data.flat("test")
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(xtr), digits_data.y_train)
    expected = clf.score(scaler.transform(xte), digits_data.y_test)
    got = linear_probe(xtr, digits_data.y_train, xte, digits_data.y_test)
    assert got == pytest.approx(expected)
    assert got > 0.93


def test_probe_errors(rng):
    x = rng.normal(size=(10, 3))
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="must match"):
        linear_probe(x, y, rng.normal(size=(4, 2)), y[:4])
    with pytest.raises(ValueError, match="labels but there are"):
        knn_probe(x, y[:5], x, y)
    with pytest.raises(ValueError, match="single class"):
        linear_probe(x, np.zeros(10), x, y)
    with pytest.raises(ValueError, match="unknown kNN preset"):
        knn_probe(x, y, x, y, preset="nearest")
    with pytest.raises(ValueError, match="NaN"):
        knn_probe(np.full((10, 3), np.nan), y, x, y)
    with pytest.raises(ValueError, match="temperature"):
        knn_probe(x, y, x, y, temperature=0)
