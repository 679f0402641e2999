"""The predictive (non-contrastive) objectives: BYOL (Grill et al. 2020, arXiv:2006.07733) and SimSiam (Chen & He
2021, arXiv:2011.10566).

Both compare an online **prediction** ``p`` of one view with a **target** embedding of the other view through which
no gradient flows: a momentum teacher's projection for BYOL, the online projection itself for SimSiam. Each
function owns its formula; ``return_terms=True`` returns ``{"loss": L, "similarity": s}`` with ``s`` the mean of the
two directions' mean cosine similarities (1 when every prediction points at its target).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import check_pair, loss_or_terms
from kspectral.objectives.tensors import l2_normalize


def _mean_cosine(p, target):
    """``mean_i cos(p_i, sg(target_i))`` over the rows (the target detached)."""
    return ops.mean(ops.sum(l2_normalize(p, axis=1) * l2_normalize(ops.stop_gradient(target), axis=1), axis=1))


def _checked(p_a, p_b, t_a, t_b, names):
    p_a, t_b = check_pair(p_a, t_b, names=(names[0], names[3]), min_batch=1)
    p_b, t_a = check_pair(p_b, t_a, names=(names[1], names[2]), min_batch=1)
    check_pair(p_a, p_b, names=names[:2], min_batch=1)
    return p_a, p_b, t_a, t_b


@keras.saving.register_keras_serializable(package="kspectral")
def byol(p_a, p_b, t_a, t_b, return_terms=False):
    """BYOL's symmetrised loss (Grill et al. 2020, arXiv:2006.07733, Eq. 2 and §3.1 "we symmetrize the loss").

    ``L = mean_i (2 − 2 cos(p_a,i, t_b,i)) + mean_i (2 − 2 cos(p_b,i, t_a,i))``: the normalised squared error
    ``‖p̂ − t̂‖² = 2 − 2 cos`` of each view's online prediction against the **other** view's target projection, the two
    directions **summed** (BYOL's ``L + L̃``; solo-learn's ``byol_loss_func(P[1], Z_m[0]) + byol_loss_func(P[0],
    Z_m[1])``), each direction a mean over the batch. The targets are detached (``stop_gradient``), as the teacher's
    outputs are. ``L ∈ [0, 8]``; 0 when every prediction points at its target. Cosines are guarded at zero vectors
    (:func:`kspectral.objectives.l2_normalize`). Computed in float32 (float64 inputs stay float64).

    Args:
        p_a, p_b: the online predictions of views a and b, shape ``(batch, dim)``.
        t_a, t_b: the target (momentum teacher) projections of views a and b, same shape; no gradient flows into
            them.
        return_terms: return ``{"loss", "similarity"}`` instead, ``similarity`` the mean of the two directions'
            mean cosines (``L = 4 − 4·similarity``).

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> t = np.array([[1.0, 1.0], [0.0, 1.0]])  # cosines √½ and 1 against p
        >>> round(float(byol(p, p, t, t)), 6)  # 2 × (2 − 2 · (√½ + 1) / 2)
        0.585786
    """
    p_a, p_b, t_a, t_b = _checked(p_a, p_b, t_a, t_b, ("p_a", "p_b", "t_a", "t_b"))
    cos_ab, cos_ba = _mean_cosine(p_a, t_b), _mean_cosine(p_b, t_a)
    loss = (2.0 - 2.0 * cos_ab) + (2.0 - 2.0 * cos_ba)
    return loss_or_terms(loss, {"similarity": (cos_ab + cos_ba) / 2.0}, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def simsiam(p_a, p_b, z_a, z_b, return_terms=False):
    """SimSiam's symmetrised negative cosine (Chen & He 2021, arXiv:2011.10566, Eqs. 1-4 and Algorithm 1).

    ``L = −½ [mean_i cos(p_a,i, sg(z_b,i)) + mean_i cos(p_b,i, sg(z_a,i))]``: each view's prediction against the
    other view's **detached** online projection (``stop_gradient``, the paper's Eq. 3, without which it collapses),
    the two directions **averaged** (the paper's ``½ D(p₁, z₂) + ½ D(p₂, z₁)``; the official code's
    ``-(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5``; solo-learn's ``simsiam_loss_func(p1, z2) / 2 +
    simsiam_loss_func(p2, z1) / 2``). ``L ∈ [−1, 1]``, −1 at the optimum. Cosines are guarded at zero vectors;
    computed in float32 (float64 inputs stay float64).

    Args:
        p_a, p_b: the predictions of views a and b, shape ``(batch, dim)``.
        z_a, z_b: the online projections of views a and b, same shape; the loss takes no gradient through them.
        return_terms: return ``{"loss", "similarity"}`` instead, ``similarity = −L``.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> z = np.array([[1.0, 1.0], [0.0, -1.0]])  # cosines √½ and −1 against p
        >>> round(float(simsiam(p, p, z, z)), 6)  # −(√½ − 1) / 2
        0.146447
    """
    p_a, p_b, z_a, z_b = _checked(p_a, p_b, z_a, z_b, ("p_a", "p_b", "z_a", "z_b"))
    similarity = (_mean_cosine(p_a, z_b) + _mean_cosine(p_b, z_a)) / 2.0
    return loss_or_terms(-similarity, {"similarity": similarity}, return_terms)


__all__ = ["byol", "simsiam"]
