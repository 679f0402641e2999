"""``OnlineProbe``: a linear classifier trained beside the SSL objective on the stop-gradient representations.

As in solo-learn and Lightly (``spec/anchors.md`` §3.4): at every train step a ``Dense(C)`` head takes one optimizer
step of its own on the detached representations of the batch's labelled rows (label ``−1`` = unlabelled). The SSL
loss and the backbone's gradients do not change: the head's weights are not among the model's
``trainable_variables`` (``trained_by_optimizer = False``) and its gradient stops at the representations.
:class:`kspectral.callbacks.OnlineProbeMonitor` measures the head on held-out images each epoch.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.errors import InputError

#: how the online probe trains (``online_probe_protocol``)
ONLINE_PROBE_PROTOCOLS = ("kspectral", "solo_learn")
#: metric name of the online probe's running top-1 accuracy on the training views
ONLINE_PROBE_METRIC = "online_linear_train_top1"
#: seed of the solo-learn probe's initialisation (its own stream: the backbone's initialisation is unchanged)
_PROBE_INIT_SEED = 1337


def _probe_optimizer(optimizer):
    if optimizer is None:
        return keras.optimizers.Adam(learning_rate=1e-3)
    if isinstance(optimizer, (str, dict)):
        optimizer = keras.optimizers.get(optimizer)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"online_probe_optimizer must be a Keras optimizer (or its name), got {type(optimizer).__name__}"
        )
    return optimizer


def _replica_sum(value):
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce("sum", value)


@keras.saving.register_keras_serializable(package="kspectral")
class OnlineProbe(keras.layers.Layer):
    """A ``Dense(C)`` head trained with its own optimizer on detached representations, with a running accuracy.

    ``probe(h)`` returns the logits ``(batch, C)`` of representations ``h`` ``(batch, d)``. :meth:`update` trains
    (or, with ``train=False``, only scores) the head on one batch and updates :attr:`accuracy`.

    Args:
        classes: ``C ≥ 2``, the number of classes.
        optimizer: the head's own optimizer (an instance, a name or a config); default
            ``keras.optimizers.Adam(1e-3)``, which needs no tuning to the scale of the representations (solo-learn
            trains its online classifier with SGD at lr 0.1 without weight decay; the keras-io SimCLR example uses
            Adam). Saved with the model, state included.
        protocol: ``"kspectral"`` (zero-initialised float32 head trained on the first view's representations) or
            ``"solo_learn"``: the online classifier behind solo-learn's published numbers (``solo/methods/base.py``,
            ``spec/protocols.md`` §3): initialised as PyTorch's ``nn.Linear`` (kernel and bias ``U(±1/√d)``, from a
            fixed seed of its own, so the backbone's initialisation is unchanged), trained on the representations
            of **both** views with the cross-entropy averaged over the two, by an optimizer that is the run's
            optimizer class at ``classifier_lr`` without weight decay (``kspectral train`` builds it so).

    Under a ``tf.distribute`` strategy each replica's cross-entropy is summed over its labelled rows and divided by
    the global count of labelled rows: the replicas' summed gradients are the gradient of the global batch's mean.

    Example:
        >>> probe = OnlineProbe(10)
        >>> probe.build((None, 32))
        >>> tuple(probe(np.zeros((4, 32), "float32")).shape)
        (4, 10)
    """

    #: the model's optimizer leaves the head alone: :meth:`update` trains it
    trained_by_optimizer = False

    def __init__(self, classes, optimizer=None, protocol="kspectral", **kwargs):
        kwargs.setdefault("name", "online_probe")
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if protocol not in ONLINE_PROBE_PROTOCOLS:
            raise InputError(f"unknown online_probe_protocol {protocol!r}; choose one of: "
                             f"{', '.join(ONLINE_PROBE_PROTOCOLS)}")
        self.classes = check_positive_int(classes, "online_probe_classes", minimum=2)
        self.optimizer = _probe_optimizer(optimizer)
        self.protocol = protocol
        # Zero-initialised (solo-learn's head is drawn from a seed of its own at build time): creating it draws
        # nothing from the global random stream, so the backbone initialises as without it.
        self.head = keras.layers.Dense(self.classes, kernel_initializer="zeros", dtype="float32", name="head")
        self.accuracy = keras.metrics.Mean(name=ONLINE_PROBE_METRIC)
        self._warned_no_labels = False

    @property
    def views_used(self):
        """How many views' representations the head trains on: 2 for ``"solo_learn"``, else 1."""
        return 2 if self.protocol == "solo_learn" else 1

    @property
    def kernel(self):
        return self.head.kernel

    @property
    def bias(self):
        return self.head.bias

    def build(self, input_shape):
        if not self.head.built:
            if self.protocol == "solo_learn":  # PyTorch's nn.Linear(d, C): kernel and bias U(−1/√d, 1/√d)
                bound = 1.0 / float(np.sqrt(input_shape[-1]))
                self.head.kernel_initializer = keras.initializers.RandomUniform(-bound, bound, seed=_PROBE_INIT_SEED)
                self.head.bias_initializer = keras.initializers.RandomUniform(-bound, bound,
                                                                              seed=_PROBE_INIT_SEED + 1)
            self.head.build(input_shape)
        self.built = True
        self.build_optimizer()

    def build_optimizer(self):
        """Create the optimizer's state, so that a ``.keras`` file or a checkpoint can fill it; only eagerly (inside
        a traced function the first ``apply`` creates it)."""
        if self.built and not self.optimizer.built and not tf.inside_function():
            self.optimizer.build(self.head.trainable_variables)

    def call(self, inputs, training=False):
        return self.head(inputs, training=training)

    def update(self, representations, y, train=True):
        """Train (``train=True``) or score the head on one batch; update :attr:`accuracy`.

        Args:
            representations: the views' representations, ``(batch, d)`` each; the first :attr:`views_used` are used
                (detached and cast to float32 here).
            y: class indices ``(batch,)`` below ``classes``, ``−1`` for unlabelled rows; ``None``: the batches carry
                no labels, and the probe warns once and does nothing.
        """
        if y is None:
            if not self._warned_no_labels:
                self._warned_no_labels = True
                warnings.warn(
                    "the online probe gets no labels: the batches hold no y, so the probe does not train; give "
                    "labels=... to the pair pipeline (−1 marks unlabelled samples)", stacklevel=4,
                )
            return
        hs = [ops.stop_gradient(ops.cast(h, "float32")) for h in representations[: self.views_used]]
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        check = tf.debugging.assert_less(
            y, self.classes, message=f"labels must be class indices below online_probe_classes={self.classes}")
        with tf.control_dependencies([check]):  # before the cross-entropy op fails with its own message
            y = tf.identity(y)
        mask = ops.cast(y >= 0, "float32")
        target = ops.maximum(y, 0)
        count = ops.maximum(_replica_sum(ops.sum(mask)), 1.0)
        with tf.GradientTape() as tape:
            logits = [self.head(h, training=train) for h in hs]
            losses = [ops.sum(keras.losses.sparse_categorical_crossentropy(target, lg, from_logits=True) * mask) / count
                      for lg in logits]
            loss = ops.mean(ops.stack(losses))
        if train:
            variables = self.head.trainable_variables
            self.optimizer.apply(tape.gradient(loss, variables), variables)
        for lg in logits:
            correct = ops.cast(ops.equal(ops.cast(ops.argmax(lg, axis=-1), "int32"), target), "float32")
            self.accuracy.update_state(correct, sample_weight=mask)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.classes)

    def get_config(self):
        config = super().get_config()
        config.update(classes=self.classes, optimizer=keras.optimizers.serialize(self.optimizer),
                      protocol=self.protocol)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("optimizer"), dict):
            config["optimizer"] = keras.optimizers.deserialize(config["optimizer"])
        return cls(**config)
