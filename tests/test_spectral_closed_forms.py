"""Nonparametric closed forms of ``kspectral.spectral.nonparametric``: theory.md §6 properties 5-12 and 16,
agreement with scikit-learn, and input checks.

Every closed form is checked three ways: its reported ``value`` equals an independent numpy implementation of the
loss evaluated at ``Z*``; it is no worse than random feasible points; and it matches (is no worse than) L-BFGS
from random initialisations. Tolerances are theory.md §6's (float64), ~1e-4 relative for float32 evaluations.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from optim_helpers import assert_gradient, lbfgs
from kspectral.spectral.diagnostics import principal_angle_cosines
from kspectral.spectral.graphs import connected_components, knn_graph, label_graph, pair_graph
from kspectral.spectral.laplacian import laplacian
from kspectral.spectral.nonparametric import (
    SpectralSolution,
    barlow_twins_invariant,
    classical_mds,
    geodesic_distances,
    hard_vicreg,
    hinge_vicreg,
    isomap,
    kernel_pca,
    laplacian_eigenmaps,
    quadratic_vicreg,
    regular_simplex,
    simclr_simplex,
    spectral_contrastive_embedding,
)


# ---------------------------------------------------------------------------------------------------------------
# Graphs, losses (value and gradient, written independently of the library) and an L-BFGS helper
# ---------------------------------------------------------------------------------------------------------------


def noisy_blocks(seed=0, sizes=(6, 6, 6), p_out=0.08):
    """A connected weighted 3-block graph: dense heavy blocks, sparse light edges between blocks (18 nodes)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    same = y[:, None] == y[None]
    W = rng.uniform(0.5, 1.5, (len(y), len(y))) * same
    W += rng.uniform(0.1, 0.5, W.shape) * (rng.random(W.shape) < p_out) * ~same
    W = np.triu(W, 1)
    G = W + W.T
    assert connected_components(G)[0] == 1
    return G


def random_orthogonal(rng, k):
    Q, R = np.linalg.qr(rng.normal(size=(k, k)))
    return Q * np.sign(np.diag(R))


def cov(Z):
    Zc = Z - Z.mean(axis=0)
    return Zc.T @ Zc / Z.shape[0]


def random_whitened(rng, N, K):
    """A random feasible point of the hard constraint: ``√N·orth(H·randn)``, so ``ZᵀHZ/N = I_K``."""
    A = rng.normal(size=(N, K))
    Q, _ = np.linalg.qr(A - A.mean(axis=0))
    return np.sqrt(N) * Q


def quadratic_loss(Z, L, gamma):
    """``‖Cov(Z) − I‖_F² + (γ'/N) tr(ZᵀLZ)`` and its gradient."""
    N, K = Z.shape
    Zc = Z - Z.mean(axis=0)
    D = Zc.T @ Zc / N - np.eye(K)
    LZ = L @ Z
    return np.sum(D**2) + gamma / N * np.sum(Z * LZ), 4.0 / N * Zc @ D + 2.0 * gamma / N * LZ


def hinge_loss(Z, L, alpha, beta, gamma):
    """G-form VICReg ``α Σ relu(1 − √Cov_kk) + β Σ_{k≠l} Cov_kl² + (2γ/N) tr(ZᵀLZ)`` and its gradient."""
    N = Z.shape[0]
    Zc = Z - Z.mean(axis=0)
    C = Zc.T @ Zc / N
    d = np.sqrt(np.diag(C))
    off = C - np.diag(np.diag(C))
    LZ = L @ Z
    value = alpha * np.sum(np.maximum(0.0, 1.0 - d)) + beta * np.sum(off**2) + 2.0 * gamma / N * np.sum(Z * LZ)
    dC = 2.0 * beta * off + np.diag(np.where(d < 1.0, -alpha / (2.0 * np.maximum(d, 1e-300)), 0.0))
    return value, 2.0 / N * Zc @ dC + 4.0 * gamma / N * LZ


def haochen_loss(F, G):
    """Spectral contrastive loss ``−2 Σ w_ij f_iᵀf_j + Σ w_i w_j (f_iᵀf_j)²`` (``w = G/ΣG``) and its gradient."""
    w = G / G.sum()
    wi = w.sum(axis=1)
    S = F @ F.T
    value = -2.0 * np.sum(w * S) + np.sum(np.outer(wi, wi) * S**2)
    return value, (-4.0 * w + 4.0 * np.outer(wi, wi) * S) @ F


def lowrank_loss(Z, A):
    """``‖ZZᵀ − A‖_F²`` and its gradient."""
    R = Z @ Z.T - A
    return np.sum(R**2), 4.0 * R @ Z


def simclr_loss(Z, G, tau):
    """SimCLR G-form ``−(1/N) Σ_ij P_ij log(exp(S_ij/τ)/Σ_{k≠i} exp(S_ik/τ))``, ``P = D⁻¹G``, and its gradient."""
    N = Z.shape[0]
    P = G / G.sum(axis=1, keepdims=True)
    r = np.linalg.norm(Z, axis=1, keepdims=True)
    Zt = Z / r
    S = Zt @ Zt.T
    logits = S / tau
    np.fill_diagonal(logits, -np.inf)
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    lse = m[:, 0] + np.log(e.sum(axis=1))
    Q = e / e.sum(axis=1, keepdims=True)
    S_off = S.copy()
    np.fill_diagonal(S_off, 0.0)
    value = np.sum(lse - np.sum(P * S_off, axis=1) / tau) / N
    dS = (Q - P) / (tau * N)
    np.fill_diagonal(dS, 0.0)
    dZt = (dS + dS.T) @ Zt
    return value, (dZt - Zt * np.sum(dZt * Zt, axis=1, keepdims=True)) / r


def barlow_twins_loss(Za, Zb, lam=5e-3):
    """Barlow Twins: each view standardised per dimension over the batch (biased std), ``C = ẑ_aᵀẑ_b/n``."""
    za = (Za - Za.mean(0)) / Za.std(0)
    zb = (Zb - Zb.mean(0)) / Zb.std(0)
    C = za.T @ zb / Za.shape[0]
    off = C - np.diag(np.diag(C))
    return float(np.sum((1 - np.diag(C)) ** 2) + lam * np.sum(off**2))


def test_loss_gradients_are_correct(rng):
    """The test losses' gradients (used by every L-BFGS comparison below) agree with finite differences."""
    G = noisy_blocks()
    L = laplacian(G).toarray()
    Z = rng.normal(size=(18, 4))
    assert_gradient(lambda z: quadratic_loss(z, L, 0.3), Z, rng)
    assert_gradient(lambda z: hinge_loss(z, L, 1.0, 100.0, 0.5), 0.3 * Z, rng)  # some std < 1: hinge active
    assert_gradient(lambda z: haochen_loss(z, G), Z, rng)
    assert_gradient(lambda z: lowrank_loss(z, G), Z, rng)
    assert_gradient(lambda z: simclr_loss(z, G, 0.5), Z, rng)
    for gamma in (0.05, 0.5):  # both branches of g (s = 1 and s < 1)
        assert_gradient(lambda a: reduced_hinge_loss(a, L, 1.0, gamma), Z, rng)


# ---------------------------------------------------------------------------------------------------------------
# §6 property 5 and 6: hard-constraint VICReg = Laplacian eigenmaps
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_property5_hard_vicreg_optimum(rng, dtype, tol):
    G = noisy_blocks()
    N, K = 18, 4
    L = laplacian(G).toarray()
    sol = hard_vicreg(G, K)
    assert isinstance(sol, SpectralSolution)
    lam = np.linalg.eigvalsh(L)
    assert sol.value == pytest.approx(N * lam[1 : K + 1].sum(), rel=1e-10)
    Z = sol.embedding.astype(dtype)
    Lt = L.astype(dtype)
    np.testing.assert_allclose(cov(Z), np.eye(K), atol=tol)
    assert float(np.trace(Z.T @ Lt @ Z)) == pytest.approx(sol.value, rel=tol)
    np.testing.assert_allclose(sol.embedding, laplacian_eigenmaps(G, K), atol=1e-12)
    # Ky Fan: no feasible point does better.
    for _ in range(20):
        Zr = random_whitened(rng, N, K)
        np.testing.assert_allclose(cov(Zr), np.eye(K), atol=1e-10)
        assert np.trace(Zr.T @ L @ Zr) >= sol.value - 1e-9
    if dtype is np.float64:
        # L-BFGS over whitened Z = √N·polar(HA) (the reduced hinge loss with α huge is Σ_k q_kᵀLq_k).
        runs = lbfgs(lambda a: reduced_hinge_loss(a, L, 1e12, 0.5), (N, K), seeds=range(2), maxiter=2000)
        values = N * np.array([v for v, _ in runs])
        assert values.min() >= sol.value - 1e-8
        assert values.min() == pytest.approx(sol.value, rel=1e-8)


def test_property6_rotation_invariance(rng):
    G = noisy_blocks()
    L = laplacian(G).toarray()
    K = 4
    Z = hard_vicreg(G, K).embedding
    for _ in range(5):
        ZR = Z @ random_orthogonal(rng, K)
        np.testing.assert_allclose(cov(ZR), cov(Z), atol=1e-12)
        assert np.trace(ZR.T @ L @ ZR) == pytest.approx(np.trace(Z.T @ L @ Z), rel=1e-12)
        assert quadratic_loss(ZR, L, 0.7)[0] == pytest.approx(quadratic_loss(Z, L, 0.7)[0], rel=1e-12)
    # The quadratic optimum is also rotation-invariant (R ∈ O(K) is free).
    sol = quadratic_vicreg(G, K, invariance_weight=0.05)
    ZR = sol.embedding @ random_orthogonal(rng, K)
    assert quadratic_loss(ZR, L, 0.05)[0] == pytest.approx(sol.value, rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# §6 property 7: quadratic VICReg
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma,expected_rank", [(0.05, 4), (0.5, 3), (1.0, 2), (5.0, 1)])
def test_property7_quadratic_vicreg(rng, gamma, expected_rank):
    G = noisy_blocks()
    N, K = 18, 4
    L = laplacian(G).toarray()
    sol = quadratic_vicreg(G, K, invariance_weight=gamma)
    lam = np.linalg.eigvalsh(L)[1 : K + 1]
    np.testing.assert_allclose(sol.eigenvalues, lam, atol=1e-10)
    t = np.clip(1 - gamma * lam / 2, 0, None)
    assert sol.value == pytest.approx(K - np.sum(t**2), rel=1e-12)
    assert quadratic_loss(sol.embedding, L, gamma)[0] == pytest.approx(sol.value, rel=1e-10, abs=1e-12)
    # float32 evaluation of the loss at the closed form (as the Keras losses would).
    Z32, L32 = sol.embedding.astype(np.float32), L.astype(np.float32)
    assert float(quadratic_loss(Z32, L32, np.float32(gamma))[0]) == pytest.approx(sol.value, rel=1e-4, abs=1e-5)
    assert sol.rank == expected_rank == int(np.sum(lam < 2 / gamma))
    assert np.linalg.matrix_rank(sol.embedding - sol.embedding.mean(0), tol=1e-8) == sol.rank
    for _ in range(20):
        assert quadratic_loss(rng.normal(size=(N, K)), L, gamma)[0] >= sol.value
    runs = lbfgs(lambda z: quadratic_loss(z, L, gamma), (N, K), seeds=range(3))
    values = [v for v, _ in runs]
    assert min(values) >= sol.value - 1e-9
    assert min(values) == pytest.approx(sol.value, abs=1e-6)


def test_property7_quadratic_rank_non_increasing():
    G = noisy_blocks()
    gammas = np.geomspace(1e-3, 1e3, 25)
    ranks = [quadratic_vicreg(G, 6, invariance_weight=g).rank for g in gammas]
    assert ranks[0] == 6 and ranks[-1] == 0
    assert all(a >= b for a, b in zip(ranks, ranks[1:]))
    # With c components, γ' → ∞ keeps exactly the c − 1 zero-cost indicators.
    G3 = label_graph(np.repeat([0, 1, 2], 6))
    assert quadratic_vicreg(G3, 5, invariance_weight=1e6).rank == 2


# ---------------------------------------------------------------------------------------------------------------
# §6 property 8: hinge VICReg
# ---------------------------------------------------------------------------------------------------------------


def test_property8_hinge_scales():
    G = noisy_blocks()
    K = 4
    lam = np.linalg.eigvalsh(laplacian(G).toarray())[1 : K + 1]
    previous = np.full(K, np.inf)
    for gamma in np.geomspace(1e-3, 1e3, 13):
        sol = hinge_vicreg(G, K, variance_weight=1.0, invariance_weight=gamma)
        np.testing.assert_allclose(sol.scales, np.minimum(1.0, 1.0 / (4 * gamma * lam)), rtol=1e-10)
        assert np.all(sol.scales > 0) and sol.rank == K  # never drops a dimension
        assert np.all(sol.scales <= previous + 1e-15)  # non-increasing in γ
        previous = sol.scales
        s = sol.scales
        assert sol.value == pytest.approx(np.sum((1 - s) + 2 * gamma * lam * s**2), rel=1e-12)
        np.testing.assert_allclose(cov(sol.embedding), np.diag(s**2), atol=1e-12)
    # High invariance: s_k ∝ 1/λ.
    s = hinge_vicreg(G, K, invariance_weight=1e3).scales
    np.testing.assert_allclose(s * lam, s[0] * lam[0], rtol=1e-10)
    # Disconnected graph: zero-cost directions keep s = 1 whatever γ.
    s = hinge_vicreg(label_graph(np.repeat([0, 1, 2], 4)), 3, invariance_weight=1e3).scales
    assert s[0] == s[1] == 1.0 and s[2] < 1e-3


def reduced_hinge_loss(A, L, alpha, gamma):
    """Hinge VICReg on the β → ∞ feasible set, with the scales optimised out, and its gradient in ``A``.

    ``Q = polar(HA)`` (orthonormal, centred) and ``Z = √N·Q·diag(s)`` has ``Cov(Z) = diag(s²)`` exactly. For
    fixed ``Q`` the best ``s_k`` is ``min(1, α/(4γc_k))`` with ``c_k = q_kᵀLq_k``, leaving ``Σ_k g(c_k)`` with
    ``g(c) = 2γc`` (``c ≤ α/4γ``) or ``α − α²/(8γc)``. The gradient goes through the polar factor
    ``Q = Y(YᵀY)^{-1/2}`` (a Sylvester equation, solved in the eigenbasis of ``YᵀY``).
    """
    Y = A - A.mean(axis=0)
    lam, V = np.linalg.eigh(Y.T @ Y)
    r = np.sqrt(lam)
    Pinv = (V / r) @ V.T
    Q = Y @ Pinv
    LQ = L @ Q
    c = np.sum(Q * LQ, axis=0)
    big = c > alpha / (4 * gamma)
    cb = np.where(big, c, 1.0)
    value = np.sum(np.where(big, alpha - alpha**2 / (8 * gamma * cb), 2 * gamma * c))
    Gam = 2 * LQ * np.where(big, alpha**2 / (8 * gamma * cb**2), 2 * gamma)
    Mt = V.T @ (Pinv @ Y.T @ Gam @ Pinv) @ V
    X = V @ (Mt / (r[:, None] + r[None])) @ V.T
    dY = Gam @ Pinv - Y @ (X + X.T)
    return value, dY - dY.mean(axis=0)


def hinge_at(A, s, L, alpha, gamma):
    """The hinge loss at the feasible point ``√N·polar(HA)·diag(s)``."""
    Y = A - A.mean(axis=0)
    U, _, Vt = np.linalg.svd(Y, full_matrices=False)
    return hinge_loss(np.sqrt(len(A)) * (U @ Vt) * s, L, alpha, 0.0, gamma)[0]


@pytest.mark.parametrize("gamma", [0.05, 0.5])
def test_property8_hinge_beats_random_and_optimiser(rng, gamma):
    G = noisy_blocks()
    N, K = 18, 4
    L = laplacian(G).toarray()
    sol = hinge_vicreg(G, K, variance_weight=1.0, invariance_weight=gamma)
    assert hinge_loss(sol.embedding, L, 1.0, 100.0, gamma)[0] == pytest.approx(sol.value, rel=1e-12)
    # Random feasible points (diagonal covariance, any s) are no better.
    for _ in range(20):
        assert hinge_at(rng.normal(size=(N, K)), rng.uniform(0.05, 1.5, K), L, 1.0, gamma) >= sol.value
    # L-BFGS on the β → ∞ problem from random starts: none beats the closed form, the best reaches it
    # (some starts stop in a worse stationary point: measured +0.0234 for one of three starts at γ = 0.5).
    runs = lbfgs(lambda a: reduced_hinge_loss(a, L, 1.0, gamma), (N, K), seeds=range(3), maxiter=2000)
    values = np.array([v for v, _ in runs])
    assert values.min() >= sol.value - 1e-9
    assert values.min() == pytest.approx(sol.value, abs=1e-8)


def test_property8_hinge_finite_beta_distinct_scales():
    """With finite β = 100 and distinct ``s_k`` (γ = 0.5), L-BFGS reaches but does not beat the closed form.

    (Where several ``s_k = 1`` with different λ, e.g. γ = 0.05 here, a finite β lets the optimum leave the
    diagonal by O(γ²Δλ²/β) ≈ 2e-4, so the closed form is the β → ∞ limit; see ``hinge_vicreg``'s docstring.)
    """
    G = noisy_blocks()
    N, K = 18, 4
    L = laplacian(G).toarray()
    sol = hinge_vicreg(G, K, variance_weight=1.0, invariance_weight=0.5)
    assert len(set(np.round(sol.scales, 6))) == K
    runs = lbfgs(lambda z: hinge_loss(z, L, 1.0, 100.0, 0.5), (N, K), seeds=range(4))
    values = np.array([v for v, _ in runs])
    assert values.min() >= sol.value - 1e-8
    # the optimum sits on the hinge's kink (√Cov_kk = 1), where L-BFGS stops early: 1.5e-6 above with SciPy 1.17.1
    assert values.min() == pytest.approx(sol.value, abs=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# §6 property 9: label graph → class indicators
# ---------------------------------------------------------------------------------------------------------------


def test_property9_label_graph_gives_class_indicators():
    y = np.repeat([0, 1, 2, 3], [6, 5, 7, 4])
    C = 4
    for K in (C - 1, C + 2):
        Z = hard_vicreg(label_graph(y), K).embedding
        first = Z[:, : C - 1]
        for c in range(C):
            assert first[y == c].std(axis=0).max() < 1e-8
        # Least-squares linear probe with bias on the C − 1 columns: 100% training accuracy.
        A = np.hstack([first, np.ones((len(y), 1))])
        coef, *_ = np.linalg.lstsq(A, np.eye(C)[y], rcond=None)
        assert np.mean(np.argmax(A @ coef, axis=1) == y) == 1.0
        assert hard_vicreg(label_graph(y), K).eigenvalues[: C - 1] == pytest.approx(np.zeros(C - 1), abs=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# §6 property 10: spectral contrastive loss
# ---------------------------------------------------------------------------------------------------------------


def test_property10_spectral_contrastive_weighted(rng):
    G = noisy_blocks()
    N, K = 18, 4
    sol = spectral_contrastive_embedding(G, K)
    d = G.sum(axis=1)
    Abar = G / np.sqrt(np.outer(d, d))
    mu = np.linalg.eigvalsh(Abar)[::-1][:K]
    np.testing.assert_allclose(sol.eigenvalues, mu, atol=1e-12)
    assert sol.eigenvalues[0] == pytest.approx(1.0)  # the trivial D^{1/2}1 is kept, not centred away
    assert sol.value == pytest.approx(-np.sum(np.clip(mu, 0, None) ** 2), rel=1e-12)
    assert haochen_loss(sol.embedding, G)[0] == pytest.approx(sol.value, rel=1e-10)
    F32 = sol.embedding.astype(np.float32)
    assert float(haochen_loss(F32, G.astype(np.float32))[0]) == pytest.approx(sol.value, rel=1e-4)
    for _ in range(20):
        assert haochen_loss(rng.normal(size=(N, K)), G)[0] >= sol.value
    runs = lbfgs(lambda f: haochen_loss(f, G), (N, K), seeds=range(3))
    values = [v for v, _ in runs]
    assert min(values) >= sol.value - 1e-9
    assert min(values) == pytest.approx(sol.value, abs=1e-6)


def test_property10_spectral_contrastive_unweighted_and_psd_part(rng):
    G = noisy_blocks()
    N, K = 18, 5
    sol = spectral_contrastive_embedding(G, K, weighted=False)
    mu = np.linalg.eigvalsh(G)[::-1][:K]
    np.testing.assert_allclose(sol.eigenvalues, mu, atol=1e-12)
    resid = lowrank_loss(sol.embedding, G)[0]
    assert resid == pytest.approx(np.sum(G**2) + sol.value, rel=1e-10)
    runs = lbfgs(lambda z: lowrank_loss(z, G), (N, K), seeds=range(3))
    assert min(v for v, _ in runs) == pytest.approx(resid, abs=1e-6)
    assert min(v for v, _ in runs) >= resid - 1e-9
    # K past the number of positive eigenvalues: the extra columns are zero (top-K *PSD* part).
    n_pos = int(np.sum(np.linalg.eigvalsh(G) > 1e-12))
    big = spectral_contrastive_embedding(G, N, weighted=False)
    assert big.rank == n_pos < N
    assert np.all(big.embedding[:, n_pos:] == 0)


def test_spectral_contrastive_arpack_matches_dense():
    X = np.random.default_rng(1).normal(size=(400, 10))
    G = knn_graph(X, 10)
    dense = spectral_contrastive_embedding(G, 6, solver="dense")
    arpack = spectral_contrastive_embedding(G, 6, solver="arpack")
    np.testing.assert_allclose(arpack.eigenvalues, dense.eigenvalues, atol=1e-9)
    assert arpack.value == pytest.approx(dense.value, rel=1e-10)
    assert principal_angle_cosines(arpack.embedding, dense.embedding).min() > 1 - 1e-8


def test_spectral_contrastive_auto_uses_sparse_solver_for_large_graphs():
    X = np.random.default_rng(2).normal(size=(3000, 8))
    G = knn_graph(X, 10)
    sol = spectral_contrastive_embedding(G, 5)  # past DENSE_TOP_MAX_NODES: eigsh(which="LA")
    d = np.asarray(G.sum(axis=1)).ravel()
    Abar = sp.diags(1 / np.sqrt(d)) @ G @ sp.diags(1 / np.sqrt(d))
    V = sol.embedding * np.sqrt(d / d.sum())[:, None] / sol.scales
    np.testing.assert_allclose(Abar @ V, V * sol.eigenvalues, atol=1e-7)
    assert sol.eigenvalues[0] == pytest.approx(1.0, abs=1e-10)


def test_spectral_contrastive_isolated_nodes_and_errors():
    G = np.zeros((5, 5))
    G[0, 1] = G[1, 0] = G[2, 3] = G[3, 2] = 1.0  # node 4 isolated
    sol = spectral_contrastive_embedding(G, 2)
    assert np.all(sol.embedding[4] == 0) and np.all(np.isfinite(sol.embedding))
    with pytest.raises(ValueError, match="dim=6 is too large"):
        spectral_contrastive_embedding(G, 6)
    with pytest.raises(ValueError, match="unknown eigensolver"):
        spectral_contrastive_embedding(G, 2, solver="magic")


# ---------------------------------------------------------------------------------------------------------------
# §6 property 11: SimCLR clique optimum (τ = 0.5)
# ---------------------------------------------------------------------------------------------------------------


def test_regular_simplex():
    for C, K in [(2, 1), (3, 2), (4, 6), (5, 4)]:
        M = regular_simplex(C, K)
        G = M @ M.T
        np.testing.assert_allclose(np.diag(G), 1.0, atol=1e-12)
        np.testing.assert_allclose(G[~np.eye(C, dtype=bool)], -1 / (C - 1), atol=1e-12)
        np.testing.assert_allclose(M.sum(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="needs dim ≥ 4"):
        regular_simplex(5, 3)


@pytest.mark.parametrize("C,K", [(4, 6), (3, 2)])
def test_property11_simclr_clique_simplex(C, K):
    y = np.repeat(np.arange(C), 5)
    N = len(y)
    G = label_graph(y).toarray()
    tau = 0.5
    sol = simclr_simplex(G, K, temperature=tau)
    assert sol.rank == C - 1
    assert simclr_loss(sol.embedding, G, tau)[0] == pytest.approx(sol.value, rel=1e-12)
    sv = np.linalg.svd(sol.embedding - sol.embedding.mean(0), compute_uv=False)
    np.testing.assert_allclose(sv[: C - 1], np.sqrt(N / (C - 1)), rtol=1e-12)  # 2.58 for C=4, N=20
    np.testing.assert_allclose(sv**2, sol.eigenvalues, atol=1e-10)
    # L-BFGS from random init at τ = 0.5: class collapse onto the simplex, rank C − 1 whatever K.
    runs = lbfgs(lambda z: simclr_loss(z, G, tau), (N, K), seeds=range(2), maxiter=5000)
    for value, Z in runs:
        assert value >= sol.value - 1e-9
        assert value == pytest.approx(sol.value, abs=1e-6)
        Zt = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        s = np.linalg.svd(Zt - Zt.mean(0), compute_uv=False)
        assert np.sum(s > 1e-3 * s[0]) == C - 1
        S = Zt @ Zt.T
        same = (y[:, None] == y[None]) & ~np.eye(N, dtype=bool)
        assert S[same].min() > 1 - 1e-3
        np.testing.assert_allclose(S[y[:, None] != y[None]], -1 / (C - 1), atol=1e-3)


def test_simclr_unequal_cliques_are_rejected_since_simplex_is_not_optimal():
    """With unequal clique sizes L-BFGS beats the regular simplex, so ``simclr_simplex`` refuses them."""
    sizes = np.array([3, 5, 9, 7])
    y = np.repeat(np.arange(4), sizes)
    G = label_graph(y).toarray()
    with pytest.raises(ValueError, match="unequal sizes"):
        simclr_simplex(G, 6)
    from kspectral.spectral.nonparametric import simclr_clique_loss_value

    simplex_value = simclr_clique_loss_value(sizes, 0.5)
    best = min(v for v, _ in lbfgs(lambda z: simclr_loss(z, G, 0.5), (len(y), 6), seeds=[0], maxiter=3000))
    assert best < simplex_value - 1e-3  # measured 1.90038 vs 1.90409


def test_simclr_simplex_pair_graph_and_errors():
    sol = simclr_simplex(pair_graph(3, views=2), 2)  # 3 samples × 2 views: C = 3 cliques of 2
    assert sol.rank == 2
    np.testing.assert_allclose(sol.embedding[:3], sol.embedding[3:])
    with pytest.raises(ValueError, match="C=4 cliques but dim=2"):
        simclr_simplex(label_graph(np.repeat(np.arange(4), 3)), 2)
    with pytest.raises(ValueError, match="not a union of disjoint cliques"):
        simclr_simplex(knn_graph(np.random.default_rng(0).normal(size=(20, 2)), 3), 5)
    G = label_graph([0, 0, 0, 1, 1, 1]).toarray()
    G[0, 1] = G[1, 0] = 2.0
    with pytest.raises(ValueError, match="uniform weights"):
        simclr_simplex(G, 3)
    G = np.zeros((3, 3))
    G[0, 1] = G[1, 0] = 1
    with pytest.raises(ValueError, match="isolated nodes"):
        simclr_simplex(G, 3)
    with pytest.raises(ValueError, match="temperature"):
        simclr_simplex(pair_graph(3), 2, temperature=0)


# ---------------------------------------------------------------------------------------------------------------
# §6 property 12 (nonparametric part) and 16: Barlow Twins, invariant subspace = L-nullspace
# ---------------------------------------------------------------------------------------------------------------


def test_property12_barlow_twins_zero_for_whitened_invariant_z(rng):
    Z = random_whitened(rng, 50, 4)
    assert barlow_twins_loss(Z, Z) == pytest.approx(0.0, abs=1e-20)
    assert barlow_twins_loss(Z.astype(np.float32), Z.astype(np.float32)) == pytest.approx(0.0, abs=1e-5)
    # Equal up to a per-dimension affine map: still 0.
    assert barlow_twins_loss(Z, 3.0 * Z + 1.0) == pytest.approx(0.0, abs=1e-20)
    # Not invariant: > 0.
    assert barlow_twins_loss(Z, random_whitened(rng, 50, 4)) > 0.5


def test_property12_barlow_twins_invariant_optimum_on_pair_graph():
    n, K = 12, 5
    G = pair_graph(n)
    sol = barlow_twins_invariant(G, K)
    Z = sol.embedding
    assert sol.value == 0.0 and sol.rank == K
    assert barlow_twins_loss(Z[:n], Z[n:]) == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(Z[:n], Z[n:], atol=1e-12)  # view-invariant
    np.testing.assert_allclose(cov(Z), np.eye(K), atol=1e-12)
    # The rank follows G: K > c − 1 cannot be reached.
    small = barlow_twins_invariant(label_graph(np.repeat([0, 1, 2], 4)), 5)
    assert small.rank == 2 and np.isnan(small.value)
    assert np.all(small.embedding[:, 2:] == 0)
    assert barlow_twins_invariant(noisy_blocks(), 3).rank == 0  # connected: only the constant is invariant


def test_property16_invariant_subspace_is_the_nullspace(rng):
    for seed in range(3):
        r = np.random.default_rng(seed)
        sizes = r.integers(2, 8, size=r.integers(2, 6))
        # Random connected blocks (a path plus random chords), disconnected from each other.
        blocks = []
        for s in sizes:
            B = np.zeros((s, s))
            for i in range(s - 1):
                B[i, i + 1] = B[i + 1, i] = r.uniform(0.5, 2)
            chords = np.triu(r.random((s, s)) < 0.3, 2) * r.uniform(0.1, 1, (s, s))
            blocks.append(B + chords + chords.T)
        G = sp.block_diag(blocks).toarray()
        perm = r.permutation(len(G))
        G = G[perm][:, perm]
        c, labels = connected_components(G)
        L = laplacian(G).toarray()
        vals, vecs = np.linalg.eigh(L)
        null = vecs[:, vals < 1e-10]
        assert null.shape[1] == c
        # Any Z with tr(ZᵀLZ) = 0 (a combination of nullspace vectors) is constant on each component.
        Z = null @ r.normal(size=(c, 3))
        assert np.trace(Z.T @ L @ Z) == pytest.approx(0.0, abs=1e-10)
        for comp in range(c):
            assert Z[labels == comp].std(axis=0).max() < 1e-8
        # And the nullspace is exactly span{component indicators}.
        ind = np.eye(c)[labels]
        assert principal_angle_cosines(null, ind).min() > 1 - 1e-10
        sol = barlow_twins_invariant(G, c - 1)
        assert np.trace(sol.embedding.T @ L @ sol.embedding) == pytest.approx(0.0, abs=1e-10)
        assert principal_angle_cosines(sol.embedding, ind - ind.mean(0)).min() > 1 - 1e-10


# ---------------------------------------------------------------------------------------------------------------
# Global methods and agreement with scikit-learn
# ---------------------------------------------------------------------------------------------------------------


def swiss_roll(n=400, seed=0):
    from sklearn.datasets import make_swiss_roll

    X, _ = make_swiss_roll(n, noise=0.05, random_state=seed)
    return X


def assert_same_up_to_column_signs(A, B, atol):
    signs = np.sign(np.sum(A * B, axis=0))
    np.testing.assert_allclose(A * signs, B, atol=atol)


def test_laplacian_eigenmaps_matches_sklearn_spectral_embedding():
    from sklearn.manifold import spectral_embedding

    X = swiss_roll(300)
    G = knn_graph(X, 10)
    K = 4
    ref = spectral_embedding(G, n_components=K, norm_laplacian=False, drop_first=True, random_state=0)
    ours = laplacian_eigenmaps(G, K)
    cosines = principal_angle_cosines(ours, ref)
    assert cosines.min() > 0.999, cosines


def test_classical_mds_is_pca_and_precomputed_agrees(rng):
    from sklearn.decomposition import PCA

    X = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    K = 3
    sol = classical_mds(X, K)
    assert_same_up_to_column_signs(sol.embedding, PCA(K).fit_transform(X), atol=1e-9)
    D = np.sqrt(np.sum((X[:, None] - X[None]) ** 2, axis=-1))
    for data, kind in [(D, "distances"), (D**2, "squared_distances")]:
        pre = classical_mds(data, K, precomputed=kind)
        np.testing.assert_allclose(pre.eigenvalues, sol.eigenvalues, rtol=1e-9)
        assert_same_up_to_column_signs(pre.embedding, sol.embedding, atol=1e-8)
        assert pre.value == pytest.approx(sol.value, rel=1e-8)
    B = (X - X.mean(0)) @ (X - X.mean(0)).T
    assert sol.value == pytest.approx(np.sum((B - sol.embedding @ sol.embedding.T) ** 2), rel=1e-8)
    with pytest.raises(ValueError, match="not symmetric"):
        classical_mds(np.triu(D), 2, precomputed="distances")
    with pytest.raises(ValueError, match="precomputed"):
        classical_mds(D, 2, precomputed="kernel")


def test_isomap_matches_sklearn():
    from sklearn.manifold import Isomap

    X = swiss_roll(300)
    K, k = 2, 8
    ref = Isomap(n_neighbors=k, n_components=K, eigen_solver="dense").fit_transform(X)
    sol = isomap(X, K, k)
    assert_same_up_to_column_signs(sol.embedding, ref, atol=1e-7)
    assert sol.rank == K


def test_isomap_disconnected_knn_graph_raises():
    X = np.vstack([np.zeros((10, 2)), np.full((10, 2), 100.0)]) + np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="2 connected components"):
        geodesic_distances(X, 3)
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        isomap(X, 2, k=20)


@pytest.mark.parametrize("kernel,params", [("rbf", {"gamma": 0.2}), ("poly", {"degree": 2}), ("linear", {})])
def test_kernel_pca_matches_sklearn(rng, kernel, params):
    from sklearn.decomposition import KernelPCA

    X = rng.normal(size=(80, 4))
    K = 3
    ref = KernelPCA(n_components=K, kernel=kernel, eigen_solver="dense", **params).fit_transform(X)
    sol = kernel_pca(X, K, kernel=kernel, **params)
    assert_same_up_to_column_signs(sol.embedding, ref, atol=1e-8)
    from sklearn.metrics.pairwise import pairwise_kernels

    Km = pairwise_kernels(X, metric=kernel, **params)
    pre = kernel_pca(Km, K, kernel="precomputed")
    np.testing.assert_allclose(pre.embedding, sol.embedding, atol=1e-10)


def test_kernel_pca_arpack_and_errors(rng):
    X = rng.normal(size=(200, 3))
    a = kernel_pca(X, 4, solver="arpack")
    b = kernel_pca(X, 4, solver="dense")
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-8)
    assert_same_up_to_column_signs(a.embedding, b.embedding, atol=1e-6)
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel_pca(X, 2, kernel="gauss")
    with pytest.raises(ValueError, match="dim=200 is too large"):
        kernel_pca(X, 200)


# ---------------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------------


def test_closed_form_input_checks():
    G = noisy_blocks()
    with pytest.raises(ValueError, match="N − 1"):
        quadratic_vicreg(G, 18)
    with pytest.raises(ValueError, match="invariance_weight must be a finite positive"):
        quadratic_vicreg(G, 2, invariance_weight=0)
    with pytest.raises(ValueError, match="variance_weight"):
        hinge_vicreg(G, 2, variance_weight=-1)
    with pytest.raises(TypeError, match="invariance_weight must be a number"):
        hinge_vicreg(G, 2, invariance_weight="big")
    with pytest.raises(TypeError, match="dim must be an integer"):
        hard_vicreg(G, 2.5)
    with pytest.raises(ValueError, match="self-loops"):
        quadratic_vicreg(np.eye(3), 1)
    with pytest.raises(ValueError, match="dim=18 is too large"):
        barlow_twins_invariant(G, 18)
    assert hinge_vicreg(G, 2, invariance_weight=0).scales.tolist() == [1.0, 1.0]
