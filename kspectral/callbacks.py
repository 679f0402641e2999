"""Keras callbacks for SSL training: probes of the representations at the end of each epoch.

:class:`OnlineProbeMonitor` measures, every ``every`` epochs, how well the current representations predict labels on
held-out images, the two numbers the field reports during pre-training (``anchors.md`` §3.4):

- ``online_linear_top1``: the top-1 accuracy of the model's online linear probe (the ``Dense(C)`` head that
  :class:`~kspectral.methods.SSLModel` trains at every step with ``online_probe_classes=C``) on the test images'
  representations, as solo-learn and Lightly report it (solo-learn's CIFAR table uses this number);
- ``online_knn_top1``: a kNN monitor, the weighted cosine kNN vote of :func:`kspectral.probes.knn_probe` (preset
  ``"dino"``, k = 20, T = 0.07, by default) from at most ``max_train`` training images to the test images, as
  Lightly's benchmarks and solo-learn's kNN callback do.

Both go into the epoch's ``logs`` dict. Keras 3 calls the callbacks of ``fit(callbacks=[...])`` in list order with
one shared ``logs`` dict per epoch, and appends its ``History`` callback after them, so ``History`` (and ``fit()``'s
return value) always records the two values; a ``CSVLogger``, ``TensorBoard``, ``EarlyStopping`` or
``ModelCheckpoint`` records or monitors them only when placed **after** the monitor in the list.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from kspectral._validation import check_labels, check_positive_int
from kspectral.probes import KNN_PRESETS, knn_probe

#: the keys :class:`OnlineProbeMonitor` writes into the epoch logs
MONITOR_KEYS = ("online_linear_top1", "online_knn_top1")


def _images(x, name):
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch of samples (N, ...), got shape {x.shape}")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _class_labels(y, n, name, allow_unlabelled):
    y = check_labels(y, name, n=n)
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise TypeError(f"{name} must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    lowest = -1 if allow_unlabelled else 0
    if y.min() < lowest:
        what = "class indices ≥ 0, or −1 for unlabelled samples" if allow_unlabelled else "class indices ≥ 0"
        raise ValueError(f"{name} must be {what}; got {int(y.min())}")
    return y


def online_probe_top1(model, x, y, batch_size=256):
    """Top-1 accuracy of ``model``'s online linear probe on images ``x`` with labels ``y``.

    The probe head sees ``model.encode(x)``, the representations in inference mode.

    Args:
        model: an :class:`~kspectral.methods.SSLModel` built with ``online_probe_classes=C``.
        x: images ``(N, ...)``.
        y: class indices ``(N,)`` in ``[0, C)``.
        batch_size: images encoded at once.

    Returns:
        Accuracy in ``[0, 1]``.

    Raises:
        ValueError: the model has no online probe.
    """
    head = getattr(model, "online_probe", None)
    if head is None:
        raise ValueError("the model has no online probe; build it with online_probe_classes=C")
    x = _images(x, "x")
    y = _class_labels(y, x.shape[0], "y", allow_unlabelled=False)
    features = model.encode(x, batch_size=batch_size)
    logits = ops.convert_to_numpy(head(ops.convert_to_tensor(features.astype(np.float32)), training=False))
    return float(np.mean(np.argmax(logits, axis=1) == y))


class OnlineProbeMonitor(keras.callbacks.Callback):
    """Write ``online_linear_top1`` and ``online_knn_top1`` into the epoch logs of an SSL model's ``fit()``.

    At the end of every ``every``-th epoch (and of the last one), the monitor encodes the test images (and at most
    ``max_train`` training images, a fixed random subset drawn once with ``seed``) with ``model.encode`` and writes:

    - ``online_linear_top1``: accuracy of the model's online probe head on the test representations (only when the
      model has one, ``online_probe_classes=C``);
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
        batch_size: images encoded at once.
        seed: seed of the training subset.
        verbose: print the values after each evaluation.

    Example:
        >>> from kspectral.callbacks import OnlineProbeMonitor
        >>> monitor = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test)      # doctest: +SKIP
        >>> model.fit(pairs, epochs=10, callbacks=[monitor, keras.callbacks.CSVLogger("log.csv")])  # doctest: +SKIP
    """

    def __init__(self, x_train, y_train, x_test, y_test, knn_preset="dino", max_train=10_000, every=1,
                 batch_size=256, seed=0, verbose=False):
        super().__init__()
        if knn_preset not in KNN_PRESETS:
            raise ValueError(f"unknown kNN preset {knn_preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
        x_train = _images(x_train, "x_train")
        x_test = _images(x_test, "x_test")
        if x_train.shape[1:] != x_test.shape[1:]:
            raise ValueError(
                f"x_train has samples of shape {x_train.shape[1:]} but x_test {x_test.shape[1:]}; they must match"
            )
        y_train = _class_labels(y_train, x_train.shape[0], "y_train", allow_unlabelled=True)
        self.y_test = _class_labels(y_test, x_test.shape[0], "y_test", allow_unlabelled=False)
        self.max_train = check_positive_int(max_train, "max_train", minimum=2)
        self.every = check_positive_int(every, "every")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        labelled = np.flatnonzero(y_train >= 0)
        if labelled.size < 2 or np.unique(y_train[labelled]).size < 2:
            raise ValueError("y_train needs labelled samples (≥ 0) of at least two classes for the kNN monitor")
        if labelled.size > self.max_train:
            labelled = np.sort(np.random.default_rng(seed).choice(labelled, self.max_train, replace=False))
        self.x_train = x_train[labelled]
        self.y_train = y_train[labelled]
        self.x_test = x_test
        self.knn_preset = knn_preset
        self.verbose = bool(verbose)

    def _due(self, epoch):
        last = self.params.get("epochs") if self.params else None
        return (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last)

    def evaluate(self):
        """The monitor's values for the model as it is now: ``{"online_linear_top1": ..., "online_knn_top1": ...}``
        (no ``online_linear_top1`` when the model has no online probe)."""
        model = self.model
        test = model.encode(self.x_test, batch_size=self.batch_size)
        train = model.encode(self.x_train, batch_size=self.batch_size)
        values = {}
        head = getattr(model, "online_probe", None)
        if head is not None:
            logits = ops.convert_to_numpy(head(ops.convert_to_tensor(test.astype(np.float32)), training=False))
            values["online_linear_top1"] = float(np.mean(np.argmax(logits, axis=1) == self.y_test))
        if np.all(np.isfinite(train)) and np.all(np.isfinite(test)):
            values["online_knn_top1"] = float(knn_probe(train, self.y_train, test, self.y_test,
                                                        preset=self.knn_preset, batch_size=1024))
        else:  # a diverged run: report it rather than fail the training
            values["online_knn_top1"] = math.nan
        return values

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        has_probe = getattr(self.model, "online_probe", None) is not None
        keys = MONITOR_KEYS if has_probe else MONITOR_KEYS[1:]
        if not self._due(epoch):
            logs.update({key: math.nan for key in keys})
            return
        values = self.evaluate()
        logs.update(values)
        if self.verbose:
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
