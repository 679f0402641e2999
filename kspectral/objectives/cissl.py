"""CISSL: contrastive invariant SSL with asymmetric heads (Dubois, Hashimoto, Ermon & Liang 2022, arXiv:2209.06235),
exactly as ``issl/losses/contrastive.py`` of the authors' code."""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, check_pair, check_positive, loss_or_terms
from kspectral.objectives.simclr import _nt_xent, _positive_mask
from kspectral.objectives.tensors import dtype_name, l2_normalize
from kspectral.objectives.views import split_views
from kspectral.errors import InputError


def _check_heads(student_a, student_b, teacher_a, teacher_b):
    s_a, s_b = check_pair(student_a, student_b, names=("student_a", "student_b"))
    t_a, t_b = check_pair(teacher_a, teacher_b, names=("teacher_a", "teacher_b"))
    ss, ts = tuple(s_a.shape), tuple(t_a.shape)
    if all(d is not None for d in ss + ts) and ss != ts:
        raise InputError(f"student and teacher outputs must have the same (batch, dim) shape, got {ss} and {ts}")
    if dtype_name(s_a) != dtype_name(t_a):
        s_a, s_b, t_a, t_b = (ops.cast(x, "float32") for x in (s_a, s_b, t_a, t_b))
    return s_a, s_b, t_a, t_b


@keras.saving.register_keras_serializable(package="kspectral")
def cissl(student_a, student_b, teacher_a, teacher_b, temperature=0.07, self_positive=True, return_terms=False):
    """CISSL loss (Dubois et al. 2022, arXiv:2209.06235), exactly as the authors' ``contrastive.py``.

    With ``S = normalize([student_a; student_b])`` and ``T = normalize([teacher_a; teacher_b])`` (``2B`` rows,
    view-major), ``logits = S Tᵀ / τ`` and the positives of row ``k`` are itself and its other view ``k⁺``::

        L = mean_k [ −½ (log softmax(logits[k, :])_k + log softmax(logits[k, :])_{k⁺}) ]

    The softmax runs over all ``2B`` columns, **self included**: with asymmetric heads (a linear student, the
    "predictor", and an MLP teacher, the "projector") ``S_k·T_k`` is not trivially 1; the teacher rows act as the
    weights of a ``2B``-way classifier of the student rows. Bounds: ``L ≥ log 2``, reached as ``τ → 0`` with aligned
    views and orthogonal negatives; all embeddings equal gives ``log(2B)``. Gradients flow into both heads.

    ``self_positive=False`` gives the authors' SimCLR baseline instead (the self column masked out, ``k⁺`` the
    single positive); with ``student = teacher`` that is exactly :func:`kspectral.objectives.simclr`.

    Args:
        student_a, student_b: student (linear-head) outputs for the two views, shape ``(batch, dim)``.
        teacher_a, teacher_b: teacher (MLP-head) outputs for the two views, the same shape.
        temperature: τ > 0 (authors' default 0.07 on TinyImageNet, 0.1 on ImageNet).
        self_positive: keep the CISSL positives ``{k, k⁺}`` (default); False for the SimCLR baseline.
        return_terms: return ``{"loss": L}`` instead (CISSL has no separately weighted terms).

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> e = np.eye(2)  # aligned views, orthogonal negatives: the minimum log 2
        >>> round(float(cissl(e, e, e, e)), 6)
        0.693148
    """
    temperature = check_positive(temperature, "temperature")
    s_a, s_b, t_a, t_b = _check_heads(student_a, student_b, teacher_a, teacher_b)
    s = l2_normalize(ops.concatenate([s_a, s_b], axis=0))
    t = l2_normalize(ops.concatenate([t_a, t_b], axis=0))
    sim = ops.matmul(s, ops.transpose(t))
    if not self_positive:
        attraction, repulsion = _nt_xent(sim, temperature)
        return loss_or_terms(attraction + repulsion, {}, return_terms)
    n = ops.shape(sim)[0]
    positives = ops.logical_or(ops.one_hot(ops.arange(n), n) > 0.5, _positive_mask(n))
    log_probs = ops.log_softmax(sim / temperature, axis=1)
    per_row = -0.5 * ops.sum(ops.where(positives, log_probs, ops.zeros_like(log_probs)), axis=1)
    return loss_or_terms(ops.mean(per_row), {}, return_terms)


def cissl_stacked(teacher, student, temperature=0.07):
    """:func:`cissl` on view-major ``(2B, dim)`` teacher and student outputs (the layout of :class:`CISSLLoss`)."""
    teacher_a, teacher_b = split_views(teacher, "teacher")
    student_a, student_b = split_views(student, "student")
    return cissl(student_a, student_b, teacher_a, teacher_b, temperature)


@keras.saving.register_keras_serializable(package="kspectral")
class CISSLLoss(ObjectiveLoss):
    """Keras loss calling :func:`cissl`: ``CISSLLoss()(teacher, student)``, one scalar per batch.

    Keras' ``(y_true, y_pred)`` are ``(teacher, student)``: each the outputs of one head for both views, view-major
    (:func:`kspectral.objectives.join_views`), e.g. ``teacher = concat([teacher_a, teacher_b])``.

    Example:
        >>> loss = CISSLLoss(temperature=0.1)
        >>> CISSLLoss.from_config(loss.get_config()).temperature
        0.1
    """

    objective = staticmethod(cissl_stacked)

    def __init__(self, temperature=0.07, name="cissl", dtype=None):
        super().__init__(name, dtype, temperature=check_positive(temperature, "temperature"))


__all__ = ["CISSLLoss", "cissl", "cissl_stacked"]
