"""Closed-form optimal parameters of SSL losses in the linear regime ``Z = XW + 1bᵀ`` (``theory.md`` §4).

Convention: ``Σ_X = XᵀHX/N`` (biased covariance) and ``M_L = XᵀLX/N``. The bias ``b`` is irrelevant to
VICReg's terms (centred or Laplacian); it is returned so that ``Z = XW + b`` is centred on the training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from kspectral._validation import check_matrix, check_positive_int
from kspectral.spectral.graphs import validate_graph
from kspectral.spectral.laplacian import laplacian

VICREG_VARIANTS = ("hard", "quadratic")


@dataclass
class LinearSolution:
    """Linear-regime closed form: ``Z = X @ weights + bias``.

    Attributes:
        weights: ``W``, shape ``(D, K)``; columns past the rank of ``Σ_X`` (or ``D``) are zero.
        bias: ``b``, shape ``(K,)``, centring ``XW`` on the training data.
        eigenvalues: generalized eigenvalues ``ν_1 ≤ … ≤ ν_K`` (``nan`` for zero columns).
        value: optimal objective value (see the solver's docstring).
        rank: number of non-zero columns of ``W``.
    """

    weights: np.ndarray
    bias: np.ndarray
    eigenvalues: np.ndarray
    value: float
    rank: int

    def transform(self, X):
        """``X @ weights + bias`` for new data of shape ``(n, D)``."""
        X = check_matrix(X, "X", min_cols=self.weights.shape[0])
        if X.shape[1] != self.weights.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the solution was fitted on {self.weights.shape[0]}")
        return X @ self.weights + self.bias


def whitened_generalized_eigh(A, B, *, ridge=0.0, rtol=1e-10):
    """Solve ``A w = ν B w`` for symmetric ``A`` and PSD ``B``, restricted to ``range(B)`` when singular.

    ``B`` (plus ``ridge·I``) is eigen-decomposed; directions with eigenvalue below ``rtol·max`` are dropped, the
    problem is whitened on the rest and solved with ``eigh``. Returns ``(ν, W)`` ascending, ``WᵀBW = I``
    (``B + ridge·I`` with a ridge), with ``W`` of shape ``(D, r)``, ``r = rank``.
    """
    B = B + ridge * np.eye(B.shape[0])
    evals, evecs = sla.eigh(B)
    keep = evals > rtol * max(float(evals.max()), np.finfo(float).tiny)
    if not np.any(keep):
        raise ValueError("the features have zero variance: every column of X is constant")
    P = evecs[:, keep] / np.sqrt(evals[keep])
    At = P.T @ A @ P
    nu, Q = sla.eigh((At + At.T) / 2)
    return nu, P @ Q


def linear_vicreg(X, G, dim, *, variant="hard", invariance=1.0, ridge=0.0):
    """Closed-form linear VICReg: ``W`` from ``XᵀLX w = ν XᵀHX w`` (``theory.md`` §4).

    - ``variant="hard"`` (the hard-constraint limit, an LPP-type projection): minimise ``tr(WᵀM_LW)`` subject
      to ``WᵀΣ_XW = I_K``; ``W`` holds the generalized eigenvectors of the ``K`` smallest ``ν``; value
      ``Σ_k ν_k``. With the label graph this is LDA's within/total scatter problem; with the pair graph of
      augmented views it keeps the directions augmentations move least relative to their variance.
    - ``variant="quadratic"`` (the surrogate ``‖Cov(Z) − I‖_F² + γ' tr(ZᵀLZ)/N``):
      ``W = W_g[:, :K] diag(√((1 − γ'ν_k/2)_+))``, value ``K − Σ_k (1 − γ'ν_k/2)_+²``; ``invariance`` is γ'.

    He & Niyogi's LPP puts ``XᵀDX`` on the right-hand side instead; VICReg's covariance constraint gives
    ``XᵀHX``. A singular ``Σ_X`` (constant or collinear features, ``N − 1 < D``) is handled by restricting to
    its range, or by ``ridge > 0``. [derived (checked numerically)]

    Args:
        X: features, shape ``(N, D)``.
        G: positive-pair graph on the rows of ``X``, shape ``(N, N)``.
        dim: K, number of output dimensions (columns past ``rank(Σ_X)`` are zero).
        variant: ``"hard"`` or ``"quadratic"``.
        invariance: γ', the invariance weight of the quadratic variant.
        ridge: added to ``Σ_X`` (``XᵀHX/N + ridge·I``); 0 restricts to ``range(Σ_X)`` instead.

    Returns:
        :class:`LinearSolution`.

    Example:
        >>> import numpy as np
        >>> from kspectral.spectral import knn_graph
        >>> X = np.random.default_rng(0).normal(size=(100, 5))
        >>> sol = linear_vicreg(X, knn_graph(X, 5), dim=2)
        >>> Z = sol.transform(X)
        >>> np.allclose(Z.T @ Z / len(X), np.eye(2))
        True
    """
    if variant not in VICREG_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VICREG_VARIANTS)}")
    X = check_matrix(X, "X", min_rows=2)
    N, D = X.shape
    G = validate_graph(G, n=N)
    dim = check_positive_int(dim, "dim")
    if ridge < 0:
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    if invariance <= 0:
        raise ValueError(f"invariance must be positive, got {invariance}")
    mean = X.mean(axis=0)
    Xc = X - mean
    sigma_x = Xc.T @ Xc / N
    L = laplacian(G)
    m_l = X.T @ (L @ X) / N
    m_l = (m_l + m_l.T) / 2
    nu, Wg = whitened_generalized_eigh(m_l, sigma_x, ridge=ridge)
    r = min(dim, nu.shape[0])
    W = np.zeros((D, dim))
    eig = np.full(dim, np.nan)
    eig[:r] = nu[:r]
    if variant == "hard":
        W[:, :r] = Wg[:, :r]
        value = float(np.sum(nu[:r]))
        rank = r
    else:
        scale = np.sqrt(np.clip(1.0 - invariance * nu[:r] / 2.0, 0.0, None))
        W[:, :r] = Wg[:, :r] * scale
        value = float(dim - np.sum(np.clip(1.0 - invariance * nu[:r] / 2.0, 0.0, None) ** 2))
        rank = int(np.count_nonzero(scale > 0))
    return LinearSolution(weights=W, bias=-mean @ W, eigenvalues=eig, value=value, rank=rank)
