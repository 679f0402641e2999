"""Closed-form optimal parameters of SSL losses in the linear regime ``Z = XW + 1bᵀ``.

Balestriero & LeCun (2022, arXiv:2205.11508) give the optimal network parameters of each loss in the linear
regime; the forms used here, with their conventions and numerical checks, are in ``docs/spec/theory.md`` §4.

Convention: ``Σ_X = XᵀHX/N`` (biased covariance) and ``M_L = XᵀLX/N``. The bias ``b`` is irrelevant to
VICReg's terms (centred or Laplacian); it is returned so that ``Z = XW + b`` is centred on the training data.

- :func:`linear_vicreg` (hard limit / quadratic surrogate, ``XᵀLX w = ν XᵀHX w``), :func:`lpp` (He–Niyogi,
  ``XᵀD_GX`` on the right; no centring, zero bias), :func:`kernel_lpp` (``K_XLK_X a = ν K_XHK_X a``, returns a
  :class:`KernelSolution` with ``transform``);
- :func:`linear_spectral_contrastive` (thin SVD; G projected on span X; the loss is not centred, so the bias is
  learned only with ``fit_intercept=True``);
- :func:`cca` (symmetric two-view CCA: the subspace linear Barlow Twins spans);
- :func:`vicreg_weights_to_gform` (official ``(λ, μ, ν)`` → G-form ``(γ, α, β)``).

Singular ``Σ_X`` (collinear or constant features, ``N − 1 < D``): every solver restricts to the range of its
right-hand-side matrix (or of ``X``), or adds ``ridge``; columns past the available rank are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from kspectral._validation import check_matrix, check_nonnegative, check_positive, check_positive_int
from kspectral.spectral.graphs import validate_graph
from kspectral.spectral.laplacian import laplacian
from kspectral.catalog import VICREG
from kspectral.errors import InputError

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
            raise InputError(f"X has {X.shape[1]} features, the solution was fitted on {self.weights.shape[0]}")
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
        raise InputError("the features have zero variance: every column of X is constant")
    P = evecs[:, keep] / np.sqrt(evals[keep])
    At = P.T @ A @ P
    nu, Q = sla.eigh((At + At.T) / 2)
    return nu, P @ Q


def linear_vicreg(X, G, dim, *, variant="hard", invariance_weight=1.0, ridge=0.0):
    """Closed-form linear VICReg: ``W`` from ``XᵀLX w = ν XᵀHX w`` (``theory.md`` §4).

    - ``variant="hard"`` (the hard-constraint limit, an LPP-type projection): minimise ``tr(WᵀM_LW)`` subject
      to ``WᵀΣ_XW = I_K``; ``W`` holds the generalized eigenvectors of the ``K`` smallest ``ν``; value
      ``Σ_k ν_k``. With the label graph this is LDA's within/total scatter problem; with the pair graph of
      augmented views it keeps the directions augmentations move least relative to their variance.
    - ``variant="quadratic"`` (the surrogate ``‖Cov(Z) − I‖_F² + γ' tr(ZᵀLZ)/N``):
      ``W = W_g[:, :K] diag(√((1 − γ'ν_k/2)_+))``, value ``K − Σ_k (1 − γ'ν_k/2)_+²``; ``invariance_weight``
      is γ'.

    He & Niyogi's LPP puts ``XᵀDX`` on the right-hand side instead; VICReg's covariance constraint gives
    ``XᵀHX``. A singular ``Σ_X`` (constant or collinear features, ``N − 1 < D``) is handled by restricting to
    its range, or by ``ridge > 0``. [derived (checked numerically)]

    Args:
        X: features, shape ``(N, D)``.
        G: positive-pair graph on the rows of ``X``, shape ``(N, N)``.
        dim: K, number of output dimensions (columns past ``rank(Σ_X)`` are zero).
        variant: ``"hard"`` or ``"quadratic"``.
        invariance_weight: γ' > 0, the invariance weight of the quadratic variant (G-form, not the official
            λ; see :func:`vicreg_weights_to_gform`).
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
        raise InputError(f"unknown variant {variant!r}; choose one of {', '.join(VICREG_VARIANTS)}")
    X = check_matrix(X, "X", min_rows=2)
    N, D = X.shape
    G = validate_graph(G, n=N)
    dim = check_positive_int(dim, "dim")
    ridge = check_nonnegative(ridge, "ridge")
    gamma = check_positive(invariance_weight, "invariance_weight")
    mean = X.mean(axis=0)
    Xc = X - mean
    sigma_x = Xc.T @ Xc / N
    L = laplacian(G)
    m_l = X.T @ (L @ X) / N
    m_l = (m_l + m_l.T) / 2
    nu, Wg = whitened_generalized_eigh(m_l, sigma_x, ridge=ridge)
    W, r = _pad_columns(Wg, D, dim)
    eig = _pad_values(nu, r, dim)
    if variant == "hard":
        value = float(np.sum(nu[:r]))
        rank = r
    else:
        t = np.clip(1.0 - gamma * nu[:r] / 2.0, 0.0, None)
        W[:, :r] *= np.sqrt(t)
        value = float(dim - np.sum(t**2))
        rank = int(np.count_nonzero(t > 0))
    return LinearSolution(weights=W, bias=-mean @ W, eigenvalues=eig, value=value, rank=rank)


def _pad_columns(Wr, D, dim):
    """``(D, dim)`` weights from the first ``min(dim, r)`` columns of ``Wr``; the rest zero."""
    r = min(dim, Wr.shape[1])
    W = np.zeros((D, dim))
    W[:, :r] = Wr[:, :r]
    return W, r


def _pad_values(values, r, dim):
    """The first ``r`` of ``values`` in an array of length ``dim``, ``nan`` after (no eigenpair there)."""
    out = np.full(dim, np.nan)
    out[:r] = values[:r]
    return out


def lpp(X, G, dim, *, ridge=0.0):
    """Locality Preserving Projections (He & Niyogi 2003): ``XᵀLX w = ν XᵀD_GX w``.

    Minimises ``tr(WᵀXᵀLXW)`` subject to ``WᵀXᵀD_GXW = N·I_K``: ``W`` holds the generalized eigenvectors of the
    ``K`` smallest ``ν``; value ``Σ_k ν_k``. Both sides are divided by ``N`` (``M_L = XᵀLX/N``,
    ``M_D = XᵀD_GX/N``), which leaves ``ν`` unchanged and gives ``WᵀM_DW = I_K``.

    He–Niyogi's degree constraint differs from VICReg's covariance constraint (``XᵀHX``, see
    :func:`linear_vicreg` with ``variant="hard"``, ``theory.md`` §4). As in He & Niyogi, ``X`` is **not**
    centred: ``M_D`` is a degree-weighted second moment, so if the constant function lies in ``span(X)`` (an
    intercept column, or data on an affine hyperplane) the trivial direction ``Xw = 1`` has ``ν = 0``; centre
    ``X`` first if that is not wanted. ``bias`` is zero (``Z = XW``).

    Args:
        X: features, shape ``(N, D)``.
        G: positive-pair graph on the rows of ``X``, shape ``(N, N)``.
        dim: K; columns past ``rank(M_D)`` are zero.
        ridge: added to ``M_D``; 0 restricts the problem to ``range(M_D)`` (singular when features are collinear,
            ``N < D``, or rows have degree 0).

    Returns:
        :class:`LinearSolution` (``eigenvalues`` ``ν`` ascending).
    """
    X = check_matrix(X, "X", min_rows=2)
    N, D = X.shape
    G = validate_graph(G, n=N)
    dim = check_positive_int(dim, "dim")
    ridge = check_nonnegative(ridge, "ridge")
    d = np.asarray(G.sum(axis=1)).ravel()
    L = laplacian(G)
    m_l = X.T @ (L @ X) / N
    m_d = (X * d[:, None]).T @ X / N
    nu, Wg = whitened_generalized_eigh((m_l + m_l.T) / 2, (m_d + m_d.T) / 2, ridge=ridge)
    W, r = _pad_columns(Wg, D, dim)
    eig = _pad_values(nu, r, dim)
    return LinearSolution(weights=W, bias=np.zeros(dim), eigenvalues=eig, value=float(np.sum(nu[:r])), rank=r)


KLPP_CONSTRAINTS = ("covariance", "degree")


@dataclass
class KernelSolution:
    """Kernel-regime closed form: ``Z = k(X_new, X_fit) @ coefficients + bias``.

    Attributes:
        coefficients: ``A``, shape ``(N_fit, K)``; columns past ``rank`` are zero.
        bias: ``b``, shape ``(K,)``, centring ``K_X A`` on the training data.
        eigenvalues: generalized eigenvalues ``ν_1 ≤ … ≤ ν_K`` (``nan`` for zero columns).
        value: optimal objective value.
        rank: number of non-zero columns.
        X_fit: the training features, shape ``(N_fit, D)``.
        kernel: kernel name (see :func:`kspectral.spectral.nonparametric.kernel_matrix`).
        kernel_params: ``gamma``, ``degree``, ``coef0``.
    """

    coefficients: np.ndarray
    bias: np.ndarray
    eigenvalues: np.ndarray
    value: float
    rank: int
    X_fit: np.ndarray
    kernel: str
    kernel_params: dict

    def transform(self, X):
        """``k(X, X_fit) @ coefficients + bias`` for new data of shape ``(n, D)``."""
        from kspectral.spectral.nonparametric import kernel_matrix

        X = check_matrix(X, "X")
        if X.shape[1] != self.X_fit.shape[1]:
            raise InputError(f"X has {X.shape[1]} features, the solution was fitted on {self.X_fit.shape[1]}")
        return kernel_matrix(X, self.X_fit, kernel=self.kernel, **self.kernel_params) @ self.coefficients + self.bias


def kernel_lpp(X, G, dim, *, kernel="rbf", gamma=None, degree=3, coef0=1.0, constraint="covariance", ridge=1e-8):
    """Kernel LPP: the parametric VICReg optimum "in data space" with a kernel encoder ``Z = K_X A + 1bᵀ``.

    ``constraint="covariance"`` (VICReg's hard limit, ``theory.md`` §4, [derived (checked numerically)]):
    minimise ``tr(ZᵀLZ)/N`` subject to ``Cov(Z) = ZᵀHZ/N = I_K``, i.e. the generalized problem

        ``K_X L K_X a = ν K_X H K_X a``,

    ``A`` the eigenvectors of the ``K`` smallest ``ν``, normalised ``Aᵀ(K_XHK_X/N + ridge·I)A = I_K``; value
    ``Σ_k ν_k = tr(ZᵀLZ)/N`` on the training data (with a ridge, ``Cov(Z) = I_K − ridge·AᵀA`` is only close to
    ``I_K``). ``constraint="degree"`` puts He–Niyogi's ``K_X D_G K_X`` on the right instead (He & Niyogi 2003,
    kernel form). Balestriero & LeCun (2022, arXiv:2205.11508) relate VICReg to kernel LPP in data space.

    Without a ridge and with an invertible kernel matrix the substitution ``z = K_X a`` turns this into the
    nonparametric problem, so the training embedding equals Laplacian eigenmaps (:func:`~kspectral.spectral.
    nonparametric.laplacian_eigenmaps`) and generalises poorly; the ridge (added to the right-hand side,
    divided by ``N``) regularises. Directions below ``1e-10`` of the largest right-hand-side eigenvalue are
    dropped (range restriction).

    Convention: both sides divided by ``N``; ``Cov`` divides by ``N``.

    Args:
        X: features, shape ``(N, D)``.
        G: positive-pair graph on the rows of ``X``, shape ``(N, N)``.
        dim: K.
        kernel, gamma, degree, coef0: the kernel (scikit-learn's ``pairwise_kernels``, ``gamma=None`` → ``1/D``);
            ``"precomputed"`` is not accepted (``transform`` needs the kernel function).
        constraint: ``"covariance"`` (VICReg, ``K_XHK_X``) or ``"degree"`` (He–Niyogi, ``K_XD_GK_X``).
        ridge: ≥ 0, added to the right-hand side matrix.

    Returns:
        :class:`KernelSolution` with ``transform(X_new)``.
    """
    from kspectral.spectral.nonparametric import kernel_matrix

    if constraint not in KLPP_CONSTRAINTS:
        raise InputError(f"unknown constraint {constraint!r}; choose one of {', '.join(KLPP_CONSTRAINTS)}")
    X = check_matrix(X, "X", min_rows=2)
    N = X.shape[0]
    G = validate_graph(G, n=N)
    dim = check_positive_int(dim, "dim")
    ridge = check_nonnegative(ridge, "ridge")
    params = {"gamma": gamma, "degree": degree, "coef0": coef0}
    Kx = kernel_matrix(X, kernel=kernel, **params)
    Kx = (Kx + Kx.T) / 2
    L = laplacian(G)
    lhs = Kx @ (L @ Kx) / N
    if constraint == "covariance":
        Kc = Kx - Kx.mean(axis=0, keepdims=True)
        rhs = Kc.T @ Kc / N
    else:
        d = np.asarray(G.sum(axis=1)).ravel()
        rhs = (Kx * d[:, None]).T @ Kx / N
    nu, Ag = whitened_generalized_eigh((lhs + lhs.T) / 2, (rhs + rhs.T) / 2, ridge=ridge)
    A, r = _pad_columns(Ag, N, dim)
    eig = _pad_values(nu, r, dim)
    bias = -(Kx.mean(axis=0) @ A) if constraint == "covariance" else np.zeros(dim)
    return KernelSolution(
        coefficients=A, bias=bias, eigenvalues=eig, value=float(np.sum(nu[:r])), rank=r, X_fit=X.copy(),
        kernel=kernel, kernel_params=params,
    )


def linear_spectral_contrastive(X, G, dim, *, weighted=True, fit_intercept=False, rtol=1e-10):
    """Closed-form linear spectral contrastive loss / low-rank fit of ``G`` with ``Z = XW`` (``theory.md`` §4).

    ``weighted=False``: ``min_W ‖XWWᵀXᵀ − G‖_F²``. With the thin SVD ``X = U_x S_x V_xᵀ``,
    ``W* = V_x S_x^{-1} E_K diag(√(μ_k)_+)``, ``(μ, E)`` the top-K eigenpairs of ``U_xᵀ G U_x``: G is first
    **projected onto span(X)**, only the part of G linearly reachable from X is learned.
    ``value = −Σ_k (μ_k)_+²`` (``= ‖XW*W*ᵀXᵀ − G‖_F² − ‖G‖_F²``). [derived (checked numerically)]

    ``weighted=True`` (HaoChen et al. 2021's loss with ``F = XW``; ``w_ij = G_ij/ΣG``)::

        −2 Σ_ij w_ij f_iᵀf_j + Σ_ij w_i w_j (f_iᵀf_j)² = ‖D_w^{1/2}XWWᵀXᵀD_w^{1/2} − Ā‖_F² − ‖Ā‖_F²,

    the same problem with ``X → D_w^{1/2}X`` and ``G → Ā``; ``value = −Σ_k (μ_k)_+²``, as the nonparametric
    :func:`~kspectral.spectral.nonparametric.spectral_contrastive_embedding` (which it equals when ``X`` spans
    the top-K eigenvectors). The loss is HaoChen et al.'s (2021, arXiv:2106.04156); its restriction to
    ``F = XW`` is [derived (checked numerically)].

    The loss is not centred, so a bias matters (unlike VICReg): ``fit_intercept=True`` appends a constant
    column to ``X`` and returns its weights as ``bias``. Singular values below ``rtol·S_max`` are dropped
    (pseudo-inverse on ``range(X)``), which handles collinear features and ``N < D``; there is no ridge
    (``S_x^{-1}`` only acts on the kept range).

    Args:
        X: features, shape ``(N, D)``.
        G: positive-pair graph on the rows of ``X``, shape ``(N, N)``.
        dim: K; columns past ``rank(X)`` are zero.
        weighted: HaoChen's degree-weighted loss (default) or the unweighted fit of ``G``.
        fit_intercept: learn a bias ``b`` (``Z = XW + 1bᵀ``).
        rtol: relative singular-value cut-off.

    Returns:
        :class:`LinearSolution` (``eigenvalues`` ``μ`` descending; ``rank`` the number of positive ``μ_k``).
    """
    X = check_matrix(X, "X", min_rows=2)
    N, D = X.shape
    G = validate_graph(G, n=N)
    dim = check_positive_int(dim, "dim")
    Xa = np.hstack([X, np.ones((N, 1))]) if fit_intercept else X
    if weighted:
        d = np.asarray(G.sum(axis=1)).ravel()
        inv_sqrt_d = np.zeros(N)
        inv_sqrt_d[d > 0] = 1.0 / np.sqrt(d[d > 0])
        A = sp.diags(inv_sqrt_d) @ G @ sp.diags(inv_sqrt_d)
        Xa = Xa * np.sqrt(d / d.sum())[:, None]
    else:
        A = G
    U, S, Vt = np.linalg.svd(Xa, full_matrices=False)
    keep = S > rtol * max(float(S.max()), np.finfo(float).tiny) if S.size else np.zeros(0, bool)
    if not np.any(keep):
        raise InputError("X is zero (after weighting): no direction can be learned")
    U, S, Vt = U[:, keep], S[keep], Vt[keep]
    M = U.T @ (A @ U)
    mu, E = sla.eigh((M + M.T) / 2)
    mu, E = mu[::-1], E[:, ::-1]
    r = min(dim, mu.size)
    pos = np.clip(mu[:r], 0.0, None)
    Wr = Vt.T @ ((E[:, :r] / S[:, None]) * np.sqrt(pos))
    Wfull = np.zeros((Xa.shape[1], dim))
    Wfull[:, :r] = Wr
    eig = _pad_values(mu, r, dim)
    W, b = (Wfull[:D], Wfull[D]) if fit_intercept else (Wfull, np.zeros(dim))
    return LinearSolution(
        weights=W, bias=b, eigenvalues=eig, value=float(-np.sum(pos**2)), rank=int(np.count_nonzero(pos > 0))
    )


def cca(X_a, X_b, dim, *, ridge=0.0):
    """Symmetric (shared-encoder) CCA of two views: the subspace Barlow Twins' linear optimum spans.

    With per-view centred covariances ``Σ_aa = X_aᵀHX_a/n``, ``Σ_bb``, ``C_ab = X_aᵀHX_b/n``,
    ``Σ = (Σ_aa + Σ_bb)/2`` and ``C_ab^{sym} = (C_ab + C_ba)/2``, solve ``C_ab^{sym} w = ρ Σ w`` and keep the
    ``K`` largest ``ρ``: ``W`` maximises ``tr(WᵀC_ab^{sym}W)`` subject to ``WᵀΣW = I_K``; value ``Σ_k ρ_k``.

    Barlow Twins with a linear shared encoder ``Z_v = X_vW`` reaches its optimum on the **span** of these
    top-K canonical directions, not on the directions themselves: a rotation inside the subspace equalises the
    per-dimension correlations ``C_kk`` (its minimum is below ``Σ_k (1 − ρ_k)²``). Compare spans (e.g. with
    :func:`~kspectral.spectral.diagnostics.principal_angle_cosines`), not columns. Balestriero & LeCun (2022,
    arXiv:2205.11508) relate Barlow Twins to CCA; the span statement is [derived (checked numerically)]
    (``docs/spec/theory.md`` §3.5).

    Convention: covariances divide by ``n`` (BT's cross-correlation ``C = ẑ_aᵀẑ_b/n``), each view centred on
    its own mean (BT standardises each view separately). ``bias`` centres ``XW`` on the pooled mean of both
    views; BT's standardisation ignores it.

    Args:
        X_a, X_b: the two views, shape ``(n, D)`` each (row ``i`` of both is the same sample).
        dim: K; columns past ``rank(Σ)`` are zero.
        ridge: added to ``Σ``; 0 restricts to ``range(Σ)``.

    Returns:
        :class:`LinearSolution` with ``eigenvalues`` ``ρ_1 ≥ … ≥ ρ_K`` (descending; ``nan`` for zero columns).
    """
    X_a = check_matrix(X_a, "X_a", min_rows=2)
    X_b = check_matrix(X_b, "X_b", min_rows=2)
    if X_a.shape != X_b.shape:
        raise InputError(f"X_a and X_b must have the same shape (paired views), got {X_a.shape} and {X_b.shape}")
    n, D = X_a.shape
    dim = check_positive_int(dim, "dim")
    ridge = check_nonnegative(ridge, "ridge")
    A = X_a - X_a.mean(axis=0)
    B = X_b - X_b.mean(axis=0)
    sigma = (A.T @ A + B.T @ B) / (2 * n)
    c_ab = A.T @ B / n
    c_sym = (c_ab + c_ab.T) / 2
    neg_rho, Wg = whitened_generalized_eigh(-c_sym, (sigma + sigma.T) / 2, ridge=ridge)
    W, r = _pad_columns(Wg, D, dim)
    eig = _pad_values(-neg_rho, r, dim)
    mean = (X_a.mean(axis=0) + X_b.mean(axis=0)) / 2
    return LinearSolution(weights=W, bias=-mean @ W, eigenvalues=eig, value=float(np.sum(-neg_rho[:r])), rank=r)


@dataclass(frozen=True)
class GFormWeights:
    """VICReg weights in the G-form (``docs/spec/theory.md`` §3.2): ``α`` variance, ``β`` covariance, ``γ``
    invariance (see :func:`vicreg_weights_to_gform`)."""

    alpha: float
    beta: float
    gamma: float


def vicreg_weights_to_gform(invariance_weight=VICREG.invariance_weight, variance_weight=VICREG.variance_weight,
                            covariance_weight=VICREG.covariance_weight, *, dim, n=None, n_rows=None):
    """Map the official VICReg weights ``(λ, μ, ν)`` to the G-form ``(γ, α, β)`` of the closed forms.

    The VICReg loss (Bardes, Ponce & LeCun 2022, arXiv:2105.04906, §3; defaults λ = μ = 25, ν = 1, as
    :class:`kspectral.methods.VICReg`'s ``invariance_weight``, ``variance_weight``, ``covariance_weight``) on two
    views of ``n`` samples, ``K = dim``, as the official ``main_vicreg.py`` computes it::

        λ·mse(Z_a, Z_b) + μ·[v(Z_a)/2 + v(Z_b)/2] + ν·[c(Z_a) + c(Z_b)],
        v = (1/K)Σ_k relu(1 − √(Var z^k + ε)),  c = (1/K)Σ_{k≠l} Cov_kl²  (per view, divided by n − 1).

    The G-form (Balestriero & LeCun 2022, arXiv:2205.11508; ``docs/spec/theory.md`` §3.2) on the ``N = 2n``
    stacked rows with the pair graph::

        α Σ_k relu(1 − √Cov_kk) + β Σ_{k≠l} Cov_kl² + (2γ/N) tr(ZᵀLZ),   Cov = ZᵀHZ/N over all N rows.

    - ``γ = λN/(2nK)`` (``= λ/K`` for ``N = 2n``) is exact, since ``mse(Z_a, Z_b) = tr(ZᵀLZ)/(nK)``.
    - ``α = μ/K`` and ``β = 2ν/K`` are exact when both views have the same per-dimension means and
      covariances (the pooled covariance then equals each view's), with ``ε = 0`` and the divisor ``n`` instead
      of ``n − 1`` (a factor ``n/(n − 1)`` on ``Cov``); otherwise they are approximations.

    Args:
        invariance_weight: λ, the official invariance weight.
        variance_weight: μ, the official variance weight.
        covariance_weight: ν, the official covariance weight.
        dim: K, the embedding dimension.
        n: samples per view; with ``n_rows`` (``N``) it gives ``γ = λN/(2nK)``. Both default to ``N = 2n``.
        n_rows: N, the number of rows the G-form covariance and graph use.

    Returns:
        :class:`GFormWeights`.

    Example:
        >>> vicreg_weights_to_gform(dim=8)
        GFormWeights(alpha=3.125, beta=0.25, gamma=3.125)
    """
    dim = check_positive_int(dim, "dim")
    lam = check_nonnegative(invariance_weight, "invariance_weight")
    mu = check_nonnegative(variance_weight, "variance_weight")
    nu = check_nonnegative(covariance_weight, "covariance_weight")
    if (n is None) != (n_rows is None):
        raise InputError("give both n (samples per view) and n_rows (N), or neither (N = 2n)")
    ratio = 2.0
    if n is not None:
        n = check_positive_int(n, "n")
        n_rows = check_positive_int(n_rows, "n_rows")
        ratio = n_rows / n
    return GFormWeights(alpha=mu / dim, beta=2.0 * nu / dim, gamma=lam * ratio / (2.0 * dim))
