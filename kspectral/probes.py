"""Probes: how well frozen representations predict labels, measured on a held-out split.

- :func:`linear_probe`: scikit-learn logistic regression on standardised features.
- :func:`knn_probe`: weighted cosine k-nearest-neighbour vote (Wu et al. 2018; the "instdisc" and "dino"
  presets of ``anchors.md`` §3.4).

Both return the top-1 accuracy on the test split, a float in ``[0, 1]``.
"""

from __future__ import annotations

import numpy as np

from kspectral._validation import check_labels, check_matrix, check_positive_int

KNN_PRESETS = {"dino": (20, 0.07), "instdisc": (200, 0.1)}


def _check_split(train_features, train_labels, test_features, test_labels):
    xtr = check_matrix(train_features, "train_features", min_rows=2)
    xte = check_matrix(test_features, "test_features")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"train_features have {xtr.shape[1]} dimensions but test_features have {xte.shape[1]}; they must match"
        )
    ytr = check_labels(train_labels, "train_labels", n=xtr.shape[0])
    yte = check_labels(test_labels, "test_labels", n=xte.shape[0])
    if np.unique(ytr).size < 2:
        raise ValueError("train_labels hold a single class; a probe needs at least two")
    return xtr, ytr, xte, yte


def linear_probe(train_features, train_labels, test_features, test_labels, *, C=1.0, max_iter=2000):
    """Top-1 test accuracy of a multinomial logistic regression on standardised features.

    Features are standardised with the training split's mean and std (scikit-learn ``StandardScaler``),
    then ``LogisticRegression(C=C)`` (L-BFGS) is fitted on the training split.

    Args:
        train_features, test_features: ``(n, d)`` representations.
        train_labels, test_labels: ``(n,)`` class labels.
        C: inverse L2 regularisation strength.
        max_iter: L-BFGS iterations.

    Returns:
        Test accuracy in ``[0, 1]``.

    Example:
        >>> from kspectral.data import digits
        >>> ds = digits()
        >>> acc = linear_probe(ds.flat("train"), ds.y_train, ds.flat("test"), ds.y_test)
        >>> acc > 0.9
        True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr, xte, yte = _check_split(train_features, train_labels, test_features, test_labels)
    if C <= 0:
        raise ValueError(f"C must be positive, got {C}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    clf.fit(xtr, ytr)
    return float(np.mean(clf.predict(xte) == yte))


def knn_probe(train_features, train_labels, test_features, test_labels, *, preset="dino", k=None,
              temperature=None, batch_size=1024):
    """Top-1 test accuracy of a temperature-weighted cosine kNN vote.

    Each test sample takes its ``k`` most cosine-similar training samples; neighbour ``j`` votes for its class
    with weight ``exp(s_j / T)``; the class with the largest total wins.

    Args:
        train_features, test_features: ``(n, d)`` representations.
        train_labels, test_labels: ``(n,)`` class labels.
        preset: ``"dino"`` (k=20, T=0.07) or ``"instdisc"`` (k=200, T=0.1); ``k``/``temperature`` override it.
        k: neighbours (capped at the training-set size).
        temperature: T.
        batch_size: test samples per similarity block (memory ``batch_size × n_train``).

    Returns:
        Test accuracy in ``[0, 1]``.
    """
    if preset not in KNN_PRESETS:
        raise ValueError(f"unknown kNN preset {preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
    k_default, t_default = KNN_PRESETS[preset]
    k = check_positive_int(k_default if k is None else k, "k")
    temperature = t_default if temperature is None else float(temperature)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    xtr, ytr, xte, yte = _check_split(train_features, train_labels, test_features, test_labels)
    classes, ytr_idx = np.unique(ytr, return_inverse=True)
    k = min(k, xtr.shape[0])

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    xtr, xte = unit(xtr), unit(xte)
    correct = 0
    for start in range(0, xte.shape[0], batch_size):
        sim = xte[start : start + batch_size] @ xtr.T
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(sim, top, axis=1)
        weights = np.exp((top_sim - top_sim.max(axis=1, keepdims=True)) / temperature)
        votes = np.zeros((sim.shape[0], classes.size))
        np.add.at(votes, (np.arange(sim.shape[0])[:, None], ytr_idx[top]), weights)
        pred = classes[np.argmax(votes, axis=1)]
        correct += int(np.sum(pred == yte[start : start + batch_size]))
    return correct / xte.shape[0]
