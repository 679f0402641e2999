"""CISSL: contrastive invariant SSL with asymmetric heads (Dubois et al. 2022), as a Keras model."""

from __future__ import annotations

import keras

from kspectral._validation import check_positive, check_positive_int
from kspectral.methods.projector import Projector
from kspectral.methods.registry import register
from kspectral.methods.two_heads import TwoHeadModel
from kspectral.objectives.cissl import cissl
from kspectral.errors import InputError


def linear_head(dim, name):
    """``Linear(d, dim)`` then ``BatchNorm(dim)``: a linear head (BatchNorm at inference is affine)."""
    return keras.Sequential(
        [keras.layers.Dense(dim, name=f"{name}_dense"), keras.layers.BatchNormalization(name=f"{name}_bn")],
        name=name,
    )


def mlp_head(spec, name):
    """``Projector(spec)`` (Linear-BN-ReLU blocks, plain last layer) then ``BatchNorm``."""
    return keras.Sequential([Projector(spec, name=f"{name}_mlp"), keras.layers.BatchNormalization(name=f"{name}_bn")],
                            name=name)


@register("cissl")
@keras.saving.register_keras_serializable(package="kspectral")
class CISSL(TwoHeadModel):
    """CISSL (Dubois, Hashimoto, Ermon & Liang 2022, arXiv:2209.06235), exactly as the authors' ISSL code.

    A **linear student** head (the same family as the linear probe) and an **MLP teacher** head on the encoder;
    the loss is :func:`kspectral.objectives.cissl` on their outputs (a ``2B``-way classification of the student rows
    by the teacher rows, each row's positives itself and its other view).

    Spectral counterpart: sample-contrastive, the global family of :class:`~kspectral.methods.SimCLR`, by analogy
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        student_dim: output width of the linear student head (authors' 128).
        teacher: teacher MLP spec (authors' ``"1024-128"``: Linear-BN-ReLU, Linear, then BatchNorm).
        temperature: τ (authors' 0.07; 0.1 in the ImageNet runs).
    """

    objective_function = staticmethod(cissl)
    objective_options = ("temperature",)
    embedding_head = "student"
    head_options = ("student_dim", "teacher")

    def __init__(self, encoder, student_dim=128, teacher="1024-128", temperature=0.07, projector=None, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.temperature = check_positive(temperature, "temperature")
        self.student_dim = check_positive_int(student_dim, "student_dim")
        self.teacher_spec = teacher
        self.student = linear_head(self.student_dim, "student")
        self.teacher = mlp_head(teacher, "teacher")
        if self.teacher.layers[0].output_dim != self.student_dim:
            raise InputError(f"the teacher's output width ({self.teacher.layers[0].output_dim}) must equal "
                             f"student_dim ({self.student_dim})")

    def get_config(self):
        config = super().get_config()
        config.update(student_dim=self.student_dim, teacher=self.teacher_spec)
        return config
