"""Dimension-contrastive objectives, VICReg-exp/ctr, TCR and DISSL: part C properties 12-21 and 29-35 of
``objectives.md``, the TCR checks, and the Keras loss classes.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.objectives import split_views
from kspectral.objectives.barlow_twins import BarlowTwinsLoss, barlow_twins, cross_correlation
from kspectral.objectives.dissl import DISSLLoss, dissl
from kspectral.objectives.tcr import TCRLoss, coding_rate, tcr
from kspectral.objectives.vicreg import (
    VICRegCtrLoss,
    VICRegExpLoss,
    VICRegLoss,
    exp_covariance_term,
    invariance_term,
    variance_term,
    vicreg,
    vicreg_ctr,
    vicreg_exp,
)

DTYPES = ["float32", "float64"]
X = np.array([[1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [2.0, 5.0]])
Y = np.array([[1.0, 1.0], [2.0, 1.0], [0.0, 1.0], [3.0, 4.0]])


def value(x):
    return float(np.asarray(x))


def tol(dtype):
    return 1e-5 if dtype == "float32" else 1e-9


# ============================================================================================ VICReg (12-16)
@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_hand_computed(dtype):  # property 12
    x, y = X.astype(dtype), Y.astype(dtype)
    terms = vicreg(x, y, return_terms=True)
    assert value(terms["invariance"]) == pytest.approx(0.625, rel=tol(dtype))
    assert value(terms["variance"]) == pytest.approx(0.0, abs=tol(dtype))
    assert value(terms["covariance"]) == pytest.approx(3.25, rel=tol(dtype))
    assert value(vicreg(x, y)) == pytest.approx(18.875, rel=tol(dtype))
    assert str(np.asarray(vicreg(x, y)).dtype) == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_axis_batch(dtype):  # property 13
    x = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=dtype)
    expected = 25 * (1 - math.sqrt(2 / 3 + 1e-4))
    assert expected == pytest.approx(4.586055, abs=1e-6)
    assert value(vicreg(x, x)) == pytest.approx(expected, rel=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_whitened_views_zero(dtype):  # property 14
    x = 2.0 * np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=dtype)  # std 2.31 > 1, uncorrelated
    assert value(vicreg(x, x)) == pytest.approx(0.0, abs=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_collapse(dtype):  # property 15
    x = np.tile(np.array([[0.3, -1.0, 2.0]], dtype=dtype), (5, 1))
    terms = vicreg(x, x, return_terms=True)
    assert value(terms["variance"]) == pytest.approx(1 - math.sqrt(1e-4), rel=tol(dtype))
    assert value(terms["covariance"]) == pytest.approx(0.0, abs=tol(dtype))
    assert value(vicreg(x, x)) == pytest.approx(24.75, rel=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_shift_invariant_not_scale_invariant(dtype, rng):  # property 16
    x = rng.normal(size=(8, 5)).astype(dtype)
    y = (x + 0.3 * rng.normal(size=(8, 5))).astype(dtype)
    shift = rng.normal(size=(1, 5)).astype(dtype)
    base = value(vicreg(x, y))
    assert value(vicreg(x + shift, y + shift)) == pytest.approx(base, rel=1e-4)
    assert abs(value(vicreg(3 * x, 3 * y)) - base) > 0.1 * base


# ========================================================================================= c_exp (17-18)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature,expected", [(1.0, 1.0), (0.5, 2.0), (0.25, 4.0)])
def test_c_exp_two_dims(temperature, expected, dtype):  # property 17: C = [[5/3, 1], [1, 14/3]]
    x = X.astype(dtype)
    assert value(exp_covariance_term(x, temperature)) == pytest.approx(expected, rel=tol(dtype))
    assert str(np.asarray(exp_covariance_term(x, temperature)).dtype) == dtype


def _with_covariance(cov, n, rng):
    """An (n, d) batch whose unbiased covariance is exactly ``cov``."""
    d = cov.shape[0]
    w = rng.normal(size=(n, d))
    w -= w.mean(axis=0)
    w = w @ np.linalg.inv(np.linalg.cholesky(w.T @ w / (n - 1)).T)  # whitened: w̄ᵀw̄/(n−1) = I
    return w @ np.linalg.cholesky(cov).T + 5.0  # the mean is removed by the centring


def _c_exp_reference(cov, tau):
    d = cov.shape[0]
    logits = np.where(np.eye(d, dtype=bool), -np.inf, cov / tau)
    mx = logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(logits - mx).sum(axis=1)) + mx[:, 0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_c_exp_matches_reference_and_permutations(dtype, rng):  # property 18
    cov = np.array([[2.0, 0.5, -0.3, 0.1], [0.5, 1.0, 0.2, 0.0], [-0.3, 0.2, 1.5, 0.4], [0.1, 0.0, 0.4, 1.2]])
    z = _with_covariance(cov, 20, rng).astype(dtype)
    ref = _c_exp_reference(cov, 0.3)
    assert value(exp_covariance_term(z, 0.3)) == pytest.approx(ref, rel=1e-4 if dtype == "float32" else 1e-9)
    perm = rng.permutation(4)
    assert value(exp_covariance_term(z[:, perm], 0.3)) == pytest.approx(ref, rel=1e-4)
    assert value(exp_covariance_term(z[rng.permutation(20)], 0.3)) == pytest.approx(ref, rel=1e-4)


def test_c_exp_monotone_in_each_off_diagonal(rng):  # property 18
    base = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.5]])
    previous = None
    for c12 in (-0.6, -0.2, 0.2, 0.6):
        cov = base.copy()
        cov[0, 1] = cov[1, 0] = c12
        now = value(exp_covariance_term(_with_covariance(cov, 30, rng), 0.5))
        assert now == pytest.approx(_c_exp_reference(cov, 0.5), rel=1e-9)
        if previous is not None:
            assert now > previous + 1e-3
        previous = now


def test_c_exp_small_temperature_limit(rng):  # property 18: τ·c_exp → mean_i max_{j≠i} C_ij
    cov = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.5]])
    z = _with_covariance(cov, 30, rng)
    target = np.mean([0.5, 0.5, 0.2])
    for tau in (1e-2, 1e-3):
        scaled = tau * value(exp_covariance_term(z, tau))
        assert target - 1e-9 <= scaled <= target + tau * math.log(2) + 1e-9  # log-sum-exp bounds
    assert 1e-3 * value(exp_covariance_term(z, 1e-3)) == pytest.approx(target, abs=1e-6)


# ============================================================================== VICReg-exp / -ctr (19)
@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_ctr_literal_reading(dtype, rng):  # property 19
    x = rng.normal(size=(6, 9)).astype(dtype)
    y = (x + 0.2 * rng.normal(size=(6, 9))).astype(dtype)
    lam, mu, nu, tau = 3.0, 5.0, 2.0, 0.4
    manual = (
        lam * value(invariance_term(x, y))
        + mu * 0.5 * (value(variance_term(x.T)) + value(variance_term(y.T)))
        + nu * (value(exp_covariance_term(x.T, tau)) + value(exp_covariance_term(y.T, tau)))
    )
    got = value(vicreg_ctr(x, y, lam, mu, nu, tau))
    assert got == pytest.approx(manual, rel=tol(dtype))
    # Eq. 13 as printed: VICReg-exp of the transposes (the mean squared error is transpose-invariant)
    assert got == pytest.approx(value(vicreg_exp(x.T, y.T, lam, mu, nu, tau)), rel=tol(dtype))
    # the terms: d after the transpose is N, the normaliser D − 1, each embedding centred over its dims
    terms = vicreg_ctr(x, y, temperature=tau, return_terms=True)
    xc = x - x.mean(axis=1, keepdims=True)
    gram = xc @ xc.T / (x.shape[1] - 1)
    yc = y - y.mean(axis=1, keepdims=True)
    gram_y = yc @ yc.T / (y.shape[1] - 1)
    assert value(terms["covariance"]) == pytest.approx(
        _c_exp_reference(gram, tau) + _c_exp_reference(gram_y, tau), rel=1e-4 if dtype == "float32" else 1e-9
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_ctr_center_dimensions_option(dtype, rng):
    x = (rng.normal(size=(6, 9)) + rng.normal(size=(1, 9))).astype(dtype)
    y = (x + 0.2 * rng.normal(size=(6, 9))).astype(dtype)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    got = vicreg_ctr(x, y, center_dimensions=True, return_terms=True)
    ref = vicreg_ctr(xc, yc, return_terms=True)
    assert value(got["invariance"]) == pytest.approx(value(invariance_term(x, y)), rel=tol(dtype))
    for key in ("variance", "covariance"):
        assert value(got[key]) == pytest.approx(value(ref[key]), rel=1e-4)
    plain = vicreg_ctr(x, y, return_terms=True)
    assert value(plain["covariance"]) != pytest.approx(value(got["covariance"]), rel=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_exp_matches_vicreg_except_covariance(dtype, rng):
    x = rng.normal(size=(8, 5)).astype(dtype)
    y = (x + 0.3 * rng.normal(size=(8, 5))).astype(dtype)
    exp_terms = vicreg_exp(x, y, temperature=0.2, return_terms=True)
    vic_terms = vicreg(x, y, return_terms=True)
    for key in ("invariance", "variance"):
        assert value(exp_terms[key]) == pytest.approx(value(vic_terms[key]), rel=tol(dtype))
    cov = value(exp_covariance_term(x, 0.2)) + value(exp_covariance_term(y, 0.2))
    assert value(exp_terms["covariance"]) == pytest.approx(cov, rel=tol(dtype))
    total = 25 * value(vic_terms["invariance"]) + 25 * value(vic_terms["variance"]) + cov
    assert value(vicreg_exp(x, y, temperature=0.2)) == pytest.approx(total, rel=tol(dtype))
    # Eq. 12's invariance is a sum: λ_paper Σ‖K_i − K'_i‖² = (λ_paper · N · D) · mean((x − y)²)
    assert np.sum((x - y) ** 2) == pytest.approx(x.size * value(exp_terms["invariance"]), rel=1e-5)


def test_vicreg_exp_ctr_defaults_differ_only_where_documented():
    import inspect

    exp_defaults = {k: v.default for k, v in inspect.signature(vicreg_exp).parameters.items() if k not in "z_a z_b"}
    assert exp_defaults == dict(invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0,
                                temperature=0.1, epsilon=1e-4, return_terms=False)
    ctr = {k: v.default for k, v in inspect.signature(vicreg_ctr).parameters.items() if k not in "z_a z_b"}
    assert ctr == dict(invariance_weight=10.0, variance_weight=25.0, covariance_weight=1.0, temperature=0.1,
                       epsilon=1e-4, center_dimensions=False, return_terms=False)


# ======================================================================================= Barlow Twins (20-21)
@pytest.mark.parametrize("dtype", DTYPES)
def test_barlow_twins_hand_computed(dtype):  # property 20
    x = X.astype(dtype)
    rho = 0.75 / math.sqrt(1.25 * 3.5)
    assert rho == pytest.approx(0.358569, abs=1e-6)
    assert value(barlow_twins(x, x)) == pytest.approx(2 * 0.0051 * rho**2, rel=1e-4)
    assert value(barlow_twins(x, x)) == pytest.approx(0.0013114, abs=1e-7)
    assert str(np.asarray(barlow_twins(x, x)).dtype) == dtype
    c = np.asarray(cross_correlation(x, x))
    np.testing.assert_allclose(np.diag(c), [1.25 / (1.25 + 1e-5), 3.5 / (3.5 + 1e-5)], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_barlow_twins_decorrelated_identical_views(dtype):  # property 20
    x = 2.0 * np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=dtype)
    assert value(barlow_twins(x, x)) == pytest.approx(0.0, abs=1e-9)
    assert value(barlow_twins(x, x, epsilon=0.0)) == pytest.approx(0.0, abs=tol(dtype))
    terms = barlow_twins(x, -x, return_terms=True)  # anti-correlated views: c = −I
    assert value(terms["invariance"]) == pytest.approx(8.0, rel=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_barlow_twins_affine_invariance_and_symmetry(dtype, rng):  # property 21
    x = rng.normal(size=(10, 4)).astype(dtype)
    y = (x + 0.5 * rng.normal(size=(10, 4))).astype(dtype)
    base = value(barlow_twins(x, y))
    a = rng.uniform(0.5, 3.0, size=(1, 4)).astype(dtype)
    b = rng.normal(size=(1, 4)).astype(dtype)
    a2 = rng.uniform(0.5, 3.0, size=(1, 4)).astype(dtype)
    assert value(barlow_twins(a * x + b, a2 * y - b)) == pytest.approx(base, rel=1e-4)
    assert value(barlow_twins(a * x + b, a2 * y - b, epsilon=0.0)) == pytest.approx(
        value(barlow_twins(x, y, epsilon=0.0)), rel=1e-4 if dtype == "float32" else 1e-10
    )
    assert value(barlow_twins(y, x)) == pytest.approx(base, rel=tol(dtype))
    np.testing.assert_allclose(np.asarray(cross_correlation(y, x)), np.asarray(cross_correlation(x, y)).T,
                               rtol=1e-5, atol=1e-6)
    # a negative rescaling flips the sign of a row/column of c and changes L
    flip = np.array([[1.0, -1.0, 1.0, 1.0]], dtype=dtype)
    assert abs(value(barlow_twins(x * flip, y)) - base) > 0.1


# ================================================================================================= TCR
EPS2 = 0.2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", [(4, 4), (5, 12), (12, 5)])
def test_coding_rate_collapsed(n, m, dtype, rng):
    u = rng.normal(size=m)
    signs = np.where(np.arange(n) % 2, -1.0, 1.0)[:, None]
    z = (signs * np.tile(3.0 * u, (n, 1))).astype(dtype)  # collapse up to sign and scale
    expected = 0.5 * math.log(1 + m / EPS2)
    assert value(coding_rate(z, math.sqrt(EPS2))) == pytest.approx(expected, rel=1e-5 if dtype == "float32" else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", [(4, 4), (5, 12), (3, 8)])
def test_coding_rate_orthonormal(n, m, dtype, rng):  # N ≤ M: orthonormal embeddings
    q, _ = np.linalg.qr(rng.normal(size=(m, m)))
    z = q[:, :n].T.astype(dtype)
    expected = n / 2 * math.log(1 + m / (n * EPS2))
    assert value(coding_rate(z, math.sqrt(EPS2))) == pytest.approx(expected, rel=1e-5 if dtype == "float32" else 1e-10)
    assert value(coding_rate(np.eye(4, dtype=dtype), math.sqrt(EPS2))) == pytest.approx(2 * math.log(6), rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_coding_rate_tight_frame_and_extremes(dtype, rng):
    n, m = 12, 4  # N ≥ M: the maximum is a tight frame zᵀz = (N/M) I
    z = np.concatenate([np.eye(m)] * 3).astype(dtype)
    top = m / 2 * math.log(1 + 1 / EPS2)
    assert value(coding_rate(z, math.sqrt(EPS2))) == pytest.approx(top, rel=1e-5)
    bottom = 0.5 * math.log(1 + m / EPS2)
    for _ in range(20):  # random unit embeddings lie strictly between collapse and the tight frame
        r = value(coding_rate(rng.normal(size=(n, m)).astype(dtype), math.sqrt(EPS2)))
        assert bottom + 0.1 < r < top - 1e-3


@pytest.mark.parametrize("n,m", [(5, 12), (12, 5)])
def test_coding_rate_sylvester_and_reference(n, m, rng):
    z = rng.normal(size=(n, m))
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    ref = 0.5 * np.linalg.slogdet(np.eye(m) + m / (n * EPS2) * zn.T @ zn)[1]
    gram = 0.5 * np.linalg.slogdet(np.eye(n) + m / (n * EPS2) * zn @ zn.T)[1]
    assert ref == pytest.approx(gram, rel=1e-10)
    assert value(coding_rate(z, math.sqrt(EPS2))) == pytest.approx(ref, rel=1e-10)
    assert value(coding_rate(z, math.sqrt(EPS2), normalize=False)) == pytest.approx(
        0.5 * np.linalg.slogdet(np.eye(m) + m / (n * EPS2) * z.T @ z)[1], rel=1e-10
    )
    rot, _ = np.linalg.qr(rng.normal(size=(m, m)))  # rotation invariant
    assert value(coding_rate(z @ rot, math.sqrt(EPS2))) == pytest.approx(ref, rel=1e-9)


def test_coding_rate_gradient_ascent_spreads(rng):
    """Maximising R from a nearly collapsed start spreads the embeddings (RankMe-like effective rank grows)."""
    z = tf.Variable(np.tile(rng.normal(size=(1, 6)), (8, 1)) + 0.01 * rng.normal(size=(8, 6)))
    start = value(coding_rate(z))
    for _ in range(100):
        with tf.GradientTape() as tape:
            loss = -coding_rate(z)
        z.assign_sub(0.5 * tape.gradient(loss, z))
    assert value(coding_rate(z)) > start + 2.0
    s = np.linalg.svd(z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True), compute_uv=False)
    assert s[-1] / s[0] > 0.3  # close to a tight frame, not a line


@pytest.mark.parametrize("dtype", DTYPES)
def test_tcr_two_view_combination(dtype, rng):
    x = rng.normal(size=(6, 10)).astype(dtype)
    y = (x + 0.3 * rng.normal(size=(6, 10))).astype(dtype)
    terms = tcr(x, y, return_terms=True)
    rate = 0.5 * (value(coding_rate(x)) + value(coding_rate(y)))
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    inv = float(np.mean(1 - np.sum(xn * yn, axis=1)))
    assert value(terms["coding_rate"]) == pytest.approx(rate, rel=1e-5)
    assert value(terms["invariance"]) == pytest.approx(inv, rel=1e-4)
    assert value(tcr(x, y, invariance_weight=7.0)) == pytest.approx(7.0 * inv - rate, rel=1e-4)
    assert value(tcr(x, 2.0 * x)) == pytest.approx(-value(coding_rate(x)), rel=1e-5)  # scale-invariant views
    assert str(np.asarray(tcr(x, y)).dtype) == dtype


# ========================================================================================== DISSL (29-34)
T34 = np.array([[2, 0, 0], [0, 1, 0], [0, 0, 3], [1, 1, 0], [2, 0, 1], [0, 2, 0], [0, 0, 2], [1, 0, 0]], float)
S34 = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], float)
LAM, BETA = 2.3, 0.8


def _views(t, s, dtype="float64"):
    t, s = t.astype(dtype), s.astype(dtype)
    b = t.shape[0] // 2
    return t[:b], t[b:], s[:b], s[b:]


@pytest.mark.parametrize("dtype", DTYPES)
def test_dissl_hand_computed(dtype):  # property 34
    args = _views(T34, S34, dtype)
    terms = dissl(*args, return_terms=True)
    rel = 1e-5 if dtype == "float32" else 1e-6
    assert value(terms["distillation"]) == pytest.approx(0.812241, rel=rel)
    assert value(terms["marginal_entropy"]) == pytest.approx(1.086550, rel=rel)
    assert value(terms["invariance"]) == pytest.approx(0.570394, rel=rel)
    assert value(dissl(*args)) == pytest.approx(-1.230509, rel=rel)
    assert str(np.asarray(dissl(*args)).dtype) == dtype


def test_dissl_ideal_and_lower_bound(rng):  # property 29
    onehot = 40.0 * np.eye(3)[[0, 0, 1, 2]]  # deterministic, invariant, marginal (½, ¼, ¼)
    terms = dissl(onehot, onehot, onehot, onehot, return_terms=True)
    assert value(terms["distillation"]) == pytest.approx(0.0, abs=1e-9)
    assert value(terms["invariance"]) == pytest.approx(0.0, abs=1e-9)
    h = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert h == pytest.approx(1.039721, abs=1e-6)
    assert value(dissl(onehot, onehot, onehot, onehot)) == pytest.approx(-LAM * h, abs=1e-6)
    assert value(dissl(onehot, onehot, onehot, onehot)) == pytest.approx(-2.391358, abs=1e-6)
    for _ in range(20):  # L ≥ −λ log C
        logits = [3 * rng.normal(size=(5, 4)) for _ in range(4)]
        assert value(dissl(*logits)) >= -LAM * math.log(4) - 1e-9


def test_dissl_collapse_worse_than_ideal():  # property 30
    zeros = np.zeros((4, 3))
    uniform = value(dissl(zeros, zeros, zeros, zeros))
    assert uniform == pytest.approx((1 + BETA - LAM) * math.log(3), abs=1e-9)
    assert uniform == pytest.approx(-0.549306, abs=1e-6)
    one_hot = np.tile([30.0, 0.0, 0.0], (4, 1))
    collapsed = value(dissl(one_hot, one_hot, one_hot, one_hot))
    assert collapsed >= -1e-9
    ideal = -LAM * math.log(3)
    assert uniform > ideal and collapsed > ideal
    assert LAM >= 1 + BETA  # the code's theory note


def test_dissl_invariance_term_is_teacher_entropy(rng):  # property 31
    t = rng.normal(size=(6, 5))
    p = np.exp(t / 0.5) / np.exp(t / 0.5).sum(axis=1, keepdims=True)
    entropy = float(np.mean(-np.sum(p * np.log(p), axis=1)))
    s = rng.normal(size=(6, 5))
    assert value(dissl(t, t, s, s, return_terms=True)["invariance"]) == pytest.approx(entropy, rel=1e-9)
    hard = 40.0 * np.eye(5)[[0, 1, 2, 3, 4, 0]]
    assert value(dissl(hard, hard, s, s, return_terms=True)["invariance"]) == pytest.approx(0.0, abs=1e-9)
    swapped = hard[[1, 0, 2, 3, 4, 5]]  # deterministic but not invariant
    assert value(dissl(hard, swapped, s, s, return_terms=True)["invariance"]) > 10.0


def test_dissl_permutation_invariance(rng):  # property 32
    t_a, t_b, s_a, s_b = (rng.normal(size=(6, 5)) for _ in range(4))
    base = value(dissl(t_a, t_b, s_a, s_b))
    c = rng.permutation(5)
    assert value(dissl(t_a[:, c], t_b[:, c], s_a[:, c], s_b[:, c])) == pytest.approx(base, rel=1e-10)
    b = rng.permutation(6)
    assert value(dissl(t_a[b], t_b[b], s_a[b], s_b[b])) == pytest.approx(base, rel=1e-10)
    assert value(dissl(t_a[b], t_b, s_a, s_b)) != pytest.approx(base, rel=1e-3)  # pairs matter


def test_dissl_gradients_per_term(rng):  # property 33
    t_a, t_b, s_a, s_b = (tf.Variable(rng.normal(size=(6, 5)).astype("float32")) for _ in range(4))
    for key in ("distillation", "marginal_entropy", "invariance"):
        with tf.GradientTape() as tape:
            term = dissl(t_a, t_b, s_a, s_b, return_terms=True)[key]
        grads = tape.gradient(term, [t_a, t_b, s_a, s_b])
        teacher = [np.abs(g.numpy()).max() for g in grads[:2]]
        assert min(teacher) > 1e-4, key  # the teacher gets gradients from every term
        student = [0.0 if g is None else np.abs(g.numpy()).max() for g in grads[2:]]
        if key == "distillation":
            assert min(student) > 1e-4
        else:
            assert max(student) == 0.0, key  # the student only from CE_dist


def test_dissl_half_precision_logits(rng):  # property 33: fp16 logits are cast to float32
    logits = [tf.Variable(10 * rng.normal(size=(6, 5)).astype("float16")) for _ in range(4)]
    with tf.GradientTape() as tape:
        loss = dissl(*logits)
    assert str(loss.dtype.name) == "float32"
    assert np.isfinite(loss.numpy())
    for g in tape.gradient(loss, logits):
        assert np.all(np.isfinite(g.numpy()))


def test_dissl_loss_class_view_major(rng):
    t, s = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    expected = value(dissl(t[:4], t[4:], s[:4], s[4:]))
    assert value(DISSLLoss()(t, s)) == pytest.approx(expected, abs=1e-5)  # the class computes in float32
    assert value(DISSLLoss()(T34, S34)) == pytest.approx(-1.230509, rel=1e-5)
    a, b = split_views(t)
    np.testing.assert_array_equal(np.asarray(a), t[:4])
    np.testing.assert_array_equal(np.asarray(b), t[4:])
    with pytest.raises(ValueError, match="odd"):
        DISSLLoss()(t[:7], s[:7])


# ============================================================================================ property 35
def _two_view(fn):
    return lambda a, b: fn(a, b)


LOSSES = {
    "vicreg": _two_view(vicreg),
    "vicreg_exp": _two_view(vicreg_exp),
    "vicreg_ctr": _two_view(vicreg_ctr),
    "barlow_twins": _two_view(barlow_twins),
    "tcr": _two_view(tcr),
    # DISSL on 16 "classes": the two views' logits act as both teacher and student heads' outputs
    "dissl": lambda a, b: dissl(a, b, 0.5 * a + 0.1, 0.5 * b - 0.1),
}


def _inputs(kind, dtype, rng):
    if kind == "random":
        a = rng.normal(size=(8, 16))
        b = rng.normal(size=(8, 16))
    else:  # collapsed: every sample the same embedding (plus a negligible perturbation in the second view)
        u = rng.normal(size=(1, 16))
        a = np.tile(u, (8, 1))
        b = a + 1e-6 * rng.normal(size=(8, 16))
    return a.astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "collapsed"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_finite_values_and_gradients(name, kind, dtype, rng):  # property 35
    fn = LOSSES[name]
    a, b = _inputs(kind, dtype, rng)
    va, vb = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as tape:
        loss = fn(va, vb)
    assert tuple(loss.shape) == ()
    assert loss.dtype.name == dtype
    assert np.isfinite(loss.numpy())
    for g in tape.gradient(loss, [va, vb]):
        assert g is not None and np.all(np.isfinite(g.numpy()))
    assert value(fn(a, b)) == value(fn(a, b))  # deterministic
    a2, b2 = _inputs(kind, dtype, np.random.default_rng(0))
    a3, b3 = _inputs(kind, dtype, np.random.default_rng(0))
    assert value(fn(a2, b2)) == value(fn(a3, b3))  # same seed, same value


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_steps_lower_the_loss(name, rng):
    fn = LOSSES[name]
    a = tf.Variable(rng.normal(size=(8, 16)).astype("float32"))
    b = tf.Variable(rng.normal(size=(8, 16)).astype("float32"))
    optimizer = keras.optimizers.Adam(0.05)
    start = value(fn(a, b))
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = fn(a, b)
        optimizer.apply(tape.gradient(loss, [a, b]), [a, b])
    end = value(fn(a, b))
    assert end < start - 0.05 * abs(start), (start, end)


# ======================================================================================= loss classes
CLASSES = [
    (VICRegLoss(), vicreg),
    (VICRegExpLoss(), vicreg_exp),
    (VICRegExpLoss(invariance_weight=5.0, temperature=0.3), lambda a, b: vicreg_exp(a, b, 5.0, temperature=0.3)),
    (VICRegCtrLoss(), vicreg_ctr),
    (VICRegCtrLoss(temperature=0.2, center_dimensions=True),
     lambda a, b: vicreg_ctr(a, b, temperature=0.2, center_dimensions=True)),
    (BarlowTwinsLoss(), barlow_twins),
    (BarlowTwinsLoss(redundancy_weight=0.01), lambda a, b: barlow_twins(a, b, 0.01)),
    (TCRLoss(), tcr),
    (TCRLoss(epsilon=0.5, invariance_weight=3.0), lambda a, b: tcr(a, b, 0.5, 3.0)),
    (DISSLLoss(), lambda t, s: dissl(t[:4], t[4:], s[:4], s[4:])),
    (DISSLLoss(marginal_weight=1.8, invariance_weight=0.6, teacher_temperature=0.3),
     lambda t, s: dissl(t[:4], t[4:], s[:4], s[4:], 1.8, 0.6, 0.3)),
]


@pytest.mark.parametrize("loss,fn", CLASSES, ids=lambda x: type(x).__name__ if isinstance(x, keras.losses.Loss) else "")
def test_loss_class_round_trip(loss, fn, rng):
    a = rng.normal(size=(8, 6)).astype("float32")
    b = (a + 0.3 * rng.normal(size=(8, 6))).astype("float32")
    expected = value(fn(a, b))
    assert value(loss(a, b)) == pytest.approx(expected, rel=1e-5)
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert value(clone(a, b)) == pytest.approx(expected, rel=1e-5)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert value(restored(a, b)) == pytest.approx(expected, rel=1e-5)


# ============================================================================================ errors
@pytest.mark.parametrize(
    "fn",
    [barlow_twins, vicreg_exp, vicreg_ctr, tcr],
    ids=["barlow_twins", "vicreg_exp", "vicreg_ctr", "tcr"],
)
def test_two_view_errors(fn):
    with pytest.raises(ValueError, match="batch-first"):
        fn(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="same shape"):
        fn(np.ones((4, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="batch size 1"):
        fn(np.ones((1, 3)), np.ones((1, 3)))


def test_temperature_and_dimension_errors():
    x = np.ones((4, 3))
    for bad in (0.0, -1.0, float("nan"), "warm"):
        error = TypeError if isinstance(bad, str) else ValueError  # not a number / not a positive one
        with pytest.raises(error, match="temperature"):
            exp_covariance_term(x, bad)
        with pytest.raises(error, match="temperature"):
            vicreg_exp(x, x, temperature=bad)
        with pytest.raises(error, match="temperature"):
            vicreg_ctr(x, x, temperature=bad)
        with pytest.raises(error, match="temperature"):
            dissl(x, x, x, x, teacher_temperature=bad)
        with pytest.raises(error, match="temperature"):
            DISSLLoss(student_temperature=bad)
    with pytest.raises(ValueError, match="at least 2"):
        exp_covariance_term(np.ones((4, 1)))
    with pytest.raises(ValueError, match="at least 2"):
        vicreg_ctr(np.ones((4, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="epsilon"):
        coding_rate(x, epsilon=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        barlow_twins(x, x, epsilon=-1.0)


def test_dissl_shape_errors():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="same"):
        dissl(x, x, x, np.ones((4, 2)))
    with pytest.raises(ValueError, match="same"):
        dissl(x, np.ones((5, 3)), x, x)
    with pytest.raises(ValueError, match="2 classes"):
        dissl(*[np.ones((4, 1))] * 4)
    with pytest.raises(ValueError, match="batch-first"):
        dissl(np.ones(3), x, x, x)


# ======================================================================== training: no collapse (slow)
def _train(objective, seed=0, epochs=8, batch_size=64, learning_rate=3e-3):
    from kspectral.data import augmented_pairs, digits, digits_augmenter
    from kspectral.methods import SSLModel
    from kspectral.methods.diagnostics import embedding_std, rankme
    from kspectral.probes import linear_probe

    keras.utils.set_random_seed(seed)
    ds = digits()
    encoder = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(64),
    ])
    model = SSLModel(encoder, projector="256-256", objective=objective)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    pairs = augmented_pairs(ds.x_train, digits_augmenter(seed=seed), batch_size)
    history = model.fit(pairs, epochs=epochs, verbose=0)
    z = model.embed(ds.x_test[:256])
    return {
        "loss": history.history["loss"],
        "raw_std": float(np.mean(np.std(np.asarray(z), axis=0, ddof=1))),
        "rankme": value(rankme(z)),
        "std": value(embedding_std(z)),
        "probe": linear_probe(model.encode(ds.x_train), ds.y_train, model.encode(ds.x_test), ds.y_test,
                              max_iter=300),
    }


@pytest.mark.slow
@pytest.mark.parametrize("objective", [vicreg_exp, vicreg_ctr], ids=["vicreg_exp", "vicreg_ctr"])
def test_default_hyperparameters_do_not_collapse(objective):
    """VICReg-exp / VICReg-ctr with kspectral's defaults on digits: a 256-d embedding stays spread out.

    Collapsed embeddings would have a per-dimension std ≈ 0, embedding_std ≈ 0 and RankMe ≈ 1; 1/√256 = 0.0625
    is the embedding_std of embeddings spread uniformly on the sphere. Chance accuracy is 0.1. The invariance term
    alone shrinks the per-dimension std far below the 0.4 asserted here.
    """
    result = _train(objective)
    assert np.all(np.isfinite(result["loss"]))
    assert result["loss"][-1] < result["loss"][0]
    assert result["raw_std"] > 0.4
    assert result["std"] > 0.03
    assert result["rankme"] > 10.0
    assert result["probe"] > 0.85


# ============================================================================ return_terms and weight checks
WEIGHTED = {
    # name: (function, non-default weights, loss from the unweighted terms and those weights)
    "vicreg": (vicreg, dict(invariance_weight=3.0, variance_weight=5.0, covariance_weight=2.0),
               lambda t, w: 3.0 * t["invariance"] + 5.0 * t["variance"] + 2.0 * t["covariance"]),
    "vicreg_exp": (vicreg_exp, dict(invariance_weight=3.0, variance_weight=5.0, covariance_weight=2.0),
                   lambda t, w: 3.0 * t["invariance"] + 5.0 * t["variance"] + 2.0 * t["covariance"]),
    "vicreg_ctr": (vicreg_ctr, dict(invariance_weight=3.0, variance_weight=5.0, covariance_weight=2.0),
                   lambda t, w: 3.0 * t["invariance"] + 5.0 * t["variance"] + 2.0 * t["covariance"]),
    "barlow_twins": (barlow_twins, dict(redundancy_weight=0.3), lambda t, w: t["invariance"] + 0.3 * t["redundancy"]),
    "tcr": (tcr, dict(invariance_weight=7.0), lambda t, w: 7.0 * t["invariance"] - t["coding_rate"]),
}


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_return_terms_combine_to_the_loss(name, rng):
    fn, weights, combine = WEIGHTED[name]
    x = rng.normal(size=(8, 5))
    y = x + 0.3 * rng.normal(size=(8, 5))
    terms = {k: value(v) for k, v in fn(x, y, **weights, return_terms=True).items()}
    assert terms["loss"] == pytest.approx(value(fn(x, y, **weights)), rel=1e-12)
    assert combine(terms, weights) == pytest.approx(terms["loss"], rel=1e-12)


def test_dissl_return_terms_combine_to_the_loss(rng):
    t_a, t_b, s_a, s_b = (rng.normal(size=(6, 5)) for _ in range(4))
    terms = {k: value(v) for k, v in dissl(t_a, t_b, s_a, s_b, 1.5, 0.4, return_terms=True).items()}
    expected = terms["distillation"] - 1.5 * terms["marginal_entropy"] + 0.4 * terms["invariance"]
    assert terms["loss"] == pytest.approx(expected, rel=1e-12)
    assert terms["loss"] == pytest.approx(value(dissl(t_a, t_b, s_a, s_b, 1.5, 0.4)), rel=1e-12)


@pytest.mark.parametrize("fn,weight", [
    (vicreg, "invariance_weight"), (vicreg, "variance_weight"), (vicreg, "covariance_weight"),
    (vicreg_exp, "invariance_weight"), (vicreg_ctr, "covariance_weight"), (barlow_twins, "redundancy_weight"),
    (tcr, "invariance_weight"),
], ids=lambda x: getattr(x, "__name__", x))
def test_negative_weights_rejected(fn, weight):
    x = np.ones((4, 3)) + np.eye(4, 3)
    for bad in (-1.0, float("inf")):
        with pytest.raises(ValueError, match=weight):
            fn(x, x, **{weight: bad})
    with pytest.raises(ValueError, match="marginal_weight"):
        dissl(x, x, x, x, marginal_weight=-1.0)


def test_weights_may_be_tensors(rng):
    """A tensor weight (e.g. a schedule) passes through unchecked and gives the float weight's value."""
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    weight = tf.constant(3.0, dtype="float64")
    assert value(vicreg(x, y, invariance_weight=weight)) == pytest.approx(value(vicreg(x, y, invariance_weight=3.0)))


@pytest.mark.parametrize("loss,fn", CLASSES, ids=lambda x: type(x).__name__ if isinstance(x, keras.losses.Loss) else "")
def test_loss_class_keeps_the_input_dtype(loss, fn, rng):
    a = rng.normal(size=(8, 6))
    b = a + 0.3 * rng.normal(size=(8, 6))
    out = loss(a, b)
    assert out.dtype.name == "float64" and tuple(out.shape) == ()
    assert value(out) == pytest.approx(value(fn(a, b)), rel=1e-12)  # float64 all the way
    assert loss(a.astype("float32"), b.astype("float32")).dtype.name == "float32"
    with pytest.raises(ValueError, match="no sample_weight"):
        loss(a, b, sample_weight=np.ones(8))


def test_loss_class_rejects_bad_weights():
    with pytest.raises(ValueError, match="invariance_weight"):
        VICRegLoss(invariance_weight=-1.0)
    with pytest.raises(ValueError, match="redundancy_weight"):
        BarlowTwinsLoss(redundancy_weight=-0.1)
