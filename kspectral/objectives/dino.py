"""DINO: self-distillation with no labels (Caron, Touvron, Misra, Jégou, Mairal, Bojanowski & Joulin 2021,
arXiv:2104.14294), the loss of ``DINOLoss`` in the official ``main_dino.py``. The heads, the momentum teacher and the
centre belong to the model (:class:`kspectral.methods.DINO`); this module takes their logits."""

from __future__ import annotations

import keras
from keras import ops

from kspectral.errors import InputError
from kspectral.objectives._common import check_embeddings, check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, dtype_name

_LOG_FLOOR = 1e-30  # p·log(max(p, floor)) is 0 at p = 0 (a normal number in float32)


def _as_list(value, name):
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{name} must be a list of (batch, prototypes) logits, one per view, got "
                         f"{type(value).__name__}; pass [logits_view_1, logits_view_2, ...]")
    return list(value)


def _check_logits(student, teacher, center):
    student, teacher = _as_list(student, "student"), _as_list(teacher, "teacher")
    if len(student) < 2:
        raise InputError(f"DINO needs the student's logits of at least 2 views, got {len(student)}")
    if not 1 <= len(teacher) <= len(student):
        raise InputError(f"the teacher's views are the first (global) views of the student's: got {len(teacher)} "
                         f"teacher views for {len(student)} student views; pass the teacher's logits of the global "
                         "views only (DINO: 2)")
    tensors = [check_embeddings(as_float(x), f"student[{i}]", min_batch=1) for i, x in enumerate(student)]
    tensors += [check_embeddings(as_float(x), f"teacher[{i}]", min_batch=1) for i, x in enumerate(teacher)]
    widths = {t.shape[1] for t in tensors} - {None}
    if len(widths) > 1:
        raise InputError(f"every student and teacher logit matrix must have the same number of prototypes, got "
                         f"widths {sorted(widths)}")
    center = as_float(center)
    if len(tuple(center.shape)) not in (1, 2) or (widths and center.shape[-1] not in (None, *widths)):
        raise InputError(f"center must be a (prototypes,) or (1, prototypes) vector matching the logits' width "
                         f"{sorted(widths)}, got shape {tuple(center.shape)}")
    dtype = "float64" if all(dtype_name(t) == "float64" for t in tensors) else "float32"
    tensors = [ops.cast(t, dtype) for t in tensors]
    return tensors[: len(student)], tensors[len(student):], ops.cast(ops.reshape(center, (1, -1)), dtype)


def _entropy_rows(p):
    """``H(p_b) = −Σ_k p_bk log p_bk`` per row."""
    return -ops.sum(p * ops.log(ops.maximum(p, _LOG_FLOOR)), axis=-1)


@keras.saving.register_keras_serializable(package="kspectral")
def dino(student, teacher, center, student_temperature=0.1, teacher_temperature=0.04, return_terms=False):
    """DINO loss (Caron et al. 2021, arXiv:2104.14294, Eqs. 2-4 and Algorithm 1), as the official ``DINOLoss``.

    The teacher's probabilities of its view ``i`` are ``P_t^i = softmax((t_i − c) / τ_t)`` (centred and sharpened,
    stop-gradient), the student's log-probabilities of its view ``j`` are ``log softmax(s_j / τ_s)``, and::

        L = (1 / n) Σ_{i, j ≠ i} mean_b [ −Σ_k P_t^i[b, k] log softmax(s_j / τ_s)[b, k] ]

    over every teacher view ``i`` (the global views, the student's first views) and every student view ``j`` that
    is not the same view, ``n`` the number of such pairs (``total_loss /= n_loss_terms``): 2 pairs for 2 views,
    ``2·V − 2`` for 2 global views among ``V`` (multi-crop). The logits are cast to float32 (float64 stays float64).

    Args:
        student: list of the student's logits, one ``(batch, prototypes)`` matrix per view, the global views first.
        teacher: list of the teacher's logits of the global views (the first ``len(teacher)`` views), the same shape.
        center: the centre ``c``, shape ``(prototypes,)`` or ``(1, prototypes)`` (the model's running mean of the
            teacher's logits; zeros to start).
        student_temperature: τ_s > 0 (official 0.1).
        teacher_temperature: τ_t > 0 (official 0.04 after its warm-up; solo-learn's CIFAR 0.07); a tensor is taken
            as is (the model's schedule).
        return_terms: return ``{"loss", "prototype_entropy", "teacher_entropy", "kl_divergence"}`` instead:
            ``prototype_entropy`` is the entropy of the batch-mean teacher probability ``H(mean_{b,i} P_t^i[b])``
            (near 0 when every sample goes to one prototype), ``teacher_entropy`` the mean entropy of the teacher's
            rows ``mean_{b,i} H(P_t^i[b])`` (``log(prototypes)`` when every row is uniform, the other collapse the
            paper's §5.3 and Fig. 7 discuss), ``kl_divergence`` the pairs' mean ``KL(P_t^i ‖ P_s^j)`` (the paper's
            Fig. 7; 0 at either collapse). All in nats; ``loss = teacher_entropy + kl_divergence`` (every teacher
            view is in the same number of pairs). Early in training the centre flattens the teacher's peaked rows,
            so ``teacher_entropy``, hence the loss, can rise while ``kl_divergence`` falls.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> s = [np.zeros((2, 4)), np.zeros((2, 4))]
        >>> round(float(dino(s, s, np.zeros(4))), 6)  # uniform targets and predictions: log 4
        1.386294
    """
    tau_s = check_positive(student_temperature, "student_temperature")
    tau_t = check_positive(teacher_temperature, "teacher_temperature")
    student, teacher, center = _check_logits(student, teacher, center)
    if not isinstance(tau_t, float):  # the model's schedule: a tensor (a Python float keeps float64 exact)
        tau_t = ops.cast(tau_t, center.dtype)
    targets = [ops.stop_gradient(ops.softmax((t - center) / tau_t, axis=-1)) for t in teacher]
    log_student = [ops.log_softmax(s / tau_s, axis=-1) for s in student]
    pairs = dino_pairs(len(student), len(targets))  # same-view pairs are skipped
    total = sum(ops.mean(-ops.sum(targets[i] * log_student[j], axis=-1)) for i, j in pairs)
    loss = total / float(len(pairs))
    rows = ops.concatenate(targets, axis=0)
    log_targets = [ops.log(ops.maximum(q, _LOG_FLOOR)) for q in targets]
    kl = sum(ops.mean(ops.sum(targets[i] * (log_targets[i] - log_student[j]), axis=-1)) for i, j in pairs)
    terms = {
        "prototype_entropy": _entropy_rows(ops.mean(rows, axis=0)),
        "teacher_entropy": ops.mean(_entropy_rows(rows)),
        "kl_divergence": kl / float(len(pairs)),
    }
    return loss_or_terms(loss, terms, return_terms)


def dino_pairs(views, global_views=2):
    """The ``(teacher view, student view)`` pairs of :func:`dino`: every global view ``i`` against every other view
    ``j ≠ i``; ``len(dino_pairs(V)) = global_views·V − global_views``.

    Example:
        >>> dino_pairs(4)
        [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    """
    return [(i, j) for i in range(global_views) for j in range(views) if i != j]


__all__ = ["dino", "dino_pairs"]
