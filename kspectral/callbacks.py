"""Keras callbacks for SSL training: probes of the representations at the end of each epoch.

:class:`OnlineProbeMonitor` measures, every ``every`` epochs, how well the current representations predict labels on
held-out images, the two numbers the field reports during pre-training (``anchors.md`` §3.4):

- ``online_linear_top1``: the top-1 accuracy of the model's online linear probe (the ``Dense(C)`` head that
  :class:`~kspectral.methods.SSLModel` trains at every step with ``online_probe_classes=C``) on the test images'
  representations, as solo-learn and Lightly report it (solo-learn's CIFAR table uses this number), encoded with
  the BatchNorm statistics of the training images (:func:`recalibrated_batchnorm`, below);
- ``online_knn_top1``: a kNN monitor, the weighted cosine kNN vote of :func:`kspectral.probes.knn_probe` (preset
  ``"dino"``, k = 20, T = 0.07, by default) from at most ``max_train`` training images to the test images, as
  Lightly's benchmarks and solo-learn's kNN callback do.

Why the BatchNorm statistics are re-estimated for the head: the head trains on representations computed in
training mode, each batch normalised by its own statistics, while ``model.encode`` normalises by the moving averages
of those statistics (Keras' momentum 0.99). After ``t`` BatchNorm updates the averages still hold ``0.99ᵗ`` of their
initial values (mean 0, variance 1): 67 % after 40 updates, 13 % after 200. A short run's inference-mode
representations are then shifted and scaled against those the head learnt on, and the head can score at chance
level on them (LFW's 200 faces / non-faces, conv encoder, 40 steps: every test image in one class, top-1 exactly
0.50, while the head's training top-1 was 0.85 and an offline linear probe of the same encoder 1.00; with the
statistics re-estimated, 0.75). The averages converge after a few hundred updates, and the re-estimate then changes
nothing; the model itself is never changed (its statistics are restored). The offline probes of
:mod:`kspectral.probes` fit their classifier on the inference-mode representations and need no such step.

Both go into the epoch's ``logs`` dict. Keras 3 calls the callbacks of ``fit(callbacks=[...])`` in list order with
one shared ``logs`` dict per epoch, and appends its ``History`` callback after them, so ``History`` (and ``fit()``'s
return value) always records the two values; a ``CSVLogger``, ``TensorBoard``, ``EarlyStopping`` or
``ModelCheckpoint`` records or monitors them only when placed **after** the monitor in the list.
"""

from __future__ import annotations

import contextlib
import math

import keras
import numpy as np
from keras import ops

from kspectral._validation import check_labels, check_positive_int
from kspectral.methods.batchnorm import batchnorm_layers
from kspectral.probes import KNN_PRESETS, knn_probe
from kspectral.errors import InputError

#: the keys :class:`OnlineProbeMonitor` writes into the epoch logs
MONITOR_KEYS = ("online_linear_top1", "online_knn_top1")


def _images(x, name):
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty batch of samples (N, ...), got shape {x.shape}")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise InputError(f"{name} contains NaN or infinite values")
    return x


def _class_labels(y, n, name, allow_unlabelled):
    y = check_labels(y, name, n=n)
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise TypeError(f"{name} must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    lowest = -1 if allow_unlabelled else 0
    if y.min() < lowest:
        what = "class indices ≥ 0, or −1 for unlabelled samples" if allow_unlabelled else "class indices ≥ 0"
        raise InputError(f"{name} must be {what}; got {int(y.min())}")
    return y


@contextlib.contextmanager
def recalibrated_batchnorm(encoder, x, batch_size=256):
    """Within the block, ``encoder``'s BatchNorm layers normalise with statistics re-estimated on images ``x``.

    The encoder runs in training mode over ``x`` in batches of ``batch_size`` with each BatchNorm's momentum set so
    that its moving mean and variance become the average of the batches' statistics ("precise BN", Wu & Johnson
    2021, arXiv:2105.07576, §3): the statistics a training step normalises with, without the bias toward their
    initial values (mean 0, variance 1) that the moving averages keep for ``0.99ᵗ`` of their weight after ``t``
    updates. On leaving the block every non-trainable variable of the encoder (moving statistics, random-seed
    states) and every momentum is restored: the model is left as it was, bit for bit. An encoder without BatchNorm
    is left untouched.

    Args:
        encoder: a Keras model or layer.
        x: un-augmented training images ``(N, ...)``, ``N ≥ 2``.
        batch_size: images per batch statistic (the last batch is dropped when it holds one image).

    Example:
        >>> with recalibrated_batchnorm(model.encoder, x_train[:1024]):      # doctest: +SKIP
        ...     features = model.encode(x_test)
    """
    layers = batchnorm_layers(encoder)
    if not layers:
        yield
        return
    x = _images(x, "x")
    if x.shape[0] < 2:
        raise InputError(f"re-estimating BatchNorm statistics needs at least 2 images, got {x.shape[0]}")
    saved = [(v, ops.convert_to_numpy(v.value).copy()) for v in encoder.non_trainable_variables]
    momenta = [layer.momentum for layer in layers]
    try:
        starts = [s for s in range(0, x.shape[0], batch_size) if x.shape[0] - s >= 2]
        for k, start in enumerate(starts):
            for layer in layers:  # the running average of the k + 1 batch statistics so far
                layer.momentum = k / (k + 1)
            encoder(ops.convert_to_tensor(x[start : start + batch_size]), training=True)
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        yield
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for variable, value in saved:
            variable.assign(value)


def online_probe_top1(model, x, y, batch_size=256, calibration=None):
    """Top-1 accuracy of ``model``'s online linear probe on images ``x`` with labels ``y``.

    The probe head sees ``model.encode(x)``, the representations in inference mode; with ``calibration`` images,
    encoded with BatchNorm statistics re-estimated on them (:func:`recalibrated_batchnorm`): the normalisation the
    head trained under.

    Args:
        model: an :class:`~kspectral.methods.SSLModel` built with ``online_probe_classes=C``.
        x: images ``(N, ...)``.
        y: class indices ``(N,)`` in ``[0, C)``.
        batch_size: images encoded at once.
        calibration: ``None``, or un-augmented training images ``(M, ...)`` to re-estimate the encoder's BatchNorm
            statistics on (the model is restored afterwards).

    Returns:
        Accuracy in ``[0, 1]``.

    Raises:
        ValueError: the model has no online probe.
    """
    head = getattr(model, "online_probe", None)
    if head is None:
        raise InputError("the model has no online probe; build it with online_probe_classes=C")
    x = _images(x, "x")
    y = _class_labels(y, x.shape[0], "y", allow_unlabelled=False)
    block = (contextlib.nullcontext() if calibration is None
             else recalibrated_batchnorm(model.encoder, calibration, batch_size=batch_size))
    with block:
        features = model.encode(x, batch_size=batch_size)
    return _head_top1(head, features, y)


def _head_top1(head, features, y):
    logits = ops.convert_to_numpy(head(ops.convert_to_tensor(features.astype(np.float32)), training=False))
    return float(np.mean(np.argmax(logits, axis=1) == y))


class OnlineProbeMonitor(keras.callbacks.Callback):
    """Write ``online_linear_top1`` and ``online_knn_top1`` into the epoch logs of an SSL model's ``fit()``.

    At the end of every ``every``-th epoch (and of the last one), the monitor encodes the test images (and at most
    ``max_train`` training images, a fixed random subset drawn once with ``seed``) with ``model.encode`` and writes:

    - ``online_linear_top1``: accuracy of the model's online probe head on the test representations (only when the
      model has one, ``online_probe_classes=C``), encoded with the encoder's BatchNorm statistics re-estimated on
      at most ``calibration`` images of the training subset, in a random order drawn with ``seed``
      (:func:`recalibrated_batchnorm`; the model is restored afterwards): the normalisation the head trained under;
    - ``online_knn_top1``: :func:`kspectral.probes.knn_probe` accuracy from the training subset to the test images.

    Epochs in between get ``NaN``, so that every epoch has the keys (a ``CSVLogger`` fixes its columns at the
    first epoch). Place the monitor **before** any callback that should see the values (``CSVLogger``,
    ``TensorBoard``, ``EarlyStopping(monitor="online_knn_top1", mode="max")``, ``ModelCheckpoint``): Keras calls
    the callbacks in list order with one shared logs dict, and ``History`` comes last.

    Args:
        x_train, y_train: labelled training images ``(N, ...)`` and class indices ``(N,)``, the kNN's memory bank
            (un-augmented; rows labelled ``−1`` are dropped).
        x_test, y_test: held-out images ``(M, ...)`` and class indices ``(M,)``.
        knn_preset: ``"dino"`` (k = 20, T = 0.07) or ``"instdisc"`` (k = 200, T = 0.1).
        max_train: at most this many training images in the memory bank (the encoding cost per epoch).
        every: evaluate every ``every`` epochs.
        batch_size: images encoded at once (and per BatchNorm statistic when re-estimating them).
        seed: seed of the training subset.
        verbose: print the values after each evaluation.
        calibration: at most this many images of the training subset re-estimate the BatchNorm statistics for the
            online head (``0``: none, the head sees ``model.encode``'s representations as they are).

    After each evaluation, :attr:`records` gains ``{"epoch", "online_linear_top1", "online_knn_top1",
    "online_linear_top1_moving_stats"}``: the last is the head's top-1 on the representations with the moving
    BatchNorm statistics, without the re-estimate (equal to ``online_linear_top1`` when the encoder has no
    BatchNorm or its averages have converged).

    Example:
        >>> from kspectral.callbacks import OnlineProbeMonitor
        >>> monitor = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test)      # doctest: +SKIP
        >>> model.fit(pairs, epochs=10, callbacks=[monitor, keras.callbacks.CSVLogger("log.csv")])  # doctest: +SKIP
    """

    def __init__(self, x_train, y_train, x_test, y_test, knn_preset="dino", max_train=10_000, every=1,
                 batch_size=256, seed=0, verbose=False, calibration=1024):
        super().__init__()
        if knn_preset not in KNN_PRESETS:
            raise InputError(f"unknown kNN preset {knn_preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
        x_train = _images(x_train, "x_train")
        x_test = _images(x_test, "x_test")
        if x_train.shape[1:] != x_test.shape[1:]:
            raise InputError(
                f"x_train has samples of shape {x_train.shape[1:]} but x_test {x_test.shape[1:]}; they must match"
            )
        y_train = _class_labels(y_train, x_train.shape[0], "y_train", allow_unlabelled=True)
        self.y_test = _class_labels(y_test, x_test.shape[0], "y_test", allow_unlabelled=False)
        self.max_train = check_positive_int(max_train, "max_train", minimum=2)
        self.every = check_positive_int(every, "every")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        labelled = np.flatnonzero(y_train >= 0)
        if labelled.size < 2 or np.unique(y_train[labelled]).size < 2:
            raise InputError("y_train needs labelled samples (≥ 0) of at least two classes for the kNN monitor")
        if labelled.size > self.max_train:
            labelled = np.sort(np.random.default_rng(seed).choice(labelled, self.max_train, replace=False))
        self.x_train = x_train[labelled]
        self.y_train = y_train[labelled]
        self.x_test = x_test
        self.knn_preset = knn_preset
        self.verbose = bool(verbose)
        self.calibration = check_positive_int(calibration, "calibration", minimum=0)
        # in random order: batches of one class (a training split sorted by label) would understate the variance
        self.calibration_index = np.random.default_rng(seed).permutation(len(self.x_train))[: self.calibration]
        self.records = []

    def _due(self, epoch):
        last = self.params.get("epochs") if self.params else None
        return (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last)

    def evaluate(self):
        """The monitor's values for the model as it is now: ``{"online_linear_top1": ..., "online_knn_top1": ...}``
        (no ``online_linear_top1`` when the model has no online probe)."""
        return self._evaluate()[0]

    def _evaluate(self):
        """``(values, top-1 of the head with the moving statistics or None)``."""
        model = self.model
        test = model.encode(self.x_test, batch_size=self.batch_size)
        train = model.encode(self.x_train, batch_size=self.batch_size)
        values, moving = {}, None
        head = getattr(model, "online_probe", None)
        if head is not None:
            moving = _head_top1(head, test, self.y_test)
            values["online_linear_top1"] = moving
            if self.calibration >= 2 and batchnorm_layers(model.encoder) and np.all(np.isfinite(test)):
                calibration = self.x_train[self.calibration_index]
                with recalibrated_batchnorm(model.encoder, calibration, self.batch_size):
                    recalibrated = model.encode(self.x_test, batch_size=self.batch_size)
                values["online_linear_top1"] = _head_top1(head, recalibrated, self.y_test)
        if np.all(np.isfinite(train)) and np.all(np.isfinite(test)):
            values["online_knn_top1"] = float(knn_probe(train, self.y_train, test, self.y_test,
                                                        preset=self.knn_preset, batch_size=1024))
        else:  # a diverged run: report it rather than fail the training
            values["online_knn_top1"] = math.nan
        return values, moving

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        has_probe = getattr(self.model, "online_probe", None) is not None
        keys = MONITOR_KEYS if has_probe else MONITOR_KEYS[1:]
        if not self._due(epoch):
            logs.update({key: math.nan for key in keys})
            return
        values, moving = self._evaluate()
        logs.update(values)
        self.records.append({"epoch": epoch, **values, "online_linear_top1_moving_stats": moving})
        if self.verbose:
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
