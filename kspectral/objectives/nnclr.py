"""NNCLR (Dwibedi, Aytar, Tompson, Sermanet & Zisserman 2021, arXiv:2104.14548): the nearest neighbour of one view's
projection in a support set is the positive of the other view's prediction.

Two pure functions: :func:`nearest_neighbours` (the support-set look-up ``NN(z, Q)``, Eq. 4) and :func:`nnclr` (the
symmetric cross-entropy of Eq. 3 with the prediction head, as solo-learn's ``nnclr_loss_func`` reduces it).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.errors import InputError
from kspectral.objectives._common import check_embeddings, check_pair, check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, l2_normalize


def _check_support(z, support):
    z = check_embeddings(as_float(z), "z", min_batch=1)
    support = check_embeddings(as_float(support), "support", min_batch=1)
    if z.shape[1] is not None and support.shape[1] is not None and z.shape[1] != support.shape[1]:
        raise InputError(f"z has rows of dimension {z.shape[1]} but the support set's rows have {support.shape[1]}; "
                         "the support set must hold embeddings of the projector's output width")
    if keras.backend.standardize_dtype(z.dtype) != keras.backend.standardize_dtype(support.dtype):
        z, support = ops.cast(z, "float32"), ops.cast(support, "float32")
    return z, support


@keras.saving.register_keras_serializable(package="kspectral")
def nearest_neighbours(z, support, return_indices=False):
    """Each row's nearest neighbour in the support set by cosine similarity: ``NN(z, Q)`` (Eq. 4).

    Row ``i`` of the result is ``support[j_i]`` with ``j_i = argmax_j cos(z_i, q_j)``, the first index on a tie.
    Eq. 4 writes ``argmin_q ‖z − q‖₂`` on unit vectors, which is the same row; solo-learn's ``find_nn`` takes
    the argmax of ``z @ queueᵀ`` with unit ``z`` and unit rows (its queue normalises what it stores), the same again.
    The rows are returned as stored in ``support`` (unit rows for :class:`~kspectral.methods.components.EmbeddingQueue`)
    and carry no gradient: a neighbour is a constant of the step, as solo-learn's buffer rows are.

    Args:
        z: queries, shape ``(batch, dim)``.
        support: the support set ``Q``, shape ``(size, dim)``.
        return_indices: also return the indices ``j_i`` (int, shape ``(batch,)``).

    Returns:
        ``(batch, dim)`` tensor of neighbours, or ``(neighbours, indices)``.

    Example:
        >>> import numpy as np
        >>> support = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
        >>> nn, idx = nearest_neighbours(np.array([[0.1, 1.0], [-3.0, 0.5]]), support, return_indices=True)
        >>> keras.ops.convert_to_numpy(idx).tolist(), keras.ops.convert_to_numpy(nn).tolist()
        ([1, 2], [[0.0, 2.0], [-1.0, 0.0]])
    """
    z, support = _check_support(z, support)
    similarity = ops.matmul(l2_normalize(z), ops.transpose(l2_normalize(support)))
    indices = ops.argmax(similarity, axis=1)
    neighbours = ops.stop_gradient(ops.take(support, indices, axis=0))
    return (neighbours, indices) if return_indices else neighbours


def _cross_entropy(neighbours, predictions, temperature):
    """``mean_i −log softmax_j(n̂_i · p̂_j / τ)[i]``: solo-learn's ``nnclr_loss_func`` on the global batch."""
    logits = ops.matmul(l2_normalize(neighbours), ops.transpose(l2_normalize(predictions))) / temperature
    return ops.mean(ops.logsumexp(logits, axis=1) - ops.diagonal(logits))


@keras.saving.register_keras_serializable(package="kspectral")
def nnclr(p_a, p_b, nn_a, nn_b, temperature=0.1, return_terms=False):
    """NNCLR's loss (Dwibedi et al. 2021, arXiv:2104.14548, Eq. 3, with the prediction head and the symmetric form of
    §3.2): the nearest neighbour of each view's projection is the positive of the other view's prediction.

    With unit rows ``n̂ = nn / ‖nn‖`` and ``p̂ = p / ‖p‖``,
    ``ℓ(nn, p) = mean_i [−log exp(n̂_i · p̂_i / τ) / Σ_k exp(n̂_i · p̂_k / τ)]`` (the negatives of row ``i``
    are the other samples' predictions of the same view) and ``L = ½ [ℓ(nn_a, p_b) + ℓ(nn_b, p_a)]``.

    **Reduction.** As solo-learn's ``nnclr_loss_func`` (``solo/losses/nnclr.py``) and its ``NNCLR.training_step``:
    the cross-entropy's mean over the rows, the two directions averaged. solo-learn computes each replica's local
    rows against the all-gathered predictions (labels offset by the rank); kspectral sees the gathered global batch,
    whose mean over all rows is the mean of the replicas' losses, so R replicas of batch B compute one device's loss
    on batch R·B. The neighbours get no gradient (they are rows of the support set); the gradient reaches the
    encoder through the predictions only, as in solo-learn.

    Bounds: ``L ≥ 0``; ``L = log B`` when all predictions are equal.

    Args:
        p_a, p_b: predictions (predictor outputs) of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        nn_a, nn_b: the nearest neighbours in the support set of the two views' projections
            (:func:`nearest_neighbours`), shape ``(batch, dim)``.
        temperature: τ > 0 (the paper's 0.1, solo-learn's function default; 0.2 in solo-learn's CIFAR config).
        return_terms: return ``{"loss", "loss_ab", "loss_ba"}`` (``ℓ(nn_a, p_b)`` and ``ℓ(nn_b, p_a)``) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(nnclr(eye, eye, eye, eye, temperature=0.5)), 6)  # log(1 + e⁻²)
        0.126928
    """
    temperature = check_positive(temperature, "temperature")
    p_a, p_b = check_pair(p_a, p_b, ("p_a", "p_b"))
    nn_a, nn_b = check_pair(nn_a, nn_b, ("nn_a", "nn_b"))
    check_pair(p_a, nn_a, ("p_a", "nn_a"))
    if keras.backend.standardize_dtype(p_a.dtype) != keras.backend.standardize_dtype(nn_a.dtype):
        p_a, p_b, nn_a, nn_b = (ops.cast(t, "float32") for t in (p_a, p_b, nn_a, nn_b))
    nn_a, nn_b = ops.stop_gradient(nn_a), ops.stop_gradient(nn_b)
    loss_ab = _cross_entropy(nn_a, p_b, temperature)
    loss_ba = _cross_entropy(nn_b, p_a, temperature)
    return loss_or_terms((loss_ab + loss_ba) / 2, {"loss_ab": loss_ab, "loss_ba": loss_ba}, return_terms)


__all__ = ["nearest_neighbours", "nnclr"]
