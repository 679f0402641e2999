"""``SSLModel``: the Keras model every SSL method builds on — its train step and the wiring of its components.

An ``SSLModel`` wraps any Keras encoder and a projector head, trains on batches of views ``(view_1, ..., view_V)``
(``V ≥ 2``; two for a positive pair) with ``fit()``, and reports its loss, the loss's terms and the batch
diagnostics of :mod:`kspectral.methods.diagnostics` as metrics. ``model(x)`` and ``model.encode(x)`` return the
encoder's representations (the features a probe sees); ``model.embed(x)`` the projector's embeddings (what the loss
sees). What a batch of views becomes is :class:`~kspectral.methods.forward.ForwardPass`'s; the components
(:mod:`kspectral.methods.components`) are Keras layers the model tracks:

- :class:`~kspectral.methods.components.DeviceAugmentation` (``augmenters=...``, the ``augment_on = "device"``
  setting): the views are drawn inside the train step, on the accelerator, from batches of raw images ``x`` or
  ``(x, y)`` (:func:`kspectral.data.pairs.image_batches`);
- :class:`~kspectral.methods.components.OnlineProbe` (``online_probe_classes=C``): a linear head trained at every
  step with its own optimizer on the stop-gradient representations, reporting ``online_linear_train_top1``;
- any layer with ``update_after_step(model, step)`` (e.g. a
  :class:`~kspectral.methods.components.MomentumTeacher`) is called after every optimizer step, any layer with
  ``initialize_from_model(model, input_shape)`` when the model is built, and a layer with
  ``trained_by_optimizer = False`` is left out of the model's optimizer.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.errors import InputError
from kspectral.methods import batches, checks, freezing
from kspectral.methods.batchnorm import (  # noqa: F401  (re-exported: kspectral.methods.base.batchnorm_layers)
    SYNC_BATCHNORM,
    batchnorm_layers,
    check_sync_batchnorm,
    set_batchnorm_synchronized,
    synchronize_batchnorm,
)
from kspectral.methods.components.device_augmentation import DeviceAugmentation
from kspectral.methods.components.online_probe import ONLINE_PROBE_METRIC, ONLINE_PROBE_PROTOCOLS, OnlineProbe  # noqa: F401
from kspectral.methods.counterparts import SpectralCounterparts
from kspectral.methods.diagnostics import DEFAULT_EVERY, DIAGNOSTICS, diagnostics_due, scheduled_diagnostics
from kspectral.methods.keras_entry_points import KerasEntryPoints
from kspectral.methods.forward import (  # noqa: F401  (re-exported)
    REPRESENTATIONS,
    REPRESENTATIONS_KEY,
    SECOND_REPRESENTATIONS_KEY,
    ForwardPass,
)
from kspectral.methods.projector import make_projector
from kspectral.methods.replicas import as_float32, gather_outputs, num_replicas, step_logs


def _as_shape_tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _online_probe(classes, optimizer, protocol):
    """The :class:`OnlineProbe` of the model's arguments (``None`` without ``classes``)."""
    if classes is None:
        if protocol not in ONLINE_PROBE_PROTOCOLS:
            raise InputError(f"unknown online_probe_protocol {protocol!r}; choose one of: "
                             f"{', '.join(ONLINE_PROBE_PROTOCOLS)}")
        if optimizer is not None:
            raise InputError("online_probe_optimizer needs online_probe_classes=C (the number of classes) as well")
        return None
    return OnlineProbe(classes, optimizer, protocol)


@keras.saving.register_keras_serializable(package="kspectral")
class SSLModel(SpectralCounterparts, ForwardPass, KerasEntryPoints, keras.Model):
    """Self-supervised model: encoder → projector → objective, on batches of two or more views.

    Subclasses (one per method) set :attr:`objective_function`, :attr:`objective_options` and :attr:`loss_terms`
    (or implement :meth:`compute_objective`), and may override :meth:`build_heads` / :meth:`forward` /
    :meth:`forward_views` for methods with other heads (CISSL, DISSL). Used directly, ``SSLModel`` trains any
    objective function ``objective(z_a, z_b) -> scalar`` given to it.

    Args:
        encoder: any Keras model or layer mapping a batch of inputs to ``(batch, d)`` representations.
        projector: projector spec such as ``"2048-2048-2048"`` (see :class:`~kspectral.methods.Projector`),
            a Keras layer, or ``None`` to apply the objective to the representations.
        objective: for a plain ``SSLModel``, a (registered, serializable) function of ``(z_a, z_b)``
            returning a scalar. Method subclasses ignore it.
        diagnostics: report the batch diagnostics of :mod:`kspectral.methods.diagnostics` (``embedding_std``,
            ``rankme``, ``sample_contrastive``, ``dimension_contrastive``) as metrics; ``False`` turns them off.
        diagnostics_every: compute the diagnostics on the first batch of every epoch (and of every
            ``evaluate()``) and on every ``diagnostics_every``-th batch after it; each metric is the mean over those
            batches. The default, 100, keeps their cost under 3 % of a training step; ``1`` computes them on every
            batch.
        augmenters: ``None`` (``fit()`` takes batches of views), or a Keras augmentation layer (e.g.
            ``kspectral.data.augmenter("cifar", seed=0)``) for two views, or a list of them, one per view (e.g.
            ``augmenter("byol", image_size=32, seed=0)``, or multi-crop's). The model then draws the views inside
            the train step (:class:`~kspectral.methods.components.DeviceAugmentation`): those of step ``t`` from
            ``(each augmenter's seed, t)``, as the ``tf.data`` pipelines draw batch ``t``. Saved with the model.
        online_probe_classes: ``C``, the number of classes, to train an online linear probe (``None``: no probe):
            :class:`~kspectral.methods.components.OnlineProbe` on ``stop_gradient(encoder(view_1))``, the
            representations of the first view from the same forward pass, with softmax cross-entropy over the
            labelled rows (``y ≥ 0``) of the batch. The SSL loss and the backbone's gradients do not change.
        online_probe_optimizer: the probe's own optimizer (an instance, a name or a config); default
            ``keras.optimizers.Adam(1e-3)``. Saved with the model, state included.
        online_probe_protocol: ``"kspectral"`` (the default, as above) or ``"solo_learn"``: the online classifier as
            solo-learn trains it (both views, PyTorch's initialisation; see
            :class:`~kspectral.methods.components.OnlineProbe`).
        sync_batchnorm: which BatchNorm layers compute their batch statistics over the global batch under a
            ``tf.distribute`` strategy with several replicas (``BatchNormalization(synchronized=True)``), set on every
            ``keras.layers.BatchNormalization`` found when the model is built, user-built layers included:
            ``"heads"`` (default): those of the projector and of every other head (CISSL's and DISSL's student and
            teacher); the encoder's are left as built (kspectral's encoders built by name synchronise theirs).
            ``"all"``: the encoder's too, as the official VICReg and Barlow Twins code do
            (``nn.SyncBatchNorm.convert_sync_batchnorm(model)``). ``"none"``: none, encoder included (per-replica
            statistics, which makes R replicas of batch B differ from one device with batch R·B). On one device the
            setting changes nothing but the formula of the variance (``E[x²] − E[x]²``, rounding differences only).
        **kwargs: passed to ``keras.Model`` (``name``, ...).

    Training data: ``fit(ds)`` where ``ds`` yields tuples of views ``(view_a, view_b, ...)``, optionally followed by
    integer labels ``y`` (``−1`` = unlabelled) for the online probe, e.g. :func:`kspectral.data.augmented_pairs` or
    :func:`kspectral.data.graph_pairs`; with ``augmenters``, batches of images ``x`` or ``(x, y)``, e.g.
    :func:`kspectral.data.pairs.image_batches`. Without a probe, ``y`` is ignored.

    Example:
        >>> import keras
        >>> from kspectral.methods import VICReg
        >>> encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32)])
        >>> model = VICReg(encoder=encoder, projector="64-64")
        >>> model.compile(optimizer="adam")

        Views drawn on the accelerator, with an online probe (``fit`` on images and labels):

        >>> from kspectral.data import digits, digits_augmenter
        >>> from kspectral.data.pairs import image_batches
        >>> ds = digits()
        >>> model = VICReg(encoder=encoder, projector="64-64", augmenters=digits_augmenter(seed=0),
        ...                online_probe_classes=10)
        >>> model.compile(optimizer="adam")
        >>> history = model.fit(image_batches(ds.x_train, 128, labels=ds.y_train), epochs=1, verbose=0)
        >>> sorted(k for k in history.history if k.startswith("online"))
        ['online_linear_train_top1']
    """

    #: names of the objective's terms, reported as metrics beside ``loss``
    loss_terms: tuple = ()
    #: the method's objective (a function of :meth:`forward`'s outputs, by keyword, with ``return_terms``)
    objective_function = None
    #: the attributes passed to :attr:`objective_function` as keyword arguments (and saved by ``get_config``)
    objective_options: tuple = ()
    #: registry name, set by :func:`kspectral.methods.register`
    registry_name: str | None = None
    #: pass both views through the network as one batch (see :meth:`forward`)
    joint_views: bool = False
    #: whether the method takes a ``projector`` (methods with their own heads, e.g. CISSL, do not)
    uses_projector: bool = True
    #: the :class:`~kspectral.methods.Projector` options of the method's own head, which a spec string gets
    #: (e.g. MoCo v3's ``last_batchnorm``); ``kspectral train`` builds its projector with them, under the run's
    #: ``projector_options``
    projector_defaults: dict = {}
    #: the most views a batch may hold (``None``: any number ``V ≥ 2``, e.g. multi-crop); a method whose
    #: :meth:`forward` is written for two views sets 2
    max_views: int | None = None
    #: the views a two-view objective is averaged over when a batch holds more than two (:func:`view_pairs`)
    view_pairing: str = "all_pairs"

    def __init__(self, encoder, projector="2048-2048-2048", objective=None, diagnostics=True,
                 diagnostics_every=DEFAULT_EVERY, augmenters=None, online_probe_classes=None,
                 online_probe_optimizer=None, sync_batchnorm="heads", online_probe_protocol="kspectral", **kwargs):
        checks.require_tensorflow_backend()
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.layers.Layer):
            raise TypeError(f"encoder must be a Keras model or layer, got {type(encoder).__name__}")
        if objective is not None and not callable(objective):
            raise TypeError(f"objective must be a function of (z_a, z_b), got {type(objective).__name__}")
        if objective is not None:
            checks.check_serializable(objective)
        if objective is None and self.objective_function is None and (
                type(self).compute_objective is SSLModel.compute_objective):
            raise InputError(
                "SSLModel needs an objective: pass objective=fn(z_a, z_b), or use a method class such as "
                "kspectral.methods.VICReg"
            )
        self.encoder = encoder
        self.projector = make_projector(projector)
        self.objective = objective
        if not isinstance(diagnostics, (bool, np.bool_)):
            raise TypeError(
                f"diagnostics must be True or False, got {diagnostics!r}; set how often they are computed with "
                "diagnostics_every=N (1 = every batch)"
            )
        self.diagnostics = bool(diagnostics)
        self.diagnostics_every = check_positive_int(diagnostics_every, "diagnostics_every")
        self._metric_names = ["loss", *self.loss_terms, *(DIAGNOSTICS if self.diagnostics else ())]
        self._trackers = [keras.metrics.Mean(name=n) for n in self._metric_names]
        self.device_augmentation = None if augmenters is None else DeviceAugmentation(augmenters)
        self.online_probe = _online_probe(online_probe_classes, online_probe_optimizer, online_probe_protocol)
        self.sync_batchnorm = check_sync_batchnorm(sync_batchnorm)

    # The components' settings, as the constructor takes them.
    @property
    def augmenters(self):
        """The device augmentation's augmenters (a list of Keras layers), or ``None``."""
        return None if self.device_augmentation is None else self.device_augmentation.augmenters

    @property
    def online_probe_classes(self):
        return None if self.online_probe is None else self.online_probe.classes

    @property
    def online_probe_optimizer(self):
        return None if self.online_probe is None else self.online_probe.optimizer

    @property
    def online_probe_protocol(self):
        return "kspectral" if self.online_probe is None else self.online_probe.protocol

    # ------------------------------------------------------------------ building
    def head_layers(self):
        """The layers the model adds on the encoder (projector, student, teacher, ...): every layer the model tracks
        but the encoder, the device augmentation and the online probe."""
        excluded = {id(layer) for layer in self.encoder._flatten_layers(include_self=True, recursive=True)}
        excluded.update(id(c) for c in (self.device_augmentation, self.online_probe) if c is not None)
        children = self._flatten_layers(include_self=False, recursive=False)
        return [layer for layer in children if id(layer) not in excluded]

    def synchronize_batchnorm(self):
        """Apply :attr:`sync_batchnorm` to the model's BatchNorm layers (done by :meth:`build`); returns the number of
        synchronised BatchNorm layers."""
        return synchronize_batchnorm(self.head_layers(), self.encoder, self.sync_batchnorm)

    def build(self, input_shape):
        input_shape = _as_shape_tuple(input_shape)
        self.synchronize_batchnorm()  # before any call traces the BatchNorm layers
        if not self.encoder.built:
            self.encoder.build(input_shape)
        rep_shape = _as_shape_tuple(self.encoder.compute_output_shape(input_shape))
        if len(rep_shape) != 2:
            raise InputError(checks.representation_shape_error(rep_shape))
        self.representation_dim = rep_shape[-1]
        self.build_heads(rep_shape)
        for layer in self._flatten_layers(include_self=False, recursive=False):
            if hasattr(layer, "initialize_from_model"):  # e.g. a momentum teacher: built and set equal to its source
                layer.initialize_from_model(self, input_shape)
        if self.online_probe is not None and not self.online_probe.built:
            self.online_probe.build(rep_shape)

    def build_heads(self, representation_shape):
        """Build the heads on top of the encoder; the default builds the projector."""
        if self.projector is not None and not self.projector.built:
            self.projector.build(representation_shape)

    # ------------------------------------------------------------------ training
    def gather(self, outputs):
        """All-gather ``outputs`` across replicas (:func:`kspectral.methods.replicas.gather_outputs`), so that the
        objective sees the global batch; as is on one device."""
        return gather_outputs(outputs)

    def _unpack(self, data, step=None):
        """``(views, y)`` from a training batch: the tuple of ``V ≥ 2`` views and the labels (``None`` without)."""
        if self.device_augmentation is not None:
            x, y = batches.images_and_labels(data)
            return self.augment(x, step=step), y
        views, y = batches.views_and_labels(data)
        if (limit := self.view_limit()) is not None and len(views) > limit:
            raise InputError(checks.views_error(self, len(views)))
        return views, y

    def augment(self, x, training=True, step=None):
        """The views of a batch of images drawn by the model's
        :class:`~kspectral.methods.components.DeviceAugmentation` (the views of train step ``step``, or, with
        ``step=None``, from the augmenters' current random states).

        Raises:
            InputError: the model has no augmenters.
        """
        if self.device_augmentation is None:
            raise InputError("this model has no augmenters; build it with augmenters=... to draw views on the device")
        return self.device_augmentation(x, training=training, step=step)

    def _terms(self, views, training):
        """``(outputs, terms, features, gathered)`` of a batch of views: the first two views' gathered outputs (the
        diagnostics' input), the objective's terms, the representations of the first two views (the online probe's
        input), and the gathered outputs the objective saw (per-view lists with more than two views)."""
        self._ensure_built(views[0])
        if len(views) == 2:
            outputs = dict(self.forward(*views, training=training))
            features = [outputs.pop(key, None) for key in REPRESENTATIONS]
            # The objectives and the diagnostics see float32 under a mixed precision policy (gathered in half
            # precision).
            outputs = gathered = as_float32(self.gather(outputs))
            terms = self.compute_objective(outputs)
        else:
            if (limit := self.view_limit()) is not None and len(views) > limit:
                raise InputError(checks.views_error(self, len(views)))
            per_view = dict(self.forward_views(views, training=training))
            features = list(per_view.pop("h", [None, None]))[:2]
            per_view = gathered = as_float32(self.gather(per_view))
            terms = self.compute_multiview_objective(per_view)
            outputs = {f"{k}_a": v[0] for k, v in per_view.items()} | {f"{k}_b": v[1] for k, v in per_view.items()}
        if "loss" not in terms:
            raise KeyError(f"{type(self).__name__}.compute_objective must return a dict with a 'loss' entry")
        return outputs, terms, features, gathered

    def _probe_step(self, views, features, y, train):
        """The online probe's step on the forward pass's representations (encoded once more, in inference mode,
        where :meth:`forward` gave none)."""
        if self.online_probe is None:
            return
        used = self.online_probe.views_used
        hs = [h if h is not None else self.encoder(v, training=False) for h, v in zip(features[:used], views[:used])]
        self.online_probe.update(hs, y, train=train)

    def _with_regularizers(self, loss):
        """``loss`` plus the regularization losses of the networks the optimizer trains (not those of a teacher's
        copies or of the online probe, which the model's gradients do not reach)."""
        layers = [layer for layer in self._flatten_layers(include_self=False, recursive=False)
                  if getattr(layer, "trained_by_optimizer", True)]
        losses = [*self._losses, *(value for layer in layers for value in layer.losses)]
        if not losses:
            return loss
        return loss + ops.cast(ops.sum(ops.stack([ops.cast(v, "float32") for v in losses])), loss.dtype)

    def train_step(self, data):
        views, y = self._unpack(data, step=self.optimizer.iterations)
        with tf.GradientTape() as tape:
            outputs, terms, features, gathered = self._terms(views, training=True)
            loss = self._with_regularizers(terms["loss"])
            # Every replica computes the same global-batch loss; the all-gather's backward pass sums the replicas'
            # upstream gradients and the optimizer sums the replicas' gradients again, so each replica takes 1/R.
            # The same holds for the regularizers (every replica holds the same weights) and for the all-reduced
            # moments of synchronised BatchNorm, so R replicas of batch B take one device's step on batch R·B.
            scaled = self.optimizer.scale_loss(loss / num_replicas())
        variables = self.trainable_variables
        masks = freezing.frozen_masks(self.frozen_weights(), self.optimizer.iterations)
        grads = freezing.zero_frozen_gradients(tape.gradient(scaled, variables), variables, masks)
        saved = freezing.snapshot(variables, masks)
        self.optimizer.apply(grads, variables)
        freezing.restore_frozen(saved, masks)
        self.after_optimizer_step(self.optimizer.iterations - 1, gathered)
        self._probe_step(views, features, y, train=True)
        return step_logs(self._update_metrics(dict(terms, loss=loss), outputs))

    def test_step(self, data):
        views, y = self._unpack(data)
        outputs, terms, features, _ = self._terms(views, training=False)
        terms = dict(terms, loss=self._with_regularizers(terms["loss"]))
        # evaluate() reports the probe's accuracy on the evaluated views (it does not train there).
        self._probe_step(views, features, y, train=False)
        return step_logs(self._update_metrics(terms, outputs))

    def frozen_weights(self):
        """``[(weights, steps), ...]``: weights the optimizer leaves fixed while its step is below ``steps``
        (:mod:`kspectral.methods.freezing`; DINO's last layer, SwAV's prototypes). The default: none."""
        return []

    def after_optimizer_step(self, step, outputs):
        """Called in the train step right after the optimizer's update: the place for the updates that follow the
        gradient step, e.g. a momentum teacher's average or a queue's new keys.

        Args:
            step: the 0-based optimizer step just taken (a tensor).
            outputs: the outputs of the step's forward pass that the objective saw: those of the **global** batch
                (all-gathered across replicas, float32), a dict of tensors (two views) or of per-view lists.

        Under a strategy it runs in the replica context after every replica applied the same update, with the same
        ``outputs`` on every replica, so every replica computes the same state. The default calls
        ``update_after_step(model, step, outputs)`` on every component (a layer the model tracks directly) that
        defines it: :class:`~kspectral.methods.components.MomentumTeacher`, and
        :class:`~kspectral.methods.components.EmbeddingQueue` and :class:`~kspectral.methods.components.Centre`
        given a ``source`` output.
        """
        for layer in self._flatten_layers(include_self=False, recursive=False):
            hook = getattr(layer, "update_after_step", None)
            if hook is not None:
                hook(self, step, outputs)

    @property
    def trainable_variables(self):
        """The variables the model's optimizer trains: all trainable ones but those of components that are not
        trained by its gradients (``trained_by_optimizer = False``: the online probe, a momentum teacher)."""
        variables = super().trainable_variables
        excluded = [layer for layer in self._flatten_layers(include_self=False, recursive=False)
                    if not getattr(layer, "trained_by_optimizer", True)]
        if not excluded:
            return variables
        own = {id(v) for layer in excluded for v in layer.trainable_variables}
        return [v for v in variables if id(v) not in own]

    def _update_metrics(self, terms, outputs):
        trackers = dict(zip(self._metric_names, self._trackers))
        if self.diagnostics:
            # The loss tracker's count, read before this batch is added, is the batch's index in the epoch
            # (fit() and evaluate() reset the metrics at their start); the same on every replica.
            due = diagnostics_due(trackers["loss"].count, self.diagnostics_every)
        for name, value in terms.items():
            if name in trackers and name not in DIAGNOSTICS:
                trackers[name].update_state(value)
        if self.diagnostics:
            z = self.diagnostic_embeddings(outputs)
            values, weight = scheduled_diagnostics(z, True if self.diagnostics_every == 1 else due)
            for name in DIAGNOSTICS:
                trackers[name].update_state(values[name], sample_weight=weight)
        return {t.name: t.result() for t in self.metrics}

    @property
    def metrics(self):
        """The loss's, its terms', the diagnostics' and the online probe's trackers, in this order."""
        return [*self._trackers, *(() if self.online_probe is None else (self.online_probe.accuracy,))]

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        projector = self.projector
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            projector=None if projector is None else keras.saving.serialize_keras_object(projector),
            diagnostics=self.diagnostics,
            diagnostics_every=self.diagnostics_every,
            sync_batchnorm=self.sync_batchnorm,
        )
        if self.augmenters is not None:
            config["augmenters"] = [keras.saving.serialize_keras_object(a) for a in self.augmenters]
        if self.online_probe is not None:
            config["online_probe_classes"] = self.online_probe_classes
            config["online_probe_optimizer"] = keras.optimizers.serialize(self.online_probe_optimizer)
            if self.online_probe_protocol != "kspectral":
                config["online_probe_protocol"] = self.online_probe_protocol
        config.update({name: getattr(self, name) for name in self.objective_options})
        if self.objective is not None:
            config["objective"] = keras.saving.serialize_keras_object(self.objective)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        if isinstance(config.get("projector"), dict):
            config["projector"] = keras.saving.deserialize_keras_object(config["projector"])
        if isinstance(config.get("objective"), (dict, str)):
            config["objective"] = keras.saving.deserialize_keras_object(config["objective"])
        if isinstance(config.get("online_probe_optimizer"), dict):
            config["online_probe_optimizer"] = keras.optimizers.deserialize(config["online_probe_optimizer"])
        return cls(**config)
