"""Representation diagnostics (numpy side): hand-checkable values."""

import numpy as np
import pytest

from kspectral.spectral import (
    alignment,
    covariance_deviation,
    covariance_spectrum,
    effective_rank,
    numerical_rank,
    principal_angle_cosines,
    rankme,
    uniformity,
    within_class_std,
)


def test_effective_rank_and_rankme(rng):
    Q, _ = np.linalg.qr(rng.normal(size=(50, 4)))
    assert effective_rank(Q, center=False) == pytest.approx(4.0)  # 4 equal singular values
    assert rankme(Q) == pytest.approx(4.0, rel=1e-5)
    line = np.outer(rng.normal(size=50), rng.normal(size=4))
    assert effective_rank(line) == pytest.approx(1.0)
    assert numerical_rank(line) == 1 and numerical_rank(Q) == 4
    assert effective_rank(np.zeros((5, 3))) == 0.0


def test_covariance_spectrum_and_deviation(rng):
    Z = rng.normal(size=(2000, 3)) * [3.0, 2.0, 1.0]
    spec = covariance_spectrum(Z)
    assert spec == pytest.approx([9.0, 4.0, 1.0], rel=0.1)
    W = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True))).T
    assert covariance_deviation(W) == pytest.approx(0.0, abs=1e-9)


def test_alignment_and_uniformity(rng):
    Z = rng.normal(size=(100, 5))
    assert alignment(Z, 3 * Z) == pytest.approx(0.0, abs=1e-12)  # same directions
    assert alignment(Z, -Z) == pytest.approx(4.0)  # antipodal pairs
    assert uniformity(np.ones((10, 3))) == pytest.approx(0.0)  # collapsed
    spread = uniformity(rng.normal(size=(500, 8)))
    assert -4.0 < spread < -3.0  # for Gaussian directions in 8-D: log E exp(−2‖u−v‖²) ≈ −3.5
    with pytest.raises(ValueError, match="same shape"):
        alignment(Z, Z[:5])


def test_within_class_std(rng):
    y = np.repeat([0, 1, 2], 10)
    centers = rng.normal(size=(3, 4)) * 5
    assert within_class_std(centers[y], y) == pytest.approx(0.0, abs=1e-12)
    assert within_class_std(rng.normal(size=(30, 4)), y) == pytest.approx(1.0, abs=0.15)


def test_principal_angles_rotation(rng):
    A = rng.normal(size=(30, 3))
    R, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    np.testing.assert_allclose(principal_angle_cosines(A, A @ R), 1.0, atol=1e-12)
    B = rng.normal(size=(30, 3))
    assert principal_angle_cosines(A, B).min() < 0.9
