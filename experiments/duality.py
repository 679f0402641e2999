"""Duality of contrastive and non-contrastive SSL (issue 10, item 4; claims C6, C7).

Claims (Garrido, Chen, Bardes, Najman & LeCun 2023, "On the duality between contrastive and non-contrastive
self-supervised learning", ICLR 2023, arXiv:2206.02574; ``docs/spec/objectives.md`` Part A):

- **C6.** With ``K ∈ R^{M×N}`` the embedding matrix (columns = samples), the sample-contrastive criterion
  ``L_c = ‖KᵀK − diag(KᵀK)‖_F²`` and the dimension-contrastive ``L_nc = ‖KKᵀ − diag(KKᵀ)‖_F²`` (Def. 3.2) satisfy
  ``L_nc + Σ_j‖K[j,:]‖⁴ = L_c + Σ_i‖K[:,i]‖⁴`` for every K (Theorem 3.3); contrastive methods (SimCLR, DCL, spectral
  contrastive) minimise L_c, non-contrastive ones (VICReg, Barlow Twins) L_nc (Prop. 3.2), and since the two differ
  only by row/column norms, training one criterion drives the other down too.
- **C7.** At equal budget and with tuning, SimCLR matches VICReg (68.6 vs 68.1 % on ImageNet, §4.1); VICReg-exp ≈
  VICReg (68.00 vs 68.13, Eq. 11-12) and VICReg-ctr ≈ SimCLR (67.92 vs 66.33 untuned SimCLR, Eq. 13).

Protocol (fixed before running):

- Data: scikit-learn digits (``kspectral.data.digits(seed=0)``: 1437 train / 360 test, one fixed split for every
  seed so that methods are compared on the same images); the last 20 % of the train split (stratified, fixed) is the
  **validation split** that the sweeps are tuned on. Self-supervised training sees all 1437 train images (no labels);
  views from ``kspectral.data.augmented_pairs`` with ``digits_augmenter(seed=s)`` (±1 px shift, ±15 % zoom, ±11°
  rotation, Gaussian noise 0.05).
- Network, identical for every method (equal budget): ``kspectral.encoders.small.mlp_encoder`` 64 → 256 → 128
  (Dense-BN-ReLU; the 128-D representation is what the probes see), projector ``"256-64"`` (M = 64-D embedding, what
  the loss sees), Adam lr 1e-3 (no XLA), ``STEPS`` = 300 steps of batch N = 128 pairs (≈ 27 passes over the 1437
  images), seeds 0 1 2 (the seed sets the initialisation, the augmentations and the batch order).
- Methods (``kspectral.methods``; defaults unless listed): SimCLR τ ∈ {0.1 (default), 0.2, 0.5, 1.0}; VICReg
  invariance weight λ ∈ {10, 25 (default), 50} (μ = 25, ν = 1); VICReg-exp (defaults λ = μ = 25, ν = 1, τ = 0.1);
  VICReg-ctr (defaults λ = 10, μ = 25, ν = 1, τ = 0.1, dims not centred); DCL τ = 0.1; spectral contrastive μ = 1;
  Barlow Twins λ_BT = 0.0051.
- (a) Criteria along training, every ``LOG_EVERY`` = 10 steps and at step 0, on one fixed measurement batch of
  N = 128 un-augmented train images embedded with batch statistics (BatchNorm in training mode, as the loss sees its
  batch; the BatchNorm moving statistics are restored afterwards so measuring does not change training), in
  float64, with :mod:`kspectral.objectives.criteria`, under three normalisations of K:

  * ``raw``: the projector's output as is;
  * ``rows``: each embedding L2-normalised (no centring): SimCLR's, DCL's and VICReg-ctr's own normalisation
    (objectives.md A1 "Normalisation per method", Table 1 of the paper);
  * ``cols``: each dimension centred and scaled to norm √N: VICReg's, VICReg-exp's and Barlow Twins' own.

  The scale-free summaries plotted are ``ĉ = L_c(rows)/(N(N−1))``, the mean squared cosine similarity of distinct
  samples, and ``n̂ = L_nc(cols)/(N²M(M−1))``, the mean squared correlation of distinct dimensions (both in [0, 1];
  they are the library's ``sample_contrastive`` / ``dimension_contrastive`` diagnostics). "Training one lowers the
  other" is read on the *other* family's criterion: reproduced when, for every seed, n̂ at step 300 is below n̂ at
  step 0 for the contrastive methods (SimCLR τ = 0.1, DCL, spectral contrastive) and ĉ at step 300 is below ĉ at
  step 0 for the non-contrastive ones (VICReg λ = 25, Barlow Twins). Secondary, added after a 30-step debugging run
  (before any full run) showed that the randomly initialised network's embeddings already have a low n̂: the Spearman
  rank correlation ρ of ĉ and n̂ along training (logged steps ≥ 10, per seed; ρ > 0 = the two criteria move
  together) and the other criterion's drop from its peak along training to step 300; and (added after the first full
  run, which is otherwise identical to this one) the Spearman ρ of the final ĉ and n̂ across all configurations.
- (b) Theorem 3.3 on the trained embeddings of the 360 test images: relative residual
  ``|L_nc + Σ_j‖K[j,:]‖⁴ − L_c − Σ_i‖K[:,i]‖⁴| / (L_c + Σ_i‖K[:,i]‖⁴)`` (:func:`~kspectral.objectives.duality_gap`)
  in float64 and in float32 (reproduced if the float64 residual is ≲ 1e-12, i.e. rounding); the hand value R1 of
  objectives.md Part D; and the constant under double normalisation (unit embeddings, dimensions of norm √(N/M),
  :func:`~kspectral.objectives.criteria.double_normalize`): ``L_nc − L_c = N − N²/M`` (R2; the paper prints N − M).
- (c) Probes on the encoder's 128-D representations (BatchNorm in inference mode): ``kspectral.probes.linear_probe``
  (scikit-learn logistic regression, C = 1) and ``knn_probe`` (DINO preset, k = 20, T = 0.07). Validation accuracy:
  probe fitted on the first 80 % of the train split, scored on the validation split; test accuracy: probe fitted on
  the whole train split, scored on the 360 test images. **Tuned** = the sweep setting with the best mean validation
  linear accuracy over the seeds (one setting per method, chosen without looking at the test split).
  Comparisons (test linear top-1, mean ± std over seeds): tuned SimCLR vs tuned VICReg; VICReg-exp vs VICReg (both at
  the default weights λ = μ = 25, ν = 1); VICReg-ctr vs SimCLR at the same τ = 0.1 and vs tuned SimCLR. The noise of a
  difference Δ of two means over S seeds is ``σ_Δ = sqrt(s_a²/S + s_b²/S + 2p̄(1−p̄)/n_test)`` (seed noise of both
  means plus the binomial noise of two accuracies on n_test = 360 images, conservative since both are scored on
  the same images); "matched" iff ``|Δ| ≤ 2σ_Δ``.

- ``--dataset mnist1d`` (follow-up for C7; everything above unchanged except the data): the MNIST-1D-style
  generator of ``experiments/_mnist1d.py`` (after Greydanus 2020, arXiv:2011.14439): one fixed data set for every
  seed (generator seed 0), 4000 train / 4000 test identities, 40-D inputs (encoder 40 → 256 → 128), validation =
  the same stratified 20 % of train; positive pairs = two fresh independent view transforms of the same train
  identity at every step (stream seeded by the run's seed); probes and the measurement batch see one fixed view per
  identity; n_test = 4000 in the noise. Only the nine configurations of the (c) comparisons run (SimCLR τ sweep,
  VICReg λ sweep, VICReg-exp, VICReg-ctr); (a) and (b) are computed for them as a by-product.

Usage::

    python experiments/duality.py [--dataset digits|mnist1d] [--out experiments/results/duality] [--seeds 0 1 2]
        [--steps 300] [--quick]

(default ``--out``: ``experiments/results/duality`` for digits, ``experiments/results/duality_mnist1d`` for mnist1d).

``--quick`` (tests): 30 steps, log every 10, and only SimCLR τ ∈ {0.1, 0.5}, VICReg λ = 25 and VICReg-ctr.
Writes ``results.json`` and ``duality.png``.
"""

from __future__ import annotations

from _common import SEEDS, mean_std, pm, pyplot, write_results  # noqa: I001 (sets the thread env first)

import argparse
import os
import time
from pathlib import Path

import numpy as np

STEPS = 300
LOG_EVERY = 10
BATCH = 128
MEASURE_N = 128
ENCODER_WIDTHS = "256-128"
PROJECTOR = "256-64"
LEARNING_RATE = 1e-3
VAL_FRACTION = 0.2

# name -> (method class name, options, sweep group, family)
CONFIGS = {
    "SimCLR τ=0.1": ("SimCLR", {"temperature": 0.1}, "SimCLR", "contrastive"),
    "SimCLR τ=0.2": ("SimCLR", {"temperature": 0.2}, "SimCLR", "contrastive"),
    "SimCLR τ=0.5": ("SimCLR", {"temperature": 0.5}, "SimCLR", "contrastive"),
    "SimCLR τ=1.0": ("SimCLR", {"temperature": 1.0}, "SimCLR", "contrastive"),
    "VICReg λ=10": ("VICReg", {"invariance_weight": 10.0}, "VICReg", "non-contrastive"),
    "VICReg λ=25": ("VICReg", {"invariance_weight": 25.0}, "VICReg", "non-contrastive"),
    "VICReg λ=50": ("VICReg", {"invariance_weight": 50.0}, "VICReg", "non-contrastive"),
    "VICReg-exp": ("VICRegExp", {}, "VICReg-exp", "non-contrastive"),
    "VICReg-ctr": ("VICRegCtr", {}, "VICReg-ctr", "contrastive"),
    "DCL τ=0.1": ("DCL", {"temperature": 0.1}, "DCL", "contrastive"),
    "Spectral contrastive μ=1": ("SpectralContrastive", {"mu": 1.0}, "Spectral contrastive", "contrastive"),
    "Barlow Twins": ("BarlowTwins", {}, "Barlow Twins", "non-contrastive"),
}
QUICK_CONFIGS = ("SimCLR τ=0.1", "SimCLR τ=0.5", "VICReg λ=25", "VICReg-ctr")
# the configurations of the (c) comparisons (tuned SimCLR, tuned VICReg, VICReg-exp, VICReg-ctr): what mnist1d runs
C7_CONFIGS = tuple(n for n in CONFIGS if CONFIGS[n][2] in ("SimCLR", "VICReg", "VICReg-exp", "VICReg-ctr"))
DATASETS = ("digits", "mnist1d")
MNIST1D_SIZES = {"train": 4000, "test": 4000}
# (a): the methods whose criteria are read for "training one lowers the other"
CONTRASTIVE_TRACKED = ("SimCLR τ=0.1", "DCL τ=0.1", "Spectral contrastive μ=1")
NON_CONTRASTIVE_TRACKED = ("VICReg λ=25", "Barlow Twins")
MATCH_SIGMAS = 2.0
R1_K = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # objectives.md R1: L_c, L_nc, Σrow⁴, Σcol⁴ = 2, 4, 6, 8


# ---------------------------------------------------------------------------------------------- measurements
def normalise_rows(z):
    """Each embedding (row of ``z = Kᵀ``) to unit L2 norm: SimCLR's normalisation (no centring)."""
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def normalise_cols(z):
    """Each dimension (column of ``z = Kᵀ``) centred and scaled to norm √N: VICReg's / Barlow Twins' normalisation."""
    zc = z - z.mean(axis=0, keepdims=True)
    return zc / np.maximum(np.linalg.norm(zc, axis=0, keepdims=True), 1e-12) * np.sqrt(z.shape[0])


def criteria_of(z, with_gap=True):
    """L_c, L_nc, Σ_i‖z_i‖⁴, Σ_j‖z^j‖⁴ and (``with_gap``) the Theorem 3.3 gap
    (:func:`~kspectral.objectives.duality_gap`) of ``z`` (``(N, M)`` = the paper's Kᵀ), as floats."""
    from keras import ops

    from kspectral.objectives import criteria

    values = {"L_c": criteria.sample_contrastive(z), "L_nc": criteria.dimension_contrastive(z),
              "sample_norms4": criteria.sample_norms4(z), "dimension_norms4": criteria.dimension_norms4(z)}
    if with_gap:
        values["gap"] = criteria.duality_gap(z)
    return {k: float(ops.convert_to_numpy(v)) for k, v in values.items()}


def trajectory_point(z):
    """The criteria of one embedding batch under the three normalisations, and the scale-free ĉ and n̂."""
    z = np.asarray(z, dtype=np.float64)
    n, m = z.shape
    point = {"raw": criteria_of(z, False), "rows": criteria_of(normalise_rows(z), False),
             "cols": criteria_of(normalise_cols(z), False)}
    point["c_hat"] = point["rows"]["L_c"] / (n * (n - 1))
    point["n_hat"] = point["cols"]["L_nc"] / (n * n * m * (m - 1))
    return point


def identity_check(z):
    """Theorem 3.3 relative residual of ``z`` in float64 and float32, and R2 under double normalisation."""
    from keras import ops

    from kspectral.objectives import criteria

    out = {}
    for dtype in ("float64", "float32"):
        zz = np.asarray(z, dtype=dtype)
        c = criteria_of(zz)
        out[f"relative_residual_{dtype}"] = abs(c["gap"]) / (c["L_c"] + c["sample_norms4"])
    z64 = np.asarray(z, dtype=np.float64)
    n, m = z64.shape
    dn = np.asarray(ops.convert_to_numpy(criteria.double_normalize(z64, iterations=200)), dtype=np.float64)
    c = criteria_of(dn)
    expected = n - n * n / m
    out["double_normalised"] = {"L_nc_minus_L_c": c["L_nc"] - c["L_c"], "expected_N_minus_N2_over_M": expected,
                                "paper_text_N_minus_M": float(n - m),
                                "max_row_norm_error": float(np.abs(np.linalg.norm(dn, axis=1) - 1).max()),
                                "max_col_norm_error": float(np.abs(np.linalg.norm(dn, axis=0) - np.sqrt(n / m)).max())}
    return out


def batchnorm_state(model):
    from kspectral.methods.base import batchnorm_layers

    return [(layer, [v.numpy() for v in (layer.moving_mean, layer.moving_variance)])
            for layer in batchnorm_layers([model.encoder, model.projector])]


def embed_with_batch_statistics(model, x):
    """Embeddings of ``x`` with BatchNorm in training mode (batch statistics, as the loss sees a batch); the moving
    statistics are restored afterwards so that measuring leaves training unchanged."""
    state = batchnorm_state(model)
    z = np.asarray(model.embed(x, training=True), dtype=np.float64)
    for layer, (mean, var) in state:
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)
    return z


# ---------------------------------------------------------------------------------------------- training
def train_one(name, seed, data, steps, log_every):
    import keras

    import kspectral.methods as methods
    from kspectral.data import augmented_pairs, digits_augmenter
    from kspectral.encoders.small import mlp_encoder
    from kspectral.probes import knn_probe, linear_probe

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    cls_name, options, _, _ = CONFIGS[name]
    input_shape = tuple(data["x_train"].shape[1:])
    model = getattr(methods, cls_name)(encoder=mlp_encoder(input_shape, widths=ENCODER_WIDTHS), projector=PROJECTOR,
                                       diagnostics=False, **options)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=False)
    model.build((None, *input_shape))
    x_measure = data["x_measure"]
    trajectory = {"step": [0], "points": [trajectory_point(embed_with_batch_statistics(model, x_measure))]}

    class CriteriaLogger(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % log_every == 0:
                trajectory["step"].append(batch + 1)
                trajectory["points"].append(trajectory_point(embed_with_batch_statistics(model, x_measure)))

    if "mnist1d" in data:  # the generator's two fresh views of each train identity
        pairs = data["mnist1d"].pairs_dataset(steps, BATCH, stream_seed=seed)
    else:
        pairs = augmented_pairs(data["x_train"], digits_augmenter(seed=seed), batch_size=BATCH, seed=seed,
                                start_step=0)
    history = model.fit(pairs, epochs=1, steps_per_epoch=steps, callbacks=[CriteriaLogger()], verbose=0)
    loss = float(history.history["loss"][-1])

    h_train = model.encode(data["x_train"])
    h_test = model.encode(data["x_test"])
    fit_idx, val_idx = data["fit_idx"], data["val_idx"]
    y_train, y_test = data["y_train"], data["y_test"]
    probes = {
        "val_linear": linear_probe(h_train[fit_idx], y_train[fit_idx], h_train[val_idx], y_train[val_idx]),
        "val_knn": knn_probe(h_train[fit_idx], y_train[fit_idx], h_train[val_idx], y_train[val_idx]),
        "test_linear": linear_probe(h_train, y_train, h_test, y_test),
        "test_knn": knn_probe(h_train, y_train, h_test, y_test),
    }
    z_test = np.asarray(model.embed(data["x_test"], training=False), dtype=np.float64)
    return {"config": name, "seed": seed, "final_loss": loss, "finite": bool(np.isfinite(loss)), **probes,
            "identity": identity_check(z_test), "trajectory": compact(trajectory)}


def compact(trajectory):
    """What ``results.json`` keeps of a run's trajectory: ĉ and n̂ at every logged step, and every criterion under
    every normalisation at the first (step 0) and last logged steps."""
    points = trajectory["points"]
    return {"step": trajectory["step"], "c_hat": [p["c_hat"] for p in points],
            "n_hat": [p["n_hat"] for p in points], "initial": points[0], "final": points[-1]}


def load_data(dataset="digits"):
    from sklearn.model_selection import train_test_split

    from kspectral.data import digits

    if dataset == "mnist1d":
        from _mnist1d import Split

        ds = Split(MNIST1D_SIZES["train"], MNIST1D_SIZES["test"], seed=0)
    else:
        ds = digits(seed=0)
    idx = np.arange(len(ds.y_train))
    fit_idx, val_idx = train_test_split(idx, test_size=VAL_FRACTION, random_state=0, stratify=ds.y_train)
    measure = np.random.default_rng(0).permutation(len(ds.y_train))[:MEASURE_N]
    return {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test, "y_test": ds.y_test,
            "fit_idx": np.sort(fit_idx), "val_idx": np.sort(val_idx), "x_measure": ds.x_train[measure],
            **({"mnist1d": ds} if dataset == "mnist1d" else {})}


# ---------------------------------------------------------------------------------------------- analysis
def by_config(records):
    groups = {}
    for r in records:
        groups.setdefault(r["config"], []).append(r)
    return groups


def spearman(a, b):
    """Spearman rank correlation of two sequences (``nan`` if either is constant or shorter than 3)."""
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def summarise(records):
    table = {}
    for name, rs in by_config(records).items():
        row = {"n_seeds": len(rs), "group": CONFIGS[name][2], "family": CONFIGS[name][3]}
        for key in ("val_linear", "val_knn", "test_linear", "test_knn"):
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std([r[key] for r in rs])
        first = [r["trajectory"]["initial"] for r in rs]
        last = [r["trajectory"]["final"] for r in rs]
        for key in ("c_hat", "n_hat"):
            row[f"{key}_initial_mean"], row[f"{key}_initial_std"] = mean_std([p[key] for p in first])
            row[f"{key}_final_mean"], row[f"{key}_final_std"] = mean_std([p[key] for p in last])
            row[f"{key}_lower_every_seed"] = all(b[key] < a[key] for a, b in zip(first, last))
        for norm, crit in (("rows", "L_nc"), ("cols", "L_c"), ("raw", "L_c"), ("raw", "L_nc")):
            row[f"{crit}_{norm}_final_over_initial"] = mean_std([b[norm][crit] / a[norm][crit]
                                                                 for a, b in zip(first, last)])
        rho, drop = [], {"c_hat": [], "n_hat": []}
        for r in rs:
            traj = r["trajectory"]
            rho.append(spearman(traj["c_hat"][1:], traj["n_hat"][1:]))
            for key in drop:
                drop[key].append(traj[key][-1] / max(traj[key]))
        row["spearman_c_hat_n_hat"] = rho
        row["spearman_positive_every_seed"] = all(v > 0 for v in rho)
        for key, v in drop.items():
            row[f"{key}_final_over_peak"] = mean_std(v)
        res64 = [r["identity"]["relative_residual_float64"] for r in rs]
        res32 = [r["identity"]["relative_residual_float32"] for r in rs]
        row["identity_relative_residual_float64_max"] = float(max(res64))
        row["identity_relative_residual_float32_max"] = float(max(res32))
        r2 = [abs(r["identity"]["double_normalised"]["L_nc_minus_L_c"]
                  - r["identity"]["double_normalised"]["expected_N_minus_N2_over_M"]) for r in rs]
        row["double_normalised_constant_abs_error_max"] = float(max(r2))
        row["all_finite"] = all(r["finite"] for r in rs)
        table[name] = row
    return table


def tuned(table, group):
    """The setting of sweep ``group`` with the best mean validation linear accuracy (ties: first in CONFIGS)."""
    members = [n for n in CONFIGS if n in table and CONFIGS[n][2] == group]
    return max(members, key=lambda n: table[n]["val_linear_mean"]) if members else None


def compare(records, table, a, b, n_test):
    """Test linear (and kNN) top-1 of config ``a`` minus ``b``, with its noise and the "matched" call."""
    groups = by_config(records)
    out = {"a": a, "b": b}
    for probe in ("linear", "knn"):
        va = np.array([r[f"test_{probe}"] for r in sorted(groups[a], key=lambda r: r["seed"])])
        vb = np.array([r[f"test_{probe}"] for r in sorted(groups[b], key=lambda r: r["seed"])])
        s = min(len(va), len(vb))
        delta = float(va.mean() - vb.mean())
        p = float((va.mean() + vb.mean()) / 2)
        seed_var = (va.std(ddof=1) ** 2 / len(va) if len(va) > 1 else 0.0) + (
            vb.std(ddof=1) ** 2 / len(vb) if len(vb) > 1 else 0.0)
        binom_var = 2 * p * (1 - p) / n_test
        sigma = float(np.sqrt(seed_var + binom_var))
        paired = (va[:s] - vb[:s]).tolist() if len(va) == len(vb) else None
        out[probe] = {"a_mean": float(va.mean()), "b_mean": float(vb.mean()), "delta": delta,
                      "sigma_seed": float(np.sqrt(seed_var)), "sigma_binomial": float(np.sqrt(binom_var)),
                      "sigma_delta": sigma, "paired_deltas": paired,
                      "matched": bool(abs(delta) <= MATCH_SIGMAS * sigma)}
    return out


def comparisons(records, table, n_test):
    simclr, vicreg = tuned(table, "SimCLR"), tuned(table, "VICReg")
    out = {"tuned_simclr": simclr, "tuned_vicreg": vicreg, "selection": "best mean validation linear top-1 over seeds"}
    pairs = {"tuned SimCLR vs tuned VICReg": (simclr, vicreg),
             "VICReg-exp vs VICReg (λ=25, same weights)": ("VICReg-exp", "VICReg λ=25"),
             "VICReg-ctr vs SimCLR (τ=0.1, same τ)": ("VICReg-ctr", "SimCLR τ=0.1"),
             "VICReg-ctr vs tuned SimCLR": ("VICReg-ctr", simclr)}
    out["pairs"] = {k: compare(records, table, a, b, n_test) for k, (a, b) in pairs.items()
                    if a in table and b in table}
    return out


def duality_verdicts(table):
    rows = [t for t in table.values()]
    res64 = max(t["identity_relative_residual_float64_max"] for t in rows)
    tracked_c = [n for n in CONTRASTIVE_TRACKED if n in table]
    tracked_nc = [n for n in NON_CONTRASTIVE_TRACKED if n in table]
    other = {n: table[n]["n_hat_lower_every_seed"] for n in tracked_c}
    other.update({n: table[n]["c_hat_lower_every_seed"] for n in tracked_nc})
    own = {n: table[n]["c_hat_lower_every_seed"] for n in tracked_c}
    own.update({n: table[n]["n_hat_lower_every_seed"] for n in tracked_nc})
    comove = {n: table[n]["spearman_positive_every_seed"] for n in (*tracked_c, *tracked_nc)}
    names = list(table)
    across = spearman([table[n]["c_hat_final_mean"] for n in names], [table[n]["n_hat_final_mean"] for n in names])
    return {"identity_max_relative_residual_float64": res64, "co_movement_spearman_positive_every_seed": comove,
            "across_configs_spearman_final_c_hat_n_hat": across,
            "identity": "reproduced" if res64 < 1e-12 else "not reproduced",
            "own_criterion_lowered_every_seed": own, "other_criterion_lowered_every_seed": other,
            "training_one_lowers_the_other": ("reproduced" if other and all(other.values()) else
                                              "not reproduced" if other else "not measured")}


# ---------------------------------------------------------------------------------------------- plot
def plot(records, table, comps, path, dataset="digits"):
    plt = pyplot()
    groups = by_config(records)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    shown = [n for n in (*CONTRASTIVE_TRACKED, *NON_CONTRASTIVE_TRACKED, "VICReg-exp", "VICReg-ctr") if n in groups]
    for ax, key, title in ((axes[0, 0], "c_hat", "ĉ = L_c / (N(N−1)) of unit-norm embeddings (mean sq. cosine)"),
                           (axes[0, 1], "n_hat", "n̂ = L_nc / (N²M(M−1)) of standardised dims (mean sq. corr.)")):
        for name in shown:
            rs = groups[name]
            steps = rs[0]["trajectory"]["step"]
            v = np.array([r["trajectory"][key] for r in rs])
            ls = "-" if CONFIGS[name][3] == "contrastive" else "--"
            line, = ax.plot(steps, v.mean(0), ls, label=f"{name} ({CONFIGS[name][3]})")
            if len(rs) > 1:
                ax.fill_between(steps, v.mean(0) - v.std(0, ddof=1), v.mean(0) + v.std(0, ddof=1),
                                color=line.get_color(), alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[1, 0]
    names = [n for n in CONFIGS if n in table]
    xs = np.arange(len(names))
    for off, probe, label in ((-0.2, "test_linear", "linear probe (test)"), (0.2, "test_knn", "kNN probe (test)")):
        ax.errorbar(xs + off, [table[n][f"{probe}_mean"] for n in names],
                    yerr=[table[n][f"{probe}_std"] for n in names], fmt="o", capsize=3, label=label)
    ax.errorbar(xs, [table[n]["val_linear_mean"] for n in names], yerr=[table[n]["val_linear_std"] for n in names],
                fmt="x", color="grey", capsize=2, label="linear probe (validation, for tuning)")
    for n in (comps["tuned_simclr"], comps["tuned_vicreg"]):
        if n in names:
            ax.axvspan(names.index(n) - 0.45, names.index(n) + 0.45, color="gold", alpha=0.25)
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("top-1 (mean ± std over seeds)")
    ax.set_title(f"{dataset}: probes per method/setting (gold = tuned on validation)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for key, label in (("identity_relative_residual_float32_max", "float32"),
                       ("identity_relative_residual_float64_max", "float64")):
        ax.semilogy(xs, [max(table[n][key], 1e-18) for n in names], "o", label=label)
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("max relative residual over seeds")
    ax.set_title("Theorem 3.3 on trained test embeddings (paper's K = zᵀ):\n"
                 "|L_nc + Σ_j‖K[j,:]‖⁴ − L_c − Σ_i‖K[:,i]‖⁴| / (L_c + Σ_i‖K[:,i]‖⁴)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--out", default=None, help="default experiments/results/duality[_mnist1d]")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="30 steps and 5 configurations (tests)")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    started, cpu_started = time.perf_counter(), time.process_time()
    steps = args.steps or (30 if args.quick else STEPS)
    log_every = LOG_EVERY
    configs = QUICK_CONFIGS if args.quick else tuple(CONFIGS) if args.dataset == "digits" else C7_CONFIGS
    data = load_data(args.dataset)
    raw_probes = None
    if args.dataset == "mnist1d":
        from kspectral.probes import knn_probe, linear_probe

        x_tr, y_tr, x_te, y_te = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
        fit, val = data["fit_idx"], data["val_idx"]
        raw_probes = {"val_linear": linear_probe(x_tr[fit], y_tr[fit], x_tr[val], y_tr[val]),
                      "test_linear": linear_probe(x_tr, y_tr, x_te, y_te), "test_knn": knn_probe(x_tr, y_tr, x_te, y_te)}
        print(f"raw inputs: {raw_probes}", flush=True)

    from kspectral.objectives import criteria  # R1 hand values

    z_r1 = R1_K.T  # kspectral is batch-first: z = Kᵀ
    r1 = {k: float(np.asarray(v)) for k, v in (("L_c", criteria.sample_contrastive(z_r1)),
                                                ("L_nc", criteria.dimension_contrastive(z_r1)),
                                                ("sample_norms4", criteria.sample_norms4(z_r1)),
                                                ("dimension_norms4", criteria.dimension_norms4(z_r1)))}

    records = []
    for name in configs:
        for seed in args.seeds:
            t0 = time.perf_counter()
            rec = train_one(name, seed, data, steps, log_every)
            records.append(rec)
            first, last = rec["trajectory"]["initial"], rec["trajectory"]["final"]
            print(f"{name:>26} seed={seed}: linear {rec['test_linear']:.4f} (val {rec['val_linear']:.4f}) "
                  f"kNN {rec['test_knn']:.4f}  ĉ {first['c_hat']:.3f}→{last['c_hat']:.3f}  "
                  f"n̂ {first['n_hat']:.4f}→{last['n_hat']:.4f}  "
                  f"resid64 {rec['identity']['relative_residual_float64']:.1e}  ({time.perf_counter() - t0:.1f} s)",
                  flush=True)
    table = summarise(records)
    n_test = len(data["y_test"])
    comps = comparisons(records, table, n_test)
    verdicts = duality_verdicts(table)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    out = Path(args.out or ("experiments/results/duality" + ("" if args.dataset == "digits" else "_mnist1d")))
    if args.dataset == "mnist1d":
        from _mnist1d import CONSTANTS

        dataset_text = (f"mnist1d (experiments/_mnist1d.py, generator seed 0: {MNIST1D_SIZES['train']} train / "
                        f"{MNIST1D_SIZES['test']} test; validation = 20% of train)")
        dataset_extra = {"mnist1d": {"constants": CONSTANTS, "sizes": MNIST1D_SIZES, "raw_probes": raw_probes}}
    else:
        dataset_text = "digits (kspectral.data.digits(seed=0): 1437 train / 360 test; validation = 20% of train)"
        dataset_extra = {}
    result = {
        "experiment": "duality", "claims": ["C6", "C7"],
        "paper": "Garrido, Chen, Bardes, Najman & LeCun 2023, arXiv:2206.02574",
        "dataset": dataset_text, **dataset_extra,
        "protocol": {"steps": steps, "log_every": log_every, "batch": BATCH, "measure_batch": MEASURE_N,
                     "encoder": f"mlp_encoder widths {ENCODER_WIDTHS}", "projector": PROJECTOR,
                     "optimizer": f"Adam {LEARNING_RATE:g}",
                     "augmenter": ("digits_augmenter(seed=seed)" if args.dataset == "digits" else
                                   "_mnist1d view transforms (fresh pair of views per step, stream seed = seed)"),
                     "configs": {n: {"class": CONFIGS[n][0], "options": CONFIGS[n][1], "group": CONFIGS[n][2],
                                     "family": CONFIGS[n][3]} for n in configs},
                     "normalisations": {"raw": "projector output", "rows": "embeddings L2-normalised (no centring)",
                                        "cols": "dimensions centred, norm √N"},
                     "match_rule": f"|Δ| ≤ {MATCH_SIGMAS:g}·σ_Δ, σ_Δ² = s_a²/S + s_b²/S + 2p̄(1−p̄)/n_test",
                     "quick": args.quick},
        "seeds": args.seeds, "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
        "loadavg_at_start": load_at_start,
        "reference_R1": r1, "table": table, "comparisons": comps, "verdicts": verdicts, "records": records,
    }
    write_results(out, result)
    plot(records, table, comps, out / "duality.png", args.dataset)

    print(f"\n{'config':>26}  linear (test)       kNN (test)          linear (val)        ĉ final   n̂ final")
    groups = by_config(records)
    for name in configs:
        rs, t = groups[name], table[name]
        print(f"{name:>26}  {pm([r['test_linear'] for r in rs])}   {pm([r['test_knn'] for r in rs])}   "
              f"{pm([r['val_linear'] for r in rs])}   {t['c_hat_final_mean']:.4f}   {t['n_hat_final_mean']:.4f}")
    print(f"\ntuned SimCLR: {comps['tuned_simclr']}; tuned VICReg: {comps['tuned_vicreg']} (validation linear)")
    for label, c in comps["pairs"].items():
        lin = c["linear"]
        print(f"{label}: Δ linear = {lin['delta']:+.4f} ± {lin['sigma_delta']:.4f} (2σ rule: "
              f"{'matched' if lin['matched'] else 'not matched'}); Δ kNN = {c['knn']['delta']:+.4f}")
    print(f"verdicts: {verdicts}")
    print(f"wrote {out}/results.json and {out}/duality.png in {seconds:.1f} s ({cpu_seconds:.1f} s CPU; loadavg at "
          f"start {load_at_start})")
    return result


if __name__ == "__main__":
    main()
