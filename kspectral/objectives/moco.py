"""MoCo v3 (Chen, Xie & He 2021, arXiv:2104.02057) and MoCo v2 (Chen, Fan, Girshick & He 2020, arXiv:2003.04297)
losses: InfoNCE of online queries against momentum keys.

Both take the queries ``q`` (the online branch: MoCo v3's predictor outputs, MoCo v2's projections) and the keys
``k`` (the momentum teacher's projections) of the two views; MoCo v2 also takes a queue of past keys, its negatives.
Queries, keys and queue rows are L2-normalised here (a squared norm is clamped at ``1e-12``); the keys and the queue
are targets: no gradient flows into them (``stop_gradient``), as the official code computes them under
``torch.no_grad()``. Under a strategy the model all-gathers the queries and keys first, so these functions see the
global batch and every replica computes the same value.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.errors import InputError
from kspectral.objectives._common import check_embeddings, check_pair, check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, l2_normalize


def _info_nce_batch(q, k, temperature):
    """``(CE, mean_i −q̂_i·k̂_i/τ, mean_i log Σ_j exp(q̂_i·k̂_j/τ))``: the cross-entropy of ``softmax(q̂ k̂ᵀ/τ)``
    with target ``i`` in row ``i`` (one reduction), and its two parts."""
    logits = ops.matmul(q, ops.transpose(k)) / temperature
    positive = ops.sum(q * k, axis=1) / temperature
    lse = ops.logsumexp(logits, axis=1)
    return ops.mean(lse - positive), ops.mean(-positive), ops.mean(lse)


@keras.saving.register_keras_serializable(package="kspectral")
def mocov3(q_a, q_b, k_a, k_b, temperature=0.2, return_terms=False):
    """MoCo v3's symmetric contrastive loss (Chen, Xie & He 2021, arXiv:2104.02057, Algorithm 1 and Eq. 1).

    ``L = c(q_a, k_b) + c(q_b, k_a)`` with ``c(q, k) = 2τ · mean_i CE(softmax(q̂_i k̂ᵀ / τ), i)``: each query is
    classified among the ``N`` keys of the batch, its own sample's key (of the other view) the target; ``q̂`` and
    ``k̂`` are L2-normalised rows and ``N`` the (global) batch.

    **Reduction.** The official code's ``contrastive_loss`` (facebookresearch/moco-v3 ``moco/builder.py``) returns
    ``CrossEntropyLoss()(logits, labels) * (2 * T)`` (the mean over the queries) and ``forward`` sums the two
    directions; solo-learn's ``mocov3_loss_func`` (``solo/losses/mocov3.py``) is the same formula, and its
    ``training_step`` sums the two directions too. This function follows both: the ``2τ`` factor (the paper's note:
    it makes the gradient's scale independent of ``τ``) and the sum. The official code computes the loss of each
    replica's queries against the all-gathered keys, and DDP averages the replicas' gradients: the mean over the
    global batch's queries here is the same gradient.

    Bounds: ``0 < L``; all keys equal gives ``L = 4τ log N``.

    Args:
        q_a, q_b: the queries of the two views (MoCo v3: predictor outputs), ``(batch, dim)``, ``batch ≥ 2``.
        k_a, k_b: the keys of the two views (the momentum teacher's projections), same shape; row ``i`` of every
            input is sample ``i``.
        temperature: τ > 0 (the paper's ResNet-50: 1.0; solo-learn's CIFAR config: 0.2).
        return_terms: return ``{"loss", "attraction", "repulsion"}`` instead: ``attraction = −2 Σ_directions
            mean_i q̂_i·k̂_i`` (the positives' part, ``2τ · mean(−s_ii/τ)`` summed over both directions) and
            ``repulsion = 2τ Σ_directions mean_i log Σ_j exp(s_ij/τ)``; their sum is the loss.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(mocov3(eye, eye, eye, eye, temperature=0.5)), 6)  # 2 · 2τ · (log(e² + 1) − 2)
        0.253856
    """
    temperature = check_positive(temperature, "temperature")
    q_a, k_b = check_pair(q_a, k_b, names=("q_a", "k_b"))
    q_b, k_a = check_pair(q_b, k_a, names=("q_b", "k_a"))
    q_a, q_b = check_pair(q_a, q_b, names=("q_a", "q_b"))
    dtype = q_a.dtype
    q_a, q_b = l2_normalize(q_a), l2_normalize(q_b)
    k_a = ops.stop_gradient(l2_normalize(ops.cast(k_a, dtype)))
    k_b = ops.stop_gradient(l2_normalize(ops.cast(k_b, dtype)))
    loss_ab, attraction_ab, repulsion_ab = _info_nce_batch(q_a, k_b, temperature)
    loss_ba, attraction_ba, repulsion_ba = _info_nce_batch(q_b, k_a, temperature)
    scale = 2.0 * temperature
    # the loss as a sum of two terms (no sum of four that a graph optimizer could re-associate between two traces:
    # a resumed run must log the same loss bit for bit)
    loss = scale * (loss_ab + loss_ba)
    attraction = scale * (attraction_ab + attraction_ba)
    repulsion = scale * (repulsion_ab + repulsion_ba)
    return loss_or_terms(loss, {"attraction": attraction, "repulsion": repulsion}, return_terms)


def _queues(queue, dim, dtype):
    """``(negatives of q_a, negatives of q_b)`` from one ``(Q, dim)`` queue or a pair ``(queue_a, queue_b)``."""
    if isinstance(queue, (list, tuple)):
        if len(queue) != 2:
            raise InputError(f"queue must be one (Q, dim) matrix or a pair (queue_a, queue_b), got {len(queue)} "
                             "matrices")
        queue_a, queue_b = queue
    else:
        queue_a = queue_b = queue
    checked = []
    for name, rows in (("queue_a", queue_a), ("queue_b", queue_b)):
        rows = check_embeddings(as_float(rows), name, min_batch=1)
        if rows.shape[1] is not None and dim is not None and rows.shape[1] != dim:
            raise InputError(f"{name} holds rows of dimension {rows.shape[1]}, the queries have {dim}; build the "
                             "queue with the projector's output width")
        checked.append(ops.stop_gradient(l2_normalize(ops.cast(rows, dtype))))
    # the negatives of the direction (q_a, k_b) are the past keys of view b, those of (q_b, k_a) the past keys of a
    return checked[1], checked[0]


def _info_nce_queue(q, k, negatives, temperature):
    """``(ℓ, mean_i −q̂_i·k̂_i/τ, mean_i log(exp(q̂_i·k̂_i/τ) + Σ_n exp(q̂_i·n/τ)))``: MoCo's InfoNCE ``ℓ``, the
    positive in column 0 and the queue's rows after it (one reduction), and its two parts."""
    positive = ops.sum(q * k, axis=1, keepdims=True)
    logits = ops.concatenate([positive, ops.matmul(q, ops.transpose(negatives))], axis=1) / temperature
    lse = ops.logsumexp(logits, axis=1)
    return ops.mean(lse - logits[:, 0]), ops.mean(-logits[:, 0]), ops.mean(lse)


@keras.saving.register_keras_serializable(package="kspectral")
def mocov2(q_a, q_b, k_a, k_b, queue, temperature=0.2, return_terms=False):
    """MoCo v2's InfoNCE with a queue of negatives (Chen, Fan, Girshick & He 2020, arXiv:2003.04297; He et al. 2020,
    arXiv:1911.05722, Eq. 1), symmetric as solo-learn's MoCo V2+.

    ``ℓ(q, k, Q) = mean_i −log( exp(q̂_i·k̂_i/τ) / (exp(q̂_i·k̂_i/τ) + Σ_{n∈Q} exp(q̂_i·n̂/τ)) )``: each query's
    positive is its sample's key of the other view, its negatives the queue's rows; and
    ``L = (ℓ(q_a, k_b, Q_b) + ℓ(q_b, k_a, Q_a)) / 2``.

    **Queues and reduction.** solo-learn's ``mocov2plus`` (``solo/methods/mocov2plus.py``, with
    ``solo/losses/mocov2plus.py``) keeps **one queue per view** (``queue[0]`` the past keys of view 1, ``queue[1]``
    of view 2) and averages the two directions, ``(loss(q1, k2, queue[1]) + loss(q2, k1, queue[0])) / 2``, each the
    mean over the queries: this function follows it, with ``queue=(queue_a, queue_b)`` (``queue_a`` the past keys
    of view a, the negatives of ``q_b``; ``queue_b`` those of view b, the negatives of ``q_a``). The official MoCo
    v2 (facebookresearch/moco) is asymmetric, one direction and one queue; a single ``(Q, dim)`` matrix here is
    used as the negatives of both directions.

    Bounds: ``L > 0``; all keys and queue rows equal gives ``log(1 + Q)``.

    Args:
        q_a, q_b: the queries of the two views (the online projections), ``(batch, dim)``, ``batch ≥ 1``.
        k_a, k_b: the keys (the momentum teacher's projections), same shape; row ``i`` of every input is sample
            ``i``.
        queue: the negatives: a pair ``(queue_a, queue_b)`` of ``(Q, dim)`` matrices, or one matrix for both
            directions; read before this batch's keys enter it.
        temperature: τ > 0 (MoCo v2 and solo-learn's CIFAR config: 0.2).
        return_terms: return ``{"loss", "attraction", "repulsion"}`` instead: the mean over both directions of
            ``mean_i −q̂_i·k̂_i/τ`` and of the log-sum-exp over the positive and the queue; their sum is the loss.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(mocov2(eye, eye, eye, eye, -eye, temperature=0.5)), 6)  # log(e² + e⁰ + e⁻²) − 2
        0.142932
    """
    temperature = check_positive(temperature, "temperature")
    q_a, k_b = check_pair(q_a, k_b, names=("q_a", "k_b"), min_batch=1)
    q_b, k_a = check_pair(q_b, k_a, names=("q_b", "k_a"), min_batch=1)
    q_a, q_b = check_pair(q_a, q_b, names=("q_a", "q_b"), min_batch=1)
    dtype = q_a.dtype
    negatives_a, negatives_b = _queues(queue, q_a.shape[1], dtype)
    q_a, q_b = l2_normalize(q_a), l2_normalize(q_b)
    k_a = ops.stop_gradient(l2_normalize(ops.cast(k_a, dtype)))
    k_b = ops.stop_gradient(l2_normalize(ops.cast(k_b, dtype)))
    loss_ab, attraction_ab, repulsion_ab = _info_nce_queue(q_a, k_b, negatives_a, temperature)
    loss_ba, attraction_ba, repulsion_ba = _info_nce_queue(q_b, k_a, negatives_b, temperature)
    # a sum of two terms, as in mocov3 (a resumed run logs the same loss bit for bit)
    loss = (loss_ab + loss_ba) * 0.5
    attraction = (attraction_ab + attraction_ba) * 0.5
    repulsion = (repulsion_ab + repulsion_ba) * 0.5
    return loss_or_terms(loss, {"attraction": attraction, "repulsion": repulsion}, return_terms)
