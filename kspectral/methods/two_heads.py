"""``TwoHeadModel``: the shared body of the ISSL methods (CISSL, DISSL), a student head and a teacher head."""

from __future__ import annotations

from kspectral.methods.base import REPRESENTATIONS_KEY, SECOND_REPRESENTATIONS_KEY, SSLModel
from kspectral.errors import InputError


class TwoHeadModel(SSLModel):
    """An :class:`~kspectral.methods.SSLModel` with a student and a teacher head on the encoder instead of a projector.

    Both views go through the encoder as one view-major batch ``h = f([x; x̃])`` (BatchNorm statistics over both
    views, as in the ISSL code); :meth:`forward` returns each head's outputs split by view (``student_a``,
    ``student_b``, ``teacher_a``, ``teacher_b``), the arguments of the method's objective function. Subclasses
    build :attr:`student` and :attr:`teacher` (Keras layers) in ``__init__`` and set :attr:`embedding_head`.

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: must be ``None`` (the heads replace it).
        **kwargs: passed to :class:`~kspectral.methods.SSLModel`.
    """

    joint_views = True
    uses_projector = False
    max_views = 2
    #: the head whose output :meth:`embed` returns and the diagnostics see: ``"student"`` or ``"teacher"``
    embedding_head = "student"
    #: the constructor arguments that shape the heads, named in the error for a ``projector``
    head_options: tuple = ()

    def __init__(self, encoder, projector=None, **kwargs):
        if projector is not None:
            raise InputError(
                f"{type(self).__name__} has a student and a teacher head instead of a projector; drop projector= and "
                f"set {', '.join(self.head_options)}"
            )
        super().__init__(encoder, None, **kwargs)

    def build_heads(self, representation_shape):
        for head in (self.student, self.teacher):
            if not head.built:
                head.build(representation_shape)

    def forward(self, view_a, view_b, training=False):
        h = self.encoder(self.join_views(view_a, view_b), training=training)
        student_a, student_b = self.split_views(self.student(h, training=training))
        teacher_a, teacher_b = self.split_views(self.teacher(h, training=training))
        h_a, h_b = self.split_views(h)
        return {"student_a": student_a, "student_b": student_b, "teacher_a": teacher_a, "teacher_b": teacher_b,
                REPRESENTATIONS_KEY: h_a, SECOND_REPRESENTATIONS_KEY: h_b}

    def embed(self, inputs, training=False):
        """The output of the :attr:`embedding_head` on the representations."""
        head = getattr(self, self.embedding_head)
        return head(super().embed(inputs, training=training), training=training)

    def diagnostic_embeddings(self, outputs):
        return outputs[f"{self.embedding_head}_a"]

    def get_config(self):
        config = super().get_config()
        config.pop("projector", None)
        return config
