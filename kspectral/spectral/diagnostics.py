"""Representation diagnostics on numpy arrays (``theory.md`` §8.6).

The training-time versions, computed on each batch inside ``fit()``, are in
:mod:`kspectral.methods.diagnostics`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from kspectral._validation import check_matrix
from kspectral.errors import InputError


def singular_values(Z, *, center=True):
    """Singular values of ``Z`` (centred columns by default), descending."""
    Z = check_matrix(Z, "Z")
    if center:
        Z = Z - Z.mean(axis=0, keepdims=True)
    return sla.svdvals(Z)


def numerical_rank(Z, *, rtol=1e-6, center=True):
    """Number of singular values above ``rtol · σ_max`` (explicit tolerance, centred by default)."""
    s = singular_values(Z, center=center)
    return int(np.sum(s > rtol * s.max())) if s.size and s.max() > 0 else 0


def rankme(Z, *, eps=1e-7, center=False):
    """RankMe effective rank (Garrido, Balestriero, Najman & LeCun 2023, arXiv:2210.02885): ``exp(H(p))``,
    ``p_k = σ_k / Σσ + ε``.

    Ranges from 1 (collapsed to a line) to ``min(N, K)`` (all singular values equal). Not centred by default,
    as in the RankMe paper.
    """
    s = singular_values(Z, center=center)
    if s.size == 0 or s.sum() <= 0:
        return 0.0
    p = s / s.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def principal_angle_cosines(A, B):
    """Cosines of the principal angles between ``span(A)`` and ``span(B)`` (columns), descending.

    All ones means the two embeddings span the same subspace (e.g. agree up to a rotation).
    """
    A = check_matrix(A, "A")
    B = check_matrix(B, "B")
    if A.shape[0] != B.shape[0]:
        raise InputError(f"A and B must have the same number of rows, got {A.shape[0]} and {B.shape[0]}")
    return np.sort(np.clip(np.cos(sla.subspace_angles(A, B)), 0.0, 1.0))[::-1].copy()


def covariance_deviation(Z):
    """``‖Cov(Z) − I_K‖_F`` with ``Cov(Z) = ZᵀHZ/N``: distance from the whitening constraint."""
    Z = check_matrix(Z, "Z")
    Zc = Z - Z.mean(axis=0)
    cov = Zc.T @ Zc / Z.shape[0]
    return float(np.linalg.norm(cov - np.eye(Z.shape[1])))


def effective_rank(Z, *, center=True):
    """Effective rank of Roy & Vetterli (2007): ``exp(H(p))`` with ``p_k = σ_k / Σσ`` (no ε; centred by default).

    RankMe (:func:`rankme`) is the same quantity with ``ε`` added to ``p`` and, by default, no centring.
    """
    s = singular_values(Z, center=center)
    s = s[s > 0]
    if s.size == 0:
        return 0.0
    p = s / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def covariance_spectrum(Z):
    """Eigenvalues of ``Cov(Z) = ZᵀHZ/N``, descending (shape ``(K,)``); trailing zeros mean lost dimensions."""
    Z = check_matrix(Z, "Z")
    Zc = Z - Z.mean(axis=0)
    return np.clip(np.linalg.eigvalsh(Zc.T @ Zc / Z.shape[0])[::-1], 0.0, None)


def _unit_rows(Z):
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def alignment(Z_a, Z_b, *, alpha=2.0):
    """Alignment of Wang & Isola (2020): ``E ‖ẑ_a − ẑ_b‖^α`` over positive pairs of L2-normalised rows.

    0 when every pair maps to the same point; 4 (α = 2) when every pair is antipodal.
    """
    Z_a, Z_b = check_matrix(Z_a, "Z_a"), check_matrix(Z_b, "Z_b")
    if Z_a.shape != Z_b.shape:
        raise InputError(f"Z_a and Z_b must have the same shape, got {Z_a.shape} and {Z_b.shape}")
    return float(np.mean(np.linalg.norm(_unit_rows(Z_a) - _unit_rows(Z_b), axis=1) ** alpha))


def uniformity(Z, *, t=2.0, max_samples=5000, seed=0):
    """Uniformity of Wang & Isola (2020): ``log E_{i≠j} exp(−t ‖ẑ_i − ẑ_j‖²)`` of L2-normalised rows.

    0 when collapsed; more negative when spread over the sphere. Past ``max_samples`` rows a random subset
    (fixed ``seed``) is used, keeping the cost ``O(max_samples²)``.
    """
    from scipy.spatial.distance import pdist
    from scipy.special import logsumexp

    Z = check_matrix(Z, "Z", min_rows=2)
    if Z.shape[0] > max_samples:
        Z = Z[np.random.default_rng(seed).choice(Z.shape[0], max_samples, replace=False)]
    d2 = pdist(_unit_rows(Z), "sqeuclidean")
    return float(logsumexp(-t * d2) - np.log(d2.size))


def within_class_std(Z, y):
    """Mean within-class standard deviation of ``Z`` over classes and dimensions, relative to the total.

    0 when every class collapses to a point (the optimum of SimCLR on the label graph, a regular simplex); about 1
    when classes are not separated at all.
    """
    from kspectral._validation import check_labels

    Z = check_matrix(Z, "Z")
    y = check_labels(y, "y", n=Z.shape[0])
    total = Z.std(axis=0).mean()
    if total == 0:
        return 0.0
    within = np.mean([Z[y == c].std(axis=0).mean() for c in np.unique(y)])
    return float(within / total)
