"""An MNIST-1D-style synthetic data set: a harder, still CPU-sized stand-in for digits (issue 10 follow-up).

After Greydanus 2020, "Scaling down deep learning" (arXiv:2011.14439, Sec. 2): ten fixed 1-D class templates, each
sample a randomly transformed copy of its class's template, on a 40-point canvas. Written from the description, not
from the authors' code. Two levels of randomness are kept apart so that positive pairs form an augmentation graph
without labels:

- **Identity** (one per sample, fixed): class ``c`` (balanced), the template ``T_c`` — a smooth shape, a cubic
  spline through ``N_CONTROL`` seeded control values that start and end at 0, fixed by ``TEMPLATE_SEED`` whatever
  the ``seed`` — with a random amplitude ``a ~ U(AMPLITUDE)``, a random stretch of its support width
  ``W = SUPPORT·s``, ``s ~ U(STRETCH)``, a random shear of its time axis ``u ↦ u + k·u(1−u)``, ``k ~ U(±SHEAR)``, and
  a small smooth shape perturbation (a spline through ``N_CONTROL`` values of std ``SHAPE_NOISE``, 0 at the ends):
  ``f(x) = a·[T_c(warp(x/W)) + δ(x/W)]`` for ``0 ≤ x < W``, 0 elsewhere on the canvas.
- **View** (drawn anew for each view): a circular shift of the canvas by ``o ~ U{0, …, MAX_SHIFT}`` (the random
  padding position), correlated noise (white noise smoothed by a Gaussian of ``CORRELATION_LENGTH`` points, rescaled
  to std ``CORRELATED_NOISE``) and iid Gaussian noise of std ``IID_NOISE``.

Positive pairs are two independent views of one identity (:func:`view_pair_batches`); the probe data set is one view
per identity (:func:`mnist1d` with ``views=1``). The constants below were chosen once, before any SSL run, from the
raw-feature probe accuracies only (target: a raw linear probe well below ceiling, roughly 0.4–0.7), among three
settings of (MAX_SHIFT, CORRELATED_NOISE, IID_NOISE) tried in that order on 4000/4000 samples, seed 0 — (15, 0.3,
0.3): raw linear 0.244, raw MLP 0.358; (8, 0.2, 0.2): 0.413, 0.659 (kept); (10, 0.25, 0.25): 0.324, 0.512. They are
recorded in every results file (:data:`CONSTANTS`).
"""

from __future__ import annotations

import numpy as np

LENGTH = 40
N_CLASSES = 10
N_CONTROL = 8
TEMPLATE_SEED = 20201130
SUPPORT = 24.0
AMPLITUDE = (0.8, 1.2)
STRETCH = (0.8, 1.2)
SHEAR = 0.5
SHAPE_NOISE = 0.15
MAX_SHIFT = 8
CORRELATION_LENGTH = 3.0
CORRELATED_NOISE = 0.2
IID_NOISE = 0.2
_SPLITS = {"train": 0, "test": 1}
CONSTANTS = {"length": LENGTH, "n_classes": N_CLASSES, "n_control": N_CONTROL, "template_seed": TEMPLATE_SEED,
             "support": SUPPORT, "amplitude": AMPLITUDE, "stretch": STRETCH, "shear": SHEAR,
             "shape_noise": SHAPE_NOISE, "max_shift": MAX_SHIFT, "correlation_length": CORRELATION_LENGTH,
             "correlated_noise": CORRELATED_NOISE, "iid_noise": IID_NOISE}


def _splines(values, u):
    """Natural cubic splines through ``values[k]`` at ``N_CONTROL`` equispaced knots of [0, 1], at points ``u[k]``."""
    from scipy.interpolate import CubicSpline

    knots = np.linspace(0.0, 1.0, values.shape[1])
    basis = CubicSpline(knots, np.eye(values.shape[1]), bc_type="natural")(np.clip(u, 0.0, 1.0))  # (..., K)
    return np.einsum("nlk,nk->nl", basis, values)


def templates(resolution=200):
    """The ten class templates sampled at ``resolution`` points of [0, 1], each scaled to max |T| = 1 (fixed)."""
    rng = np.random.default_rng(TEMPLATE_SEED)
    control = rng.normal(size=(N_CLASSES, N_CONTROL))
    control[:, 0] = control[:, -1] = 0.0
    t = _splines(control, np.tile(np.linspace(0, 1, resolution), (N_CLASSES, 1)))
    return t / np.abs(t).max(axis=1, keepdims=True)


def identities(n, seed, split="train"):
    """``n`` identity signals on the un-shifted canvas, ``(n, LENGTH)`` float64, and their balanced labels."""
    rng = np.random.default_rng([seed, _SPLITS[split], 0])
    labels = rng.permutation(np.arange(n) % N_CLASSES)
    rng_t = np.random.default_rng(TEMPLATE_SEED)
    control = rng_t.normal(size=(N_CLASSES, N_CONTROL))
    control[:, 0] = control[:, -1] = 0.0
    scale = 1.0 / np.abs(_splines(control, np.tile(np.linspace(0, 1, 200), (N_CLASSES, 1)))).max(axis=1)
    amplitude = rng.uniform(*AMPLITUDE, size=n)
    width = SUPPORT * rng.uniform(*STRETCH, size=n)
    shear = rng.uniform(-SHEAR, SHEAR, size=n)
    perturbation = rng.normal(scale=SHAPE_NOISE, size=(n, N_CONTROL))
    perturbation[:, 0] = perturbation[:, -1] = 0.0
    x = np.arange(LENGTH, dtype=np.float64)
    u = x[None, :] / width[:, None]  # position along the support, (n, LENGTH)
    inside = u < 1.0
    warped = u + shear[:, None] * u * (1.0 - u)  # monotone for |k| < 1, fixes 0 and 1
    shape = _splines(control[labels], warped) * scale[labels, None] + _splines(perturbation, u)
    return amplitude[:, None] * shape * inside, labels


def views_of(signals, rng, views=1):
    """``views`` independent view transforms of ``signals`` ``(n, LENGTH)``: ``(views, n, LENGTH)`` float32."""
    from scipy.ndimage import gaussian_filter1d

    n = signals.shape[0]
    shift = rng.integers(0, MAX_SHIFT + 1, size=(views, n))
    idx = (np.arange(LENGTH)[None, None, :] - shift[..., None]) % LENGTH  # circular shift right by `shift`
    out = np.take_along_axis(np.broadcast_to(signals, (views, n, LENGTH)), idx, axis=2)
    smooth = gaussian_filter1d(rng.normal(size=(views, n, LENGTH)), CORRELATION_LENGTH, axis=2, mode="wrap")
    smooth /= smooth.std(axis=2, keepdims=True)
    out = out + CORRELATED_NOISE * smooth + IID_NOISE * rng.normal(size=(views, n, LENGTH))
    return out.astype(np.float32)


def mnist1d(n, seed, views=1, split="train"):
    """``n`` samples of the MNIST-1D-style data set: ``X`` ``(n, LENGTH)`` (``views=1``) or ``(views, n, LENGTH)``
    (independent views of the SAME identities), float32, and int64 labels ``(n,)`` (balanced over 10 classes).

    Deterministic in ``(n, seed, views, split)``; ``split`` ("train"/"test") selects an independent identity stream.
    """
    signals, labels = identities(n, seed, split)
    x = views_of(signals, np.random.default_rng([seed, _SPLITS[split], 1]), views)
    return (x[0] if views == 1 else x), labels.astype(np.int64)


def view_pair_batches(n, seed, steps, batch, stream_seed, split="train"):
    """Training pairs for ``steps`` steps: ``(A, B)`` each ``(steps, batch, LENGTH)``; ``A[t, j]`` and ``B[t, j]`` are
    two fresh independent views of the same identity of :func:`mnist1d` ``(n, seed, split=split)``. Identities are
    visited in reshuffled passes (like ``kspectral.data.augmented_pairs``); ``stream_seed`` fixes order and views."""
    signals, _ = identities(n, seed, split)
    rng = np.random.default_rng([stream_seed, 7])
    per_pass = n // batch
    passes = -(-steps // per_pass)
    order = np.concatenate([rng.permutation(n)[: per_pass * batch] for _ in range(passes)])[: steps * batch]
    pairs = views_of(signals[order], rng, views=2)
    return pairs[0].reshape(steps, batch, LENGTH), pairs[1].reshape(steps, batch, LENGTH)


class Split:
    """A train/test split of :func:`mnist1d` with the attribute names of ``kspectral.data.digits`` results."""

    def __init__(self, n_train, n_test, seed):
        self.seed, self.n_train = seed, n_train
        self.x_train, self.y_train = mnist1d(n_train, seed, split="train")
        self.x_test, self.y_test = mnist1d(n_test, seed, split="test")

    def pairs_dataset(self, steps, batch, stream_seed):
        """``tf.data.Dataset`` of ``steps`` batches ``(view_a, view_b)`` of fresh views of the train identities."""
        import tensorflow as tf

        a, b = view_pair_batches(self.n_train, self.seed, steps, batch, stream_seed)
        return tf.data.Dataset.from_tensor_slices((a, b)).prefetch(2)
