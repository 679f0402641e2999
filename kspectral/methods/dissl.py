"""DISSL: distillation invariant SSL (Dubois et al. 2022), as a Keras model with teacher and student heads."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.projector import Projector
from kspectral.methods.registry import register
from kspectral.objectives.dissl import dissl_terms
from kspectral.objectives._common import check_nonnegative, check_positive


def teacher_head(spec, n_classes, name="teacher"):
    """``Projector(spec)`` (``Linear-BN-ReLU``, ``Linear`` without bias), ``BatchNorm``, ``Linear(·, C)``."""
    return keras.Sequential(
        [Projector(spec, name=f"{name}_mlp"), keras.layers.BatchNormalization(name=f"{name}_bn"),
         keras.layers.Dense(n_classes, name=f"{name}_logits")],
        name=name,
    )


def student_head(bottleneck, n_classes, name="student"):
    """Low-rank linear head: ``Linear(d, bottleneck, no bias)``, ``BatchNorm``, ``Linear(bottleneck, C)``."""
    return keras.Sequential(
        [keras.layers.Dense(bottleneck, use_bias=False, name=f"{name}_down"),
         keras.layers.BatchNormalization(name=f"{name}_bn"),
         keras.layers.Dense(n_classes, name=f"{name}_logits")],
        name=name,
    )


@register("dissl")
@keras.saving.register_keras_serializable(package="kspectral")
class DISSL(SSLModel):
    """DISSL (Dubois et al. 2022; ``objectives.md`` B3), exactly as the official ISSL code.

    A teacher ``t(·|z) = softmax(g_T(z)/τ_a)`` and a student ``log s(·|z) = log_softmax(g_S(z)/τ)`` over C
    equivalence classes, both views through the encoder as one batch, no EMA, no stop-gradient::

        L = CE_dist − λ · H_M + β · CE_inv
        CE_dist = mean_{v≠v'} mean_b [−Σ_c t(c|z_b^v) log s(c|z_b^{v'})]      (distillation)
        H_M     = mean_v H(mean_b t(·|z_b^v))                                 (maximality: balanced classes)
        CE_inv  = mean_{v≠v'} mean_b [−Σ_c t(c|z_b^v) log t(c|z_b^{v'})]      (invariance + determinism)

    (:func:`kspectral.objectives.dissl`). The student head is low-rank linear, the same family as the linear
    probe; the teacher is an MLP (TinyImageNet config: ``d → 1024 → 512 → C``).

    Spectral counterpart: a balanced partition of the data that few positive pairs cross, whose spectral
    relaxation is **spectral clustering** of ``G``; an analogy (no theorem of the papers maps DISSL).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        n_classes: C, the number of equivalence classes (ImageNet runs: 16384).
        teacher: teacher MLP widths before its BatchNorm and logits (official ``"1024-512"``).
        student_bottleneck: width of the student's low-rank linear map (official 512).
        marginal_weight: λ (official 2.3).
        invariance_weight: β (official 0.8 on TinyImageNet, 0.6 on ImageNet).
        teacher_temperature: τ_a (official 0.5).
        student_temperature: τ (official 1.0).
    """

    loss_terms = ("distillation", "marginal_entropy", "invariance")
    joint_views = True
    uses_projector = False
    spectral_counterpart = "spectral_clustering"

    def __init__(self, encoder, n_classes=1024, teacher="1024-512", student_bottleneck=512, marginal_weight=2.3,
                 invariance_weight=0.8, teacher_temperature=0.5, student_temperature=1.0, projector=None, **kwargs):
        if projector is not None:
            raise ValueError("DISSL has teacher and student heads instead of a projector; set teacher, "
                             "student_bottleneck and n_classes")
        super().__init__(encoder, None, **kwargs)
        self.n_classes = int(n_classes)
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.teacher_spec = teacher
        self.student_bottleneck = int(student_bottleneck)
        self.marginal_weight = check_nonnegative(marginal_weight, "marginal_weight")
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
        self.teacher_temperature = check_positive(teacher_temperature, "teacher_temperature")
        self.student_temperature = check_positive(student_temperature, "student_temperature")
        self.teacher = teacher_head(teacher, self.n_classes)
        self.student = student_head(self.student_bottleneck, self.n_classes)

    def build_heads(self, representation_shape):
        for head in (self.teacher, self.student):
            if not head.built:
                head.build(representation_shape)

    def forward(self, view_a, view_b, training=False):
        h = self.encoder(self.join_views(view_a, view_b), training=training)
        teacher_a, teacher_b = self.split_views(self.teacher(h, training=training))
        student_a, student_b = self.split_views(self.student(h, training=training))
        return {"teacher_a": teacher_a, "teacher_b": teacher_b, "student_a": student_a, "student_b": student_b}

    def embed(self, inputs, training=False):
        """The teacher's logits over the C equivalence classes."""
        return self.teacher(super().embed(inputs, training=training), training=training)

    def compute_objective(self, outputs):
        terms = dissl_terms(outputs["teacher_a"], outputs["teacher_b"], outputs["student_a"], outputs["student_b"],
                            self.teacher_temperature, self.student_temperature)
        loss = (terms["distillation"] - self.marginal_weight * terms["marginal_entropy"]
                + self.invariance_weight * terms["invariance"])
        return {"loss": loss, **terms}

    def diagnostic_embeddings(self, outputs):
        return outputs["teacher_a"]

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """Spectral clustering of ``graph`` into ``dim + 1`` clusters (embedding of dimension ``dim``):
        :class:`~kspectral.spectral.SpectralClustering`, or :class:`~kspectral.spectral.LinearSpectralClustering`
        with ``features``. An analogy."""
        from kspectral.spectral import LinearSpectralClustering, SpectralClustering

        if features is None:
            return SpectralClustering(dim + 1, graph="precomputed", **options).fit(graph)
        return LinearSpectralClustering(dim + 1, **options).fit(features, graph=graph)

    def get_config(self):
        config = super().get_config()
        config.pop("projector", None)
        config.update(n_classes=self.n_classes, teacher=self.teacher_spec, student_bottleneck=self.student_bottleneck,
                      marginal_weight=self.marginal_weight, invariance_weight=self.invariance_weight,
                      teacher_temperature=self.teacher_temperature, student_temperature=self.student_temperature)
        return config
