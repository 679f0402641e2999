"""SwAV (Caron, Misra, Mairal, Goyal, Bojanowski & Joulin 2020, arXiv:2006.09882): the Sinkhorn-Knopp codes and the
swapped-prediction loss, as the official ``main_swav.py`` computes them.

:func:`sinkhorn` turns the ``(B, K)`` sample–prototype scores of one view into codes (Eq. 3 with the entropic
regulariser ε, solved by the three Sinkhorn-Knopp iterations of the paper's §3.1 and Appendix A.1); :func:`swav`
predicts the codes of each view used for assignments from every other view (Eq. 1-2 for two views, §3.2 for
multi-crop). Both see the **global** batch: the method gathers the replicas' outputs first, so one-device code on the
gathered batch is the official ``distributed_sinkhorn`` (whose all-reduced sums are sums over the global batch).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.errors import InputError
from kspectral.objectives._common import check_embeddings, check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, dtype_name


def _check_iterations(iterations):
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError(f"iterations must be an integer ≥ 1 (the official code uses 3), got {iterations!r}")
    return iterations


def _sinkhorn(scores, iterations, epsilon):
    """The Sinkhorn-Knopp codes of checked float scores ``(N, K)`` (no validation, no gradient)."""
    scores = ops.stop_gradient(scores)
    # Q = exp(scores / ε)ᵀ, K × N; the global maximum is subtracted first, which the normalisation by the total sum
    # cancels exactly (it only keeps exp finite for scores that are not cosines)
    logits = (scores - ops.max(scores)) / epsilon
    q = ops.transpose(ops.exp(logits))
    count = ops.cast(ops.shape(q)[1], q.dtype)  # B: the samples to assign
    prototypes = ops.cast(ops.shape(q)[0], q.dtype)  # K
    q = q / ops.sum(q)
    for _ in range(iterations):
        q = q / ops.sum(q, axis=1, keepdims=True) / prototypes  # each prototype (row) gets total weight 1/K
        q = q / ops.sum(q, axis=0, keepdims=True) / count  # each sample (column) gets total weight 1/B
    return ops.transpose(q * count)  # × B: each sample's code sums to 1


@keras.saving.register_keras_serializable(package="kspectral")
def sinkhorn(scores, iterations=3, epsilon=0.05):
    """SwAV's codes: the Sinkhorn-Knopp normalisation of ``exp(scores / ε)`` (Caron et al. 2020, arXiv:2006.09882,
    §3.1 and Eq. 3; the official ``distributed_sinkhorn`` of ``main_swav.py``).

    With ``Q = exp(scores / ε)ᵀ`` (``K × N``, prototypes × samples), ``Q`` is divided by its total sum, then
    ``iterations`` times each row (prototype) is scaled to sum to ``1/K`` and each column (sample) to ``1/N``; the
    result, times ``N``, is returned transposed. So every sample's code (row of the output) sums to 1 exactly, and
    each prototype's total weight is close to ``N/K`` (exactly ``N/K`` in the limit of many iterations: the balanced,
    doubly-stochastic transport plan between the samples and the prototypes, equipartition). No gradient flows
    through the codes (the official code runs under ``torch.no_grad``). ``N`` is the **global** batch (the
    method gathers the replicas' scores first), with the queue's rows included when a queue is used.

    Args:
        scores: ``(N, K)`` sample–prototype similarities (SwAV: ``normalize(z) · cᵏ`` with unit prototypes).
        iterations: the Sinkhorn-Knopp iterations (official 3).
        epsilon: ε > 0, the entropic regularisation (official 0.05).

    Returns:
        ``(N, K)`` codes, float32 (float64 for float64 scores), rows summing to 1.

    Example:
        >>> import numpy as np
        >>> codes = sinkhorn(np.log([[3.0, 1.0], [1.0, 1.0]]), iterations=1, epsilon=1.0)
        >>> np.round(keras.ops.convert_to_numpy(codes), 4).tolist()  # by hand: [[3/5, 2/5], [1/3, 2/3]]
        [[0.6, 0.4], [0.3333, 0.6667]]
    """
    scores = check_embeddings(as_float(scores), "scores", min_batch=1)
    return _sinkhorn(scores, _check_iterations(iterations), check_positive(epsilon, "epsilon"))


def _check_views(scores, assignments):
    if not isinstance(scores, (list, tuple)) or not isinstance(assignments, (list, tuple)):
        raise InputError("swav() takes lists: scores [s_1, ..., s_V] of every view and assignments [q_1, ..., q_A] of "
                         "the first A views (the views used for assignments)")
    if len(scores) < 2:
        raise InputError(f"swav() needs the scores of at least 2 views, got {len(scores)}")
    if not 1 <= len(assignments) <= len(scores):
        raise InputError(f"swav() needs between 1 and {len(scores)} assignments (the codes of the first views), got "
                         f"{len(assignments)}")
    scores = [check_embeddings(as_float(s), f"scores[{v}]", min_batch=1) for v, s in enumerate(scores)]
    assignments = [check_embeddings(as_float(q), f"assignments[{i}]", min_batch=1) for i, q in enumerate(assignments)]
    shapes = {tuple(t.shape) for t in (*scores, *assignments)}
    if len(shapes) > 1 and all(None not in s for s in shapes):
        raise InputError(f"every view's scores and codes must have one shape (batch, prototypes), got {sorted(shapes)}")
    dtype = "float64" if all(dtype_name(t) == "float64" for t in (*scores, *assignments)) else "float32"
    return [ops.cast(s, dtype) for s in scores], [ops.cast(q, dtype) for q in assignments]


def prototype_usage_entropy(assignments):
    """Entropy (nats) of how often each prototype is the argmax of a code, over every code given: ``log K`` when
    the samples spread evenly over ``K`` prototypes, 0 when every sample goes to one prototype (collapse).

    The hard assignments are used because the mean of Sinkhorn's soft codes is (close to) uniform by construction,
    collapsed or not (identical scores give uniform codes).

    Args:
        assignments: a ``(N, K)`` tensor or a list of them (the codes of several views).
    """
    codes = assignments if isinstance(assignments, (list, tuple)) else [assignments]
    codes = ops.concatenate([as_float(q) for q in codes], axis=0)
    usage = ops.mean(ops.one_hot(ops.argmax(codes, axis=1), ops.shape(codes)[1], dtype=codes.dtype), axis=0)
    return -ops.sum(ops.where(usage > 0, usage * ops.log(ops.maximum(usage, 1e-30)), ops.zeros_like(usage)))


@keras.saving.register_keras_serializable(package="kspectral")
def swav(scores, assignments, temperature=0.1, return_terms=False):
    """SwAV's swapped-prediction loss (Caron et al. 2020, arXiv:2006.09882, Eqs. 1-2 and §3.2 for multi-crop), as
    the official ``main_swav.py`` reduces it.

    ``L = 1/A Σ_{i<A} 1/(V−1) Σ_{v≠i} −mean_b Σ_k q_i[b, k] log softmax(s_v[b] / τ)_k``: the codes ``q_i`` of each
    of the first ``A`` views (``crops_for_assign``; SwAV uses the two global views) are predicted from the scores of
    every other view ``v``, each cross-entropy a mean over the batch; the official code divides each view's sum by
    ``V − 1`` and the total by ``A`` (``subloss / (num_crops − 1)``, ``loss /= len(crops_for_assign)``), which is
    the mean over the ``A·(V − 1)`` pairs (solo-learn's ``swav_loss_func`` too). No gradient flows into the codes.

    Args:
        scores: list of the ``V ≥ 2`` views' ``(B, K)`` scores (unit embeddings times unit prototypes), global
            views first.
        assignments: list of the codes ``q_1, ..., q_A`` (``(B, K)``, e.g. :func:`sinkhorn` of the first ``A``
            views' scores), ``1 ≤ A ≤ V``; ``assignments[i]`` belongs to view ``i``.
        temperature: τ > 0 of the softmax (official 0.1).
        return_terms: return ``{"loss", "prototype_entropy"}`` instead: the loss and the entropy of the prototypes'
            usage by the codes (:func:`prototype_usage_entropy`, a diagnostic: 0 when collapsed).

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs), or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> s = [np.zeros((1, 2)), np.zeros((1, 2))]  # uniform predictions: −log(1/2) per pair
        >>> round(float(swav(s, [np.array([[1.0, 0.0]])] * 2)), 6)
        0.693147
    """
    temperature = check_positive(temperature, "temperature")
    scores, assignments = _check_views(scores, assignments)
    codes = [ops.stop_gradient(q) for q in assignments]
    log_predictions = [ops.log_softmax(s / temperature, axis=1) for s in scores]
    count = len(scores)
    total = 0.0
    for i, q in enumerate(codes):
        subloss = 0.0
        for v in range(count):
            if v != i:
                subloss = subloss - ops.mean(ops.sum(q * log_predictions[v], axis=1))
        total = total + subloss / float(count - 1)
    loss = total / float(len(codes))
    return loss_or_terms(loss, {"prototype_entropy": prototype_usage_entropy(codes)}, return_terms)
