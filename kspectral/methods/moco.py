"""MoCo v3 and MoCo v2 (solo-learn's MoCo V2+, symmetric) as Keras models: a momentum teacher's keys, InfoNCE."""

from __future__ import annotations

import keras

from kspectral._validation import check_positive, check_positive_int
from kspectral.errors import InputError
from kspectral.methods.base import SSLModel
from kspectral.methods.components import EmbeddingQueue, MomentumTeacher, Predictor
from kspectral.methods.components.teacher import TeacherSettings
from kspectral.methods.projector import Projector
from kspectral.methods.registry import register
from kspectral.objectives.moco import mocov2, mocov3


class _MomentumContrast(TeacherSettings, SSLModel):
    """Shared body of :class:`MoCoV3` and :class:`MoCoV2`: a :class:`MomentumTeacher` of ``[encoder, projector]``
    whose projections of the two views are the keys ``k_a`` and ``k_b``; two views (:attr:`max_views`)."""

    objective_options = ("temperature",)
    loss_terms = ("attraction", "repulsion")
    max_views = 2
    #: the options of :class:`Projector` a spec string gets (the method's own head)
    projector_defaults: dict = {}

    def __init__(self, encoder, projector, temperature, base_tau, final_tau, total_steps, **kwargs):
        if isinstance(projector, str) and projector.strip().lower() not in ("", "none"):
            projector = Projector(projector, name="projector", **self.projector_defaults)
        super().__init__(encoder, projector, **kwargs)
        if self.projector is None:
            raise InputError(f"{type(self).__name__} needs a projector (the teacher averages [encoder, projector] and "
                             "its output width is the keys'); give a spec such as projector=\"2048-256\"")
        self.temperature = check_positive(temperature, "temperature")
        self.teacher = MomentumTeacher([self.encoder, self.projector], base_tau=base_tau, final_tau=final_tau,
                                       total_steps=total_steps, source=["encoder", "projector"], name="teacher")

    def forward(self, view_a, view_b, training=False):
        """The online outputs (``z_a``, ``z_b``, ``h_a``, ``h_b``; each view on its own, per-view BatchNorm
        statistics, as the official code and solo-learn) and the teacher's keys ``k_a``, ``k_b``."""
        outputs = dict(super().forward(view_a, view_b, training=training))
        outputs["k_a"] = self.teacher(view_a, training=training)
        outputs["k_b"] = self.teacher(view_b, training=training)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(base_tau=self.base_tau, final_tau=self.final_tau, total_steps=self.total_steps)
        return config


@register("mocov3")
@keras.saving.register_keras_serializable(package="kspectral")
class MoCoV3(_MomentumContrast):
    """MoCo v3 (Chen, Xie & He 2021, arXiv:2104.02057, Algorithm 1): a predictor's queries against a momentum
    teacher's keys of the other view, the other samples of the (global) batch the negatives.

    The loss is :func:`kspectral.objectives.mocov3`, ``c(q_a, k_b) + c(q_b, k_a)`` with the official ``2τ`` factor
    (facebookresearch/moco-v3 ``contrastive_loss``; solo-learn's ``mocov3_loss_func`` is the same). The queries are
    ``predictor(projector(encoder(x)))``; the keys ``teacher(x)``, the teacher a :class:`MomentumTeacher` of
    ``[encoder, projector]`` (no predictor), moved after every optimizer step with ``τ`` cosine from ``base_tau``
    to ``final_tau`` over ``total_steps`` (the official ``--moco-m-cos``; solo-learn's CIFAR config 0.99 → 1.0).
    Under a strategy the keys are those of the global batch (all-gathered), as the official
    ``concat_all_gather``.

    Heads (ResNet variant of the official code and of solo-learn's ``mocov3.py``, ``_build_mlp``): a spec string
    builds the projector ``Linear-BN-ReLU-Linear-BN(affine=False)``, every ``Linear`` without bias
    (``Projector(spec, last_batchnorm=True)``); the predictor is ``Linear-BN-ReLU-Linear`` without biases and
    without the last BatchNorm (``Predictor(f"{predictor_hidden}-{d}", last_bias=False)``, ``d`` the projector's
    output width), with the projector's ``layer_defaults``. A projector given as a layer is used as it is (the
    recipes build it with ``last_batchnorm = true``).

    Defaults: τ = 0.2, momentum 0.99 → 1.0, projector ``"4096-256"``, predictor hidden 4096: solo-learn's CIFAR
    config (``scripts/pretrain/cifar/mocov3.yaml``); the official ResNet-50 ImageNet recipe uses τ = 1.0 and a
    ``4096-256`` projector of two layers too.

    Spectral counterpart: InfoNCE against momentum keys is the NT-Xent (sample-contrastive) family, so SimCLR's
    global-family closed forms, by analogy (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (``"4096-256"``) or a Keras layer.
        predictor_hidden: the predictor's hidden width (4096).
        temperature: τ of the softmax.
        base_tau, final_tau: the teacher's momentum range (cosine over ``total_steps``).
        total_steps: the optimizer steps of the run (``kspectral train`` passes them); ``None`` keeps ``τ =
            base_tau``.

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32)])
        >>> model = MoCoV3(encoder=encoder, projector="64-16", predictor_hidden=64)
        >>> model.compile(optimizer="adam")
    """

    projector_defaults = {"last_batchnorm": True}

    def __init__(self, encoder, projector="4096-256", predictor_hidden=4096, temperature=0.2, base_tau=0.99,
                 final_tau=1.0, total_steps=None, predictor=None, **kwargs):
        super().__init__(encoder, projector, temperature, base_tau, final_tau, total_steps, **kwargs)
        self.predictor_hidden = check_positive_int(predictor_hidden, "predictor_hidden")
        if isinstance(predictor, dict):  # a .keras file's config
            predictor = keras.saving.deserialize_keras_object(predictor)
        if predictor is None:
            layer_defaults = getattr(self.projector, "layer_defaults", "keras")
            predictor = Predictor(f"{self.predictor_hidden}-{self.projector.output_dim}", last_bias=False,
                                  layer_defaults=layer_defaults, name="predictor")
        elif not isinstance(predictor, keras.layers.Layer):
            raise TypeError(f"predictor must be None (built from predictor_hidden) or a Keras layer, got "
                            f"{type(predictor).__name__}")
        self.predictor = predictor

    def build_heads(self, representation_shape):
        super().build_heads(representation_shape)
        if not self.predictor.built:
            self.predictor.build((None, self.projector.output_dim))

    def forward(self, view_a, view_b, training=False):
        """:meth:`_MomentumContrast.forward` and the queries ``q_a = predictor(z_a)``, ``q_b = predictor(z_b)``."""
        outputs = super().forward(view_a, view_b, training=training)
        outputs["q_a"] = self.predictor(outputs["z_a"], training=training)
        outputs["q_b"] = self.predictor(outputs["z_b"], training=training)
        return outputs

    def compute_objective(self, outputs):
        return mocov3(outputs["q_a"], outputs["q_b"], outputs["k_a"], outputs["k_b"], temperature=self.temperature,
                      return_terms=True)

    def get_config(self):
        config = super().get_config()
        predictor = keras.saving.serialize_keras_object(self.predictor)
        predictor.pop("build_config", None)  # the model builds it (build_heads)
        config.update(predictor_hidden=self.predictor_hidden, predictor=predictor)
        return config


@register("mocov2")
@keras.saving.register_keras_serializable(package="kspectral")
class MoCoV2(_MomentumContrast):
    """MoCo v2 (Chen, Fan, Girshick & He 2020, arXiv:2003.04297; MoCo, He et al. 2020, arXiv:1911.05722,
    Algorithm 1) in solo-learn's symmetric form, MoCo V2+: InfoNCE of each view's query against the teacher's key
    of the other view and a queue of past keys.

    The loss is :func:`kspectral.objectives.mocov2`, ``(ℓ(q_a, k_b, Q_b) + ℓ(q_b, k_a, Q_a)) / 2``, as solo-learn's
    ``mocov2plus`` (``solo/methods/mocov2plus.py``): the queries are the online projections, the keys the
    projections of a :class:`MomentumTeacher` of ``[encoder, projector]``, and there is **one queue per view**, as
    solo-learn's ``queue`` buffer of shape ``(2, dim, Q)``: ``queue_a`` (an :class:`EmbeddingQueue`,
    ``source="k_a"``) holds the past keys of view a, the negatives of ``q_b``; ``queue_b`` (``source="k_b"``) those
    of view b, the negatives of ``q_a``. After every optimizer step (after the loss read them) the model pushes the
    keys of the **global** batch (all-gathered) into them, as solo-learn pushes ``gather(k1)`` and ``gather(k2)``,
    so every replica holds the same queues; a ``queue_size`` that is not a multiple of the global batch wraps around
    (solo-learn asserts a multiple). The official MoCo v2 is asymmetric: one direction, one queue of 65 536, a
    constant momentum 0.999 and a ``2048-128`` head.

    Defaults: τ = 0.2, momentum 0.99 → 0.999 (cosine over ``total_steps``), projector ``"2048-256"`` as
    ``Linear-ReLU-Linear`` with biases (a spec string builds ``Projector(spec, batchnorm=False, last_bias=True)``),
    ``queue_size`` 32 768: solo-learn's CIFAR config (``scripts/pretrain/cifar/mocov2plus.yaml``).

    Spectral counterpart: InfoNCE with momentum keys and queue negatives is the NT-Xent (sample-contrastive) family,
    so SimCLR's global-family closed forms, by analogy (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (``"2048-256"``) or a Keras layer.
        queue_size: ``Q``, the rows of each queue (at least the global batch).
        temperature, base_tau, final_tau, total_steps: as :class:`MoCoV3`'s (solo-learn's MoCo V2+ momentum:
            0.99 → 0.999).

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32)])
        >>> model = MoCoV2(encoder=encoder, projector="64-16", queue_size=1024)
        >>> model.compile(optimizer="sgd")
    """

    projector_defaults = {"batchnorm": False, "last_bias": True}

    def __init__(self, encoder, projector="2048-256", queue_size=32768, temperature=0.2, base_tau=0.99,
                 final_tau=0.999, total_steps=None, **kwargs):
        super().__init__(encoder, projector, temperature, base_tau, final_tau, total_steps, **kwargs)
        self.queue_size = check_positive_int(queue_size, "queue_size")
        dim = self.projector.output_dim
        # solo-learn draws both queues' initial rows at random (randn, normalised); each queue has its own seed
        self.queue_a = EmbeddingQueue(self.queue_size, dim, seed=0, source="k_a", name="queue_a")
        self.queue_b = EmbeddingQueue(self.queue_size, dim, seed=1, source="k_b", name="queue_b")

    def compute_objective(self, outputs):
        # the queues before this batch's keys enter them (they are pushed after the optimizer step)
        return mocov2(outputs["z_a"], outputs["z_b"], outputs["k_a"], outputs["k_b"],
                      queue=(self.queue_a(), self.queue_b()), temperature=self.temperature, return_terms=True)

    def get_config(self):
        config = super().get_config()
        config["queue_size"] = self.queue_size
        return config
