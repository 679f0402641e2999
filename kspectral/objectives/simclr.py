"""SimCLR / NT-Xent (Chen et al. 2020, arXiv:2002.05709) and DCL (Yeh et al. 2022, arXiv:2110.06848), with the
sample-contrastive variants of Garrido et al. 2023 (arXiv:2206.02574): ``|s|`` or ``s²`` for the negatives
(Prop. 3.2) and centred or standardised dimensions (Table 1, Eq. 14).

Both losses share one core on the ``2B × 2B`` similarity matrix of the view-major batch ``[a_1 … a_B, b_1 … b_B]``
(the positive of row ``k`` is column ``(k + B) mod 2B``); they differ only in whether the positive stays in the
denominator (SimCLR) or leaves it (DCL). Normalisations are guarded: a squared norm is clamped at ``1e-12`` (as
``tf.math.l2_normalize``), so a zero embedding gives a finite loss and finite gradients.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import (
    ObjectiveLoss,
    check_choice,
    check_embeddings,
    check_pair,
    check_positive,
    loss_or_terms,
)
from kspectral.objectives.tensors import as_float, l2_normalize
from kspectral.errors import InputError

#: What the negatives use: the similarity ``s``, ``|s|`` or ``s²``.
NEGATIVES = ("plain", "abs", "sq")
#: What is done to the dimensions before the similarities: nothing (cosine similarities), centring (then cosine
#: similarities), or standardisation to norm ``√(N/M)`` (then dot products).
DIMENSIONS = ("raw", "centered", "standardized")

#: Logit given to excluded columns (self, and the positive for DCL); ``exp`` of it underflows to 0.
_EXCLUDED_LOGIT = -1e9
#: Clamp on squared norms before dividing by them.
_EPSILON = 1e-12


def _center(z):
    return z - ops.mean(z, axis=0, keepdims=True)


def _standardize(z, epsilon=_EPSILON):
    shape = ops.shape(z)
    n = ops.cast(shape[0], z.dtype)
    m = ops.cast(shape[1], z.dtype)
    return l2_normalize(_center(z), axis=0, epsilon=epsilon) * ops.sqrt(n / m)


def center_dimensions(z):
    """Centre every dimension (column) of a ``(batch, dim)`` matrix over the batch: ``z − mean_i z_i``."""
    return _center(check_embeddings(as_float(z), "z", min_batch=1))


def standardize_dimensions(z, epsilon=_EPSILON):
    """Centre each dimension, then scale each dimension (column) to norm ``√(N/M)`` (Garrido et al. 2023, Eq. 14).

    ``N`` is the batch size of ``z`` and ``M`` its dimension, so ``‖z‖_F² = N``: the embeddings have unit squared
    norm *on average*, without being normalised one by one. A constant (collapsed) dimension centres to 0 and
    stays 0 (the norm is clamped at ``sqrt(epsilon)``).

    Args:
        z: ``(batch, dim)`` embeddings.
        epsilon: ε > 0, the floor of the squared column norms.
    """
    return _standardize(check_embeddings(as_float(z), "z", min_batch=1), check_positive(epsilon, "epsilon"))


def check_form(negatives, dimensions):
    """Check a ``(negatives, dimensions)`` pair of :func:`simclr` / :func:`dcl`; return it.

    Garrido et al. define the ``abs`` / ``sq`` negatives on cosine similarities and the centred / standardised
    forms with plain negatives, so a non-plain ``negatives`` combines only with ``dimensions="raw"``.
    """
    check_choice(negatives, "negatives", NEGATIVES)
    check_choice(dimensions, "dimensions", DIMENSIONS)
    if negatives != "plain" and dimensions != "raw":
        raise InputError(
            f"negatives={negatives!r} combines only with dimensions='raw' (the abs / sq negatives are defined on "
            f"cosine similarities), got dimensions={dimensions!r}; use negatives='plain' with it"
        )
    return negatives, dimensions


def _positive_mask(n):
    """``(n, n)`` one-hot mask of the positive column ``(k + n/2) mod n`` of every row ``k``."""
    idx = ops.arange(n)
    return ops.one_hot((idx + n // 2) % n, n) > 0.5


def _nt_xent(sim, temperature, negatives="plain", positive_in_denominator=True):
    """The shared NT-Xent core on a ``(2B, 2B)`` view-major similarity matrix: ``(attraction, repulsion)``.

    Row ``k`` gives ``ℓ_k = −sim[k,k⁺]/τ + log Σ_l exp(g_l/τ)``: ``l`` runs over every column but ``k`` (and but
    ``k⁺`` when ``positive_in_denominator`` is False), ``g_l = sim[k,l]`` at ``l = k⁺`` and ``g_l = t(sim[k,l])``
    at negatives, with ``t`` the identity, ``abs`` or ``square``. Returns ``mean_k −sim[k,k⁺]/τ`` and
    ``mean_k log Σ_l exp(g_l/τ)``; the loss is their sum.
    """
    n = ops.shape(sim)[0]
    self_mask = ops.one_hot(ops.arange(n), n) > 0.5
    pos_mask = _positive_mask(n)
    neg_sim = {"plain": lambda s: s, "abs": ops.abs, "sq": ops.square}[negatives](sim)
    positive = ops.sum(ops.where(pos_mask, sim, ops.zeros_like(sim)), axis=1)
    logits = ops.where(pos_mask, sim, neg_sim) / temperature
    excluded = self_mask if positive_in_denominator else ops.logical_or(self_mask, pos_mask)
    logits = ops.where(excluded, ops.cast(_EXCLUDED_LOGIT, logits.dtype), logits)
    return ops.mean(-positive / temperature), ops.mean(ops.logsumexp(logits, axis=1))


def _similarities(z_a, z_b, dimensions):
    """View-major ``(2B, 2B)`` similarity matrix after the given treatment of the dimensions."""
    if dimensions == "raw":  # cosine similarities
        z = l2_normalize(ops.concatenate([z_a, z_b], axis=0))
    elif dimensions == "centered":  # dims centred per view, then unit embeddings
        z = l2_normalize(ops.concatenate([_center(z_a), _center(z_b)], axis=0))
    else:  # dims centred per view and scaled to norm √(N/M), dot products
        z = ops.concatenate([_standardize(z_a), _standardize(z_b)], axis=0)
    return ops.matmul(z, ops.transpose(z))


def _contrastive(z_a, z_b, temperature, negatives, dimensions, positive_in_denominator, return_terms):
    temperature = check_positive(temperature, "temperature")
    negatives, dimensions = check_form(negatives, dimensions)
    z_a, z_b = check_pair(z_a, z_b)
    sim = _similarities(z_a, z_b, dimensions)
    attraction, repulsion = _nt_xent(sim, temperature, negatives, positive_in_denominator)
    return loss_or_terms(attraction + repulsion, {"attraction": attraction, "repulsion": repulsion}, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def simclr(z_a, z_b, temperature=0.1, negatives="plain", dimensions="raw", return_terms=False):
    """SimCLR / NT-Xent loss (Chen et al. 2020, arXiv:2002.05709, Eq. 1), averaged over the ``2B`` views.

    View ``i`` of the ``2B`` views ``[a_1 … a_B, b_1 … b_B]``, with positive ``i⁺`` (its other view), has
    ``ℓ_i = −s(i, i⁺)/τ + log Σ_{k≠i} exp(s(i, k)/τ)``; ``L = mean_i ℓ_i``. ``s`` is the cosine similarity and the
    negatives of ``i`` are the ``2B − 2`` other views of both branches.

    **Reduction.** The official TF code (google-research/simclr ``objective.py``) returns ``loss_a + loss_b``, the
    two directions' means summed, which is exactly ``2 ×`` this value (:func:`simclr_official` computes that).

    **Variants** (Garrido et al. 2023, arXiv:2206.02574):

    * ``negatives="abs"`` / ``"sq"`` (SimCLR-abs / -sq, Prop. 3.2): the negatives use ``|s|`` / ``s²``; the
      positive, in the numerator and in the denominator, keeps ``s``. The loss then ignores the sign of every
      negative similarity.
    * ``dimensions="centered"`` (Table 1, "A"): each view's embeddings are centred over their own batch, then
      L2-normalised; adding a constant vector to one view leaves the loss unchanged.
    * ``dimensions="standardized"`` (Eq. 14, "B"): each view's dimensions are centred and scaled to norm
      ``√(N/M)`` with ``N = B`` (:func:`standardize_dimensions`), and ``s`` is the plain **dot product** (unit
      squared norm only on average). Eq. 14 as printed indexes ``K_{·,i}`` with ``i ∈ [1..M]`` while centring
      over the samples; this is the per-dimension standardisation it describes.

    Bounds: ``L > 0``; ``L → 0`` as ``τ → 0`` when every positive is more similar than every negative;
    ``L = log(2B − 1)`` when all embeddings are equal. Computed in float32 (float64 inputs stay float64).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``; row ``i`` of ``z_a`` and row
            ``i`` of ``z_b`` are a positive pair.
        temperature: τ > 0 (official 0.1; Garrido et al.'s tuned value 0.15).
        negatives: ``"plain"``, ``"abs"`` or ``"sq"``.
        dimensions: ``"raw"``, ``"centered"`` or ``"standardized"`` (only with ``negatives="plain"``).
        return_terms: return ``{"loss", "attraction", "repulsion"}`` (``mean_i −s(i,i⁺)/τ`` and the mean
            log-sum-exp; their sum is the loss) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(simclr(eye, eye, temperature=0.5)), 6)  # log(e² + 2) − 2
        0.239545
        >>> a = np.array([[1., 0.], [-1., 0.]])  # the negatives have s = −1
        >>> round(float(simclr(a, a, temperature=1.0, negatives="abs")), 6)  # log(3e) − 1 = log 3
        1.098612
    """
    return _contrastive(z_a, z_b, temperature, negatives, dimensions, True, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def simclr_multiview(views, temperature=0.1, return_terms=False):
    """NT-Xent over ``V ≥ 2`` views of each sample, every other view of a sample a positive (multi-crop SimCLR).

    The ``V·B`` embeddings ``[v¹_1 … v¹_B, …, v^V_1 … v^V_B]`` are L2-normalised; row ``i`` with positives ``P(i)``
    (the other ``V − 1`` views of its sample) has ``ℓ_i = −log Σ_{p∈P(i)} exp(s_ip/τ) + log Σ_{k≠i} exp(s_ik/τ)``,
    and ``L = mean_i ℓ_i``: the loss of solo-learn's ``simclr_loss_func`` with ``indexes.repeat(n_augs)``
    (``solo/losses/simclr.py``), which its SimCLR trains with multi-crop, as SwAV's paper applies multi-crop to
    SimCLR (Caron et al. 2020, arXiv:2006.09882, §4.3). With two views it is :func:`simclr` exactly.

    Args:
        views: a list of ``V ≥ 2`` embeddings ``(batch, dim)`` of the same shape.
        temperature: τ > 0.
        return_terms: return ``{"loss", "attraction", "repulsion"}`` (``mean_i −log Σ_p exp(s_ip/τ)`` and
            ``mean_i log Σ_{k≠i} exp(s_ik/τ)``) instead.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(simclr_multiview([eye, eye], temperature=0.5)), 6)  # simclr(eye, eye, 0.5)
        0.239545
    """
    temperature = check_positive(temperature, "temperature")
    if not isinstance(views, (list, tuple)) or len(views) < 2:
        raise InputError(f"simclr_multiview takes a list of at least 2 views, got {type(views).__name__}")
    views = [check_embeddings(as_float(v), f"views[{k}]", min_batch=2) for k, v in enumerate(views)]
    for k, v in enumerate(views[1:], start=1):
        check_pair(views[0], v)
    count = len(views)
    z = l2_normalize(ops.concatenate(views, axis=0))
    sim = ops.matmul(z, ops.transpose(z)) / temperature
    n = ops.shape(z)[0]
    sample = ops.arange(n) % (n // count)  # row i is a view of sample i mod B
    same = ops.equal(sample[:, None], sample[None, :])
    self_mask = ops.one_hot(ops.arange(n), n) > 0.5
    excluded = ops.cast(_EXCLUDED_LOGIT, sim.dtype)
    positives = ops.where(ops.logical_and(same, ops.logical_not(self_mask)), sim, excluded)
    others = ops.where(self_mask, excluded, sim)
    attraction = ops.mean(-ops.logsumexp(positives, axis=1))
    repulsion = ops.mean(ops.logsumexp(others, axis=1))
    return loss_or_terms(attraction + repulsion, {"attraction": attraction, "repulsion": repulsion}, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def dcl(z_a, z_b, temperature=0.1, negatives="plain", dimensions="raw", return_terms=False):
    """Decoupled contrastive loss (Yeh et al. 2022, arXiv:2110.06848, Sec. 3): the positive leaves the denominator.

    ``ℓ_i = −s(i, i⁺)/τ + log Σ_{k∉{i, i⁺}} exp(s(i, k)/τ)``, ``L = mean_i ℓ_i`` over the ``2B`` views, negatives
    from both branches. Unlike SimCLR it can be negative; all embeddings equal gives ``log(2B − 2)``.

    **Reduction.** The authors' reference code returns ``loss(z_a, z_b) + loss(z_b, z_a)``, the two directions'
    means over ``B`` rows summed, which is exactly ``2 ×`` this value (as for :func:`simclr`).

    ``negatives`` and ``dimensions`` are those of :func:`simclr` (DCL-abs / DCL-sq: Garrido et al. 2023,
    arXiv:2206.02574, Prop. 3.2).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.
        negatives: ``"plain"``, ``"abs"`` or ``"sq"``.
        dimensions: ``"raw"``, ``"centered"`` or ``"standardized"`` (only with ``negatives="plain"``).
        return_terms: return ``{"loss", "attraction", "repulsion"}`` instead (see :func:`simclr`).

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(dcl(eye, eye, temperature=0.5)), 6)  # log 2 − 2
        -1.306853
    """
    return _contrastive(z_a, z_b, temperature, negatives, dimensions, False, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def simclr_official(z_a, z_b, temperature=0.1):
    """NT-Xent as the official TF code reduces it: ``loss_a + loss_b`` (``= 2 × simclr``).

    Mirrors google-research/simclr ``objective.py`` (``add_contrastive_loss``, one replica): unit embeddings
    ``h1, h2``; ``logits_aa = h1h1ᵀ/τ`` and ``logits_bb = h2h2ᵀ/τ`` with the diagonal masked, ``logits_ab =
    h1h2ᵀ/τ``, ``logits_ba = h2h1ᵀ/τ``; ``loss_a`` is the mean over the ``B`` rows of the cross-entropy of
    ``[logits_ab, logits_aa]`` with the positive at column ``i``, ``loss_b`` the same for ``[logits_ba,
    logits_bb]``. Use it to compare with numbers logged by the official code.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar ``loss_a + loss_b``.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(simclr_official(eye, eye, temperature=0.5)), 6)
        0.47909
    """
    temperature = check_positive(temperature, "temperature")
    z_a, z_b = check_pair(z_a, z_b)
    h1, h2 = l2_normalize(z_a), l2_normalize(z_b)
    b = ops.shape(h1)[0]
    masks = ops.one_hot(ops.arange(b), b, dtype=h1.dtype)
    large = ops.cast(-_EXCLUDED_LOGIT, h1.dtype)

    def direction(h, g):
        logits_hg = ops.matmul(h, ops.transpose(g)) / temperature
        logits_hh = ops.matmul(h, ops.transpose(h)) / temperature - masks * large
        log_probs = ops.log_softmax(ops.concatenate([logits_hg, logits_hh], axis=1), axis=1)
        return -ops.mean(ops.sum(log_probs[:, :b] * masks, axis=1))

    return direction(h1, h2) + direction(h2, h1)


class _ContrastiveLoss(ObjectiveLoss):
    def __init__(self, temperature, negatives, dimensions, name, dtype):
        negatives, dimensions = check_form(negatives, dimensions)
        super().__init__(name, dtype, temperature=check_positive(temperature, "temperature"), negatives=negatives,
                         dimensions=dimensions)


@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRLoss(_ContrastiveLoss):
    """Keras loss calling :func:`simclr`: ``SimCLRLoss()(z_a, z_b)``, one scalar per batch.

    The value is the ``2B``-mean (half the official TF total, see :func:`simclr_official`). The two views take
    Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.

    Example:
        >>> loss = SimCLRLoss(temperature=0.15, negatives="abs")
        >>> SimCLRLoss.from_config(loss.get_config()).negatives
        'abs'
    """

    objective = staticmethod(simclr)

    def __init__(self, temperature=0.1, negatives="plain", dimensions="raw", name="simclr", dtype=None):
        super().__init__(temperature, negatives, dimensions, name, dtype)


@keras.saving.register_keras_serializable(package="kspectral")
class DCLLoss(_ContrastiveLoss):
    """Keras loss calling :func:`dcl`: ``DCLLoss()(z_a, z_b)``, one scalar per batch (half the reference code's
    two-direction sum). The two views take Keras' ``(y_true, y_pred)`` positions (symmetric).

    Example:
        >>> loss = DCLLoss(temperature=0.2)
        >>> DCLLoss.from_config(loss.get_config()).temperature
        0.2
    """

    objective = staticmethod(dcl)

    def __init__(self, temperature=0.1, negatives="plain", dimensions="raw", name="dcl", dtype=None):
        super().__init__(temperature, negatives, dimensions, name, dtype)


__all__ = [
    "simclr_multiview",
    "DCLLoss",
    "DIMENSIONS",
    "NEGATIVES",
    "SimCLRLoss",
    "center_dimensions",
    "check_form",
    "dcl",
    "simclr",
    "simclr_official",
    "standardize_dimensions",
]
