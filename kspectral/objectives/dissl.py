"""DISSL: distillation invariant SSL (Dubois, Hashimoto, Ermon & Liang 2022, arXiv:2209.06235), exactly as
``issl/losses/dissl.py`` of the authors' code. The heads (an MLP teacher ``g_T`` and a linear student ``g_S`` giving
logits over ``C`` equivalence classes) belong to the model; this module takes their logits."""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import (
    ObjectiveLoss,
    check_embeddings,
    check_nonnegative,
    check_positive,
    loss_or_terms,
)
from kspectral.objectives.tensors import as_float, dtype_name
from kspectral.objectives.views import split_views
from kspectral.errors import InputError

_LOG_FLOOR = 1e-30  # p·log(max(p, floor)) is 0 at p = 0 with a finite gradient (a normal number in float32)


def _check_logits(logits):
    names = ("teacher_a", "teacher_b", "student_a", "student_b")
    tensors = [check_embeddings(as_float(x), n, min_batch=1) for x, n in zip(logits, names)]
    shapes = [tuple(t.shape) for t in tensors]
    known = [s for s in shapes if all(d is not None for d in s)]
    if known and any(s != known[0] for s in known):
        raise InputError(
            "teacher_a, teacher_b, student_a and student_b must all have the same (batch, classes) shape, "
            f"got {shapes}"
        )
    classes = shapes[0][1]
    if classes is not None and classes < 2:
        raise InputError(f"DISSL needs at least 2 classes (logits' last dimension), got {classes}")
    if len({dtype_name(t) for t in tensors}) > 1:
        tensors = [ops.cast(t, "float32") for t in tensors]
    return tensors


def _entropy(p):
    return -ops.sum(p * ops.log(ops.maximum(p, _LOG_FLOOR)))


def _cross_entropy(p, log_q):
    """``mean_b [ −Σ_c p_bc log q_bc ]``."""
    return -ops.mean(ops.sum(p * log_q, axis=-1))


@keras.saving.register_keras_serializable(package="kspectral")
def dissl(teacher_a, teacher_b, student_a, student_b, marginal_weight=2.3, invariance_weight=0.8,
          teacher_temperature=0.5, student_temperature=1.0, return_terms=False):
    """DISSL loss (Dubois et al. 2022, arXiv:2209.06235), as the authors' ``dissl.py`` computes it (two views).

    The teacher ``t(·|z) = softmax(g_T(z)/τ_a)`` and the student ``log s(·|z) = log_softmax(g_S(z)/τ)`` are taken
    from the logits of each view ``v ∈ {a, b}``, cast to float32 first (float64 stays float64)::

        H_M     = mean_v H( mean_b t(·|z_b^v) )                                     (maximality)
        CE_inv  = mean_{v≠v'} mean_b [ −Σ_c t(c|z_b^v) log t(c|z_b^{v'}) ]          (invariance + determinism)
        CE_dist = mean_{v≠v'} mean_b [ −Σ_c t(c|z_b^v) log s(c|z_b^{v'}) ]          (distillation)
        L       = CE_dist − λ · H_M + β · CE_inv

    No stop-gradient, EMA or centring: the teacher receives gradients from all three terms, the student only from
    ``CE_dist``. Since ``CE_dist = KL[t‖s] + H[t]``, the effective determinism weight is ``1 + β``; the authors' code
    asks for ``λ ≥ 1 + β``. Defaults are the authors' TinyImageNet values (``λ = 2.3``, ``β = 0.8``; ImageNet used
    ``β = 0.6``), ``τ_a = 0.5``, ``τ = 1``. Bounds: ``L ≥ −λ log C``; all-zero logits give ``(1 + β − λ) log C``.

    Args:
        teacher_a, teacher_b: teacher logits of the two views, shape ``(batch, C)``.
        student_a, student_b: student logits of the two views, shape ``(batch, C)``.
        marginal_weight: λ ≥ 0, weight of the marginal entropy ``H_M`` (subtracted).
        invariance_weight: β ≥ 0, weight of ``CE_inv``.
        teacher_temperature: τ_a > 0 of the teacher softmax.
        student_temperature: τ > 0 of the student log-softmax.
        return_terms: return ``{"loss", "distillation", "marginal_entropy", "invariance"}`` (``CE_dist``, ``H_M``,
            ``CE_inv``, unweighted) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> z = np.zeros((4, 3))
        >>> round(float(dissl(z, z, z, z)), 6)  # (1 + 0.8 − 2.3) log 3
        -0.549306
    """
    marginal_weight = check_nonnegative(marginal_weight, "marginal_weight")
    invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
    tau_a = check_positive(teacher_temperature, "teacher_temperature")
    tau = check_positive(student_temperature, "student_temperature")
    t_a, t_b, s_a, s_b = _check_logits((teacher_a, teacher_b, student_a, student_b))
    teacher = [ops.softmax(t / tau_a, axis=-1) for t in (t_a, t_b)]
    log_teacher = [ops.log_softmax(t / tau_a, axis=-1) for t in (t_a, t_b)]
    log_student = [ops.log_softmax(s / tau, axis=-1) for s in (s_a, s_b)]
    pairs = ((0, 1), (1, 0))  # (v, v'), v ≠ v': same-view pairs are skipped
    terms = {
        "distillation": 0.5 * sum(_cross_entropy(teacher[v], log_student[w]) for v, w in pairs),
        "marginal_entropy": 0.5 * sum(_entropy(ops.mean(p, axis=0)) for p in teacher),
        "invariance": 0.5 * sum(_cross_entropy(teacher[v], log_teacher[w]) for v, w in pairs),
    }
    loss = terms["distillation"] - marginal_weight * terms["marginal_entropy"] + invariance_weight * terms["invariance"]
    return loss_or_terms(loss, terms, return_terms)


def dissl_stacked(teacher_logits, student_logits, marginal_weight=2.3, invariance_weight=0.8,
                  teacher_temperature=0.5, student_temperature=1.0):
    """:func:`dissl` on view-major ``(2B, C)`` teacher and student logits (the layout of :class:`DISSLLoss`)."""
    t_a, t_b = split_views(teacher_logits, "teacher_logits")
    s_a, s_b = split_views(student_logits, "student_logits")
    return dissl(t_a, t_b, s_a, s_b, marginal_weight=marginal_weight, invariance_weight=invariance_weight,
                 teacher_temperature=teacher_temperature, student_temperature=student_temperature)


@keras.saving.register_keras_serializable(package="kspectral")
class DISSLLoss(ObjectiveLoss):
    """Keras loss calling :func:`dissl`: ``DISSLLoss()(teacher_logits, student_logits)``, one scalar per batch.

    Keras' ``(y_true, y_pred)`` positions take the teacher's and the student's logits, each of shape ``(2B, C)``:
    the two views view-major (:func:`kspectral.objectives.join_views`), as ``g_T(cat[z_1, z_2])`` and
    ``g_S(cat[z_1, z_2])`` produce them.

    Example:
        >>> loss = DISSLLoss(marginal_weight=2.3, invariance_weight=0.6)
        >>> DISSLLoss.from_config(loss.get_config()).invariance_weight
        0.6
    """

    objective = staticmethod(dissl_stacked)

    def __init__(self, marginal_weight=2.3, invariance_weight=0.8, teacher_temperature=0.5, student_temperature=1.0,
                 name="dissl", dtype=None):
        super().__init__(name, dtype, marginal_weight=check_nonnegative(marginal_weight, "marginal_weight"),
                         invariance_weight=check_nonnegative(invariance_weight, "invariance_weight"),
                         teacher_temperature=check_positive(teacher_temperature, "teacher_temperature"),
                         student_temperature=check_positive(student_temperature, "student_temperature"))


__all__ = ["DISSLLoss", "dissl", "dissl_stacked"]
