"""``SSLModel``: the Keras model every SSL method builds on.

An ``SSLModel`` wraps any Keras encoder and a projector head, trains on batches of positive pairs
``(view_a, view_b)`` with ``fit()``, and reports its loss, the loss's terms and the batch diagnostics of
:mod:`kspectral.methods.diagnostics` as metrics. ``model(x)`` and ``model.encode(x)`` return the encoder's
representations (the features a probe sees); ``model.embed(x)`` the projector's embeddings (what the loss sees).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kspectral.methods.diagnostics import DIAGNOSTICS, batch_diagnostics
from kspectral.methods.projector import make_projector
from kspectral.objectives._common import join_views, split_views


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
        raise ValueError(
            f"objective {name!r} cannot be saved with the model: decorate it with "
            "@keras.saving.register_keras_serializable() (kspectral's objective functions already are)"
        )


def _num_replicas():
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync


def _as_shape_tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


@keras.saving.register_keras_serializable(package="kspectral")
class SSLModel(keras.Model):
    """Two-view self-supervised model: encoder → projector → objective.

    Subclasses (one per method) set :attr:`loss_terms`, implement :meth:`compute_objective`, and may
    override :meth:`build_heads` / :meth:`forward` for methods with other heads (CISSL, DISSL). Used
    directly, ``SSLModel`` trains any objective function ``objective(z_a, z_b) -> scalar`` given to it.

    Args:
        encoder: any Keras model or layer mapping a batch of inputs to ``(batch, d)`` representations.
        projector: projector spec such as ``"2048-2048-2048"`` (see :class:`~kspectral.methods.Projector`),
            a Keras layer, or ``None`` to apply the objective to the representations.
        objective: for a plain ``SSLModel``, a (registered, serializable) function of ``(z_a, z_b)``
            returning a scalar. Method subclasses ignore it.
        diagnostics: report the batch diagnostics (embedding std, RankMe, L_c, L_nc) as metrics.
        **kwargs: passed to ``keras.Model`` (``name``, ...).

    Training data: ``fit(ds)`` where ``ds`` yields ``(view_a, view_b)`` tuples, e.g.
    :func:`kspectral.data.augmented_pairs` or :func:`kspectral.data.graph_pairs`.

    Example:
        >>> import keras
        >>> from kspectral.methods import VICReg
        >>> encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32)])
        >>> model = VICReg(encoder=encoder, projector="64-64")
        >>> model.compile(optimizer="adam")
    """

    #: names of the objective's terms, reported as metrics beside ``loss``
    loss_terms: tuple = ()
    #: the spectral method this loss recovers (``theory.md`` §2), or ``None``
    spectral_counterpart: str | None = None
    #: registry name, set by :func:`kspectral.methods.register`
    registry_name: str | None = None
    #: pass both views through the network as one batch (see :meth:`forward`)
    joint_views: bool = False
    #: whether the method takes a ``projector`` (methods with their own heads, e.g. CISSL, do not)
    uses_projector: bool = True

    def __init__(self, encoder, projector="2048-2048-2048", objective=None, diagnostics=True, **kwargs):
        _require_tensorflow_backend()
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.layers.Layer):
            raise TypeError(f"encoder must be a Keras model or layer, got {type(encoder).__name__}")
        if objective is not None and not callable(objective):
            raise TypeError(f"objective must be a function of (z_a, z_b), got {type(objective).__name__}")
        if objective is not None:
            _check_serializable(objective)
        if objective is None and type(self).compute_objective is SSLModel.compute_objective:
            raise ValueError(
                "SSLModel needs an objective: pass objective=fn(z_a, z_b), or use a method class such as "
                "kspectral.methods.VICReg"
            )
        self.encoder = encoder
        self.projector = make_projector(projector)
        self.objective = objective
        self.diagnostics = bool(diagnostics)
        names = ["loss", *self.loss_terms, *(DIAGNOSTICS if self.diagnostics else ())]
        self._metric_names = names
        self._trackers = [keras.metrics.Mean(name=n) for n in names]

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        input_shape = _as_shape_tuple(input_shape)
        if not self.encoder.built:
            self.encoder.build(input_shape)
        rep_shape = _as_shape_tuple(self.encoder.compute_output_shape(input_shape))
        if len(rep_shape) != 2:
            raise ValueError(
                f"the encoder must return (batch, dim) representations, but it returns shape {rep_shape}; "
                "end it with keras.layers.GlobalAveragePooling2D() or Flatten()"
            )
        self.representation_dim = rep_shape[-1]
        self.build_heads(rep_shape)

    def _ensure_built(self, inputs):
        # fit() on one device traces train_step without calling the model, so Keras never builds it;
        # building here records the input shape that `.keras` files need to restore the optimizer state.
        if not self.built:
            self.build((None, *tuple(inputs.shape)[1:]))

    def build_heads(self, representation_shape):
        """Build the heads on top of the encoder; the default builds the projector."""
        if self.projector is not None and not self.projector.built:
            self.projector.build(representation_shape)

    # ------------------------------------------------------------------ forward
    def call(self, inputs, training=False):
        """Representations ``encoder(inputs)``, shape ``(batch, d)``."""
        return self.encoder(inputs, training=training)

    def embed(self, inputs, training=False):
        """Embeddings ``projector(encoder(inputs))`` (the representations if there is no projector)."""
        inputs = ops.convert_to_tensor(inputs)
        self._ensure_built(inputs)
        h = self.encoder(inputs, training=training)
        return h if self.projector is None else self.projector(h, training=training)

    def forward(self, view_a, view_b, training=False):
        """Everything the objective needs from one batch of pairs, as a dict of tensors.

        The default returns ``{"z_a": embed(view_a), "z_b": embed(view_b)}``. With :attr:`joint_views` the two
        views go through the network as one concatenated batch (BatchNorm statistics over both views, as in the
        official SimCLR and ISSL code); otherwise each view is embedded separately (per-view statistics, as in the
        official VICReg and Barlow Twins code).
        """
        if self.joint_views:
            z_a, z_b = self.split_views(self.embed(self.join_views(view_a, view_b), training=training))
            return {"z_a": z_a, "z_b": z_b}
        return {"z_a": self.embed(view_a, training=training), "z_b": self.embed(view_b, training=training)}

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

        On one device (the default strategy, or outside a replica context) this returns ``outputs`` as is.
        """
        if _num_replicas() == 1:
            return outputs
        ctx = tf.distribute.get_replica_context()
        return {k: ctx.all_gather(v, axis=0) for k, v in outputs.items()}

    def compute_objective(self, outputs):
        """The loss and its terms from :meth:`forward`'s outputs: a dict with ``"loss"`` and each term.

        A plain ``SSLModel`` applies its ``objective`` function to ``z_a`` and ``z_b``.
        """
        value = self.objective(outputs["z_a"], outputs["z_b"])
        if isinstance(value, dict):
            return value
        return {"loss": value}

    def diagnostic_embeddings(self, outputs):
        """The embedding batch the diagnostics are computed on (default: the first view's)."""
        return outputs["z_a"]

    # ------------------------------------------------------------------ training
    @staticmethod
    def _unpack_views(data):
        if isinstance(data, (tuple, list)) and len(data) == 3 and data[2] is None:
            data = data[:2]
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(
                "SSL models train on batches of positive pairs (view_a, view_b); got "
                f"{type(data).__name__} of length {len(data) if isinstance(data, (tuple, list)) else 1}. "
                "Build them with kspectral.data.augmented_pairs or kspectral.data.graph_pairs"
            )
        return data[0], data[1]

    def _terms(self, view_a, view_b, training):
        self._ensure_built(view_a)
        outputs = self.gather(self.forward(view_a, view_b, training=training))
        terms = self.compute_objective(outputs)
        if "loss" not in terms:
            raise KeyError(f"{type(self).__name__}.compute_objective must return a dict with a 'loss' entry")
        return outputs, terms

    def train_step(self, data):
        view_a, view_b = self._unpack_views(data)
        with tf.GradientTape() as tape:
            outputs, terms = self._terms(view_a, view_b, training=True)
            loss = terms["loss"]
            if self.losses:
                loss = loss + ops.cast(ops.sum(ops.stack(self.losses)), loss.dtype)
            # Every replica computes the same global-batch loss; the all-gather's backward pass sums the replicas'
            # upstream gradients and the optimizer sums the replicas' gradients again, so each replica takes 1/R.
            scaled = self.optimizer.scale_loss(loss / _num_replicas())
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(dict(terms, loss=loss), outputs)

    def test_step(self, data):
        view_a, view_b = self._unpack_views(data)
        outputs, terms = self._terms(view_a, view_b, training=False)
        if self.losses:
            terms = dict(terms, loss=terms["loss"] + ops.cast(ops.sum(ops.stack(self.losses)), terms["loss"].dtype))
        return self._update_metrics(terms, outputs)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                **kwargs):
        """Keras ``compile`` with an optimizer only: the loss and metrics are the method's own.

        Raises:
            ValueError: ``loss``, ``metrics``, ``loss_weights`` or ``weighted_metrics`` given (they would be ignored).
        """
        given = [n for n, v in (("loss", loss), ("metrics", metrics), ("loss_weights", loss_weights),
                                ("weighted_metrics", weighted_metrics)) if v is not None]
        if given:
            raise ValueError(
                f"SSL models compute their own loss and metrics; compile them with an optimizer only "
                f"(got {', '.join(given)}), e.g. model.compile(optimizer='adam')"
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-compile a loaded model from its saved compile config (optimizer state included)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def _update_metrics(self, terms, outputs):
        values = dict(terms)
        if self.diagnostics:
            values.update(batch_diagnostics(self.diagnostic_embeddings(outputs)))
        for name, tracker in zip(self._metric_names, self._trackers):
            if name in values:
                tracker.update_state(values[name])
        return {t.name: t.result() for t in self._trackers}

    @property
    def metrics(self):
        return list(self._trackers)

    # ------------------------------------------------------------------ inference
    def encode(self, x, batch_size=256):
        """Representations of ``x`` (numpy array or ``tf.data.Dataset`` of inputs) as a numpy array."""
        if isinstance(x, tf.data.Dataset):
            return np.concatenate([ops.convert_to_numpy(self.encoder(b, training=False)) for b in x])
        x = np.asarray(x)
        if x.shape[0] == 0:
            raise ValueError("encode() got no samples")
        out = [
            ops.convert_to_numpy(self.encoder(x[i : i + batch_size], training=False))
            for i in range(0, x.shape[0], batch_size)
        ]
        return np.concatenate(out)

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """The closed form this method's loss recovers on ``graph`` (see each method's docstring)."""
        raise TypeError(
            f"{cls.__name__} has no closed-form spectral counterpart; use one of the method classes "
            "(kspectral.methods.names())"
        )

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        projector = self.projector
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            projector=None if projector is None else keras.saving.serialize_keras_object(projector),
            diagnostics=self.diagnostics,
        )
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
        return cls(**config)
