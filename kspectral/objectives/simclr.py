"""SimCLR / NT-Xent and its sample-contrastive variants (Chen et al. 2020; Yeh et al. 2022; Garrido et al. 2023).

Spec: ``objectives.md`` A1 (normalisation per method, Table 1 of Paper A), A2 rows 1-3 and 10, part C
properties 22-28 and 35.

All variants share one core, :func:`_nt_xent`, that takes the ``2B × 2B`` similarity matrix of the
concatenated, view-major batch ``[a_1 … a_B, b_1 … b_B]`` (the positive of row ``k`` is column
``(k + B) mod 2B``) and differs only in

* how similarities are made (cosine; cosine of dimension-centred embeddings; raw dot products of
  dimension-standardised embeddings),
* what the negatives use (``s``, ``|s|`` or ``s²``),
* whether the positive stays in the denominator (SimCLR) or is removed from it (DCL).

Normalisations are guarded: a norm is clamped at ``sqrt(epsilon)`` (``epsilon = 1e-12`` on the squared
norm, as ``tf.math.l2_normalize``), so a zero embedding gives a finite loss and finite gradients.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, check_pair, check_positive, l2_normalize

#: Logit given to excluded columns (self, and the positive for DCL); ``exp`` of it underflows to 0.
_EXCLUDED_LOGIT = -1e9
#: Clamp on squared norms before dividing by them.
_EPSILON = 1e-12


def center_dimensions(z):
    """Centre every dimension (column) of a ``(batch, dim)`` matrix over the batch: ``z − mean_i z_i``."""
    return z - ops.mean(z, axis=0, keepdims=True)


def standardize_dimensions(z, epsilon=_EPSILON):
    """Paper A Eq. 14: centre each dimension, then scale each dimension (column) to norm ``√(N/M)``.

    ``N`` is the batch size of ``z`` and ``M`` its dimension, so ``‖z‖_F² = N``: the embeddings have unit
    squared norm *on average*, without being normalised one by one. A constant (collapsed) dimension
    centres to 0 and stays 0 (the norm is clamped at ``sqrt(epsilon)``).
    """
    shape = ops.shape(z)
    n = ops.cast(shape[0], z.dtype)
    m = ops.cast(shape[1], z.dtype)
    return l2_normalize(center_dimensions(z), axis=0, epsilon=epsilon) * ops.sqrt(n / m)


def _positive_mask(n):
    """``(n, n)`` one-hot mask of the positive column ``(k + n/2) mod n`` of every row ``k``."""
    idx = ops.arange(n)
    return ops.one_hot((idx + n // 2) % n, n) > 0.5


def _nt_xent(sim, temperature, negatives="plain", positive_in_denominator=True):
    """The shared NT-Xent core on a ``(2B, 2B)`` view-major similarity matrix ``sim``.

    Row ``k`` gives ``ℓ_k = −sim[k,k⁺]/τ + log Σ_l exp(g_l/τ)``: ``l`` runs over every column but ``k``
    (and but ``k⁺`` when ``positive_in_denominator`` is False), ``g_l = sim[k,l]`` at ``l = k⁺`` and
    ``g_l = t(sim[k,l])`` at negatives, with ``t`` the identity, ``abs`` or ``square``. Returns ``mean_k ℓ_k``.
    """
    n = ops.shape(sim)[0]
    self_mask = ops.one_hot(ops.arange(n), n) > 0.5
    pos_mask = _positive_mask(n)
    if negatives == "plain":
        neg_sim = sim
    elif negatives == "abs":
        neg_sim = ops.abs(sim)
    elif negatives == "sq":
        neg_sim = ops.square(sim)
    else:
        raise ValueError(f"negatives must be 'plain', 'abs' or 'sq', got {negatives!r}")
    positive = ops.sum(ops.where(pos_mask, sim, ops.zeros_like(sim)), axis=1)
    logits = ops.where(pos_mask, sim, neg_sim) / temperature
    excluded = self_mask if positive_in_denominator else ops.logical_or(self_mask, pos_mask)
    logits = ops.where(excluded, ops.cast(_EXCLUDED_LOGIT, logits.dtype), logits)
    per_view = -positive / temperature + ops.logsumexp(logits, axis=1)
    return ops.mean(per_view)


def _similarities(z_a, z_b, normalization):
    """View-major ``(2B, 2B)`` similarity matrix after the given normalisation (Paper A Table 1)."""
    if normalization == "cosine":  # classical SimCLR: embedding norm 1
        z = l2_normalize(ops.concatenate([z_a, z_b], axis=0))
    elif normalization == "centered":  # "A": dims centred (per view), embedding norm 1
        z = l2_normalize(ops.concatenate([center_dimensions(z_a), center_dimensions(z_b)], axis=0))
    elif normalization == "standardized":  # "B": dims centred (per view), dimension norm √(N/M)
        z = ops.concatenate([standardize_dimensions(z_a), standardize_dimensions(z_b)], axis=0)
    else:
        raise ValueError(f"unknown normalization {normalization!r}")
    return ops.matmul(z, ops.transpose(z))


def _contrastive(z_a, z_b, temperature, negatives, positive_in_denominator, normalization="cosine"):
    check_positive(temperature, "temperature")
    z_a, z_b = check_pair(z_a, z_b)
    sim = _similarities(z_a, z_b, normalization)
    return _nt_xent(sim, temperature, negatives, positive_in_denominator)


def simclr(z_a, z_b, temperature=0.1):
    """SimCLR / NT-Xent loss, averaged over the ``2B`` views (Chen et al. 2020; spec A2 row 1).

    With ``s(u, v) = uᵀv / (‖u‖ ‖v‖)`` and the ``2B`` views ``[a_1 … a_B, b_1 … b_B]``, view ``i`` with
    positive ``i⁺`` (its other view) has::

        ℓ_i = −s(i, i⁺)/τ + log Σ_{k≠i} exp(s(i, k)/τ),        L = mean_i ℓ_i  (over the 2B views)

    The negatives of ``i`` are the ``2B − 2`` other views from *both* branches; ``i`` itself is excluded.

    Reduction: the official TF code (google-research/simclr ``objective.py``) returns ``loss_a + loss_b``,
    the per-direction means *summed*, which is exactly ``2 ×`` this value; :func:`simclr_official`
    computes that number. The ``2B``-mean form is the one of the ISSL repository and of most ports.

    Computed in float32 (float64 inputs stay float64). Norms are guarded (see :func:`l2_normalize`), so a
    zero embedding gives a finite loss. Bounds: ``L > 0``; ``L → 0`` as ``τ → 0`` when every positive is
    more similar than every negative; ``L = log(2B − 1)`` when all embeddings are equal.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``; row ``i`` of
            ``z_a`` and row ``i`` of ``z_b`` are the positive pair.
        temperature: τ > 0 (official default 0.1; Paper A's tuned value 0.15).

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(simclr(eye, eye, temperature=0.5)), 6)  # log(e² + 2) − 2
        0.239545
    """
    return _contrastive(z_a, z_b, temperature, "plain", True)


def simclr_official(z_a, z_b, temperature=0.1):
    """NT-Xent as the official TF code reduces it: ``loss_a + loss_b`` (= ``2 × simclr``).

    Mirrors google-research/simclr ``objective.py`` (``add_contrastive_loss``, one replica): unit
    embeddings ``h1, h2``; ``logits_aa = h1h1ᵀ/τ`` and ``logits_bb = h2h2ᵀ/τ`` with the diagonal masked,
    ``logits_ab = h1h2ᵀ/τ``, ``logits_ba = h2h1ᵀ/τ``; ``loss_a`` is the mean over the ``B`` rows of the
    cross-entropy of ``[logits_ab, logits_aa]`` with the positive at column ``i``, ``loss_b`` the same for
    ``[logits_ba, logits_bb]``. Use it to compare with numbers logged by the official code.

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
    check_positive(temperature, "temperature")
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


def simclr_abs(z_a, z_b, temperature=0.1):
    """SimCLR-abs (Paper A Prop. 3.2; spec A2 row 2): the negatives use ``|s|`` in place of ``s``.

    ``ℓ_i = −s(i,i⁺)/τ + log[ exp(s(i,i⁺)/τ) + Σ_{k∉{i,i⁺}} exp(|s(i,k)|/τ) ]``, mean over the ``2B`` views.

    Paper A only says "use square or absolute values of cosine similarities"; whether the positive term
    changes too is in its unavailable supplement. This follows the spec's *safe reading*: only the negatives
    change, the positive (numerator and its denominator term) keeps ``s``. The loss is therefore invariant to
    the sign of any negative similarity (property 28). Paper A: 68.71% vs 68.61% for SimCLR (ImageNet 100 ep).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1., 0.], [-1., 0.]])  # the negatives have s = −1
        >>> round(float(simclr_abs(a, a, temperature=1.0)), 6)  # log(3e) − 1 = log 3
        1.098612
    """
    return _contrastive(z_a, z_b, temperature, "abs", True)


def simclr_sq(z_a, z_b, temperature=0.1):
    """SimCLR-sq (Paper A Prop. 3.2; spec A2 row 2): the negatives use ``s²`` in place of ``s``.

    ``ℓ_i = −s(i,i⁺)/τ + log[ exp(s(i,i⁺)/τ) + Σ_{k∉{i,i⁺}} exp(s(i,k)²/τ) ]``, mean over the ``2B`` views.
    Same *safe reading* as :func:`simclr_abs`: only the negatives change.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)  # orthogonal negatives: s² = s = 0, so the value equals SimCLR's
        >>> round(float(simclr_sq(eye, eye, temperature=0.5)), 6)
        0.239545
    """
    return _contrastive(z_a, z_b, temperature, "sq", True)


def dcl(z_a, z_b, temperature=0.1):
    """Decoupled contrastive loss (Yeh et al. 2022; spec A2 row 3): the positive leaves the denominator.

    ``ℓ_i = −s(i,i⁺)/τ + log Σ_{k∉{i,i⁺}} exp(s(i,k)/τ)``, mean over the ``2B`` views, negatives from both
    branches. Unlike SimCLR it can be negative; all embeddings equal gives ``log(2B − 2)``.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> eye = np.eye(2)
        >>> round(float(dcl(eye, eye, temperature=0.5)), 6)  # log 2 − 2
        -1.306853
    """
    return _contrastive(z_a, z_b, temperature, "plain", False)


def dcl_abs(z_a, z_b, temperature=0.1):
    """DCL-abs (Paper A Prop. 3.2): :func:`dcl` with ``|s|`` for the negatives.

    ``ℓ_i = −s(i,i⁺)/τ + log Σ_{k∉{i,i⁺}} exp(|s(i,k)|/τ)``, mean over the ``2B`` views.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1., 0.], [-1., 0.]])
        >>> round(float(dcl_abs(a, a, temperature=1.0)), 6)  # −1 + log(2e)
        0.693147
    """
    return _contrastive(z_a, z_b, temperature, "abs", False)


def dcl_sq(z_a, z_b, temperature=0.1):
    """DCL-sq (Paper A Prop. 3.2): :func:`dcl` with ``s²`` for the negatives.

    ``ℓ_i = −s(i,i⁺)/τ + log Σ_{k∉{i,i⁺}} exp(s(i,k)²/τ)``, mean over the ``2B`` views.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1., 0.], [-1., 0.]])
        >>> round(float(dcl_sq(a, a, temperature=1.0)), 6)
        0.693147
    """
    return _contrastive(z_a, z_b, temperature, "sq", False)


def simclr_centered(z_a, z_b, temperature=0.1):
    """SimCLR "A" (Paper A Table 1 / Fig. 2; spec A2 row 10): centred dimensions, unit embeddings.

    Each view's embeddings are centred over its own batch, ``ẑ_i = z_i − mean_j z_j`` (per view: Paper A's
    ``K`` and ``K'`` are the two branches' matrices, centred separately as in VICReg), then L2-normalised,
    then the SimCLR loss of :func:`simclr` is taken on the cosine similarities of the ``ẑ``.

    Consequence of per-view centring: adding a (different) constant vector to all embeddings of one view
    leaves the loss unchanged. With all embeddings equal every ``ẑ`` is 0 and ``L = log(2B − 1)``.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[3., 2.], [3., 0.]])  # centred per view: [[0, 1], [0, −1]]
        >>> b = np.array([[1., 1.], [1., -1.]])
        >>> round(float(simclr_centered(a, b, temperature=1.0)), 6)  # log(e + 2/e) − 1
        0.239545
    """
    return _contrastive(z_a, z_b, temperature, "plain", True, normalization="centered")


def simclr_standardized(z_a, z_b, temperature=0.1):
    """SimCLR "B" (Paper A Eq. 14, Table 1 / Fig. 2; spec A2 row 10): dimension standardisation.

    Paper A's Eq. 14, with ``K ∈ R^{M×N}`` one view's embedding matrix (columns are samples)::

        K̂[j,:] = K[j,:] − mean_i K[j,i],       K[j,:] ← K̂[j,:] / ‖K̂[j,:]‖₂ · √(N/M)

    then ``ℓ_i = −z_iᵀz_{i⁺}/τ + log Σ_{k≠i} exp(z_iᵀz_k/τ)``, mean over the ``2B`` views, on **dot
    products** of the standardised embeddings (no per-embedding normalisation; the embeddings have unit
    squared norm only on average).

    Choices: (1) the printed Eq. 14 indexes ``K_{·,i}`` with ``i ∈ [1..M]`` while centring over the ``N``
    samples, a typo; this implements the intended per-dimension standardisation (centre and scale each
    dimension over the batch). (2) Centring and scaling are done **per view**, ``N = B`` (batch of one view),
    like Paper A's ``K`` and ``K'`` and VICReg; not over the concatenated ``2B`` batch. Consequently the
    loss is unchanged by adding a per-view constant, or by a positive per-dimension rescaling of one view.
    Collapsed dimensions stay 0 (guarded norm); all embeddings equal gives ``L = log(2B − 1)``.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[2., 5.], [0., 1.]])  # standardised (N = M = 2): ±[1, 1]/√2
        >>> round(float(simclr_standardized(a, a, temperature=1.0)), 6)  # log(1 + 2e⁻²)
        0.239545
    """
    return _contrastive(z_a, z_b, temperature, "plain", True, normalization="standardized")


SIMCLR_VARIANTS = {
    "plain": simclr,
    "abs": simclr_abs,
    "sq": simclr_sq,
    "centered": simclr_centered,
    "standardized": simclr_standardized,
}
DCL_VARIANTS = {"plain": dcl, "abs": dcl_abs, "sq": dcl_sq}


def _check_variant(variant, variants, cls):
    if variant not in variants:
        raise ValueError(f"{cls} variant must be one of {sorted(variants)}, got {variant!r}")
    return variant


def simclr_variant(z_a, z_b, temperature=0.1, variant="plain"):
    """The SimCLR-family loss named by ``variant`` (a key of :data:`SIMCLR_VARIANTS`)."""
    return SIMCLR_VARIANTS[_check_variant(variant, SIMCLR_VARIANTS, "SimCLR")](z_a, z_b, temperature)


def dcl_variant(z_a, z_b, temperature=0.1, variant="plain"):
    """The DCL-family loss named by ``variant`` (a key of :data:`DCL_VARIANTS`)."""
    return DCL_VARIANTS[_check_variant(variant, DCL_VARIANTS, "DCL")](z_a, z_b, temperature)


@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRLoss(ObjectiveLoss):
    """Keras loss wrapping the SimCLR family: ``SimCLRLoss()(z_a, z_b)`` returns the scalar loss.

    ``variant`` picks the function: ``"plain"`` → :func:`simclr`, ``"abs"`` → :func:`simclr_abs`,
    ``"sq"`` → :func:`simclr_sq`, ``"centered"`` → :func:`simclr_centered` (Paper A "A"),
    ``"standardized"`` → :func:`simclr_standardized` (Paper A "B"). The value is the ``2B``-mean (half the
    official TF total, see :func:`simclr_official`). The two views take Keras' ``(y_true, y_pred)``
    positions; the loss is symmetric in them.

    Example:
        >>> loss = SimCLRLoss(temperature=0.15, variant="abs")
        >>> SimCLRLoss.from_config(loss.get_config()).variant
        'abs'
    """

    objective = staticmethod(simclr_variant)

    def __init__(self, temperature=0.1, variant="plain", name="simclr", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, temperature=check_positive(temperature, "temperature"),
                         variant=_check_variant(variant, SIMCLR_VARIANTS, "SimCLRLoss"))


@keras.saving.register_keras_serializable(package="kspectral")
class DCLLoss(ObjectiveLoss):
    """Keras loss wrapping the DCL family: ``"plain"`` → :func:`dcl`, ``"abs"`` → :func:`dcl_abs`,
    ``"sq"`` → :func:`dcl_sq`. The two views take Keras' ``(y_true, y_pred)`` positions (symmetric).

    Example:
        >>> loss = DCLLoss(temperature=0.2)
        >>> DCLLoss.from_config(loss.get_config()).temperature
        0.2
    """

    objective = staticmethod(dcl_variant)

    def __init__(self, temperature=0.1, variant="plain", name="dcl", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, temperature=check_positive(temperature, "temperature"),
                         variant=_check_variant(variant, DCL_VARIANTS, "DCLLoss"))


__all__ = [
    "DCLLoss",
    "SimCLRLoss",
    "center_dimensions",
    "dcl",
    "dcl_abs",
    "dcl_sq",
    "l2_normalize",
    "simclr",
    "simclr_abs",
    "simclr_centered",
    "simclr_official",
    "simclr_sq",
    "simclr_standardized",
    "standardize_dimensions",
]
