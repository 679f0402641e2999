"""Part C properties 1-11 of ``objectives.md``: the criteria L_c / L_nc and their duality (Garrido et al. 2023).

The paper's ``K`` is ``M×N`` (columns are samples); kspectral's functions take ``z = Kᵀ`` of shape ``(N, M)``.
Every property runs in float32 (relative tolerance 1e-3) and float64 (1e-9 or tighter).
"""

import numpy as np
import pytest

from kspectral.objectives.criteria import (
    dimension_contrastive,
    dimension_norms4,
    double_normalize,
    duality_gap,
    regularizer_lreg,
    sample_contrastive,
    sample_norms4,
)
from kspectral.objectives.vicreg import covariance_term

DTYPES = ["float32", "float64"]
SHAPES = [(3, 7), (7, 3), (5, 5), (16, 8), (8, 16)]  # (M, N): M<N, M>N, M=N


def rtol(dtype):
    return 1e-3 if dtype == "float32" else 1e-9


def value(x):
    return float(np.asarray(x))


def close(actual, expected, dtype, scale=1.0):
    """|actual − expected| within the dtype's tolerance, relative to max(|expected|, scale)."""
    assert abs(value(actual) - expected) <= rtol(dtype) * max(abs(expected), scale), (value(actual), expected)


def random_k(rng, m, n, dtype):
    """A random paper-convention K (M×N) and its batch-first z = Kᵀ."""
    k = rng.normal(size=(m, n)).astype(dtype)
    return k, k.T.copy()


# ------------------------------------------------------------------------------------------------- property 1
@pytest.mark.parametrize("dtype", DTYPES)
def test_hand_computed_example(dtype):
    k = np.array([[1, 0], [0, 1], [1, 1]], dtype=dtype)  # M=3 dims, N=2 samples
    z = k.T
    assert value(sample_contrastive(z)) == pytest.approx(2.0, abs=1e-6)
    assert value(dimension_contrastive(z)) == pytest.approx(4.0, abs=1e-6)
    assert value(dimension_norms4(z)) == pytest.approx(6.0, abs=1e-6)  # Σ over the 3 rows of K
    assert value(sample_norms4(z)) == pytest.approx(8.0, abs=1e-6)  # Σ over the 2 columns of K
    assert value(duality_gap(z)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_dtype(dtype):
    z = np.ones((3, 2), dtype=dtype)
    for fn in (sample_contrastive, dimension_contrastive, regularizer_lreg, duality_gap):
        assert str(np.asarray(fn(z)).dtype) == dtype


# ------------------------------------------------------------------------------------------------- property 2
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", SHAPES)
def test_theorem_3_3_identity(m, n, dtype, rng):
    _, z = random_k(rng, m, n, dtype)
    scale = value(dimension_contrastive(z)) + value(dimension_norms4(z))
    assert abs(value(duality_gap(z))) <= rtol(dtype) * scale
    lhs = value(dimension_contrastive(z)) + value(dimension_norms4(z))
    rhs = value(sample_contrastive(z)) + value(sample_norms4(z))
    close(lhs, rhs, dtype)
    # ‖KᵀK‖_F² = ‖KKᵀ‖_F² is what the identity rests on
    close(np.sum((z @ z.T) ** 2), float(np.sum((z.T @ z) ** 2)), dtype)


# ------------------------------------------------------------------------------------------------- property 3
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", SHAPES)
def test_transpose_duality(m, n, dtype, rng):
    _, z = random_k(rng, m, n, dtype)
    close(sample_contrastive(z), value(dimension_contrastive(z.T)), dtype)
    close(dimension_contrastive(z), value(sample_contrastive(z.T)), dtype)


# ------------------------------------------------------------------------------------------------- property 4
@pytest.mark.parametrize("dtype", DTYPES)
def test_permutation_invariance(dtype, rng):
    _, z = random_k(rng, 6, 9, dtype)
    lc, lnc = value(sample_contrastive(z)), value(dimension_contrastive(z))
    samples = z[rng.permutation(z.shape[0])]
    dims = z[:, rng.permutation(z.shape[1])]
    for permuted in (samples, dims):
        close(sample_contrastive(permuted), lc, dtype)
        close(dimension_contrastive(permuted), lnc, dtype)


# ------------------------------------------------------------------------------------------------- property 5
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.5, 1.7, -2.0])
def test_homogeneity_degree_four(alpha, dtype, rng):
    _, z = random_k(rng, 5, 7, dtype)
    close(sample_contrastive(alpha * z), alpha**4 * value(sample_contrastive(z)), dtype)
    close(dimension_contrastive(alpha * z), alpha**4 * value(dimension_contrastive(z)), dtype)


# ------------------------------------------------------------------------------------------------- property 6
@pytest.mark.parametrize("dtype", DTYPES)
def test_orthonormal_samples_zero_lc(dtype, rng):
    m, n = 8, 5  # N ≤ M
    q, _ = np.linalg.qr(rng.normal(size=(m, m)))
    z = q[:, :n].T.astype(dtype)  # the N embeddings are orthonormal
    assert abs(value(sample_contrastive(z))) <= 10 * rtol(dtype)
    assert value(dimension_contrastive(z)) > 0.1  # L_nc does not vanish there


@pytest.mark.parametrize("dtype", DTYPES)
def test_orthogonal_dimensions_zero_lnc(dtype, rng):
    m, n = 4, 9  # M ≤ N
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    z = (q[:, :m] * np.array([1.0, 2.0, 0.5, 3.0])).astype(dtype)  # orthogonal (not unit) dimensions
    assert abs(value(dimension_contrastive(z))) <= 100 * rtol(dtype)
    assert value(sample_contrastive(z)) > 0.1


# ------------------------------------------------------------------------------------------------- property 7
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["uniform", "one_hot", "random"])
def test_collapse(kind, dtype, rng):
    m, n = 6, 10
    u = {"uniform": np.full(m, 1 / np.sqrt(m)), "one_hot": np.eye(m)[0], "random": rng.normal(size=m)}[kind]
    u = u / np.linalg.norm(u)
    z = np.tile(u, (n, 1)).astype(dtype)
    close(sample_contrastive(z), n * (n - 1.0), dtype)
    expected_lnc = n**2 * (1 - np.sum(u**4))
    close(dimension_contrastive(z), expected_lnc, dtype, scale=n**2)
    if kind == "uniform":
        assert expected_lnc == pytest.approx(n**2 * (1 - 1 / m))
    if kind == "one_hot":  # dimension-contrastive alone does not see this collapse
        assert abs(value(dimension_contrastive(z))) <= 1e-6


# ------------------------------------------------------------------------------------------------- property 8
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,expected", [(4, 8, -8.0), (8, 4, 2.0), (16, 16, 0.0), (3, 10, 10 - 100 / 3)])
def test_double_normalisation_constant(m, n, expected, dtype, rng):
    _, z = random_k(rng, m, n, dtype)
    zn = np.asarray(double_normalize(z, iterations=100))
    assert str(zn.dtype) == dtype
    np.testing.assert_allclose(np.linalg.norm(zn, axis=1), 1.0, rtol=rtol(dtype) * 10)
    np.testing.assert_allclose(np.linalg.norm(zn, axis=0), np.sqrt(n / m), rtol=rtol(dtype) * 10)
    gap = value(dimension_contrastive(zn)) - value(sample_contrastive(zn))
    assert expected == pytest.approx(n - n**2 / m)
    tol = 1e-3 * max(1.0, value(dimension_contrastive(zn))) if dtype == "float32" else 1e-10
    assert abs(gap - expected) <= tol
    if m != n:  # the paper's "N − M" does not hold
        assert abs(gap - (n - m)) > 1.0


# ------------------------------------------------------------------------------------------------- property 9
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", SHAPES)
def test_corollary_3_4_1_bounds(m, n, dtype, rng):
    slack = 1e-3 * n * n if dtype == "float32" else 1e-9
    # unit embeddings (columns of K): L_nc − N + N²/M ≤ L_c ≤ L_nc − N + N²
    _, z = random_k(rng, m, n, dtype)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    lc, lnc = value(sample_contrastive(z)), value(dimension_contrastive(z))
    assert lnc - n + n**2 / m - slack <= lc <= lnc - n + n**2 + slack
    # unit dimensions (rows of K): L_c − M + M²/N ≤ L_nc ≤ L_c − M + M²
    _, z = random_k(rng, m, n, dtype)
    z = z / np.linalg.norm(z, axis=0, keepdims=True)
    lc, lnc = value(sample_contrastive(z)), value(dimension_contrastive(z))
    slack = 1e-3 * m * m if dtype == "float32" else 1e-9
    assert lc - m + m**2 / n - slack <= lnc <= lc - m + m**2 + slack


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", [(3, 7), (7, 3), (4, 4)])
def test_lemma_3_4_bounds_tight(m, n, dtype):
    a = 1.5
    # every column (embedding) of norm a: (N²/M)a⁴ ≤ Σ_j‖K_j‖⁴ ≤ N²a⁴
    constant = np.full((n, m), a / np.sqrt(m), dtype=dtype)  # z = Kᵀ
    one_hot = np.zeros((n, m), dtype=dtype)
    one_hot[:, 0] = a
    close(dimension_norms4(constant), n**2 / m * a**4, dtype)
    close(dimension_norms4(one_hot), n**2 * a**4, dtype)
    # every row (dimension) of norm a: (M²/N)a⁴ ≤ Σ_i‖K_i‖⁴ ≤ M²a⁴
    constant = np.full((n, m), a / np.sqrt(n), dtype=dtype)
    one_hot = np.zeros((n, m), dtype=dtype)
    one_hot[0, :] = a
    close(sample_norms4(constant), m**2 / n * a**4, dtype)
    close(sample_norms4(one_hot), m**2 * a**4, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lemma_3_4_bounds_random(dtype, rng):
    m, n, a = 5, 12, 0.7
    z = rng.normal(size=(n, m)).astype(dtype)
    z = a * z / np.linalg.norm(z, axis=1, keepdims=True)
    s = value(dimension_norms4(z))
    assert n**2 / m * a**4 * (1 - rtol(dtype)) <= s <= n**2 * a**4 * (1 + rtol(dtype))
    assert s > n**2 / m * a**4 * 1.01  # strictly inside for a non-constant matrix


# ------------------------------------------------------------------------------------------------ property 10
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d", [(8, 4), (5, 9), (16, 16)])
def test_vicreg_covariance_is_lnc_of_centred(n, d, dtype, rng):
    z = (rng.normal(size=(n, d)) + 3.0).astype(dtype)  # non-zero mean: centring matters
    centred = z - z.mean(axis=0, keepdims=True)
    close(value(covariance_term(z)) * d * (n - 1) ** 2, value(dimension_contrastive(centred)), dtype)
    assert abs(value(dimension_contrastive(z)) - value(dimension_contrastive(centred))) > 1.0


# ------------------------------------------------------------------------------------------------ property 11
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", SHAPES)
def test_eq10_rewrite(m, n, dtype, rng):
    _, z = random_k(rng, m, n, dtype)
    lnc = value(dimension_contrastive(z))
    close(value(sample_contrastive(z)) + value(regularizer_lreg(z)), lnc, dtype, scale=value(sample_norms4(z)))
    # VICReg's covariance term in L_c form (Eq. 10): c(K) = L_c(K̄) + L_reg(K̄) on centred embeddings
    centred = z - z.mean(axis=0, keepdims=True)
    vic = value(covariance_term(z)) * m * (n - 1) ** 2
    close(value(sample_contrastive(centred)) + value(regularizer_lreg(centred)), vic, dtype,
          scale=value(sample_norms4(centred)))


def test_regularizer_hand_value():
    z = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # property 1's K, transposed
    assert value(regularizer_lreg(z)) == pytest.approx(8.0 - 6.0)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="batch-first"):
        sample_contrastive(np.ones(4))
    with pytest.raises(ValueError, match="batch-first"):
        regularizer_lreg(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="batch-first"):
        double_normalize(np.ones(3))
