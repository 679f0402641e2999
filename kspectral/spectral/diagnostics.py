"""Representation diagnostics on numpy arrays (``theory.md`` §8.6).

The training-time versions, computed on each batch inside ``fit()``, are in
:mod:`kspectral.methods.diagnostics`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from kspectral._validation import check_matrix


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
    """RankMe effective rank (Garrido et al., 2023): ``exp(H(p))``, ``p_k = σ_k / Σσ + ε``.

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
        raise ValueError(f"A and B must have the same number of rows, got {A.shape[0]} and {B.shape[0]}")
    return np.clip(np.cos(sla.subspace_angles(A, B))[::-1], 0.0, 1.0)[::-1].copy()


def covariance_deviation(Z):
    """``‖Cov(Z) − I_K‖_F`` with ``Cov(Z) = ZᵀHZ/N``: distance from the whitening constraint."""
    Z = check_matrix(Z, "Z")
    Zc = Z - Z.mean(axis=0)
    cov = Zc.T @ Zc / Z.shape[0]
    return float(np.linalg.norm(cov - np.eye(Z.shape[1])))
