"""``MomentumTeacher``: an exponential moving average of online networks (BYOL, MoCo, DINO, I-JEPA).

The teacher holds its own copy of the online networks (built from their configs) and, after every optimizer step,
moves each of its trainable weights towards the online one: ``t ← τ t + (1 − τ) o``, with ``τ`` a pure function of
the optimizer's step (:func:`momentum_schedule`), so a run resumed from a checkpoint at step ``k`` takes the same
``τ`` as an uninterrupted one. Its non-trainable weights (BatchNorm's moving statistics) are its own, updated by its
forward pass, as the momentum networks of BYOL's and solo-learn's code (which average ``parameters()`` only).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral._validation import check_number, check_positive_int
from kspectral.errors import InputError


def momentum_schedule(step, total_steps, base_tau=0.99, final_tau=1.0):
    """The teacher's momentum at optimizer step ``step`` (0-based): cosine from ``base_tau`` to ``final_tau``.

    ``τ(k) = τ_final − (τ_final − τ_base) · (cos(π k / K) + 1) / 2`` for ``K = total_steps`` (BYOL, Grill et al.
    2020, arXiv:2006.07733, §3.2; solo-learn's ``MomentumUpdater.update_tau``, ``spec/protocols.md`` §3); ``k ≥ K``
    gives ``τ_final``. solo-learn averages after step ``k`` with ``τ(k)``: its first update uses ``τ_base``.
    ``total_steps=None`` keeps ``τ = τ_base``.

    Example:
        >>> [round(float(momentum_schedule(k, 100, 0.99, 1.0)), 4) for k in (0, 50, 100)]
        [0.99, 0.995, 1.0]
    """
    if total_steps is None:
        return ops.convert_to_tensor(base_tau, "float32")
    progress = ops.minimum(ops.cast(step, "float32") / float(total_steps), 1.0)
    return final_tau - (final_tau - base_tau) * (ops.cos(math.pi * progress) + 1.0) / 2.0


def _clone(layer):
    """A fresh layer with ``layer``'s config (its own, new weights)."""
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))


@keras.saving.register_keras_serializable(package="kspectral")
class MomentumTeacher(keras.layers.Layer):
    """An exponential moving average of a chain of online networks, e.g. ``[encoder, projector]``.

    ``teacher(x)`` applies the teacher's copies in order (``stop_gradient`` on the result: no gradient flows into
    the teacher). :meth:`update` moves the copies' trainable weights towards the online networks' after an
    optimizer step; :meth:`initialize` copies every weight of the online networks (done by the model when it is
    built, so teacher and student start equal). Under a ``tf.distribute`` strategy every replica holds the same
    online weights after the step, so every replica computes the same average.

    The teacher's weights are not in the model's optimizer (:class:`~kspectral.methods.SSLModel` leaves them out);
    they are saved in ``.keras`` files and in checkpoints with the rest of the model.

    Args:
        networks: the online networks (Keras layers or models), in the order they are applied; the teacher builds
            a copy of each from its config. (On load: the copies' configs.)
        base_tau, final_tau: the momentum's range, ``0 ≤ base_tau ≤ final_tau ≤ 1`` (BYOL: 0.996 → 1; solo-learn's
            CIFAR BYOL and MoCo v3: 0.99 → 1).
        total_steps: the optimizer steps of the whole run, for the cosine schedule (``None``: ``τ = base_tau``
            throughout).
        online: internal: whether ``networks`` are the online networks (``True``) or already the copies (loading).
        source: the names of the model's attributes that hold the online networks (e.g. ``["encoder",
            "projector"]``): with it, a model that tracks the teacher updates it after every optimizer step
            (:meth:`update_after_step`); without it, call :meth:`update` yourself.

    Example:
        >>> import keras, numpy as np
        >>> online = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> teacher = MomentumTeacher([online], base_tau=0.9)
        >>> teacher.initialize([online])
        >>> _ = [w.assign(w + 1.0) for w in online.trainable_weights]   # an optimizer step
        >>> teacher.update([online], step=0)   # t ← 0.9 t + 0.1 o
        >>> round(float(keras.ops.max(keras.ops.abs(teacher.targets[0].weights[1] - 0.1))), 6)
        0.0
    """

    #: the model's optimizer leaves the teacher's weights alone (:attr:`SSLModel.trainable_variables`)
    trained_by_optimizer = False

    def __init__(self, networks, base_tau=0.99, final_tau=1.0, total_steps=None, online=True, source=None,
                 **kwargs):
        super().__init__(**kwargs)
        networks = list(networks) if isinstance(networks, (list, tuple)) else [networks]
        if not networks:
            raise InputError("MomentumTeacher needs at least one network to average")
        self.targets = []
        for network in networks:
            if isinstance(network, dict):
                network = keras.saving.deserialize_keras_object(network)
            elif online:
                if not isinstance(network, keras.layers.Layer):
                    raise TypeError(f"MomentumTeacher averages Keras layers or models, got {type(network).__name__}")
                network = _clone(network)
            self.targets.append(network)
        self.base_tau = check_number(base_tau, "base_tau", minimum=0.0, maximum=1.0)
        self.final_tau = check_number(final_tau, "final_tau", minimum=0.0, maximum=1.0)
        if self.base_tau > self.final_tau:
            raise InputError(f"base_tau ({base_tau}) must not exceed final_tau ({final_tau})")
        self.total_steps = None if total_steps is None else check_positive_int(total_steps, "total_steps")
        if source is not None and (not isinstance(source, (list, tuple)) or not all(isinstance(n, str) for n in source)):
            raise TypeError(f"source must be a list of the model's attribute names (e.g. ['encoder', 'projector']), "
                            f"got {source!r}")
        self.source = None if source is None else list(source)

    def online_networks(self, model):
        """The model's online networks this teacher averages: the attributes named by ``source``."""
        if self.source is None:
            raise InputError("this MomentumTeacher has no source: build it with source=['encoder', ...] (the model's "
                             "attributes it averages) to let the model update it, or call update() yourself")
        return [getattr(model, name) for name in self.source]

    def initialize_from_model(self, model, input_shape):
        """The model's build hook: build the copies for ``input_shape`` and copy the ``source`` networks' weights
        into them (teacher and student start equal); nothing without a ``source``."""
        if self.source is not None:
            if not self.built:
                self.build(input_shape)
            self.initialize(self.online_networks(model))

    def update_after_step(self, model, step, outputs=None):
        """The model's hook (:meth:`~kspectral.methods.SSLModel.after_optimizer_step`): :meth:`update` from the
        model's ``source`` networks; nothing without a ``source``. (``outputs``, the step's forward pass, is not
        used: the average depends on the weights alone.)"""
        if self.source is not None:
            self.update(self.online_networks(model), step)

    def build(self, input_shape):
        shape = input_shape
        for target in self.targets:
            if not target.built:
                target.build(shape)
            shape = target.compute_output_shape(shape)
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        for target in self.targets:
            x = target(x, training=training)
        return ops.stop_gradient(x)

    def tau(self, step):
        """The momentum at optimizer step ``step`` (:func:`momentum_schedule`)."""
        return momentum_schedule(step, self.total_steps, self.base_tau, self.final_tau)

    def _pairs(self, networks, trainable_only):
        networks = list(networks) if isinstance(networks, (list, tuple)) else [networks]
        if len(networks) != len(self.targets):
            raise InputError(f"the teacher averages {len(self.targets)} networks, got {len(networks)}")
        pairs = []
        for online, target in zip(networks, self.targets):
            a = online.trainable_weights if trainable_only else online.weights
            b = target.trainable_weights if trainable_only else target.weights
            if len(a) != len(b) or any(tuple(x.shape) != tuple(y.shape) for x, y in zip(a, b)):
                raise InputError(f"the teacher's copy of {online.name} does not match it (weights of other shapes); "
                                 "build the teacher from the same networks")
            pairs.extend(zip(a, b))
        return pairs

    def initialize(self, networks):
        """Copy every weight (trainable or not) of the online ``networks`` into the teacher."""
        for online, target in self._pairs(networks, trainable_only=False):
            target.assign(online)

    def update(self, networks, step):
        """``t ← τ t + (1 − τ) o`` for every trainable weight, with ``τ = tau(step)``; ``step`` is the optimizer
        step just taken (0-based)."""
        tau = self.tau(step)
        for online, target in self._pairs(networks, trainable_only=True):
            t = ops.cast(tau, target.dtype)
            target.assign(t * target + (1.0 - t) * ops.cast(online, target.dtype))

    def compute_output_shape(self, input_shape):
        for target in self.targets:
            input_shape = target.compute_output_shape(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(networks=[keras.saving.serialize_keras_object(t) for t in self.targets], base_tau=self.base_tau,
                      final_tau=self.final_tau, total_steps=self.total_steps, online=False, source=self.source)
        return config


class TeacherSettings:
    """A mixin for a method that holds a :class:`MomentumTeacher` as ``self.teacher``: its momentum settings as the
    method's constructor takes them (``base_tau``, ``final_tau``, ``total_steps``; read by ``get_config``)."""

    @property
    def base_tau(self):
        return self.teacher.base_tau

    @property
    def final_tau(self):
        return self.teacher.final_tau

    @property
    def total_steps(self):
        return self.teacher.total_steps
