"""Sample-contrastive objectives: SimCLR family, DCL family, spectral contrastive loss, CISSL.

Spec: ``objectives.md`` A2 rows 1-4 and 10, B2, part C properties 22-28 and 35. Tolerances as part C says:
1e-6 absolute in float64, 1e-3 relative in float32.
"""

from functools import partial

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from kspectral.objectives.cissl import CISSLLoss, cissl
from kspectral.objectives.simclr import DCLLoss, SimCLRLoss, dcl, simclr, simclr_official, standardize_dimensions
from kspectral.objectives.spectral_contrastive import SpectralContrastiveLoss, spectral_contrastive

DTYPES = ["float32", "float64"]

# the forms Garrido et al. (2023) name, as (function, negatives, dimensions)
simclr_abs = partial(simclr, negatives="abs")
simclr_sq = partial(simclr, negatives="sq")
simclr_centered = partial(simclr, dimensions="centered")
simclr_standardized = partial(simclr, dimensions="standardized")
dcl_abs = partial(dcl, negatives="abs")
dcl_sq = partial(dcl, negatives="sq")

# name -> (function, numpy-reference keyword arguments); all take (z_a, z_b, temperature)
NT_XENT = {
    "simclr": (simclr, dict(neg="plain", drop_pos=False, norm="cosine")),
    "simclr_abs": (simclr_abs, dict(neg="abs", drop_pos=False, norm="cosine")),
    "simclr_sq": (simclr_sq, dict(neg="sq", drop_pos=False, norm="cosine")),
    "dcl": (dcl, dict(neg="plain", drop_pos=True, norm="cosine")),
    "dcl_abs": (dcl_abs, dict(neg="abs", drop_pos=True, norm="cosine")),
    "dcl_sq": (dcl_sq, dict(neg="sq", drop_pos=True, norm="cosine")),
    "simclr_centered": (simclr_centered, dict(neg="plain", drop_pos=False, norm="centered")),
    "simclr_standardized": (simclr_standardized, dict(neg="plain", drop_pos=False, norm="standardized")),
}
COSINE = ["simclr", "simclr_abs", "simclr_sq", "dcl", "dcl_abs", "dcl_sq"]


def pair_losses():
    """Every two-view loss as ``name -> f(z_a, z_b)`` with a fixed hyper-parameter."""
    losses = {name: (lambda a, b, f=f: f(a, b, temperature=0.5)) for name, (f, _) in NT_XENT.items()}
    losses["spectral_contrastive"] = lambda a, b: spectral_contrastive(a, b, mu=1.0)
    return losses


PAIR = pair_losses()


def assert_close(value, expected, dtype):
    value = float(value)
    if dtype == "float64":
        assert value == pytest.approx(expected, abs=1e-6, rel=0)
    else:
        assert value == pytest.approx(expected, rel=1e-3, abs=1e-6)


def randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------------------------------------
# Independent numpy references (explicit loops, float64)


def _unit(z):
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-6)


def _standardize(z):
    c = z - z.mean(axis=0)
    c = c / np.maximum(np.linalg.norm(c, axis=0, keepdims=True), 1e-6)
    return c * np.sqrt(z.shape[0] / z.shape[1])


def np_nt_xent(za, zb, tau, neg="plain", drop_pos=False, norm="cosine"):
    za, zb = np.asarray(za, np.float64), np.asarray(zb, np.float64)
    if norm == "cosine":
        z = _unit(np.concatenate([za, zb]))
    elif norm == "centered":
        z = _unit(np.concatenate([za - za.mean(0), zb - zb.mean(0)]))
    else:
        z = np.concatenate([_standardize(za), _standardize(zb)])
    sim = z @ z.T
    n, b = len(z), len(za)
    losses = []
    for k in range(n):
        p = (k + b) % n
        terms = []
        for j in range(n):
            if j == k or (j == p and drop_pos):
                continue
            s = sim[k, j]
            if j != p:
                s = {"plain": s, "abs": abs(s), "sq": s * s}[neg]
            terms.append(s / tau)
        losses.append(-sim[k, p] / tau + logsumexp(terms))
    return float(np.mean(losses))


def np_cissl(sa, sb, ta, tb, tau):
    s = _unit(np.concatenate([sa, sb]).astype(np.float64))
    t = _unit(np.concatenate([ta, tb]).astype(np.float64))
    logits = s @ t.T / tau
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    n, b = len(s), len(sa)
    return float(np.mean([-0.5 * (logp[k, k] + logp[k, (k + b) % n]) for k in range(n)]))


def np_spectral(za, zb, mu, divide_by_mu=True):
    """The authors' ``D(z1, z2, mu)`` (``models/spectral.py``), written with explicit loops."""
    def project(z):
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return np.where(norms > np.sqrt(mu), z / norms * np.sqrt(mu), z)

    a, b = project(np.asarray(za, np.float64)), project(np.asarray(zb, np.float64))
    n = len(a)
    positive = np.mean([a[i] @ b[i] for i in range(n)])
    negative = np.mean([(a[i] @ b[j]) ** 2 for i in range(n) for j in range(n) if i != j])
    return (-2 * positive + negative) / (mu if divide_by_mu else 1.0)


# ----------------------------------------------------------------------------------------------------------
# Property 22: NT-Xent hand value and the official reduction


@pytest.mark.parametrize("dtype", DTYPES)
def test_nt_xent_identity_hand_value(dtype):
    eye = np.eye(2, dtype=dtype)
    expected = np.log(np.e**2 + 2) - 2  # 0.239545 per direction
    assert expected == pytest.approx(0.239545, abs=1e-6)
    assert_close(simclr(eye, eye, temperature=0.5), expected, dtype)
    assert_close(simclr_official(eye, eye, temperature=0.5), 2 * expected, dtype)
    assert_close(simclr_official(eye, eye, temperature=0.5), 0.479090, dtype)
    # orthogonal negatives: |s| = s² = s = 0, so the abs/sq variants agree here
    assert_close(simclr_abs(eye, eye, temperature=0.5), expected, dtype)
    assert_close(simclr_sq(eye, eye, temperature=0.5), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_official_reduction_is_twice_the_2b_mean(rng, dtype):
    za, zb = randn(rng, (6, 5), dtype), randn(rng, (6, 5), dtype)
    mean_form = float(simclr(za, zb, temperature=0.2))
    assert_close(simclr_official(za, zb, temperature=0.2), 2 * mean_form, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(NT_XENT))
def test_nt_xent_family_matches_numpy_reference(rng, dtype, name):
    fn, kwargs = NT_XENT[name]
    za, zb = randn(rng, (5, 4), dtype), randn(rng, (5, 4), dtype)
    for tau in (0.1, 0.5, 2.0):
        assert_close(fn(za, zb, temperature=tau), np_nt_xent(za, zb, tau, **kwargs), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_policy(dtype):
    eye = np.eye(2, dtype=dtype)
    for name, loss in PAIR.items():
        assert keras.backend.standardize_dtype(loss(eye, eye).dtype) == dtype, name
    assert keras.backend.standardize_dtype(cissl(eye, eye, eye, eye).dtype) == dtype
    half = np.eye(2, dtype="float16")
    for name, loss in PAIR.items():
        assert keras.backend.standardize_dtype(loss(half, half).dtype) == "float32", name


# ----------------------------------------------------------------------------------------------------------
# Property 23: scale invariance and guarded normalisation


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_invariance_per_embedding(rng, dtype):
    za, zb = randn(rng, (4, 3), dtype), randn(rng, (4, 3), dtype)
    ta, tb = randn(rng, (4, 3), dtype), randn(rng, (4, 3), dtype)
    ca, cb = rng.uniform(0.1, 10, (4, 1)).astype(dtype), rng.uniform(0.1, 10, (4, 1)).astype(dtype)
    for name in COSINE:
        fn = NT_XENT[name][0]
        assert_close(fn(ca * za, cb * zb, temperature=0.3), float(fn(za, zb, temperature=0.3)), dtype)
    assert_close(cissl(ca * za, cb * zb, cb * ta, ca * tb), float(cissl(za, zb, ta, tb)), dtype)
    # the centred / standardised variants are invariant to one global scale, not per embedding
    for name in ("simclr_centered", "simclr_standardized"):
        fn = NT_XENT[name][0]
        assert_close(fn(7.0 * za, 7.0 * zb, temperature=0.3), float(fn(za, zb, temperature=0.3)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_embedding_is_guarded(rng, dtype):
    za, zb = randn(rng, (4, 3), dtype), randn(rng, (4, 3), dtype)
    za[1] = 0.0
    # naive normalisation z / ‖z‖ is NaN there
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(za / np.linalg.norm(za, axis=1, keepdims=True)).any()
    for name in COSINE:
        fn, kwargs = NT_XENT[name]
        # a zero embedding has similarity 0 with everything
        assert_close(fn(za, zb, temperature=0.5), np_nt_xent(za, zb, 0.5, **kwargs), dtype)
        value, grads = value_and_grads(lambda a, b, fn=fn: fn(a, b, temperature=0.5), za, zb)
        assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads), name
    assert_close(cissl(za, zb, za, zb), np_cissl(za, zb, za, zb, 0.07), dtype)
    value, grads = value_and_grads(lambda a, b: cissl(a, b, a, b), za, zb)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads)


# ----------------------------------------------------------------------------------------------------------
# Property 24: permutation and view-swap invariance


@pytest.mark.parametrize("dtype", DTYPES)
def test_permutation_and_view_swap_invariance(rng, dtype):
    za, zb = randn(rng, (6, 4), dtype), randn(rng, (6, 4), dtype)
    perm = rng.permutation(6)
    for name, loss in PAIR.items():
        reference = float(loss(za, zb))
        assert_close(loss(za[perm], zb[perm]), reference, dtype)
        assert_close(loss(zb, za), reference, dtype)
    ta, tb = randn(rng, (6, 4), dtype), randn(rng, (6, 4), dtype)
    reference = float(cissl(za, zb, ta, tb))
    assert_close(cissl(za[perm], zb[perm], ta[perm], tb[perm]), reference, dtype)
    assert_close(cissl(zb, za, tb, ta), reference, dtype)


# ----------------------------------------------------------------------------------------------------------
# Property 25: lower bounds


@pytest.mark.parametrize("dtype", DTYPES)
def test_simclr_positive_and_vanishes_as_temperature_goes_to_zero(rng, dtype):
    for _ in range(3):
        za, zb = randn(rng, (5, 3), dtype), randn(rng, (5, 3), dtype)
        assert float(simclr(za, zb, temperature=0.5)) > 0
    eye = np.eye(2, dtype=dtype)  # aligned positives (s = 1), negatives at s = 0 < 1
    values = [float(simclr(eye, eye, temperature=t)) for t in (1.0, 0.5, 0.1, 0.01)]
    assert all(v1 > v2 for v1, v2 in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.0, abs=1e-6)
    assert_close(values[2], np.log(1 + 2 * np.exp(-10.0)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dcl_can_be_negative(dtype):
    eye = np.eye(2, dtype=dtype)
    assert_close(dcl(eye, eye, temperature=0.5), np.log(2) - 2, dtype)  # −1.306853
    assert float(dcl(eye, eye, temperature=0.5)) < 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_cissl_lower_bound_log2(rng, dtype):
    e = np.eye(2, dtype=dtype)  # E = [[1,0],[0,1],[1,0],[0,1]]
    expected = np.log(2 + 2 * np.exp(-1 / 0.07))
    assert expected == pytest.approx(0.693148, abs=1e-6)
    assert_close(cissl(e, e, e, e, temperature=0.07), expected, dtype)
    for _ in range(5):
        sa, sb, ta, tb = (randn(rng, (4, 3), dtype) for _ in range(4))
        assert float(cissl(sa, sb, ta, tb)) >= np.log(2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cissl_matches_numpy_reference(rng, dtype):
    sa, sb, ta, tb = (randn(rng, (5, 4), dtype) for _ in range(4))
    for tau in (0.07, 0.5):
        assert_close(cissl(sa, sb, ta, tb, temperature=tau), np_cissl(sa, sb, ta, tb, tau), dtype)


# ----------------------------------------------------------------------------------------------------------
# Property 26: CISSL vs SimCLR, gradients into both heads


@pytest.mark.parametrize("dtype", DTYPES)
def test_cissl_relation_to_simclr(rng, dtype):
    za, zb = randn(rng, (6, 4), dtype), randn(rng, (6, 4), dtype)
    # identity heads: the self column stays a positive, so CISSL differs from SimCLR
    assert abs(float(cissl(za, zb, za, zb, temperature=0.07)) - float(simclr(za, zb, temperature=0.07))) > 1e-2
    # pred = proj and self masked: the ISSL-repository SimCLR
    assert_close(
        cissl(za, zb, za, zb, temperature=0.07, self_positive=False), float(simclr(za, zb, temperature=0.07)), dtype
    )


def test_cissl_gradients_reach_both_heads(rng):
    sa, sb, ta, tb = (tf.Variable(randn(rng, (4, 3), "float32")) for _ in range(4))
    with tf.GradientTape() as tape:
        loss = cissl(sa, sb, ta, tb)
    grads = tape.gradient(loss, [sa, sb, ta, tb])
    for g in grads:
        assert g is not None and np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 1e-4


# ----------------------------------------------------------------------------------------------------------
# Property 27: collapse


@pytest.mark.parametrize("dtype", DTYPES)
def test_collapse_values(rng, dtype):
    batch = 4
    z = np.tile(randn(rng, (1, 5), dtype), (batch, 1))
    expected = {name: np.log(2 * batch - 1) for name in NT_XENT}  # SimCLR: log(2B − 1)
    expected.update(dcl=np.log(2 * batch - 2), dcl_abs=np.log(2 * batch - 2), dcl_sq=np.log(2 * batch - 2))
    for name, (fn, _) in NT_XENT.items():
        assert_close(fn(z, z, temperature=0.3), expected[name], dtype)
        value, grads = value_and_grads(lambda a, b, fn=fn: fn(a, b, temperature=0.3), z, z)
        assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads), name
    assert_close(cissl(z, z, z, z), np.log(2 * batch), dtype)  # CISSL: log(2B)
    value, grads = value_and_grads(lambda a, b: cissl(a, b, a, b), z, z)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads)
    unit = z / np.linalg.norm(z[0])
    assert_close(spectral_contrastive(unit, unit), -1.0, dtype)  # −2·1 + 1


# ----------------------------------------------------------------------------------------------------------
# Property 28: abs / sq variants ignore the sign of negative similarities


@pytest.mark.parametrize("dtype", DTYPES)
def test_abs_sq_sign_flip_invariance(rng, dtype):
    za, zb = randn(rng, (5, 3), dtype), randn(rng, (5, 3), dtype)
    # flipping both views of sample 2 flips the sign of all its negative similarities, keeps its positive
    fa, fb = za.copy(), zb.copy()
    fa[2] *= -1
    fb[2] *= -1
    for name in ("simclr_abs", "simclr_sq", "dcl_abs", "dcl_sq"):
        fn = NT_XENT[name][0]
        assert_close(fn(fa, fb, temperature=0.5), float(fn(za, zb, temperature=0.5)), dtype)
    for name in ("simclr", "dcl"):
        fn = NT_XENT[name][0]
        assert abs(float(fn(fa, fb, temperature=0.5)) - float(fn(za, zb, temperature=0.5))) > 1e-3


# ----------------------------------------------------------------------------------------------------------
# SimCLR "A" / "B": per-view centring and Eq. 14 standardisation


@pytest.mark.parametrize("dtype", DTYPES)
def test_standardize_dimensions_eq14(rng, dtype):
    z = randn(rng, (8, 3), dtype)
    out = standardize_dimensions(keras.ops.convert_to_tensor(z)).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), np.sqrt(8 / 3), rtol=1e-5)
    assert np.sum(out**2) == pytest.approx(8.0, rel=1e-5)  # unit squared norm on average


@pytest.mark.parametrize("dtype", DTYPES)
def test_centering_is_per_view(rng, dtype):
    za, zb = randn(rng, (5, 4), dtype), randn(rng, (5, 4), dtype)
    shift_a, shift_b = randn(rng, (1, 4), dtype) * 3, randn(rng, (1, 4), dtype) * 3
    for fn in (simclr_centered, simclr_standardized):
        reference = float(fn(za, zb, temperature=0.5))
        # a different constant per view cancels only with per-view centring
        assert_close(fn(za + shift_a, zb + shift_b, temperature=0.5), reference, dtype)
    # centring over the concatenated 2B batch would give another number
    pooled = np.concatenate([za, zb]).astype(np.float64)
    pooled = _unit(pooled - pooled.mean(0))
    pooled_value = np_nt_xent(pooled[:5], pooled[5:], 0.5)
    assert abs(float(simclr_centered(za, zb, temperature=0.5)) - pooled_value) > 1e-3
    # "B": a positive per-dimension rescaling of one view is undone by the standardisation
    scale = rng.uniform(0.2, 5.0, (1, 4)).astype(dtype)
    assert_close(
        simclr_standardized(za * scale, zb, temperature=0.5), float(simclr_standardized(za, zb, 0.5)), dtype
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_standardized_uses_dot_products_not_cosines(dtype):
    a = np.array([[2.0, 5.0], [0.0, 1.0]], dtype)  # standardised: ±[1, 1]/√2 (unit rows)
    assert_close(simclr_standardized(a, a, temperature=1.0), np.log(1 + 2 * np.exp(-2.0)), dtype)
    # rows of unequal norm: B differs from cosine-SimCLR on the standardised embeddings
    z = np.array([[3.0, 0.0], [0.0, 1.0], [-1.0, 1.0], [-2.0, -2.0]], dtype)
    standard = _standardize(z.astype(np.float64))
    assert_close(simclr_standardized(z, z, temperature=0.5), np_nt_xent(z, z, 0.5, norm="standardized"), dtype)
    assert abs(np_nt_xent(standard, standard, 0.5) - float(simclr_standardized(z, z, temperature=0.5))) > 1e-2


# ----------------------------------------------------------------------------------------------------------
# Spectral contrastive loss


@pytest.mark.parametrize("dtype", DTYPES)
def test_spectral_contrastive_hand_values(dtype):
    a = np.array([[1.0, 0.0], [0.0, 0.5]], dtype)  # inside the unit ball: not projected
    b = np.array([[0.6, 0.8], [0.0, 1.0]], dtype)
    # positives a0·b0 = 0.6, a1·b1 = 0.5; negatives (a_i, b_j), i ≠ j: a0·b1 = 0, a1·b0 = 0.4
    assert_close(spectral_contrastive(a, b), -2 * 0.55 + (0.0 + 0.16) / 2, dtype)  # −1.02
    # same-view pairs (a0·a1 = 0, b0·b1 = 0.8) are not negatives: the value above would change otherwise
    far = np.array([[3.0, 4.0], [0.0, 2.0]], dtype)  # norms 5 and 2
    # μ = 1: projected to [[0.6, 0.8], [0, 1]] = b; positives 1, 1; negatives 0.8, 0.8
    assert_close(spectral_contrastive(far, b, mu=1.0), -2 * 1.0 + 0.64, dtype)  # −1.36
    # μ = 4 (radius 2): [[1.2, 1.6], [0, 2]] (second row kept); positives 2, 2; negatives 1.6, 1.6
    assert_close(spectral_contrastive(far, b, mu=4.0, divide_by_mu=False), -2 * 2.0 + 2.56, dtype)  # −1.44
    assert_close(spectral_contrastive(far, b, mu=4.0), (-2 * 2.0 + 2.56) / 4.0, dtype)  # the authors' D(): −0.36


@pytest.mark.parametrize("dtype", DTYPES)
def test_spectral_contrastive_matches_numpy_reference(rng, dtype):
    za, zb = randn(rng, (5, 4), dtype) * 0.4, randn(rng, (5, 4), dtype) * 0.4  # some inside, some outside
    for mu in (0.5, 1.0, 3.0):
        assert_close(spectral_contrastive(za, zb, mu=mu), np_spectral(za, zb, mu), dtype)
        assert_close(spectral_contrastive(za, zb, mu=mu, divide_by_mu=False),
                     np_spectral(za, zb, mu, divide_by_mu=False), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_spectral_contrastive_undivided_form_is_mu_times_the_default(rng, dtype):
    za, zb = randn(rng, (6, 4), dtype), randn(rng, (6, 4), dtype)
    for mu in (0.3, 1.0, 5.0):
        default = float(spectral_contrastive(za, zb, mu=mu))
        assert_close(spectral_contrastive(za, zb, mu=mu, divide_by_mu=False), mu * default, dtype)


def np_dcl_reference(za, zb, tau):
    """The DCL reference implementation's value: ``loss(z1, z2) + loss(z2, z1)``, each a mean over B rows of
    ``−s(z1_i, z2_i)/τ + log Σ_{j≠i} [exp(s(z1_i, z1_j)/τ) + exp(s(z1_i, z2_j)/τ)]``."""

    def direction(z1, z2):
        z1, z2 = _unit(np.asarray(z1, np.float64)), _unit(np.asarray(z2, np.float64))
        b = len(z1)
        rows = []
        for i in range(b):
            negatives = [z1[i] @ z1[j] / tau for j in range(b) if j != i]
            negatives += [z1[i] @ z2[j] / tau for j in range(b) if j != i]
            rows.append(-(z1[i] @ z2[i]) / tau + logsumexp(negatives))
        return np.mean(rows)

    return direction(za, zb) + direction(zb, za)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dcl_is_half_the_reference_two_direction_sum(rng, dtype):
    za, zb = randn(rng, (6, 5), dtype), randn(rng, (6, 5), dtype)
    for tau in (0.1, 0.5):
        assert_close(2 * float(dcl(za, zb, temperature=tau)), np_dcl_reference(za, zb, tau), dtype)


# ----------------------------------------------------------------------------------------------------------
# Property 35: finite values and gradients, determinism


def value_and_grads(fn, *arrays):
    variables = [tf.Variable(x) for x in arrays]
    with tf.GradientTape() as tape:
        value = fn(*variables)
    grads = tape.gradient(value, variables)
    return float(value), [g.numpy() for g in grads]


def all_losses():
    losses = dict(PAIR)
    losses["cissl"] = lambda a, b: cissl(a, b, b[::-1], a[::-1])
    losses["simclr_official"] = lambda a, b: simclr_official(a, b, temperature=0.5)
    return losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(all_losses()))
def test_finite_values_gradients_and_determinism(dtype, name):
    loss = all_losses()[name]
    rng = np.random.default_rng(123)
    za, zb = randn(rng, (8, 16), dtype), randn(rng, (8, 16), dtype)
    collapsed = np.ones((8, 16), dtype)
    for a, b in ((za, zb), (collapsed, collapsed + 1e-6), (np.zeros_like(za), np.zeros_like(zb))):
        value, grads = value_and_grads(loss, a, b)
        assert np.isfinite(value), name
        assert all(np.isfinite(g).all() for g in grads), name
    again = np.random.default_rng(123)
    za2, zb2 = randn(again, (8, 16), dtype), randn(again, (8, 16), dtype)
    assert float(loss(za, zb)) == float(loss(za2, zb2))


# ----------------------------------------------------------------------------------------------------------
# Gradient descent lowers each loss


@pytest.mark.parametrize("name", sorted(all_losses()))
def test_gradient_descent_lowers_loss(name):
    loss = all_losses()[name]
    rng = np.random.default_rng(7)
    variables = [tf.Variable(randn(rng, (4, 3), "float32") * 0.5) for _ in range(2)]
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    values = []
    for _ in range(20):
        with tf.GradientTape() as tape:
            value = loss(*variables)
        values.append(float(value))
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
    assert values[-1] < values[0] - 1e-3, (name, values[0], values[-1])


def test_gradient_descent_lowers_cissl_with_separate_heads():
    rng = np.random.default_rng(3)
    variables = [tf.Variable(randn(rng, (4, 3), "float32")) for _ in range(4)]
    optimizer = keras.optimizers.SGD(learning_rate=0.01)
    values = []
    for _ in range(20):
        with tf.GradientTape() as tape:
            value = cissl(*variables, temperature=0.5)
        values.append(float(value))
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
    assert values[-1] < values[0] - 1e-3


# ----------------------------------------------------------------------------------------------------------
# Input validation


@pytest.mark.parametrize("name", sorted(PAIR))
def test_pair_losses_reject_bad_inputs(name):
    loss = PAIR[name]
    good = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="batch-first"):
        loss(np.ones(4, "float32"), np.ones(4, "float32"))
    with pytest.raises(ValueError, match="batch-first"):
        loss(np.ones((4, 3, 2), "float32"), np.ones((4, 3, 2), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        loss(good, np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match="batch size 1"):
        loss(np.ones((1, 3), "float32"), np.ones((1, 3), "float32"))


@pytest.mark.parametrize("fn", [f for f, _ in NT_XENT.values()] + [simclr_official])
@pytest.mark.parametrize("temperature", [0.0, -0.1])
def test_non_positive_temperature_rejected(fn, temperature):
    good = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="temperature"):
        fn(good, good, temperature=temperature)


def test_other_validation_errors():
    good = np.ones((4, 3), "float32")
    for mu in (0.0, -1.0):
        with pytest.raises(ValueError, match="mu"):
            spectral_contrastive(good, good, mu=mu)
    with pytest.raises(ValueError, match="temperature"):
        cissl(good, good, good, good, temperature=0.0)
    with pytest.raises(ValueError, match="student and teacher"):
        cissl(good, good, np.ones((4, 2), "float32"), np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        cissl(good, np.ones((3, 3), "float32"), good, good)
    with pytest.raises(ValueError, match="batch size 1"):
        cissl(*(np.ones((1, 3), "float32"),) * 4)
    with pytest.raises(ValueError, match="view-major"):
        CISSLLoss()(np.ones((5, 3), "float32"), np.ones((5, 3), "float32"))
    with pytest.raises(ValueError, match="negatives"):
        SimCLRLoss(negatives="cube")
    with pytest.raises(ValueError, match="negatives"):
        DCLLoss(negatives="centered")
    with pytest.raises(ValueError, match="dimensions"):
        simclr(good, good, dimensions="whitened")
    # the abs / sq negatives are defined on cosine similarities only
    for fn in (simclr, dcl):
        with pytest.raises(ValueError, match="combines only with dimensions='raw'"):
            fn(good, good, negatives="abs", dimensions="centered")
    for cls in (SimCLRLoss, DCLLoss):
        with pytest.raises(ValueError, match="combines only with dimensions='raw'"):
            cls(negatives="sq", dimensions="standardized")
    with pytest.raises(ValueError, match="temperature"):
        SimCLRLoss(temperature=-1.0)


# ----------------------------------------------------------------------------------------------------------
# Keras loss classes: serialization and agreement with the functions


LOSS_CASES = [
    (SimCLRLoss(temperature=0.3), lambda a, b: simclr(a, b, temperature=0.3)),
    (SimCLRLoss(temperature=0.3, negatives="abs"), lambda a, b: simclr_abs(a, b, temperature=0.3)),
    (SimCLRLoss(temperature=0.3, negatives="sq"), lambda a, b: simclr_sq(a, b, temperature=0.3)),
    (SimCLRLoss(temperature=0.3, dimensions="centered"), lambda a, b: simclr_centered(a, b, temperature=0.3)),
    (SimCLRLoss(temperature=0.3, dimensions="standardized"), lambda a, b: simclr_standardized(a, b, 0.3)),
    (DCLLoss(temperature=0.3), lambda a, b: dcl(a, b, temperature=0.3)),
    (DCLLoss(temperature=0.3, negatives="abs"), lambda a, b: dcl_abs(a, b, temperature=0.3)),
    (DCLLoss(temperature=0.3, negatives="sq"), lambda a, b: dcl_sq(a, b, temperature=0.3)),
    (SpectralContrastiveLoss(mu=2.0), lambda a, b: spectral_contrastive(a, b, mu=2.0)),
    (SpectralContrastiveLoss(mu=2.0, divide_by_mu=False),
     lambda a, b: spectral_contrastive(a, b, mu=2.0, divide_by_mu=False)),
]


@pytest.mark.parametrize("case", range(len(LOSS_CASES)))
def test_loss_classes_roundtrip_and_match_functions(rng, case):
    loss, fn = LOSS_CASES[case]
    za, zb = randn(rng, (6, 4), "float32"), randn(rng, (6, 4), "float32")
    expected = float(fn(za, zb))
    clones = [
        type(loss).from_config(loss.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss)),
    ]
    for clone in [loss] + clones:
        assert type(clone) is type(loss)
        assert clone.get_config() == loss.get_config()
        assert float(clone(za, zb)) == pytest.approx(expected, rel=1e-6)


def test_cissl_loss_class(rng):
    sa, sb, ta, tb = (randn(rng, (5, 4), "float32") for _ in range(4))
    expected = float(cissl(sa, sb, ta, tb, temperature=0.1))
    teacher, student = np.concatenate([ta, tb]), np.concatenate([sa, sb])
    loss = CISSLLoss(temperature=0.1)
    clones = [
        CISSLLoss.from_config(loss.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss)),
    ]
    for clone in [loss] + clones:
        assert isinstance(clone, CISSLLoss) and clone.temperature == 0.1
        assert float(clone(teacher, student)) == pytest.approx(expected, rel=1e-6)
    # (y_true, y_pred) = (teacher, student): swapping the heads changes the value
    assert abs(float(loss(student, teacher)) - expected) > 1e-3
    assert_close(expected, np_cissl(sa, sb, ta, tb, 0.1), "float32")


# ----------------------------------------------------------------------------------------------------------
# return_terms: the terms add up to the loss

TERM_CASES = {
    "simclr": lambda a, b, **kw: simclr(a, b, temperature=0.3, **kw),
    "simclr_sq": lambda a, b, **kw: simclr(a, b, temperature=0.3, negatives="sq", **kw),
    "simclr_standardized": lambda a, b, **kw: simclr(a, b, temperature=0.3, dimensions="standardized", **kw),
    "dcl": lambda a, b, **kw: dcl(a, b, temperature=0.3, **kw),
    "dcl_abs": lambda a, b, **kw: dcl(a, b, temperature=0.3, negatives="abs", **kw),
    "spectral_contrastive": lambda a, b, **kw: spectral_contrastive(a, b, mu=2.0, **kw),
    "spectral_contrastive_undivided": lambda a, b, **kw: spectral_contrastive(a, b, mu=2.0, divide_by_mu=False, **kw),
}


@pytest.mark.parametrize("name", sorted(TERM_CASES))
def test_return_terms_add_up_to_the_loss(rng, name):
    fn = TERM_CASES[name]
    za, zb = randn(rng, (6, 4), "float64"), randn(rng, (6, 4), "float64")
    terms = fn(za, zb, return_terms=True)
    assert set(terms) == {"loss", "attraction", "repulsion"}
    assert float(terms["loss"]) == pytest.approx(float(fn(za, zb)), abs=1e-12)
    assert float(terms["attraction"]) + float(terms["repulsion"]) == pytest.approx(float(terms["loss"]), abs=1e-12)
    if name.startswith(("simclr", "dcl")) and name != "simclr_standardized":  # cosine forms: −mean_i cos(a_i, b_i)/τ
        cos = np.sum(_unit(za) * _unit(zb), axis=1)
        assert float(terms["attraction"]) == pytest.approx(-np.mean(cos) / 0.3, abs=1e-12)


def test_cissl_return_terms(rng):
    sa, sb, ta, tb = (randn(rng, (5, 4), "float64") for _ in range(4))
    assert float(cissl(sa, sb, ta, tb, return_terms=True)["loss"]) == float(cissl(sa, sb, ta, tb))


# ----------------------------------------------------------------------------------------------------------
# Keras loss classes: one scalar per batch, the inputs' dtype


@pytest.mark.parametrize("case", range(len(LOSS_CASES)))
def test_loss_classes_keep_the_input_dtype(rng, case):
    loss, fn = LOSS_CASES[case]
    za, zb = randn(rng, (6, 4), "float64"), randn(rng, (6, 4), "float64")
    value = loss(za, zb)
    assert keras.backend.standardize_dtype(value.dtype) == "float64" and tuple(value.shape) == ()
    assert float(value) == pytest.approx(float(fn(za, zb)), abs=1e-12)  # computed in float64, not float32
    value32 = loss(za.astype("float32"), zb.astype("float32"))
    assert keras.backend.standardize_dtype(value32.dtype) == "float32"
    forced = type(loss).from_config({**loss.get_config(), "dtype": "float64"})
    assert keras.backend.standardize_dtype(forced(za.astype("float32"), zb.astype("float32")).dtype) == "float64"
    with pytest.raises(ValueError, match="no sample_weight"):
        loss(za, zb, sample_weight=np.ones(6))
    assert "reduction" not in loss.get_config()
