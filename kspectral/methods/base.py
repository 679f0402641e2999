"""``SSLModel``: the Keras model every SSL method builds on.

An ``SSLModel`` wraps any Keras encoder and a projector head, trains on batches of positive pairs
``(view_a, view_b)`` with ``fit()``, and reports its loss, the loss's terms and the batch diagnostics of
:mod:`kspectral.methods.diagnostics` as metrics. ``model(x)`` and ``model.encode(x)`` return the encoder's
representations (the features a probe sees); ``model.embed(x)`` the projector's embeddings (what the loss sees).

Two options change what ``fit()`` takes and reports:

- ``augmenters=...`` (the ``augment_on = "device"`` setting): the model draws the two views itself, inside the train
  step and so on the accelerator, from batches of raw images ``x`` or ``(x, y)``
  (:func:`kspectral.data.pairs.image_batches`), instead of taking ``(view_a, view_b)`` pairs made by ``tf.data``.
- ``online_probe_classes=C``: an online linear probe, a ``Dense(C)`` head trained at every step with its own optimizer
  on the stop-gradient representations of the first view, on the labelled rows of the batches (the third element
  ``y`` of the batch, ``−1`` = unlabelled), as in solo-learn and Lightly (``anchors.md`` §3.4). It reports
  ``online_linear_train_top1``, its running accuracy on the training views;
  :class:`kspectral.callbacks.OnlineProbeMonitor` measures it on held-out images each epoch.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.methods.batchnorm import (  # noqa: F401  (re-exported: kspectral.methods.base.batchnorm_layers)
    SYNC_BATCHNORM,
    batchnorm_layers,
    check_sync_batchnorm,
    set_batchnorm_synchronized,
)
from kspectral.methods.diagnostics import DEFAULT_EVERY, DIAGNOSTICS, diagnostics_due, scheduled_diagnostics
from kspectral.methods.projector import make_projector
from kspectral.objectives.views import join_views, split_views, view_pairs
from kspectral.errors import InputError


def _require_tensorflow_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"kspectral models train on the TensorFlow backend, but Keras uses {keras.backend.backend()!r}; "
            "set KERAS_BACKEND=tensorflow before importing keras"
        )


def _check_serializable(objective):
    """Refuse an objective that a ``.keras`` file could not restore (lambdas, unregistered functions)."""
    try:
        with warnings.catch_warnings():  # Keras warns about lambdas; the error below says it better
            warnings.simplefilter("ignore")
            restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(objective))
    except Exception:  # noqa: BLE001 - any failure means the same thing to the user
        restored = None
    if restored is not objective:
        name = getattr(objective, "__name__", type(objective).__name__)
        raise InputError(
            f"objective {name!r} cannot be saved with the model: decorate it with "
            "@keras.saving.register_keras_serializable() (kspectral's objective functions already are)"
        )


def _num_replicas():
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync


def _multi_worker():
    """Whether the current strategy is a ``MultiWorkerMirroredStrategy`` with several workers."""
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return getattr(strategy.extended, "_in_multi_worker_mode", lambda: True)()  # Keras' own test of the same


def _step_logs(logs):
    """A train or test step's logs, each of shape ``(1,)`` under a multi-worker strategy.

    Keras 3 (up to 3.15 at least) reduces the logs of a multi-worker step with ``strategy.reduce("MEAN", v,
    axis=0)``, which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    keras-team/keras#20585); of shape ``(1,)`` they reduce to the scalar. Every replica reports the same values (the
    metrics are computed on the global batch).
    """
    if not _multi_worker():
        return logs
    return {name: ops.reshape(value, (1,)) for name, value in logs.items()}


def _as_shape_tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _as_float32(outputs):
    """Half-precision outputs (mixed precision) cast to float32; float32 and float64 kept as they are. ``outputs``
    maps names to tensors or to lists of tensors (one per view)."""
    def cast(v):
        return ops.cast(v, "float32") if keras.backend.standardize_dtype(v.dtype) in ("float16", "bfloat16") else v

    return {k: [cast(t) for t in v] if isinstance(v, (list, tuple)) else cast(v) for k, v in outputs.items()}


#: the key of :meth:`SSLModel.forward`'s outputs that holds the encoder's representations of the first view (the
#: online probe's input); it is removed before the objective sees the outputs
REPRESENTATIONS_KEY = "h_a"
#: the same for the second view (the online probe of ``online_probe_protocol="solo_learn"`` trains on both)
SECOND_REPRESENTATIONS_KEY = "h_b"
_REPRESENTATIONS = (REPRESENTATIONS_KEY, SECOND_REPRESENTATIONS_KEY)

#: how the online probe trains (:class:`SSLModel`'s ``online_probe_protocol``)
ONLINE_PROBE_PROTOCOLS = ("kspectral", "solo_learn")
#: seed of the solo-learn probe's initialisation (its own stream: the backbone's initialisation is unchanged)
_PROBE_INIT_SEED = 1337

#: metric name of the online probe's running top-1 accuracy on the training views
ONLINE_PROBE_METRIC = "online_linear_train_top1"


def _check_augmenters(augmenters):
    """``None``, or a list of 1 (used for both views) or ``V ≥ 2`` (one per view, e.g. multi-crop's) Keras layers."""
    if augmenters is None:
        return None
    if isinstance(augmenters, dict):
        augmenters = keras.saving.deserialize_keras_object(augmenters)
    if isinstance(augmenters, keras.layers.Layer):
        augmenters = [augmenters]
    elif isinstance(augmenters, (list, tuple)):
        augmenters = [keras.saving.deserialize_keras_object(a) if isinstance(a, dict) else a for a in augmenters]
    else:
        raise TypeError(
            f"augmenters must be a Keras layer or a list of them (one per view), got {type(augmenters).__name__}; "
            "build them with kspectral.data.augmenter(name, image_size=...)"
        )
    if not augmenters:
        raise InputError("augmenters is an empty list; give one augmenter (both views) or one per view")
    for i, aug in enumerate(augmenters):
        if not isinstance(aug, keras.layers.Layer):
            raise TypeError(
                f"augmenters[{i}] must be a Keras layer (so that the model can save it), got {type(aug).__name__}; "
                "build one with kspectral.data.augmenter(name, image_size=...)"
            )
    return augmenters


def _multiview_names():
    from kspectral.methods.registry import multiview_names

    return multiview_names()


def _views_error(model, count):
    """The message for a batch of ``count`` views given to a model that takes at most ``model.max_views``."""
    name = type(model).__name__
    return (f"{name} trains on at most {model.view_limit()} views, got {count} (a multi-crop batch?); use a two-view "
            f"augmentation (e.g. --augment cifar) or a method that takes more views ("
            f"{', '.join(_multiview_names())})")


def _representation_shape_error(shape):
    """The message for an encoder whose output is not ``(batch, dim)``, with the fix that suits its rank."""
    start = f"the encoder must return (batch, dim) representations, but it returns shape {shape}"
    if len(shape) == 3:
        return (f"{start}, a sequence of tokens (batch, tokens, d); end it with "
                "keras.layers.GlobalAveragePooling1D() (the mean over the tokens), or return the class token x[:, 0] "
                "(in your model's call or a registered layer: kspectral refuses Lambda layers when loading)")
    if len(shape) == 4:
        return (f"{start}, a feature map (batch, height, width, channels); end it with "
                "keras.layers.GlobalAveragePooling2D() or Flatten()")
    return f"{start}; end it with a pooling layer (GlobalAveragePooling1D/2D/3D) or Flatten()"


def _check_probe(classes, optimizer, protocol="kspectral"):
    """The online probe's class count and optimizer (``(None, None)`` without a probe)."""
    if protocol not in ONLINE_PROBE_PROTOCOLS:
        raise InputError(f"unknown online_probe_protocol {protocol!r}; choose one of: "
                         f"{', '.join(ONLINE_PROBE_PROTOCOLS)}")
    if classes is None:
        if optimizer is not None:
            raise InputError("online_probe_optimizer needs online_probe_classes=C (the number of classes) as well")
        return None, None
    classes = check_positive_int(classes, "online_probe_classes", minimum=2)
    if optimizer is None:
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    elif isinstance(optimizer, (str, dict)):
        optimizer = keras.optimizers.get(optimizer)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"online_probe_optimizer must be a Keras optimizer (or its name), got {type(optimizer).__name__}"
        )
    return classes, optimizer


@keras.saving.register_keras_serializable(package="kspectral")
class SSLModel(keras.Model):
    """Two-view self-supervised model: encoder → projector → objective.

    Subclasses (one per method) set :attr:`objective_function`, :attr:`objective_options` and :attr:`loss_terms`
    (or implement :meth:`compute_objective`), and may
    override :meth:`build_heads` / :meth:`forward` for methods with other heads (CISSL, DISSL). Used
    directly, ``SSLModel`` trains any objective function ``objective(z_a, z_b) -> scalar`` given to it.

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
        augmenters: ``None`` (``fit()`` takes ``(view_a, view_b)`` pairs), or a Keras augmentation layer (e.g.
            ``kspectral.data.augmenter("cifar", seed=0)``) for both views, or a pair of them, one per view (e.g.
            ``augmenter("byol", image_size=32, seed=0)``). The model then draws the views inside the train step, on
            the accelerator, as ``augmenter(x, training=True)`` from batches of raw images ``x`` or ``(x, y)``
            (:func:`kspectral.data.pairs.image_batches`). Seeded augmenters give the same views run after run;
            each step draws new ones. Saved with the model.
        online_probe_classes: ``C``, the number of classes, to train an online linear probe (``None``: no probe).
            A ``Dense(C)`` head (zero-initialised, float32) is trained at every step on
            ``stop_gradient(encoder(view_a))``, the representations of the first view from the same forward pass
            (the projector's output is not used), with softmax cross-entropy over the labelled rows (``y ≥ 0``) of
            the batch. The SSL loss and the backbone's gradients do not change; the probe's weights are not among
            :attr:`trainable_variables`, which the model's optimizer updates.
        online_probe_optimizer: the probe's own optimizer (an instance, a name or a config); default
            ``keras.optimizers.Adam(1e-3)``, which needs no tuning to the scale of the representations (solo-learn
            trains its online classifier with SGD at lr 0.1 without weight decay, beside the backbone's LARS; the
            keras-io SimCLR example uses Adam). Saved with the model, state included.
        online_probe_protocol: ``"kspectral"`` (the default, as above) or ``"solo_learn"``: the online classifier as
            solo-learn trains the one behind its published CIFAR and ImageNet-100 numbers (``solo/methods/base.py``,
            ``spec/protocols.md`` §3): a ``Dense(C)`` initialised as PyTorch's ``nn.Linear`` (kernel and bias
            ``U(±1/√d)``, from a fixed seed of its own), trained on the detached representations of **both** views
            with the cross-entropy averaged over the two, by ``online_probe_optimizer`` — which, to be solo-learn's
            parameter group, is the run's optimizer class with the schedule at ``classifier_lr`` and no weight
            decay (``kspectral train`` builds it so when ``classifier_lr`` is set).
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

    Training data: ``fit(ds)`` where ``ds`` yields ``(view_a, view_b)`` tuples, or ``(view_a, view_b, y)`` with
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
    #: the most views a batch may hold (``None``: any number ``V ≥ 2``, e.g. multi-crop); a method whose
    #: :meth:`forward` is written for two views sets 2
    max_views: int | None = None
    #: the views a two-view objective is averaged over when a batch holds more than two (:func:`view_pairs`)
    view_pairing: str = "all_pairs"

    def __init__(self, encoder, projector="2048-2048-2048", objective=None, diagnostics=True,
                 diagnostics_every=DEFAULT_EVERY, augmenters=None, online_probe_classes=None,
                 online_probe_optimizer=None, sync_batchnorm="heads", online_probe_protocol="kspectral", **kwargs):
        _require_tensorflow_backend()
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.layers.Layer):
            raise TypeError(f"encoder must be a Keras model or layer, got {type(encoder).__name__}")
        if objective is not None and not callable(objective):
            raise TypeError(f"objective must be a function of (z_a, z_b), got {type(objective).__name__}")
        if objective is not None:
            _check_serializable(objective)
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
        names = ["loss", *self.loss_terms, *(DIAGNOSTICS if self.diagnostics else ())]
        self._metric_names = names
        self._trackers = [keras.metrics.Mean(name=n) for n in names]
        self.augmenters = _check_augmenters(augmenters)
        self.online_probe_classes, self.online_probe_optimizer = _check_probe(online_probe_classes,
                                                                              online_probe_optimizer,
                                                                              online_probe_protocol)
        self.online_probe_protocol = online_probe_protocol
        self.online_probe = None
        if self.online_probe_classes is not None:
            # Zero-initialised (or, for solo-learn's probe, drawn from a seed of its own at build time): creating the
            # head draws nothing from the global random stream, so the backbone initialises as without it.
            self.online_probe = keras.layers.Dense(self.online_probe_classes, kernel_initializer="zeros",
                                                   dtype="float32", name="online_probe")
            self._metric_names = [*self._metric_names, ONLINE_PROBE_METRIC]
            self._trackers.append(keras.metrics.Mean(name=ONLINE_PROBE_METRIC))
        self._warned_no_labels = False
        self.sync_batchnorm = check_sync_batchnorm(sync_batchnorm)

    # ------------------------------------------------------------------ building
    def head_layers(self):
        """The layers the model adds on the encoder (projector, student, teacher, ...): every layer the model tracks
        but the encoder, the augmenters and the online probe."""
        excluded = {id(layer) for layer in self.encoder._flatten_layers(include_self=True, recursive=True)}
        excluded.update(id(a) for a in (self.augmenters or ()))
        if self.online_probe is not None:
            excluded.add(id(self.online_probe))
        children = self._flatten_layers(include_self=False, recursive=False)
        return [layer for layer in children if id(layer) not in excluded]

    def synchronize_batchnorm(self):
        """Apply :attr:`sync_batchnorm` to the model's BatchNorm layers (done by :meth:`build`); returns the number of
        synchronised BatchNorm layers."""
        heads = self.head_layers()
        if self.sync_batchnorm == "none":
            set_batchnorm_synchronized([*heads, self.encoder], False)
            return 0
        count = set_batchnorm_synchronized(heads, True)
        if self.sync_batchnorm == "all":
            count += set_batchnorm_synchronized(self.encoder, True)
        return count

    def build(self, input_shape):
        input_shape = _as_shape_tuple(input_shape)
        self.synchronize_batchnorm()  # before any call traces the BatchNorm layers
        if not self.encoder.built:
            self.encoder.build(input_shape)
        rep_shape = _as_shape_tuple(self.encoder.compute_output_shape(input_shape))
        if len(rep_shape) != 2:
            raise InputError(_representation_shape_error(rep_shape))
        self.representation_dim = rep_shape[-1]
        self.build_heads(rep_shape)
        for layer in self._flatten_layers(include_self=False, recursive=False):
            if hasattr(layer, "initialize_from_model"):  # e.g. a momentum teacher: built and set equal to its source
                layer.initialize_from_model(self, input_shape)
        if self.online_probe is not None and not self.online_probe.built:
            if self.online_probe_protocol == "solo_learn":
                # PyTorch's nn.Linear(d, C): kernel and bias U(−1/√d, 1/√d)
                bound = 1.0 / float(np.sqrt(rep_shape[-1]))
                self.online_probe.kernel_initializer = keras.initializers.RandomUniform(-bound, bound,
                                                                                        seed=_PROBE_INIT_SEED)
                self.online_probe.bias_initializer = keras.initializers.RandomUniform(-bound, bound,
                                                                                      seed=_PROBE_INIT_SEED + 1)
            self.online_probe.build(rep_shape)
        self._build_probe_optimizer()

    def _build_probe_optimizer(self):
        """Create the probe optimizer's state, so that a `.keras` file can restore it (also when loaded uncompiled).

        Only eagerly: inside a traced function (Keras' symbolic build under a distribution strategy, or the first
        train step) the first ``apply`` builds it instead.
        """
        if (self.online_probe is not None and self.online_probe.built and not self.online_probe_optimizer.built
                and not tf.inside_function()):
            self.online_probe_optimizer.build(self.online_probe.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build before ``fit()`` / ``evaluate()`` under a strategy, from the first replica's local batch.

        Keras 3 (up to 3.15 at least) reduces the first distributed batch across replicas with ``strategy.reduce``
        to get its shapes, which fails under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a value
        (PerReplica...)", keras-team/keras#20585); the first local replica's batch has the same shapes and needs no
        communication. Keras resets the iterator after the build, as with its own version.
        """
        if iterator is not None and getattr(self, "_distribute_strategy", None) is not None:
            local = self._distribute_strategy.experimental_local_results
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: local(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v, next(batches))
                break
            iterator = None
        result = super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        strategy = getattr(self, "_distribute_strategy", None)
        if (strategy is not None and self.online_probe is not None and self.online_probe.built
                and not self.online_probe_optimizer.built and not tf.inside_function()):
            # The probe's optimizer creates its state here, under the strategy, not in the first replica step: Adam's
            # slots created inside the traced step fail under MirroredStrategy ("You must feed a value for
            # placeholder tensor").
            with strategy.scope():
                self.online_probe_optimizer.build(self.online_probe.trainable_variables)
        return result

    def _ensure_built(self, inputs):
        # fit() on one device traces train_step without calling the model, so Keras never builds it;
        # building here records the input shape that `.keras` files need to restore the optimizer state.
        if not self.built:
            self.build((None, *tuple(inputs.shape)[1:]))

    def build_heads(self, representation_shape):
        """Build the heads on top of the encoder; the default builds the projector."""
        if self.projector is not None and not self.projector.built:
            self.projector.build(representation_shape)

    @classmethod
    def view_limit(cls):
        """The most views a batch may hold: :attr:`max_views`, or 2 for a subclass that overrides :meth:`forward`
        (written for two views) but not :meth:`forward_views`; ``None`` for any number."""
        if cls.forward is not SSLModel.forward and cls.forward_views is SSLModel.forward_views:
            return 2
        return cls.max_views

    # ------------------------------------------------------------------ forward
    def call(self, inputs, training=False):
        """Representations ``encoder(inputs)``, shape ``(batch, d)``."""
        return self.encoder(inputs, training=training)

    def embed(self, inputs, training=False):
        """Embeddings ``projector(encoder(inputs))`` (the representations if there is no projector)."""
        inputs = ops.convert_to_tensor(inputs)
        self._ensure_built(inputs)
        return self._encode_and_project(inputs, training)[1]

    def _encode_and_project(self, inputs, training):
        h = self.encoder(inputs, training=training)
        return h, (h if self.projector is None else self.projector(h, training=training))

    def forward(self, view_a, view_b, training=False):
        """Everything the objective needs from one batch of pairs, as a dict of tensors.

        The default returns ``{"z_a": embed(view_a), "z_b": embed(view_b), "h_a": encoder(view_a), "h_b":
        encoder(view_b)}``: the two views' embeddings and representations (``h_a`` and ``h_b``,
        :data:`REPRESENTATIONS_KEY` and :data:`SECOND_REPRESENTATIONS_KEY`, which the online probe trains on and the
        objective never sees). With :attr:`joint_views` the two views go through
        the network as one concatenated batch (BatchNorm statistics over both views, as in the official SimCLR and
        ISSL code); otherwise each view is embedded separately (per-view statistics, as in the official VICReg and
        Barlow Twins code). A subclass whose ``forward`` returns no ``h_a`` still gets an online probe: it then
        encodes ``view_a`` once more, in inference mode.
        """
        if type(self).embed is not SSLModel.embed:  # a subclass's own embeddings: no representations to share
            if self.joint_views:
                z_a, z_b = self.split_views(self.embed(self.join_views(view_a, view_b), training=training))
                return {"z_a": z_a, "z_b": z_b}
            return {"z_a": self.embed(view_a, training=training), "z_b": self.embed(view_b, training=training)}
        if self.joint_views:
            h, z = self._encode_and_project(self.join_views(view_a, view_b), training)
            z_a, z_b = self.split_views(z)
            h_a, h_b = self.split_views(h)
            return {"z_a": z_a, "z_b": z_b, REPRESENTATIONS_KEY: h_a, SECOND_REPRESENTATIONS_KEY: h_b}
        h_a, z_a = self._encode_and_project(view_a, training)
        h_b, z_b = self._encode_and_project(view_b, training)
        return {"z_a": z_a, "z_b": z_b, REPRESENTATIONS_KEY: h_a, SECOND_REPRESENTATIONS_KEY: h_b}

    @staticmethod
    def join_views(view_a, view_b):
        """``concat([view_a, view_b])``: the view-major batch of ``2B`` rows (the two views must match)."""
        return join_views(view_a, view_b)

    @staticmethod
    def split_views(z):
        """Inverse of :meth:`join_views`: the first and second halves of the rows."""
        return split_views(z)

    def gather(self, outputs):
        """All-gather ``outputs`` across replicas, so that the objective sees the global batch.

        ``outputs`` maps names to tensors or to lists of them (one per view, :meth:`forward_views`). On one device
        (the default strategy, or outside a replica context) this returns ``outputs`` as is.
        """
        if _num_replicas() == 1:
            return outputs
        ctx = tf.distribute.get_replica_context()
        return {k: [ctx.all_gather(t, axis=0) for t in v] if isinstance(v, (list, tuple)) else ctx.all_gather(v, axis=0)
                for k, v in outputs.items()}

    def compute_objective(self, outputs):
        """The loss and its terms from :meth:`forward`'s outputs: a dict with ``"loss"`` and each term.

        A method class calls its :attr:`objective_function` with the outputs and its :attr:`objective_options` as
        keyword arguments and ``return_terms=True``; a plain ``SSLModel`` applies its ``objective`` to ``z_a`` and
        ``z_b``. The representations ``h_a`` in ``outputs`` are left out.
        """
        outputs = {k: v for k, v in outputs.items() if k not in _REPRESENTATIONS}
        if self.objective is None:
            options = {name: getattr(self, name) for name in self.objective_options}
            return type(self).objective_function(**outputs, **options, return_terms=True)
        value = self.objective(outputs["z_a"], outputs["z_b"])
        if isinstance(value, dict):
            return value
        return {"loss": value}

    def forward_views(self, views, training=False):
        """Everything a multi-view objective needs from a batch of ``V > 2`` views, as a dict of per-view lists.

        The default returns ``{"z": [z_1, ..., z_V], "h": [h_1, ..., h_V]}``, the embeddings and representations of
        every view (views of different sizes, e.g. multi-crop's large and small crops, go through the encoder
        separately: its pooled output has the same width for both). With :attr:`joint_views`, consecutive views of
        the same shape go through the network as one batch, as the official SwAV and DINO code group the crops of
        one resolution; otherwise each view alone. ``"h"`` is left out when :meth:`embed` is a subclass's own.
        """
        views = list(views)
        if type(self).embed is not SSLModel.embed:
            return {"z": [self.embed(v, training=training) for v in views]}
        groups = [[views[0]]]
        for v in views[1:]:
            if self.joint_views and tuple(v.shape[1:]) == tuple(groups[-1][0].shape[1:]):
                groups[-1].append(v)
            else:
                groups.append([v])
        zs, hs = [], []
        for group in groups:
            h, z = self._encode_and_project(ops.concatenate(group, axis=0) if len(group) > 1 else group[0], training)
            count = len(group)
            hs.extend(ops.split(h, count, axis=0) if count > 1 else [h])
            zs.extend(ops.split(z, count, axis=0) if count > 1 else [z])
        return {"z": zs, "h": hs}

    def compute_multiview_objective(self, outputs):
        """The loss and its terms from :meth:`forward_views`' outputs (per-view lists of the global batch).

        The default is the two-view objective :meth:`compute_objective` averaged over the pairs of views
        :func:`kspectral.objectives.view_pairs` gives for :attr:`view_pairing` (every pair by default): each pair
        ``(i, j)`` maps each list ``k`` to ``k_a = k[i]`` and ``k_b = k[j]``, and every term is the mean over the
        pairs. With two views there is one pair: the two-view objective's value. A method whose paper defines its
        multi-view loss otherwise (SimCLR's multi-positive NT-Xent) overrides this.
        """
        count = len(next(iter(outputs.values())))
        pairs = view_pairs(count, self.view_pairing)
        total = {}
        for i, j in pairs:
            pair = {f"{k}_a": v[i] for k, v in outputs.items()} | {f"{k}_b": v[j] for k, v in outputs.items()}
            for name, value in self.compute_objective(pair).items():
                total[name] = value if name not in total else total[name] + value
        return {name: value / float(len(pairs)) for name, value in total.items()}

    def diagnostic_embeddings(self, outputs):
        """The embedding batch the diagnostics are computed on (default: the first view's)."""
        return outputs["z_a"]

    # ------------------------------------------------------------------ training
    @staticmethod
    def _batch_elements(data):
        """The batch as a tuple, without the ``None`` padding Keras adds (``(x, y, sample_weight)``)."""
        if not isinstance(data, (tuple, list)):
            return (data,)
        data = tuple(data)
        while data and data[-1] is None:
            data = data[:-1]
        return data

    @staticmethod
    def _is_labels(value):
        return value is not None and len(value.shape) == 1

    def _unpack(self, data):
        """``(views, y)`` from a training batch: the tuple of ``V ≥ 2`` views and the labels (``None`` without)."""
        data = self._batch_elements(data)
        if self.augmenters is not None:
            if len(data) not in (1, 2) or (len(data) == 2 and not self._is_labels(data[1])):
                shapes = ", ".join(str(tuple(getattr(d, "shape", ()))) for d in data)
                raise InputError(
                    "this model draws its views itself with its augmenters: fit it on batches of images x or "
                    f"(x, y) with labels of shape (batch,), got a batch of {len(data)} tensors of shapes {shapes}; "
                    "build them with kspectral.data.pairs.image_batches (or build the model without augmenters to "
                    "train on batches of views (view_a, view_b, ...))"
                )
            return self.augment(data[0]), (data[1] if len(data) == 2 else None)
        y = None
        if len(data) >= 3 and self._is_labels(data[-1]):
            data, y = data[:-1], data[-1]
        if len(data) < 2:
            raise InputError(
                "SSL models train on batches of views (view_a, view_b, ...), optionally followed by labels y of shape "
                f"(batch,); got a batch of {len(data)} tensor(s). Build them with kspectral.data.augmented_pairs or "
                "kspectral.data.graph_pairs, or give the model augmenters=... to train on batches of images"
            )
        if (limit := self.view_limit()) is not None and len(data) > limit:
            raise InputError(_views_error(self, len(data)))
        return tuple(data), y

    def augment(self, x, training=True):
        """The views of a batch of images, drawn on the device: ``(augmenters[0](x), ..., augmenters[V−1](x))``, or
        ``(augmenter(x), augmenter(x))`` with a single augmenter.

        ``uint8`` images are scaled to ``[0, 1]``; other dtypes are cast to float32 (the presets expect ``[0, 1]``).

        Under a strategy with several replicas (called in a replica context, as in ``fit()``), every replica
        all-gathers the raw images of the global batch, augments all of them with the same random state (the
        augmenters' seed generators are mirrored) and keeps the rows of its own slice: the views are those one device
        draws for the global batch, and no two replicas share their random draws. The cost is an all-gather of the
        raw batch and R times the augmentation work per replica (small next to the encoder for small images).

        Raises:
            ValueError: the model has no augmenters.
        """
        if self.augmenters is None:
            raise InputError("this model has no augmenters; build it with augmenters=... to draw views on the device")
        x = ops.convert_to_tensor(x)
        scale = x.dtype == "uint8"
        replicas = _num_replicas()
        if replicas > 1:
            ctx = tf.distribute.get_replica_context()
            sizes = ctx.all_gather(tf.shape(x)[:1], axis=0)  # the replicas' batch sizes (the last batch may be uneven)
            start = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
            # Collectives take no uint8; float16 holds the integers 0-255 exactly, in half float32's bytes.
            # the gather loses the static shape of the image axes, which the augmentation layers read
            x = tf.ensure_shape(ctx.all_gather(ops.cast(x, "float16" if scale else "float32"), axis=0),
                                (None, *x.shape[1:]))
        x = ops.cast(x, "float32") / 255.0 if scale else ops.cast(x, "float32")
        augmenters = self.augmenters if len(self.augmenters) > 1 else self.augmenters * 2
        views = tuple(aug(x, training=training) for aug in augmenters)
        if replicas > 1:
            views = tuple(v[start : start + sizes[ctx.replica_id_in_sync_group]] for v in views)
        return views

    def _terms(self, views, training):
        """``(outputs, terms, features)`` of a batch of views: the gathered outputs (the diagnostics' input), the
        objective's terms, and the representations of the first two views (the online probe's input)."""
        self._ensure_built(views[0])
        if len(views) == 2:
            outputs = dict(self.forward(*views, training=training))
            features = [outputs.pop(key, None) for key in _REPRESENTATIONS]
            # The objectives and the diagnostics see float32 under a mixed precision policy (gathered in half
            # precision).
            outputs = _as_float32(self.gather(outputs))
            terms = self.compute_objective(outputs)
        else:
            if (limit := self.view_limit()) is not None and len(views) > limit:
                raise InputError(_views_error(self, len(views)))
            per_view = dict(self.forward_views(views, training=training))
            features = list(per_view.pop("h", [None, None]))[:2]
            per_view = _as_float32(self.gather(per_view))
            terms = self.compute_multiview_objective(per_view)
            outputs = {f"{k}_a": v[0] for k, v in per_view.items()} | {f"{k}_b": v[1] for k, v in per_view.items()}
        if "loss" not in terms:
            raise KeyError(f"{type(self).__name__}.compute_objective must return a dict with a 'loss' entry")
        return outputs, terms, features

    def _online_probe(self, views, features, y, train):
        """Train (or, with ``train=False``, evaluate) the online probe on one batch; update its accuracy metric.

        ``features`` are the forward pass's representations of the two views (``None`` where :meth:`forward` gave
        none). The ``"kspectral"`` protocol trains on the first view's, ``"solo_learn"`` on both views' (the mean of
        the two cross-entropies, and the accuracy over both).
        """
        if self.online_probe is None:
            return
        if y is None:
            if not self._warned_no_labels:
                self._warned_no_labels = True
                warnings.warn(
                    "the online probe gets no labels: the batches hold no y, so the probe does not train; give "
                    "labels=... to the pair pipeline (−1 marks unlabelled samples)", stacklevel=3,
                )
            return
        used = 2 if self.online_probe_protocol == "solo_learn" else 1
        # a forward() that returns no representations: encode the view once more, without touching BN
        hs = [h if h is not None else self.encoder(v, training=False) for h, v in zip(features[:used], views[:used])]
        hs = [ops.stop_gradient(ops.cast(h, "float32")) for h in hs]
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        check = tf.debugging.assert_less(
            y, self.online_probe_classes,
            message=f"labels must be class indices below online_probe_classes={self.online_probe_classes}",
        )
        with tf.control_dependencies([check]):  # before the cross-entropy op fails with its own message
            y = tf.identity(y)
        mask = ops.cast(y >= 0, "float32")
        target = ops.maximum(y, 0)
        count = ops.sum(mask)
        if _num_replicas() > 1:
            count = tf.distribute.get_replica_context().all_reduce("sum", count)
        with tf.GradientTape() as tape:
            logits = [self.online_probe(h, training=train) for h in hs]
            # Per view, the sum over this replica's labelled rows divided by the global count of labelled rows: the
            # optimizer sums the replicas' gradients, which gives the gradient of the mean over the global batch.
            losses = [ops.sum(keras.losses.sparse_categorical_crossentropy(target, lg, from_logits=True) * mask)
                      / ops.maximum(count, 1.0) for lg in logits]
            probe_loss = losses[0] if used == 1 else (losses[0] + losses[1]) / 2.0
        if train:
            variables = self.online_probe.trainable_variables
            grads = tape.gradient(probe_loss, variables)
            self.online_probe_optimizer.apply(grads, variables)
        tracker = self._trackers[self._metric_names.index(ONLINE_PROBE_METRIC)]
        for lg in logits:
            correct = ops.cast(ops.equal(ops.cast(ops.argmax(lg, axis=-1), "int32"), target), "float32")
            tracker.update_state(correct, sample_weight=mask)

    def train_step(self, data):
        views, y = self._unpack(data)
        with tf.GradientTape() as tape:
            outputs, terms, features = self._terms(views, training=True)
            loss = terms["loss"]
            if self.losses:
                loss = loss + ops.cast(ops.sum(ops.stack(self.losses)), loss.dtype)
            # Every replica computes the same global-batch loss; the all-gather's backward pass sums the replicas'
            # upstream gradients and the optimizer sums the replicas' gradients again, so each replica takes 1/R.
            # The same holds for the regularizers (every replica holds the same weights) and for the all-reduced
            # moments of synchronised BatchNorm, so R replicas of batch B take one device's step on batch R·B.
            scaled = self.optimizer.scale_loss(loss / _num_replicas())
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.after_optimizer_step(self.optimizer.iterations - 1)
        self._online_probe(views, features, y, train=True)
        return _step_logs(self._update_metrics(dict(terms, loss=loss), outputs))

    def test_step(self, data):
        views, y = self._unpack(data)
        outputs, terms, features = self._terms(views, training=False)
        if self.losses:
            terms = dict(terms, loss=terms["loss"] + ops.cast(ops.sum(ops.stack(self.losses)), terms["loss"].dtype))
        # evaluate() reports the probe's accuracy on the evaluated first views (it does not train there).
        self._online_probe(views, features, y, train=False)
        return _step_logs(self._update_metrics(terms, outputs))

    def after_optimizer_step(self, step):
        """Called in the train step right after the optimizer's update, with ``step`` the 0-based optimizer step just
        taken (a tensor): the place for the updates that follow the gradient step, e.g. a momentum teacher's
        average (:class:`~kspectral.methods.components.teacher.MomentumTeacher`). Under a strategy it runs in the
        replica context after every replica applied the same update, so every replica computes the same values.
        The default calls ``update_after_step(model, step)`` on every component (a layer the model tracks directly)
        that defines it."""
        for layer in self._flatten_layers(include_self=False, recursive=False):
            hook = getattr(layer, "update_after_step", None)
            if hook is not None:
                hook(self, step)

    @property
    def trainable_variables(self):
        """The variables the model's optimizer trains: all trainable ones but the online probe's (its own optimizer
        trains those) and those of components that are not trained by gradients (``trained_by_optimizer = False``,
        e.g. a momentum teacher)."""
        variables = super().trainable_variables
        excluded = [layer for layer in self._flatten_layers(include_self=False, recursive=False)
                    if layer is getattr(self, "online_probe", None) or not getattr(layer, "trained_by_optimizer", True)]
        if not excluded:
            return variables
        own = {id(v) for layer in excluded for v in layer.trainable_variables}
        return [v for v in variables if id(v) not in own]

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                **kwargs):
        """Keras ``compile`` with an optimizer only: the loss and metrics are the method's own.

        Raises:
            ValueError: ``loss``, ``metrics``, ``loss_weights`` or ``weighted_metrics`` given (they would be ignored).
        """
        given = [n for n, v in (("loss", loss), ("metrics", metrics), ("loss_weights", loss_weights),
                                ("weighted_metrics", weighted_metrics)) if v is not None]
        if given:
            raise InputError(
                f"SSL models compute their own loss and metrics; compile them with an optimizer only "
                f"(got {', '.join(given)}), e.g. model.compile(optimizer='adam')"
            )
        if optimizer is not None and optimizer is getattr(self, "online_probe_optimizer", None):
            raise InputError(
                "the model's optimizer and the online probe's must be two optimizer objects; pass a new one to "
                "compile() or to online_probe_optimizer="
            )
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit``, with ``shuffle`` defaulting to ``False`` when ``x`` is a ``tf.data`` dataset.

        Keras' ``fit(shuffle=True)`` default cannot shuffle a ``tf.data.Dataset`` and warns ("`shuffle=True` was
        passed, but will be ignored") on every call; kspectral's pipelines (:func:`kspectral.data.augmented_pairs`,
        :func:`~kspectral.data.graph_pairs`, :func:`~kspectral.data.image_batches`) shuffle themselves, so for a
        dataset (or a ``tf.distribute`` distributed dataset) the default becomes ``False`` and nothing is printed.
        An explicit ``shuffle`` and every other argument pass through to ``keras.Model.fit`` unchanged.

        Args:
            x: batches of pairs ``(view_a, view_b)`` or ``(view_a, view_b, y)``, or of raw images for a model built
                with ``augmenters=...``; see :meth:`keras.Model.fit`.
            y, *args, **kwargs: as :meth:`keras.Model.fit`.

        Returns:
            The ``keras.callbacks.History`` of the run.

        Example:
            >>> model.fit(augmented_pairs(x, digits_augmenter()), epochs=3)  # doctest: +SKIP
        """
        shuffle_given = "shuffle" in kwargs or len(args) >= 7  # shuffle is fit's 9th positional argument
        if not shuffle_given and isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset)):
            kwargs["shuffle"] = False
        self.build_from_encoder()
        return super().fit(x, y, *args, **kwargs)

    def build_from_encoder(self):
        """Build the model (heads, online probe, its optimizer) from the encoder's input shape, when it is known.

        ``fit()`` calls it first: callbacks such as ``keras.callbacks.BackupAndRestore`` need a built model in
        ``on_train_begin``, before the first batch would build it. The shape is known when the encoder is a built
        Keras model with one input (e.g. ``keras.Sequential([keras.Input(shape), ...])`` or a functional model);
        otherwise nothing happens and the first batch builds the model, or build it yourself:
        ``model.build((None, *input_shape))``. Returns whether the model is built.
        """
        if self.built:
            return True
        inputs = getattr(self.encoder, "inputs", None) if self.encoder.built else None
        if not inputs or len(inputs) != 1 or inputs[0].shape is None:
            return False
        with self.distribute_strategy.scope():
            self.build((None, *tuple(inputs[0].shape)[1:]))
        return True

    def compile_from_config(self, config):
        """Re-compile a loaded model from its saved compile config (optimizer state included)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

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
        return {t.name: t.result() for t in self._trackers}

    @property
    def metrics(self):
        return list(self._trackers)

    # ------------------------------------------------------------------ inference
    def encode(self, x, batch_size=256):
        """Representations of ``x`` (numpy array or ``tf.data.Dataset`` of inputs) as a float32 numpy array
        ``(N, d)`` (also under a mixed-precision policy, whose layers compute in float16 or bfloat16)."""

        def features(batch):
            return ops.convert_to_numpy(ops.cast(self.encoder(batch, training=False), "float32"))

        if isinstance(x, tf.data.Dataset):
            return np.concatenate([features(b) for b in x])
        x = np.asarray(x)
        if x.shape[0] == 0:
            raise InputError("encode() got no samples")
        return np.concatenate([features(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """Fit the closed-form spectral counterpart of this method's loss on ``graph``.

        Delegates to :func:`kspectral.spectral.baselines.spectral_baseline` with the class's canonical registry
        name: the table there says which estimator computes the counterpart and how firmly (theorem, derived or
        analogy).

        Args:
            graph: positive-pair graph ``G``, shape ``(N, N)``.
            dim: K, the embedding dimension.
            features: ``X`` of shape ``(N, D)`` for the linear regime; ``None`` for the nonparametric one.
            **options: hyper-parameters of the chosen estimator.

        Returns:
            The fitted estimator, of class :meth:`spectral_counterpart`.

        Raises:
            TypeError: a class that is not a registered method (e.g. a plain ``SSLModel``).
        """
        from kspectral.spectral import baselines

        return baselines.spectral_baseline(cls._canonical_name(), graph, dim, features=features, **options)

    @classmethod
    def spectral_counterpart(cls, regime="nonparametric", graph=None, dim=None):
        """Class name of the estimator :meth:`spectral_baseline` returns, in ``regime`` (``"nonparametric"`` or
        ``"linear"``); with ``graph`` (and ``dim``), the one for that graph. See
        :func:`kspectral.spectral.baselines.counterpart`.

        Raises:
            TypeError: a class that is not a registered method (e.g. a plain ``SSLModel``).
        """
        from kspectral.spectral import baselines

        return baselines.counterpart(cls._canonical_name(), regime, graph=graph, dim=dim)

    @classmethod
    def _canonical_name(cls):
        if cls.registry_name is None:
            raise TypeError(
                f"{cls.__name__} is not a registered method, so it has no closed-form spectral counterpart; use one "
                "of the method classes (kspectral.methods.canonical_names())"
            )
        return cls.registry_name

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
        if isinstance(config.get("augmenters"), (list, tuple, dict)):
            config["augmenters"] = _check_augmenters(config["augmenters"])
        if isinstance(config.get("online_probe_optimizer"), dict):
            config["online_probe_optimizer"] = keras.optimizers.deserialize(config["online_probe_optimizer"])
        return cls(**config)
