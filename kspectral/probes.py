"""Probes: how well frozen representations predict labels, measured on a held-out split.

- :func:`linear_probe`: a multinomial logistic regression on standardised features: scikit-learn's L-BFGS solver for
  small data, a Keras linear classifier trained by minibatch SGD for large data (the same objective).
- :func:`mlp_probe`: Dubois et al. 2022's MLP probe (arXiv:2209.06235; 2 hidden layers of 2048 with BatchNorm and
  ReLU), trained with Keras.
- :func:`knn_probe`: weighted cosine k-nearest-neighbour vote (Wu et al. 2018; the "instdisc" and "dino"
  presets of ``anchors.md`` §3.4).

All return the top-1 accuracy on the test split, a float in ``[0, 1]``. The Keras probes are deterministic given
``seed`` (seeded initialisers and shuffling; they do not touch Keras' global seed).
"""

from __future__ import annotations

import numpy as np

from kspectral import catalog
from kspectral._validation import check_labels, check_matrix, check_number, check_positive_int
from kspectral.errors import InputError

#: ``linear_probe(backend="auto")`` trains the Keras classifier when the training features have more entries than
#: this (``N·D``; CIFAR-10's 50 000 ResNet-18 representations have 25.6 M), scikit-learn's L-BFGS below it
KERAS_PROBE_SIZE = 10_000_000
#: the backends of :func:`linear_probe`
LINEAR_BACKENDS = ("auto", "sklearn", "keras")

#: kNN presets, name → (k, temperature): :data:`kspectral.catalog.KNN_PRESETS`
KNN_PRESETS = catalog.KNN_PRESETS


def _check_split(train_features, train_labels, test_features, test_labels):
    xtr = check_matrix(train_features, "train_features", min_rows=2)
    xte = check_matrix(test_features, "test_features")
    if xtr.shape[1] != xte.shape[1]:
        raise InputError(
            f"train_features have {xtr.shape[1]} dimensions but test_features have {xte.shape[1]}; they must match"
        )
    ytr = check_labels(train_labels, "train_labels", n=xtr.shape[0])
    yte = check_labels(test_labels, "test_labels", n=xte.shape[0])
    if np.unique(ytr).size < 2:
        raise InputError("train_labels hold a single class; a probe needs at least two")
    return xtr, ytr, xte, yte


def _standardise(xtr, xte):
    mean = xtr.mean(axis=0)
    std = xtr.std(axis=0)
    std[std == 0] = 1.0
    return ((xtr - mean) / std).astype(np.float32), ((xte - mean) / std).astype(np.float32)


def _keras_classifier(xtr, ytr, xte, *, hidden, layers, epochs, batch_size, learning_rate, l2, seed, callbacks=()):
    """Train a softmax classifier (linear, or an MLP of ``layers`` hidden layers) with Keras; test predictions.

    Inputs standardised with the training statistics; SGD with momentum 0.9 and a cosine learning-rate decay to 0
    (no warm-up); an L2 penalty ``l2·‖W‖²`` on the weight matrices; seeded initialisers and shuffling;
    ``callbacks`` go to ``fit`` (a progress display).
    """
    import keras
    import tensorflow as tf

    classes, ytr_idx = np.unique(ytr, return_inverse=True)
    xtr, xte = _standardise(xtr, xte)
    n, d = xtr.shape
    batch_size = min(batch_size, n)
    drop = n % batch_size == 1  # a last batch of one sample has no batch statistics
    steps = (n // batch_size if drop else -(-n // batch_size)) * epochs
    regulariser = keras.regularizers.L2(l2) if l2 > 0 else None
    model = keras.Sequential([keras.Input((d,), dtype="float32")])
    for i in range(layers):
        model.add(keras.layers.Dense(hidden, use_bias=False, kernel_regularizer=regulariser, dtype="float32",
                                     kernel_initializer=keras.initializers.HeNormal(seed=seed + i)))
        model.add(keras.layers.BatchNormalization(dtype="float32"))
        model.add(keras.layers.ReLU(dtype="float32"))
    init = keras.initializers.Zeros() if layers == 0 else keras.initializers.GlorotUniform(seed=seed + layers)
    model.add(keras.layers.Dense(len(classes), kernel_initializer=init, kernel_regularizer=regulariser,
                                 dtype="float32"))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = (tf.data.Dataset.from_tensor_slices((xtr, ytr_idx.astype(np.int32)))
            .shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=drop))
    model.fit(data, epochs=epochs, verbose=0, shuffle=False, callbacks=list(callbacks))
    # Called directly rather than through predict(), whose tf.function every new probe would retrace.
    logits = np.concatenate([keras.ops.convert_to_numpy(model(xte[i : i + 4096], training=False))
                             for i in range(0, xte.shape[0], 4096)])
    return classes[np.argmax(logits, axis=1)]


def _check_training(epochs, batch_size, learning_rate, seed):
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    learning_rate = check_number(learning_rate, "learning_rate", minimum=0.0, strict=True)
    seed = check_positive_int(seed, "seed", minimum=0)
    return epochs, batch_size, learning_rate, seed


def linear_probe(train_features, train_labels, test_features, test_labels, *, C=1.0, max_iter=2000,
                 backend="auto", epochs=100, batch_size=512, learning_rate=0.1, seed=0):
    """Top-1 test accuracy of a multinomial logistic regression on standardised features.

    Features are standardised with the training split's mean and std, then the L2-regularised multinomial
    logistic regression ``min_W Σ_i CE(W x_i + b, y_i) + ‖W‖² / (2C)`` is fitted on the training split by one of:

    - ``"sklearn"``: scikit-learn ``LogisticRegression(C=C)`` (L-BFGS, ``max_iter`` iterations): exact, for small
      data;
    - ``"keras"``: a Keras ``Dense`` classifier (zero-initialised) trained on the same objective, written per sample
      (L2 weight ``1/(2CN)``), by minibatch SGD (momentum 0.9, ``learning_rate`` with a cosine decay to 0,
      ``epochs`` passes of ``batch_size``, as the ISSL and VICReg offline probes train: ``anchors.md`` /
      ``objectives.md`` B6); for data that L-BFGS on the whole matrix handles slowly;
    - ``"auto"``: ``"keras"`` when the training features have more than :data:`KERAS_PROBE_SIZE` entries
      (``N·D``), ``"sklearn"`` otherwise.

    Args:
        train_features, test_features: ``(n, d)`` representations.
        train_labels, test_labels: ``(n,)`` class labels.
        C: inverse L2 regularisation strength.
        max_iter: L-BFGS iterations (``"sklearn"``).
        backend: ``"auto"``, ``"sklearn"`` or ``"keras"``.
        epochs, batch_size, learning_rate: SGD schedule (``"keras"``).
        seed: shuffling seed (``"keras"``).

    Returns:
        Test accuracy in ``[0, 1]``.

    Example:
        >>> from kspectral.data import digits
        >>> ds = digits()
        >>> acc = linear_probe(ds.flat("train"), ds.y_train, ds.flat("test"), ds.y_test)
        >>> acc > 0.9
        True
    """
    if backend not in LINEAR_BACKENDS:
        raise InputError(f"unknown linear probe backend {backend!r}; choose one of: {', '.join(LINEAR_BACKENDS)}")
    xtr, ytr, xte, yte = _check_split(train_features, train_labels, test_features, test_labels)
    C = check_number(C, "C", minimum=0.0, strict=True)
    if backend == "auto":
        backend = "keras" if xtr.size > KERAS_PROBE_SIZE else "sklearn"
    if backend == "keras":
        epochs, batch_size, learning_rate, seed = _check_training(epochs, batch_size, learning_rate, seed)
        pred = _keras_classifier(xtr, ytr, xte, hidden=0, layers=0, epochs=epochs, batch_size=batch_size,
                                 learning_rate=learning_rate, l2=1.0 / (2.0 * C * xtr.shape[0]), seed=seed)
        return float(np.mean(pred == yte))
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    clf.fit(xtr, ytr)
    return float(np.mean(clf.predict(xte) == yte))


def mlp_probe(train_features, train_labels, test_features, test_labels, hidden=2048, layers=2, epochs=100, seed=0,
              *, batch_size=512, learning_rate=0.3, weight_decay=1e-5, callbacks=()):
    """Top-1 test accuracy of an MLP probe on standardised frozen features (Dubois et al. 2022's MLP probe).

    The MLP probe of Dubois, Hashimoto, Ermon & Liang 2022, "Improving Self-Supervised Learning by Characterizing
    Idealized Representations" (NeurIPS, arXiv:2209.06235), as their code trains it (``objectives.md`` B6, ISSL
    ``torch_mlp``): ``layers`` hidden layers of ``hidden`` units, each ``Linear → BatchNorm → ReLU``, then a linear
    softmax layer; SGD with momentum 0.9, learning rate 0.3 with a cosine decay to 0 and no warm-up, 100 epochs,
    batch 512. Their weight decay is the best of {1e-4, 1e-5, 1e-6} **on the test set**; this probe takes one value
    (default 1e-5, the middle of their grid) and selects nothing on the test split. The weight decay is an L2
    penalty ``(weight_decay/2)·‖W‖²`` on the weight matrices (PyTorch's coupled weight decay). Inputs are
    standardised with the training split's mean and std.

    Cost: a batch of 512 costs about ``6·512·(d·hidden + hidden² + hidden·C)`` flops, 13 GFLOP for ``d = 256`` and
    2048 units, so the time grows with the training split and the width: three rows of 4 000 training features
    took 5 min 31 s on 2 CPU cores. A narrower MLP is much cheaper: ``hidden=512`` ran in 10 s where 2048 took
    76–109 s (1 000 patches of scikit-learn's sample photos, digits' pixels; 2 CPU cores) for the same top-1 within
    0.015 (0.965 / 0.95 against 0.95 / 0.97 on the patches, 0.972 / 0.972 against 0.961 / 0.969 on digits, seeds 0
    / 1). Stopping early does not cut the cost at equal accuracy: the held-out top-1 levels off while the learning
    rate is high, long before the cosine decay brings the gain (20 / 40 / 100 epochs gave 0.71 / 0.89 / 0.96 on the
    patches; early stopping on 10 % held-out rows with a patience of 20 epochs lost 0.01 to 0.13 there, nothing on
    digits).

    Args:
        train_features, test_features: ``(n, d)`` representations.
        train_labels, test_labels: ``(n,)`` class labels.
        hidden: units per hidden layer.
        layers: hidden layers (``0`` gives a linear probe trained the same way).
        epochs: passes over the training split.
        seed: seed of the initialisers and the shuffling (the same seed gives the same accuracy).
        batch_size: training batch size.
        learning_rate: peak SGD learning rate.
        weight_decay: L2 weight decay.
        callbacks: Keras callbacks of the training ``fit`` (a progress display: ``params["epochs"]`` is ``epochs``).

    Returns:
        Test accuracy in ``[0, 1]``.

    Example:
        >>> from kspectral.data import digits
        >>> ds = digits()
        >>> acc = mlp_probe(ds.flat("train"), ds.y_train, ds.flat("test"), ds.y_test, hidden=128, epochs=30)
        >>> acc > 0.9
        True
    """
    xtr, ytr, xte, yte = _check_split(train_features, train_labels, test_features, test_labels)
    hidden = check_positive_int(hidden, "hidden")
    layers = check_positive_int(layers, "layers", minimum=0)
    epochs, batch_size, learning_rate, seed = _check_training(epochs, batch_size, learning_rate, seed)
    weight_decay = check_number(weight_decay, "weight_decay", minimum=0.0)
    pred = _keras_classifier(xtr, ytr, xte, hidden=hidden, layers=layers, epochs=epochs, batch_size=batch_size,
                             learning_rate=learning_rate, l2=weight_decay / 2.0, seed=seed, callbacks=callbacks)
    return float(np.mean(pred == yte))


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
        raise InputError(f"unknown kNN preset {preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
    k_default, t_default = KNN_PRESETS[preset]
    k = check_positive_int(k_default if k is None else k, "k")
    temperature = t_default if temperature is None else float(temperature)
    if temperature <= 0:
        raise InputError(f"temperature must be positive, got {temperature}")
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
