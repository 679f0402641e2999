"""SwAV: swapping assignments between views (Caron et al. 2020), as a Keras model with prototypes and a queue."""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_nonnegative, check_positive, check_positive_int
from kspectral.errors import InputError
from kspectral.methods.base import SSLModel
from kspectral.methods.components import EmbeddingQueue
from kspectral.methods.projector import make_projector
from kspectral.methods.registry import register
from kspectral.objectives.swav import sinkhorn, swav
from kspectral.objectives.tensors import l2_normalize

#: the views whose codes are predicted (the official ``crops_for_assign = [0, 1]``: the two global views)
ASSIGNED_VIEWS = 2


@keras.saving.register_keras_serializable(package="kspectral")
class Prototypes(keras.layers.Layer):
    """SwAV's prototypes: a linear map without bias ``z ↦ z Cᵀ`` onto ``count`` unit vectors ``cᵏ``.

    The kernel ``(dim, count)`` holds one prototype per column. The official code normalises the prototypes to
    unit norm before every optimizer step (``w.data = normalize(w)``, outside the gradient); here they are
    normalised when the model is built and after every optimizer step (:meth:`update_after_step`), which gives the
    same sequence of values step after step, and, the prototypes being model variables, the same under resume and
    on every replica. Trained by the model's optimizer. SwAV builds it with ``dtype="float32"``: the scores are
    computed in float32 under a mixed precision policy.

    Args:
        count: the number of prototypes ``K`` (official 3000).
    """

    def __init__(self, count, **kwargs):
        super().__init__(**kwargs)
        self.count = check_positive_int(count, "num_prototypes", minimum=2)
        # drawn at construction (its seed fixed then, as a Dense layer's), so a model built later, e.g. inside a
        # strategy's first step, gets the same prototypes
        self.initializer = keras.initializers.GlorotUniform()

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(int(input_shape[-1]), self.count), initializer=self.initializer,
                                      name="kernel")
        self.built = True

    def call(self, z):
        return ops.matmul(z, ops.cast(self.kernel, z.dtype))

    def normalize(self):
        """Scale every prototype (column of the kernel) to unit norm."""
        kernel = ops.convert_to_tensor(self.kernel)
        self.kernel.assign(kernel / ops.maximum(ops.norm(kernel, axis=0, keepdims=True), 1e-12))

    def initialize_from_model(self, model, input_shape):
        """Unit prototypes from the start (the official code normalises before the first step too)."""
        self.normalize()

    def update_after_step(self, model, step, outputs):
        """Unit prototypes for the next step."""
        self.normalize()

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.count)

    def get_config(self):
        config = super().get_config()
        config.update(count=self.count)
        return config


@register("swav")
@keras.saving.register_keras_serializable(package="kspectral")
class SwAV(SSLModel):
    """SwAV (Caron, Misra, Mairal, Goyal, Bojanowski & Joulin 2020, arXiv:2006.09882), as the official
    ``main_swav.py``.

    Embeddings ``z = normalize(projector(encoder(x)))`` are scored against ``K`` unit prototypes
    (:class:`Prototypes`, ``s = z Cᵀ``); the codes of the two global views are the Sinkhorn-Knopp normalisation of
    their scores over the **global** batch (:func:`kspectral.objectives.sinkhorn`), and each is predicted from every
    other view by :func:`kspectral.objectives.swav` (swapped prediction, multi-crop included: ``augment="multicrop"``
    gives 2 global and ``N`` small views, codes from the 2 global ones, predictions from all). The prototypes stay
    unit-norm (normalised after every optimizer step) and are frozen for the first ``freeze_prototypes_epochs``
    epochs (:meth:`frozen_weights`). With ``queue_size > 0`` a queue per global view keeps the most recent
    embeddings (pushed after every step, from the gathered global batch); from epoch ``queue_start_epoch`` on, once
    it is full, the Sinkhorn input is the scores of ``[queue ; batch]`` against the current prototypes and only the
    batch's codes are kept, as the official code. The metrics report ``prototype_entropy``, the entropy of the
    prototypes' usage by the codes' argmax (0 at collapse, ``log min(B, K)`` at best).

    Spectral counterpart: Sinkhorn is the balanced (doubly-stochastic) normalisation of the sample–prototype
    affinity, so SwAV seeks a balanced partition of the data that the positive pairs do not cross, whose spectral
    relaxation is spectral clustering of the pair graph, by analogy (:mod:`kspectral.spectral.baselines`).

    Choices where the references differ (documented and tested in ``tests/test_swav.py``):

    - the prototypes are normalised outside the gradient, as the official code; solo-learn's ``weight_norm`` with a
      fixed ``g = 1`` normalises them inside the forward pass (its gradients are projected on the sphere);
    - the queue is filled from the first step and used from ``queue_start_epoch`` on once full: solo-learn fills it
      from the first step and uses it from its start epoch; the official code starts filling it at the start epoch
      and uses it once full (``queue_size / B`` steps later);
    - ``joint_views=True`` (the official code) passes the views of one resolution through the network as one batch;
      solo-learn embeds each view on its own (``joint_views=False``, the CIFAR recipes).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec; a string gives ``Linear-BN-ReLU-Linear`` with a bias on the last layer (official
            and solo-learn: ``"2048-128"``). The prototypes act on its output (``"64-64"``: 64-d prototypes).
        num_prototypes: ``K`` (official 3000).
        temperature: τ of the predictions' softmax (official 0.1).
        sinkhorn_iterations: Sinkhorn-Knopp iterations (official 3).
        epsilon: ε of the codes (official 0.05).
        queue_size: rows of each global view's queue (0: no queue, the official default; 3840 the official bs-256
            ImageNet scripts and solo-learn's CIFAR config); at least the global batch (it holds the latest rows).
        queue_start_epoch: the first epoch that uses the queue (official 15, solo-learn CIFAR 50).
        freeze_prototypes_epochs: epochs during which the prototypes do not move (solo-learn CIFAR 2; the official
            ``freeze_prototypes_niters`` is in steps: ``freeze_prototypes_steps``).
        freeze_prototypes_steps: the freeze in optimizer steps; overrides ``freeze_prototypes_epochs``.
        steps_per_epoch: optimizer steps per epoch, which converts the epoch settings to steps (``kspectral train``
            passes it); without it the prototypes are not frozen (unless ``freeze_prototypes_steps``) and the queue
            is not used.
        joint_views: pass the views of one shape through the network as one batch (official) or each on its own.
    """

    projector_defaults = {"last_bias": True}

    loss_terms = ("prototype_entropy",)

    def __init__(self, encoder, projector="2048-128", num_prototypes=3000, temperature=0.1, sinkhorn_iterations=3,
                 epsilon=0.05, queue_size=0, queue_start_epoch=15, freeze_prototypes_epochs=2,
                 freeze_prototypes_steps=None, steps_per_epoch=None, joint_views=True, **kwargs):
        if isinstance(projector, str) and projector.strip().lower() not in ("", "none"):
            projector = make_projector(projector, **self.projector_defaults)
        super().__init__(encoder, projector, **kwargs)
        self.num_prototypes = check_positive_int(num_prototypes, "num_prototypes", minimum=2)
        self.temperature = check_positive(temperature, "temperature")
        self.sinkhorn_iterations = check_positive_int(sinkhorn_iterations, "sinkhorn_iterations")
        self.epsilon = check_positive(epsilon, "epsilon")
        self.queue_size = int(check_nonnegative(queue_size, "queue_size"))
        self.queue_start_epoch = int(check_nonnegative(queue_start_epoch, "queue_start_epoch"))
        self.freeze_prototypes_epochs = float(check_nonnegative(freeze_prototypes_epochs, "freeze_prototypes_epochs"))
        self.freeze_prototypes_steps = (None if freeze_prototypes_steps is None else
                                        int(check_nonnegative(freeze_prototypes_steps, "freeze_prototypes_steps")))
        self.steps_per_epoch = None if steps_per_epoch is None else check_positive_int(steps_per_epoch,
                                                                                      "steps_per_epoch")
        if not isinstance(joint_views, bool):
            raise TypeError(f"joint_views must be True or False, got {joint_views!r}")
        self.joint_views = joint_views
        self.prototypes = Prototypes(self.num_prototypes, dtype="float32", name="prototypes")
        self.queues = []
        if self.queue_size:
            dim = self._embedding_dim()
            if dim is None:
                raise InputError("SwAV's queue needs the embedding width: give a projector spec such as '2048-128', "
                                 "or queue_size=0")
            # one queue per global view, pushed by after_optimizer_step (rows of the gathered global batch)
            self.queues = [EmbeddingQueue(self.queue_size, dim, seed=11 + i, name=f"queue_{i}")
                           for i in range(ASSIGNED_VIEWS)]

    def _embedding_dim(self):
        if self.projector is None:
            return None
        dim = getattr(self.projector, "output_dim", None)
        if dim is None and getattr(self.projector, "units", None):
            dim = self.projector.units
        return None if dim is None else int(dim)

    # ------------------------------------------------------------------ schedule
    @property
    def freeze_steps(self):
        """The optimizer steps during which the prototypes are frozen."""
        if self.freeze_prototypes_steps is not None:
            return self.freeze_prototypes_steps
        if self.steps_per_epoch is None:
            return 0
        return int(round(self.freeze_prototypes_epochs * self.steps_per_epoch))

    @property
    def queue_start_step(self):
        """The first optimizer step that may use the queue (``None``: never)."""
        if not self.queues or self.steps_per_epoch is None:
            return None
        return self.queue_start_epoch * self.steps_per_epoch

    def frozen_weights(self):
        steps = self.freeze_steps
        return [(self.prototypes.trainable_weights, steps)] if steps else []

    def _step(self):
        optimizer = getattr(self, "optimizer", None)
        return 0 if optimizer is None else optimizer.iterations

    # ------------------------------------------------------------------ forward
    def build_heads(self, representation_shape):
        super().build_heads(representation_shape)
        shape = representation_shape if self.projector is None else self.projector.compute_output_shape(
            representation_shape)
        if not self.prototypes.built:
            self.prototypes.build(shape)
        if self.queues and self.queues[0].dim != shape[-1]:
            raise InputError(f"the queue holds {self.queues[0].dim}-d rows but the embeddings are {shape[-1]}-d")

    def _scores(self, z):
        # in float32 under a mixed precision policy too: a bf16 cosine's rounding (~4e-3) divided by ε = 0.05 would
        # move exp(s / ε) by ~8 % in Sinkhorn
        z = l2_normalize(ops.cast(z, "float32"), axis=1)
        return z, self.prototypes(z)

    def forward(self, view_a, view_b, training=False):
        """``{"z_a", "z_b"}``: the unit embeddings, ``{"p_a", "p_b"}``: their scores against the prototypes, and the
        representations."""
        outputs = dict(super().forward(view_a, view_b, training=training))
        for key in ("a", "b"):
            outputs[f"z_{key}"], outputs[f"p_{key}"] = self._scores(outputs[f"z_{key}"])
        return outputs

    def forward_views(self, views, training=False):
        """Per-view lists ``{"z": unit embeddings, "p": scores, "h": representations}``."""
        outputs = dict(super().forward_views(views, training=training))
        pairs = [self._scores(z) for z in outputs["z"]]
        outputs["z"] = [z for z, _ in pairs]
        outputs["p"] = [p for _, p in pairs]
        return outputs

    # ------------------------------------------------------------------ objective
    def queue_in_use(self, step=None):
        """A boolean tensor: whether the Sinkhorn input of ``step`` (default: the optimizer's) holds the queue."""
        start = self.queue_start_step
        if start is None:
            return ops.convert_to_tensor(False)
        step = self._step() if step is None else step
        full = ops.greater_equal(self.queues[0].filled, self.queue_size)
        return ops.logical_and(ops.greater_equal(ops.cast(step, "int64"), start), full)

    def assignments(self, scores, step=None):
        """The codes of the global views' scores ``[s_1, s_2]`` (gathered global batch): Sinkhorn of the batch's
        scores, or of ``[queue ; batch]`` when :meth:`queue_in_use`, keeping the batch's rows."""

        def codes(s):
            return sinkhorn(s, self.sinkhorn_iterations, self.epsilon)

        result = []
        for i, s in enumerate(scores):
            s = ops.stop_gradient(s)
            if self.queue_start_step is None:
                result.append(codes(s))
                continue
            queue = self.queues[i]
            batch = ops.shape(s)[0]

            def with_queue(s=s, queue=queue, batch=batch):
                queued = ops.stop_gradient(self.prototypes(queue()))
                return codes(ops.concatenate([queued, s], axis=0))[-batch:]

            result.append(ops.cond(self.queue_in_use(step), with_queue, lambda s=s: codes(s)))
        return result

    def _objective(self, scores):
        codes = self.assignments(scores[:ASSIGNED_VIEWS])
        return swav(list(scores), codes, temperature=self.temperature, return_terms=True)

    def compute_objective(self, outputs):
        return self._objective([outputs["p_a"], outputs["p_b"]])

    def compute_multiview_objective(self, outputs):
        """Codes from the two global views (the first two), predicted from every view (multi-crop)."""
        return self._objective(list(outputs["p"]))

    def after_optimizer_step(self, step, outputs):
        """The components' updates (the prototypes' normalisation), then each global view's unit embeddings of the
        gathered batch pushed into its queue."""
        super().after_optimizer_step(step, outputs)
        if not self.queues:
            return
        rows = [outputs["z_a"], outputs["z_b"]] if "z_a" in outputs else list(outputs["z"][:ASSIGNED_VIEWS])
        for queue, z in zip(self.queues, rows):
            queue.push(z)

    def diagnostic_embeddings(self, outputs):
        return outputs["z_a"]

    def get_config(self):
        config = super().get_config()
        config.update(num_prototypes=self.num_prototypes, temperature=self.temperature,
                      sinkhorn_iterations=self.sinkhorn_iterations, epsilon=self.epsilon, queue_size=self.queue_size,
                      queue_start_epoch=self.queue_start_epoch,
                      freeze_prototypes_epochs=self.freeze_prototypes_epochs,
                      freeze_prototypes_steps=self.freeze_prototypes_steps, steps_per_epoch=self.steps_per_epoch,
                      joint_views=self.joint_views)
        return config


__all__ = ["ASSIGNED_VIEWS", "Prototypes", "SwAV"]
