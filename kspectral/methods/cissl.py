"""CISSL: contrastive invariant SSL with asymmetric heads (Dubois et al. 2022), as a Keras model."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.projector import Projector
from kspectral.methods.registry import register
from kspectral.objectives.cissl import cissl
from kspectral.objectives._common import check_positive


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
class CISSL(SSLModel):
    """CISSL (Dubois et al. 2022; ``objectives.md`` B2), exactly as the official ISSL code.

    Both views go through the encoder as one batch ``z = f([x; x̃])`` (2B rows). A **linear student** head
    (the same family as the linear probe) and an **MLP teacher** head give ``S = normalize(student(z))`` and
    ``T = normalize(teacher(z))``; with ``logits = S Tᵀ / τ`` (2B × 2B) the positives of row ``k`` are itself
    and its other view, the softmax runs over all 2B columns, self included::

        L = mean_k [ −½ Σ_{l ∈ {k, k±B}} log softmax(logits[k, :])_l ]        (minimum ≥ log 2)

    Spectral counterpart: sample-contrastive, so the global family of :class:`~kspectral.methods.SimCLR`
    (an analogy, see :func:`~kspectral.methods.simclr.global_spectral_baseline`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        student_dim: output width of the linear student head (official 128).
        teacher: teacher MLP spec (official ``"1024-128"``: Linear-BN-ReLU, Linear, then BatchNorm).
        temperature: τ (official 0.07; 0.1 in the ImageNet runs).
    """

    joint_views = True
    uses_projector = False
    spectral_counterpart = "isomap"

    def __init__(self, encoder, student_dim=128, teacher="1024-128", temperature=0.07, projector=None, **kwargs):
        if projector is not None:
            raise ValueError("CISSL has a student and a teacher head instead of a projector; set student_dim "
                             "and teacher")
        super().__init__(encoder, None, **kwargs)
        self.temperature = check_positive(temperature, "temperature")
        self.student_dim = int(student_dim)
        self.teacher_spec = teacher
        self.student = linear_head(self.student_dim, "student")
        self.teacher = mlp_head(teacher, "teacher")
        if self.teacher.layers[0].output_dim != self.student_dim:
            raise ValueError(f"the teacher's output width ({self.teacher.layers[0].output_dim}) must equal "
                             f"student_dim ({self.student_dim})")

    def build_heads(self, representation_shape):
        for head in (self.student, self.teacher):
            if not head.built:
                head.build(representation_shape)

    def forward(self, view_a, view_b, training=False):
        h = self.encoder(self.join_views(view_a, view_b), training=training)
        student_a, student_b = self.split_views(self.student(h, training=training))
        teacher_a, teacher_b = self.split_views(self.teacher(h, training=training))
        return {"student_a": student_a, "student_b": student_b, "teacher_a": teacher_a, "teacher_b": teacher_b}

    def embed(self, inputs, training=False):
        """The student head's embedding (the linear map the probe family shares)."""
        return self.student(super().embed(inputs, training=training), training=training)

    def compute_objective(self, outputs):
        loss = cissl(outputs["student_a"], outputs["student_b"], outputs["teacher_a"], outputs["teacher_b"],
                     self.temperature)
        return {"loss": loss}

    def diagnostic_embeddings(self, outputs):
        return outputs["student_a"]

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """See :func:`~kspectral.methods.simclr.global_spectral_baseline` (an analogy)."""
        from kspectral.methods.simclr import global_spectral_baseline

        return global_spectral_baseline(graph, dim, features, **options)

    def get_config(self):
        config = super().get_config()
        config.pop("projector", None)
        config.update(student_dim=self.student_dim, teacher=self.teacher_spec, temperature=self.temperature)
        return config
