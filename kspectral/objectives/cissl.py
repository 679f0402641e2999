"""CISSL: contrastive invariant SSL with asymmetric heads (Dubois, Hashimoto, Ermon & Liang, NeurIPS 2022).

Spec: ``objectives.md`` B2 (exactly as ``issl/losses/contrastive.py`` of the official code), part C
properties 23-27 and 35.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, check_pair, check_positive, dtype_name, l2_normalize, split_views
from kspectral.objectives.simclr import _nt_xent, _positive_mask


def _check_heads(student_a, student_b, teacher_a, teacher_b):
    s_a, s_b = check_pair(student_a, student_b, names=("student_a", "student_b"))
    t_a, t_b = check_pair(teacher_a, teacher_b, names=("teacher_a", "teacher_b"))
    ss, ts = tuple(s_a.shape), tuple(t_a.shape)
    if all(d is not None for d in ss + ts) and ss != ts:
        raise ValueError(
            f"student and teacher outputs must have the same (batch, dim) shape, got {ss} and {ts}"
        )
    if dtype_name(s_a) != dtype_name(t_a):
        s_a, s_b, t_a, t_b = (ops.cast(x, "float32") for x in (s_a, s_b, t_a, t_b))
    return s_a, s_b, t_a, t_b


def cissl(student_a, student_b, teacher_a, teacher_b, temperature=0.07, self_positive=True):
    """CISSL loss, exactly as the official ``issl/losses/contrastive.py`` (spec B2).

    With ``S = normalize([student_a; student_b])`` and ``T = normalize([teacher_a; teacher_b])`` (``2B``
    rows, view-major: row ``k`` and row ``(k + B) mod 2B`` are the two views of one image)::

        logits = S Tᵀ / τ                                   (2B × 2B, float32)
        P(k)   = {k, (k + B) mod 2B}                        (itself and its other view)
        L      = mean_k [ −½ Σ_{l∈P(k)} log softmax(logits[k, :])_l ]

    The softmax runs over all ``2B`` columns, **self included**: with asymmetric heads (a linear student,
    the "predictor", and an MLP teacher, the "projector") the self-similarity ``S_k·T_k`` is not trivially 1.
    The teacher rows act as the weights of a ``2B``-way classifier of the student rows. Bounds: ``L ≥ log 2``,
    reached as ``τ → 0`` with aligned views and orthogonal negatives; all embeddings equal gives
    ``log(2B)``. Gradients flow into both heads (no stop-gradient). Official default ``τ = 0.07``
    (TinyImageNet; 0.1 on ImageNet).

    ``self_positive=False`` gives the repository's SimCLR baseline instead: the self column is masked out
    of the softmax and ``k⁺`` is the single positive. With the same head on both sides
    (``student = teacher``) that is exactly :func:`kspectral.objectives.simclr.simclr`.

    Args:
        student_a, student_b: student (linear-head) outputs for the two views, shape ``(batch, dim)``.
        teacher_a, teacher_b: teacher (MLP-head) outputs for the two views, the same shape.
        temperature: τ > 0.
        self_positive: keep the CISSL positives ``{k, k⁺}`` (default); False for the SimCLR baseline.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> e = np.eye(2)  # aligned views, orthogonal negatives: the minimum log 2
        >>> round(float(cissl(e, e, e, e)), 6)
        0.693148
    """
    check_positive(temperature, "temperature")
    s_a, s_b, t_a, t_b = _check_heads(student_a, student_b, teacher_a, teacher_b)
    s = l2_normalize(ops.concatenate([s_a, s_b], axis=0))
    t = l2_normalize(ops.concatenate([t_a, t_b], axis=0))
    sim = ops.matmul(s, ops.transpose(t))
    if not self_positive:
        return _nt_xent(sim, temperature)
    n = ops.shape(sim)[0]
    positives = ops.logical_or(ops.one_hot(ops.arange(n), n) > 0.5, _positive_mask(n))
    log_probs = ops.log_softmax(sim / temperature, axis=1)
    per_row = -0.5 * ops.sum(ops.where(positives, log_probs, ops.zeros_like(log_probs)), axis=1)
    return ops.mean(per_row)


def cissl_stacked(teacher, student, temperature=0.07):
    """:func:`cissl` on view-major ``(2B, dim)`` teacher and student outputs (the layout of :class:`CISSLLoss`)."""
    teacher_a, teacher_b = split_views(teacher, "teacher")
    student_a, student_b = split_views(student, "student")
    return cissl(student_a, student_b, teacher_a, teacher_b, temperature)


@keras.saving.register_keras_serializable(package="kspectral")
class CISSLLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`cissl`: ``CISSLLoss()(teacher, student)``.

    Keras' ``(y_true, y_pred)`` are ``(teacher, student)``: each the outputs of one head for both views,
    concatenated view-major into ``2B`` rows (rows ``0 … B−1`` view a, rows ``B … 2B−1`` view b, row
    ``k`` and row ``k + B`` from the same image), i.e. ``teacher = concat([teacher_a, teacher_b])``.

    Example:
        >>> loss = CISSLLoss(temperature=0.1)
        >>> CISSLLoss.from_config(loss.get_config()).temperature
        0.1
    """

    objective = staticmethod(cissl_stacked)

    def __init__(self, temperature=0.07, name="cissl", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, temperature=check_positive(temperature, "temperature"))


__all__ = ["CISSLLoss", "cissl"]
