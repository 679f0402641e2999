"""Shared by the closed-form tests: L-BFGS from random starts and a finite-difference gradient check."""

import numpy as np
import pytest
import scipy.optimize as so


def lbfgs(fun, shape, seeds, *, maxiter=20000):
    """Minimise ``fun(Z) -> (value, grad)`` with L-BFGS from ``randn`` starts; return the values and minimisers."""
    out = []
    for seed in seeds:
        z0 = np.random.default_rng(seed).normal(size=shape)
        res = so.minimize(
            lambda z: (lambda v, g: (v, g.ravel()))(*fun(z.reshape(shape))), z0.ravel(), jac=True,
            method="L-BFGS-B", options={"maxiter": maxiter, "maxfun": 2 * maxiter, "gtol": 1e-12, "ftol": 1e-16},
        )
        out.append((float(res.fun), res.x.reshape(shape)))
    return out


def assert_gradient(fun, Z, rng, eps=1e-6):
    """Central finite differences of ``fun`` along random directions match its analytic gradient."""
    _, g = fun(Z)
    for _ in range(3):
        V = rng.normal(size=Z.shape)
        fd = (fun(Z + eps * V)[0] - fun(Z - eps * V)[0]) / (2 * eps)
        assert fd == pytest.approx(np.sum(g * V), rel=1e-5, abs=1e-7)
