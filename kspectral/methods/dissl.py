"""DISSL: distillation invariant SSL (Dubois et al. 2022), as a Keras model with teacher and student heads."""

from __future__ import annotations

import keras

from kspectral._validation import check_nonnegative, check_positive, check_positive_int
from kspectral.methods.projector import Projector
from kspectral.methods.registry import register
from kspectral.methods.two_heads import TwoHeadModel
from kspectral.objectives.dissl import dissl


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
class DISSL(TwoHeadModel):
    """DISSL (Dubois, Hashimoto, Ermon & Liang 2022, arXiv:2209.06235), exactly as the authors' ISSL code.

    A teacher (an MLP) and a low-rank linear student (the same family as the linear probe) give logits over ``C``
    equivalence classes; the loss is :func:`kspectral.objectives.dissl` (distillation, minus the marginal entropy,
    plus the teacher's invariance), whose terms the metrics report. No EMA, no stop-gradient. :meth:`embed` returns
    the teacher's logits.

    Spectral counterpart: a balanced partition of the data that few positive pairs cross, whose spectral relaxation
    is spectral clustering of ``G``, by analogy (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        n_classes: C, the number of equivalence classes. The default, 1024, is kspectral's choice for small data;
            the authors use 16384 on ImageNet and TinyImageNet.
        teacher: teacher MLP widths before its BatchNorm and logits (authors' ``"1024-512"``).
        student_bottleneck: width of the student's low-rank linear map (authors' 512).
        marginal_weight: λ (authors' 2.3).
        invariance_weight: β (authors' 0.8 on TinyImageNet, 0.6 on ImageNet).
        teacher_temperature: τ_a (authors' 0.5).
        student_temperature: τ (authors' 1.0).
    """

    objective_function = staticmethod(dissl)
    objective_options = ("marginal_weight", "invariance_weight", "teacher_temperature", "student_temperature")
    loss_terms = ("distillation", "marginal_entropy", "invariance")
    embedding_head = "teacher"
    head_options = ("n_classes", "teacher", "student_bottleneck")

    def __init__(self, encoder, n_classes=1024, teacher="1024-512", student_bottleneck=512, marginal_weight=2.3,
                 invariance_weight=0.8, teacher_temperature=0.5, student_temperature=1.0, projector=None, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.teacher_spec = teacher
        self.student_bottleneck = check_positive_int(student_bottleneck, "student_bottleneck")
        self.marginal_weight = check_nonnegative(marginal_weight, "marginal_weight")
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
        self.teacher_temperature = check_positive(teacher_temperature, "teacher_temperature")
        self.student_temperature = check_positive(student_temperature, "student_temperature")
        self.teacher = teacher_head(teacher, self.n_classes)
        self.student = student_head(self.student_bottleneck, self.n_classes)

    def get_config(self):
        config = super().get_config()
        config.update(n_classes=self.n_classes, teacher=self.teacher_spec, student_bottleneck=self.student_bottleneck)
        return config
