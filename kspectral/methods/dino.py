"""DINO: self-distillation with no labels (Caron et al. 2021, arXiv:2104.14294), as a Keras model with a momentum
teacher, a centre and a weight-normalised prototype layer."""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_number, check_positive, check_positive_int
from kspectral.errors import InputError
from kspectral.methods.base import REPRESENTATIONS_KEY, SECOND_REPRESENTATIONS_KEY, SSLModel
from kspectral.methods.components.centre import Centre
from kspectral.methods.components.dino_head import DINOHead
from kspectral.methods.components.teacher import MomentumTeacher, TeacherSettings
from kspectral.methods.registry import register
from kspectral.objectives.dino import dino

#: the number of global views: the teacher sees the first two views of a batch (official ``chunk(2)``)
GLOBAL_VIEWS = 2


def teacher_temperature_schedule(step, steps_per_epoch, teacher_temperature=0.04, warmup_teacher_temperature=0.04,
                                 warmup_epochs=0):
    """The teacher's temperature at optimizer step ``step`` (0-based), per epoch as the official code.

    The official ``DINOLoss.teacher_temp_schedule`` is ``np.linspace(warmup, final, W)`` for the first ``W`` epochs
    and ``final`` after, read at the epoch ``e = ⌊step / steps_per_epoch⌋``: ``τ_t = warmup + (final − warmup) · e /
    (W − 1)`` for ``e < W`` (``warmup`` when ``W = 1``), ``final`` from epoch ``W`` on (solo-learn's, the same). A
    pure function of the step, so a resumed run takes the same temperatures. ``W = 0`` (the official and solo-learn
    default) or ``steps_per_epoch=None`` keeps ``final``.

    Example:
        >>> [round(float(teacher_temperature_schedule(k, 10, 0.07, 0.04, 3)), 3) for k in (0, 9, 10, 20, 30, 99)]
        [0.04, 0.04, 0.055, 0.07, 0.07, 0.07]
    """
    final = ops.convert_to_tensor(float(teacher_temperature), "float32")
    if not warmup_epochs or steps_per_epoch is None:
        return final
    epoch = ops.floor(ops.cast(step, "float32") / float(steps_per_epoch))
    start = float(warmup_teacher_temperature)
    if warmup_epochs == 1:
        ramp = ops.convert_to_tensor(start, "float32")
    else:
        ramp = start + (float(teacher_temperature) - start) * epoch / float(warmup_epochs - 1)
    return ops.where(epoch < float(warmup_epochs), ramp, final)


def _groups(views, joint):
    """Consecutive views of one shape as one batch (``joint``, as the official code groups the crops of one
    resolution) or each view alone."""
    groups = [[views[0]]]
    for v in views[1:]:
        if joint and tuple(v.shape[1:]) == tuple(groups[-1][0].shape[1:]):
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def _apply(network, views, joint, training):
    """``[network(v) for v in views]``, consecutive views of one shape in one call when ``joint``; ``network``
    returns a tensor or a tuple of tensors."""
    outputs = []
    for group in _groups(list(views), joint):
        batch = ops.concatenate(group, axis=0) if len(group) > 1 else group[0]
        result = network(batch, training)
        parts = result if isinstance(result, tuple) else (result,)
        split = [ops.split(p, len(group), axis=0) if len(group) > 1 else [p] for p in parts]
        outputs.extend(zip(*split) if isinstance(result, tuple) else split[0])
    return outputs


@register("dino")
@keras.saving.register_keras_serializable(package="kspectral")
class DINO(TeacherSettings, SSLModel):
    """DINO (Caron, Touvron, Misra, Jégou, Mairal, Bojanowski & Joulin 2021, arXiv:2104.14294), as the official
    ``main_dino.py`` and solo-learn's ``solo/methods/dino.py``.

    The student (encoder and :class:`~kspectral.methods.components.DINOHead`: MLP, L2 normalisation, weight-normalised
    layer onto ``num_prototypes`` logits) sees every view; the teacher, a
    :class:`~kspectral.methods.components.MomentumTeacher` of ``[encoder, head]`` (``τ`` cosine from ``base_tau`` to
    ``final_tau`` over ``total_steps``), sees the two global views (the batch's first two). The loss is
    :func:`kspectral.objectives.dino`: the teacher's centred and sharpened probabilities against the student's on
    every other view, averaged over the pairs. The centre (:class:`~kspectral.methods.components.Centre`, momentum
    ``center_momentum``) moves after every optimizer step towards the mean of the teacher's logits on the global
    views of the **global** batch (the official ``update_center`` all-reduces them). The teacher's temperature warms
    up per epoch (:func:`teacher_temperature_schedule`), and the last layer is frozen for the first
    ``freeze_last_layer_epochs`` epochs (``cancel_gradients_last_layer``; :meth:`frozen_weights`). ``model.embed``
    returns the student's logits; the metrics report the prototype-usage entropies of the teacher (see
    :func:`kspectral.objectives.dino`) and the teacher temperature.

    Defaults are the official code's but ``num_prototypes`` (official 65536; 4096 here, solo-learn's CIFAR value,
    which small data and CPUs afford). solo-learn's CIFAR recipe differs from the official defaults in teacher
    temperature (0.07), ``base_tau`` (0.9995) and one forward per view (``joint_views=False``); the recipes set them.
    Not here: the official gradient clipping (``clip_grad`` 3.0 on every student weight, solo-learn's CIFAR config: 0,
    none) is Keras' ``clipnorm=3.0`` optimizer option (per weight, without the official ``+1e-6``).

    Spectral counterpart: a balanced clustering of the pair graph ``G``, spectral clustering by analogy — the
    centring and sharpening act as a balanced assignment of the samples to the prototypes, the counterpart DISSL has
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: the head's MLP: a spec of its widths, the hidden ones then the bottleneck (official
            ``"2048-2048-256"``: ``nlayers=3``, ``hidden_dim=2048``, ``bottleneck_dim=256``; ``"64-64"`` is one hidden
            layer of 64 and a bottleneck of 64), built as the official head (GELU, no BatchNorm unless ``use_bn``,
            ``N(0, 0.02²)`` kernels; :func:`~kspectral.methods.components.dino_head.dino_mlp`), or a Keras layer used
            as is (``kspectral train`` builds a :class:`~kspectral.methods.Projector` from ``projector`` and
            ``projector_options``: Linear-BN-ReLU unless they say otherwise; the recipes give DINO's).
        num_prototypes: ``K``, the width of the last layer (official 65536; solo-learn's CIFAR 4096).
        norm_last_layer: the last layer's weight-norm ``g`` fixed at 1 (official ``True``).
        use_bn: BatchNorm in the MLP built from a spec (official and solo-learn ``False``).
        layer_defaults: the initialisation of the MLP built from a spec: ``"dino"`` (official ``N(0, 0.02²)``
            kernels, zero biases), ``"pytorch"`` or ``"keras"``; the official one shrinks a small MLP's outputs
            towards zero, where the bottleneck's L2 normalisation amplifies the gradients
            (:func:`~kspectral.methods.components.dino_head.dino_mlp`): small heads train better with ``"pytorch"``.
        student_temperature: τ_s (official 0.1).
        teacher_temperature: τ_t after the warm-up (official 0.04; solo-learn's CIFAR default 0.07).
        warmup_teacher_temperature: τ_t at the first epoch (official 0.04).
        warmup_teacher_temperature_epochs: ``W``, the epochs of the linear warm-up (official 0, recommended 30 on
            ImageNet; solo-learn 0); ``W > 0`` needs ``steps_per_epoch``.
        center_momentum: the centre's momentum (official 0.9).
        base_tau, final_tau: the teacher's momentum range (official 0.996 → 1; solo-learn's CIFAR 0.9995 → 1).
        freeze_last_layer_epochs: epochs during which the last layer does not move (official 1); counted in steps
            with ``steps_per_epoch``, off without it.
        joint_views: pass the views of one size through the networks as one batch (official: BatchNorm statistics
            over both global views), or each view alone (``False``, solo-learn).
        total_steps: the run's optimizer steps, for the teacher's cosine (``kspectral train`` passes it; ``None``:
            ``τ = base_tau``).
        steps_per_epoch: the optimizer steps of an epoch, for the per-epoch warm-up and the freeze (``kspectral
            train`` passes it).
    """

    #: the official head's MLP (:func:`~kspectral.methods.components.dino_head.dino_mlp`) for `kspectral train`
    projector_defaults = {"last_bias": True, "batchnorm": False, "layer_defaults": "dino", "activation": "gelu"}

    loss_terms = ("prototype_entropy", "teacher_entropy", "kl_divergence", "teacher_temperature")
    joint_views = True

    def __init__(self, encoder, projector="2048-2048-256", num_prototypes=4096, norm_last_layer=True, use_bn=False,
                 layer_defaults="dino", student_temperature=0.1, teacher_temperature=0.04, warmup_teacher_temperature=0.04,
                 warmup_teacher_temperature_epochs=0, center_momentum=0.9, base_tau=0.996, final_tau=1.0,
                 freeze_last_layer_epochs=1, joint_views=True, total_steps=None, steps_per_epoch=None, **kwargs):
        if projector is None or (isinstance(projector, str) and projector.strip().lower() in ("", "none")):
            raise InputError("DINO's head needs an MLP before its prototypes: give projector='2048-2048-256' (hidden "
                             "widths, then the bottleneck) or a Keras layer")
        super().__init__(encoder, None, **kwargs)
        self.head = DINOHead(projector, num_prototypes=num_prototypes, norm_last_layer=norm_last_layer,
                             use_bn=use_bn, layer_defaults=layer_defaults, name="head")
        self.layer_defaults = layer_defaults
        self.num_prototypes = self.head.num_prototypes
        self.norm_last_layer = self.head.norm_last_layer
        self.student_temperature = check_positive(student_temperature, "student_temperature")
        self.teacher_temperature = check_positive(teacher_temperature, "teacher_temperature")
        self.warmup_teacher_temperature = check_positive(warmup_teacher_temperature, "warmup_teacher_temperature")
        self.warmup_teacher_temperature_epochs = check_positive_int(
            warmup_teacher_temperature_epochs, "warmup_teacher_temperature_epochs", minimum=0)
        self.center_momentum = check_number(center_momentum, "center_momentum", minimum=0.0, maximum=1.0)
        self.freeze_last_layer_epochs = check_positive_int(freeze_last_layer_epochs, "freeze_last_layer_epochs",
                                                           minimum=0)
        if not isinstance(joint_views, bool):
            raise TypeError(f"joint_views must be True or False, got {joint_views!r}")
        self.joint_views = joint_views
        total_steps = None if total_steps is None else check_positive_int(total_steps, "total_steps")
        self.steps_per_epoch = None if steps_per_epoch is None else check_positive_int(steps_per_epoch,
                                                                                       "steps_per_epoch")
        if self.warmup_teacher_temperature_epochs and self.steps_per_epoch is None:
            raise InputError("warmup_teacher_temperature_epochs counts epochs: give steps_per_epoch as well "
                             "(kspectral train passes it), or set warmup_teacher_temperature_epochs=0")
        self.teacher = MomentumTeacher([self.encoder, self.head], base_tau=base_tau, final_tau=final_tau,
                                       total_steps=total_steps, source=["encoder", "head"], name="teacher")
        self.centre = Centre(self.num_prototypes, momentum=self.center_momentum, source="teacher", name="centre")

    @property
    def freeze_last_layer_steps(self):
        """The optimizer steps during which the last layer is frozen: ``freeze_last_layer_epochs ×
        steps_per_epoch`` (0 without ``steps_per_epoch``)."""
        return 0 if self.steps_per_epoch is None else self.freeze_last_layer_epochs * self.steps_per_epoch

    # ------------------------------------------------------------------ heads
    def build_heads(self, representation_shape):
        if not self.head.built:
            self.head.build(representation_shape)

    def embed(self, inputs, training=False):
        """The student's logits ``head(encoder(inputs))``, ``(batch, num_prototypes)``."""
        inputs = ops.convert_to_tensor(inputs)
        self._ensure_built(inputs)
        return self.head(self.encoder(inputs, training=training), training=training)

    def frozen_weights(self):
        """The last layer's weights (``v``, and ``g`` unless ``norm_last_layer``) while the optimizer step is below
        :attr:`freeze_last_layer_steps` (the official ``cancel_gradients_last_layer``)."""
        steps = self.freeze_last_layer_steps
        return [(self.head.last_layer.trainable_weights, steps)] if steps else []

    def teacher_temperature_at(self, step):
        """τ_t at optimizer step ``step`` (:func:`teacher_temperature_schedule`)."""
        return teacher_temperature_schedule(step, self.steps_per_epoch, self.teacher_temperature,
                                            self.warmup_teacher_temperature, self.warmup_teacher_temperature_epochs)

    # ------------------------------------------------------------------ forward pass
    def _student(self, x, training):
        h = self.encoder(x, training=training)
        return h, self.head(h, training=training)

    def _outputs(self, views, training):
        student = _apply(self._student, views, self.joint_views, training)
        teacher = _apply(lambda x, t: self.teacher(x, training=t), views[:GLOBAL_VIEWS], self.joint_views, training)
        return [s for _, s in student], list(teacher), [h for h, _ in student]

    def forward(self, view_a, view_b, training=False):
        """``{"student": [s_a, s_b], "teacher": [t_a, t_b], "h_a", "h_b"}``: both models' logits of both views."""
        student, teacher, h = self._outputs([view_a, view_b], training)
        return {"student": student, "teacher": teacher, REPRESENTATIONS_KEY: h[0], SECOND_REPRESENTATIONS_KEY: h[1]}

    def forward_views(self, views, training=False):
        """``{"student": [s_1, …, s_V], "teacher": [t_1, t_2], "h": [h_1, …, h_V]}``: the student on every view, the
        teacher on the two global views (the first two)."""
        student, teacher, h = self._outputs(list(views), training)
        return {"student": student, "teacher": teacher, "h": h}

    def _step(self):
        optimizer = getattr(self, "optimizer", None)
        return 0 if optimizer is None else optimizer.iterations

    def compute_objective(self, outputs):
        """:func:`kspectral.objectives.dino` of the gathered logits with the centre before this step's update and
        τ_t of the step being taken; ``teacher_temperature`` is reported beside the loss's terms."""
        tau = self.teacher_temperature_at(self._step())
        terms = dino(list(outputs["student"]), list(outputs["teacher"]), self.centre.value,
                     student_temperature=self.student_temperature, teacher_temperature=tau, return_terms=True)
        return dict(terms, teacher_temperature=tau)

    def compute_multiview_objective(self, outputs):
        """The same loss on ``V`` views (multi-crop): the teacher's two global views against every other view."""
        return self.compute_objective(outputs)

    def diagnostic_embeddings(self, outputs):
        """The student's logits of the first view."""
        return outputs["student"][0] if "student" in outputs else outputs["student_a"]

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update(
            projector=keras.saving.serialize_keras_object(self.head.mlp), num_prototypes=self.num_prototypes,
            layer_defaults=self.layer_defaults,
            norm_last_layer=self.norm_last_layer, student_temperature=self.student_temperature,
            teacher_temperature=self.teacher_temperature, warmup_teacher_temperature=self.warmup_teacher_temperature,
            warmup_teacher_temperature_epochs=self.warmup_teacher_temperature_epochs,
            center_momentum=self.center_momentum, base_tau=self.base_tau, final_tau=self.final_tau,
            freeze_last_layer_epochs=self.freeze_last_layer_epochs, joint_views=self.joint_views,
            total_steps=self.total_steps, steps_per_epoch=self.steps_per_epoch,
        )
        return config
