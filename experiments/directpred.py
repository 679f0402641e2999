"""DirectPred (issue 18): does a trained predictor align with the eigenbasis of its inputs' correlation, and does
the closed-form predictor train as well?

Claim (Tian, Chen & Ganguli 2021, "Understanding self-supervised learning dynamics without contrastive pairs",
arXiv:2102.06810, §5 and §6; ``kspectral.methods.components.directpred``): in BYOL and SimSiam the predictor
``W_p`` and the correlation ``F = E[z zᵀ]`` of the online projections (the predictor's inputs) come to share their
eigenbasis during training (§5: the eigenspace alignment, shown in the paper for a trained linear predictor), and
setting ``W_p`` directly from ``F``'s eigendecomposition (DirectPred, ``W_p = U diag(p) Uᵀ``, ``p_j ∝ √s_j`` plus
ε, §6) trains as well as a trained predictor: on STL-10, CIFAR-10 and ImageNet it matches or beats a trained linear
predictor and comes close to the two-layer BatchNorm predictor of BYOL.

Here the trained predictor is kspectral's default one, the two-layer ``Linear-BN-ReLU-Linear`` MLP of BYOL and
SimSiam (a trainable linear predictor is not a method option and is not run); its matrix is the batch-mean Jacobian
(:func:`~kspectral.methods.components.directpred.predictor_matrix`). So claim (1) is tested on the non-linear
predictor the paper's theory approximates, not on the linear one it analyses.

Scaled-down protocol (fixed before running):

- data: scikit-learn's 8×8 digits through :func:`kspectral.data.load` (``seed`` sets the 1437 / 360 train / test
  split); views from the library's digits augmenter (:func:`kspectral.data.datasets.augmenter_for`, preset
  ``digits``, seeded with the run's seed) through :func:`kspectral.data.pairs.augmented_pairs` (``start_step=0``),
  ``STEPS`` batches drawn once per seed and shared by every cell of that seed (as ``embedding_dimension.py``).
- encoder: :func:`kspectral.encoders.small.mlp_encoder` ``"128-64"`` (a 64-D representation), initialised from
  ``keras.utils.set_random_seed(seed)``, so every cell of a seed starts from the same encoder weights.
- heads: projector ``"128-32"`` (d = 32; each method's own projector defaults: BYOL's last bias, SimSiam's last
  BatchNorm); predictor arms ``mlp`` (``Predictor("128-32")``: hidden width 128 for both methods) and
  ``directpred`` (:class:`~kspectral.methods.components.directpred.DirectPredictor`, the defaults ρ = 0.3,
  ε = 0.1). BYOL's teacher: τ from 0.99 (solo-learn's CIFAR value) to 1 by cosine over the run.
- methods: :class:`kspectral.methods.SimSiam` and :class:`kspectral.methods.BYOL` through
  :func:`kspectral.methods.create`, diagnostics every step (``diagnostics_every=1``) so that the logged
  ``predictor_alignment`` is recorded at every step (recovered from Keras' running means).
- equal budget for every cell: ``STEPS`` = 300 steps of 128 pairs (≈ 27 epochs), AdamW (lr 2e-3, weight decay 1e-4,
  the ``kspectral train`` defaults) with :class:`kspectral.optimizers.WarmupCosine` (no warm-up), no XLA.
- readouts: the alignment ``‖diag(UᵀMU)‖² / ‖UᵀMU‖²_F`` at every step (chance ≈ 1/d = 1/32 = 0.031, 1 when ``M``
  is diagonal in ``F``'s eigenbasis); "initial" is step 1's value (the predictor at initialisation, on the first
  batch), "final" the mean over the last ``TAIL`` = 20 steps. The linear probe (:func:`kspectral.probes.linear_probe`,
  primary) and kNN probe (:func:`kspectral.probes.knn_probe`, ``dino``) top-1 on the test split, on the encoder's
  64-D representation (``model.encode``); raw pixels probed too, as a reference. RankMe
  (:func:`kspectral.spectral.rankme`) of the test representations and of the test embeddings (collapse check).
  Secondary readouts, outside the verdict, on one fixed batch of views after training: the alignment of the
  traceless part ``M − (tr M / d) I`` (an isotropic ``c I`` is diagonal in every basis, so this one measures
  alignment with ``F``'s eigenvectors in particular; chance ≈ 1/d too) and the Spearman correlation between the
  diagonal of ``UᵀMU`` and ``F``'s eigenvalues (DirectPred's ``p_j`` grow with ``s_j``).
- seeds 0 1 2; mean ± std (ddof = 1).

Verdict rules (fixed before running).

Claim (1), per method, on the ``mlp`` arm: *reproduced* if in every seed the final alignment exceeds
``ALIGN_FACTOR`` = 5 × chance (5/d = 0.156) and ``RISE_FACTOR`` = 2 × its initial value; *not reproduced* if the
seed-mean final alignment is below 2 × chance, or the final alignment is not above the initial one in any seed;
*inconclusive* otherwise.

Claim (2), per method and probe: cells of one seed share split, views and encoder initialisation, so the comparison
uses the per-seed paired difference Δ_s = acc(directpred) − acc(mlp) and its noise
σ = max(std(Δ_s) / √S, √(2 p (1 − p) / (n_test S))) (the seed standard error of the mean difference, floored by the
binomial noise of a difference of two accuracies on n_test = 360 test images, averaged over S seeds), as in
``embedding_dimension.py``. *Reproduced* ("trains as well") if Δ ≥ −2σ and 2σ ≤ ``RESOLUTION`` = 0.03 (the test can
resolve a 3-point loss); *not reproduced* if Δ < −2σ (clearly worse); *inconclusive* if Δ ≥ −2σ but 2σ > 0.03.
The linear probe is primary; the kNN probe's verdict is computed by the same rules and reported beside it.

A claim's overall verdict combines the two methods: the common verdict when they agree, "mixed" when one is
reproduced and the other not, "inconclusive" otherwise. The ``--quick`` run (for the tests) shrinks everything and
its verdict means nothing.

Usage::

    python experiments/directpred.py [--out DIR] [--seeds 0 1 2] [--quick]

(default ``--out``: ``experiments/results/directpred``)

Writes ``results.json`` (every cell with its alignment trajectory, the mean ± std table, paired differences,
verdicts) and ``directpred.png`` (the alignment over training per method and arm, a moving average over 1/30 of
the run, with chance and threshold lines; the linear and kNN probes per method and arm with raw pixels).
"""

from __future__ import annotations

from _common import SEEDS, mean_std, pm, pyplot, write_results  # noqa: I001  (first: pins the threads)

import argparse
import os
import time
from pathlib import Path

import numpy as np

METHODS = ("simsiam", "byol")
ARMS = ("mlp", "directpred")
ENCODER_WIDTHS = "128-64"
PROJECTOR = "128-32"
PREDICTOR_HIDDEN = 128
STEPS = 300
BATCH = 128
TAIL = 20
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
BASE_TAU = 0.99
PROBES = ("linear", "knn")
#: claim (1): the final alignment must exceed ALIGN_FACTOR × chance and RISE_FACTOR × its initial value
ALIGN_FACTOR = 5.0
RISE_FACTOR = 2.0
#: claim (1) is contradicted below this multiple of chance
FAIL_FACTOR = 2.0
#: claim (2): the largest 2σ at which "within noise" counts as "trains as well"
RESOLUTION = 0.03
#: the --quick grid (tests): tiny networks, few steps
QUICK = {"encoder_widths": "32", "projector": "32-8", "predictor_hidden": 16, "steps": 8, "batch": 64,
         "tail": 3}
VERDICTS = ("reproduced", "not reproduced", "inconclusive")


def projection_dim(projector):
    """d, the projector spec's output width (the predictor maps d to d)."""
    return int(str(projector).split("-")[-1])


def chance(dim):
    """The alignment of an unrelated ``dim × dim`` matrix: about ``1 / dim``."""
    return 1.0 / dim


def draw_views(dataset, seed, steps, batch):
    """The first ``steps`` batches of ``kspectral train``'s augment stream for ``seed``: two arrays (steps, B, ...)."""
    from kspectral.data.datasets import augmenter_for
    from kspectral.data.pairs import augmented_pairs

    augmenter = augmenter_for(dataset.image_shape, "digits", seed=seed)
    stream = augmented_pairs(dataset.x_train, augmenter, batch, seed=seed, start_step=0)
    views_a, views_b = [], []
    for a, b in stream.take(steps):
        views_a.append(a.numpy())
        views_b.append(b.numpy())
    return np.stack(views_a), np.stack(views_b)


def per_step(running_means):
    """The per-step values behind Keras' running means ``m_k`` (k = 1, 2, ...): ``v_k = k m_k − (k − 1) m_{k−1}``."""
    m = np.asarray(running_means, dtype=float)
    k = np.arange(1, m.size + 1, dtype=float)
    totals = k * m
    return np.diff(np.concatenate([[0.0], totals]))


def _trace_callback():
    import keras

    class Trace(keras.callbacks.Callback):
        """The running means of the logged metrics after every batch."""

        def __init__(self):
            super().__init__()
            self.logs = {"predictor_alignment": [], "loss": []}

        def on_train_batch_end(self, batch, logs=None):
            for key in self.logs:
                self.logs[key].append(float(logs[key]))

    return Trace()


def train_cell(method, arm, dataset, views, seed, grid):
    """Train ``method`` with predictor ``arm`` on the pre-drawn ``views``; the model and its per-step trajectories."""
    import keras
    import tensorflow as tf

    from kspectral import methods, optimizers
    from kspectral.encoders.small import mlp_encoder

    keras.utils.set_random_seed(seed)  # same encoder initialisation for every cell of a seed
    encoder = mlp_encoder(dataset.image_shape, grid["encoder_widths"])
    steps = views[0].shape[0]
    options = {"projector": grid["projector"], "predictor": arm, "predictor_hidden": grid["predictor_hidden"],
               "diagnostics_every": 1}
    if method == "byol":
        options.update(base_tau=BASE_TAU, total_steps=steps)
    model = methods.create(method, encoder, **options)
    schedule = optimizers.WarmupCosine(LEARNING_RATE, steps, warmup_steps=0)
    model.compile(optimizer=optimizers.build_optimizer("adamw", schedule, weight_decay=WEIGHT_DECAY),
                  jit_compile=False)
    trace = _trace_callback()
    model.fit(tf.data.Dataset.from_tensor_slices(views), epochs=1, verbose=0, shuffle=False, callbacks=[trace])
    # 5 decimals: the float32 running means of Keras' trackers carry about that much of each step's value
    return model, {"alignment": np.round(per_step(trace.logs["predictor_alignment"]), 5).tolist(),
                   "loss": np.round(per_step(trace.logs["loss"]), 5).tolist()}


def probe(train_features, test_features, dataset):
    from kspectral.probes import knn_probe, linear_probe

    args = (train_features, dataset.y_train, test_features, dataset.y_test)
    return {"linear": linear_probe(*args), "knn": knn_probe(*args, preset="dino")}


def spectral_readouts(model, view_a, view_b):
    """The secondary readouts on one batch of views (training-mode projections of both, as the logged metric):
    the alignment, the traceless part's alignment and the Spearman correlation of ``diag(UᵀMU)`` with ``F``'s
    eigenvalues. Run after the probes (training-mode BatchNorm calls move the moving statistics)."""
    from scipy.stats import spearmanr

    from kspectral.methods.components.directpred import correlation, eigenbasis_alignment, predictor_matrix

    z = np.concatenate([np.asarray(model.projector(model.encoder(v, training=True), training=True))
                        for v in (view_a, view_b)]).astype("float32")
    M = np.asarray(predictor_matrix(model.predictor, z), dtype=float)
    F = np.asarray(correlation(z), dtype=float)
    s, U = np.linalg.eigh((F + F.T) / 2.0)
    d = M.shape[0]
    traceless = M - np.trace(M) / d * np.eye(d)
    diagonal = np.diag(U.T @ M @ U)
    return {"alignment_end": float(eigenbasis_alignment(M, F)),
            "traceless_alignment_end": float(eigenbasis_alignment(traceless, F)),
            "spectrum_spearman": float(spearmanr(diagonal, s).statistic),
            "predictor_symmetry": float(np.linalg.norm((M + M.T) / 2) ** 2 / max(np.linalg.norm(M) ** 2, 1e-30))}


def run(seeds, grid):
    from kspectral.data import load
    from kspectral.spectral import rankme

    records, raw = [], []
    dim = projection_dim(grid["projector"])
    for seed in seeds:
        dataset = load("digits", seed=seed)
        views = draw_views(dataset, seed, grid["steps"], grid["batch"])
        raw.append({"seed": seed, **probe(dataset.flat("train"), dataset.flat("test"), dataset),
                    "n_test": int(len(dataset.y_test))})
        for method in METHODS:
            for arm in ARMS:
                started = time.perf_counter()
                model, trajectory = train_cell(method, arm, dataset, views, seed, grid)
                train_seconds = time.perf_counter() - started
                train_rep, test_rep = model.encode(dataset.x_train), model.encode(dataset.x_test)
                accuracy = probe(train_rep, test_rep, dataset)
                embedding = np.asarray(model.embed(dataset.x_test.astype("float32")))
                alignment = np.asarray(trajectory["alignment"])
                rec = {"method": method, "arm": arm, "seed": seed, "d": dim, "chance": chance(dim),
                       "representation_dim": int(train_rep.shape[1]), "n_test": int(len(dataset.y_test)),
                       "train_seconds": round(train_seconds, 2), **accuracy,
                       "rankme_representation": rankme(test_rep), "rankme_embedding": rankme(embedding),
                       "alignment_initial": float(alignment[0]),
                       "alignment_final": float(alignment[-grid["tail"]:].mean()),
                       **spectral_readouts(model, views[0][0], views[1][0]),
                       "loss_final": float(np.mean(trajectory["loss"][-grid["tail"]:])),
                       "trajectory": trajectory}
                records.append(rec)
                print(f"  seed {seed} {method:>7} {arm:>10}: linear {accuracy['linear']:.4f} "
                      f"kNN {accuracy['knn']:.4f} alignment {rec['alignment_initial']:.3f} -> "
                      f"{rec['alignment_final']:.3f} (traceless {rec['traceless_alignment_end']:.3f}) "
                      f"RankMe {rec['rankme_representation']:.1f} ({train_seconds:.1f} s)", flush=True)
    return records, raw


def lookup(records, method, arm, seeds):
    """Per-seed records of one cell, in the order of ``seeds``."""
    out = []
    for seed in seeds:
        hits = [r for r in records if r["method"] == method and r["arm"] == arm and r["seed"] == seed]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} records for {method} {arm} seed={seed}")
        out.append(hits[0])
    return out


SUMMARY_KEYS = ("linear", "knn", "rankme_representation", "rankme_embedding", "alignment_initial",
                "alignment_final", "traceless_alignment_end", "spectrum_spearman", "predictor_symmetry")


def summarise(records, seeds):
    """Mean ± std of every readout of every (method, arm) cell."""
    table = []
    for method in METHODS:
        for arm in ARMS:
            rs = lookup(records, method, arm, seeds)
            row = {"method": method, "arm": arm}
            for key in SUMMARY_KEYS:
                values = [r[key] for r in rs]
                row[f"{key}_mean"], row[f"{key}_std"] = mean_std(values)
                row[f"{key}_pm"] = pm(values, 2 if key.startswith("rankme") else 4)
            table.append(row)
    return table


def paired_difference(records, seeds, probe_name, method):
    """Δ_s = acc(directpred) − acc(mlp) per seed, its mean, std and the noise σ of the verdict rules."""
    a = np.array([r[probe_name] for r in lookup(records, method, "directpred", seeds)])
    b = np.array([r[probe_name] for r in lookup(records, method, "mlp", seeds)])
    n_test = lookup(records, method, "mlp", seeds)[0]["n_test"]
    delta = a - b
    mean, std = mean_std(delta)
    p = float(np.mean(np.concatenate([a, b])))
    s = len(seeds)
    binomial = float(np.sqrt(2.0 * p * (1.0 - p) / (n_test * s)))
    sigma = max(std / np.sqrt(s), binomial)
    return {"method": method, "probe": probe_name, "per_seed": delta.tolist(), "mean": mean, "std": std,
            "seed_se": std / np.sqrt(s), "binomial_sigma": binomial, "sigma": sigma,
            "z": mean / sigma if sigma > 0 else None}


def alignment_verdict(records, seeds, method):
    """Claim (1) for ``method``'s MLP predictor: the rules of the module docstring."""
    rs = lookup(records, method, "mlp", seeds)
    level = rs[0]["chance"]
    initial = np.array([r["alignment_initial"] for r in rs])
    final = np.array([r["alignment_final"] for r in rs])
    above = bool(np.all(final > ALIGN_FACTOR * level))
    rising = bool(np.all(final > RISE_FACTOR * initial))
    contradicted = bool(final.mean() < FAIL_FACTOR * level or np.all(final <= initial))
    outcome = "reproduced" if (above and rising) else ("not reproduced" if contradicted else "inconclusive")
    directpred = [r["alignment_final"] for r in lookup(records, method, "directpred", seeds)]
    return {"method": method, "chance": level, "threshold": ALIGN_FACTOR * level,
            "initial": initial.tolist(), "final": final.tolist(), "final_over_chance": (final / level).tolist(),
            "above_threshold_every_seed": above, "rising_every_seed": rising, "contradicted": contradicted,
            "directpred_final": directpred, "verdict": outcome}


def probe_verdict(records, seeds, method, probe_name):
    """Claim (2) for ``method`` and one probe: the rules of the module docstring."""
    diff = paired_difference(records, seeds, probe_name, method)
    within = diff["mean"] >= -2 * diff["sigma"]
    resolved = 2 * diff["sigma"] <= RESOLUTION
    outcome = ("reproduced" if within and resolved else "inconclusive") if within else "not reproduced"
    return {**diff, "within_noise_or_better": bool(within), "resolves_3_points": bool(resolved),
            "clearly_better": bool(diff["mean"] > 2 * diff["sigma"]), "verdict": outcome}


def combine(outcomes):
    """One verdict from the methods' verdicts: the common one, ``"mixed"`` for reproduced + not reproduced,
    ``"inconclusive"`` otherwise."""
    outcomes = set(outcomes)
    if len(outcomes) == 1:
        return outcomes.pop()
    if outcomes == {"reproduced", "not reproduced"}:
        return "mixed"
    return "inconclusive"


def verdicts(records, seeds):
    alignment = {m: alignment_verdict(records, seeds, m) for m in METHODS}
    probes = {p: {m: probe_verdict(records, seeds, m, p) for m in METHODS} for p in PROBES}
    return {"alignment": {"per_method": alignment, "verdict": combine(v["verdict"] for v in alignment.values())},
            "trains_as_well": {p: {"per_method": probes[p], "verdict": combine(v["verdict"] for v in probes[p].values())}
                               for p in PROBES}}


def smooth(curves, window):
    """The moving average of each row of ``curves`` over ``window`` steps (the first steps over fewer)."""
    if window <= 1:
        return curves
    totals = np.cumsum(np.pad(curves, ((0, 0), (1, 0))), axis=1)
    k = np.arange(1, curves.shape[1] + 1)
    start = np.maximum(k - window, 0)
    return (totals[:, k] - totals[:, start]) / (k - start)


NAMES = {"simsiam": "SimSiam", "byol": "BYOL", "mlp": "MLP predictor", "directpred": "DirectPred"}


def plot(records, table, raw, seeds, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    ax = axes[0]
    colors = {"simsiam": "C0", "byol": "C3"}
    dim = records[0]["d"]
    window = max(1, len(records[0]["trajectory"]["alignment"]) // 30)
    for method in METHODS:
        for arm in ARMS:
            curves = smooth(np.array([r["trajectory"]["alignment"] for r in lookup(records, method, arm, seeds)]),
                            window)
            steps = np.arange(1, curves.shape[1] + 1)
            ls = "-" if arm == "mlp" else "--"
            ax.plot(steps, curves.mean(axis=0), ls, color=colors[method], lw=1.4,
                    label=f"{NAMES[method]}, {NAMES[arm]}")
            ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), color=colors[method], alpha=0.15, lw=0)
    ax.axhline(chance(dim), color="k", lw=1, ls=":", label=f"chance 1/d = {chance(dim):.3f}")
    ax.axhline(ALIGN_FACTOR * chance(dim), color="k", lw=1, ls="-.", label=f"threshold {ALIGN_FACTOR:g}/d")
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("predictor_alignment ‖diag(UᵀMU)‖² / ‖UᵀMU‖²")
    ax.set_title(f"alignment with F's eigenbasis ({window}-step moving average; seed mean, min–max band, "
                 f"{len(seeds)} seed{'s' * (len(seeds) > 1)})", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    for ax, p in zip(axes[1:], PROBES):
        x = np.arange(len(METHODS))
        for j, arm in enumerate(ARMS):
            rows = [next(t for t in table if t["method"] == m and t["arm"] == arm) for m in METHODS]
            ax.errorbar(x + (j - 0.5) * 0.25, [t[f"{p}_mean"] for t in rows], yerr=[t[f"{p}_std"] for t in rows],
                        fmt="o" if arm == "mlp" else "s", capsize=3, label=NAMES[arm], color=f"C{2 + 2 * j}")
        ax.axhline(float(np.mean([r[p] for r in raw])), color="k", lw=1, ls=":", label="raw pixels")
        ax.set_xticks(x)
        ax.set_xticklabels([NAMES[m] for m in METHODS])
        ax.set_xlim(-0.6, len(METHODS) - 0.4)
        name = {"linear": "linear", "knn": "kNN"}[p]
        ax.set_ylabel(f"{name} probe top-1 on the representation (test)")
        ax.set_title(f"digits: {name} probe (mean ± std)")
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/results/directpred")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--quick", action="store_true", help="tiny grid for the tests (its verdict means nothing)")
    args = parser.parse_args(argv)
    grid = ({**QUICK} if args.quick else
            {"encoder_widths": ENCODER_WIDTHS, "projector": PROJECTOR, "predictor_hidden": PREDICTOR_HIDDEN,
             "steps": STEPS, "batch": BATCH, "tail": TAIL})
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    records, raw = run(args.seeds, grid)
    table = summarise(records, args.seeds)
    verdict = verdicts(records, args.seeds)
    seconds = time.perf_counter() - started
    out = Path(args.out)
    result = {"experiment": "directpred", "source": "Tian, Chen & Ganguli 2021, arXiv:2102.06810",
              "dataset": "digits", "quick": args.quick, "seeds": args.seeds, "methods": list(METHODS),
              "arms": list(ARMS), "grid": grid, "d": projection_dim(grid["projector"]),
              "chance": chance(projection_dim(grid["projector"])),
              "rules": {"align_factor": ALIGN_FACTOR, "rise_factor": RISE_FACTOR, "fail_factor": FAIL_FACTOR,
                        "resolution": RESOLUTION},
              "optimizer": {"name": "adamw", "learning_rate": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
                            "schedule": "cosine, no warm-up"},
              "byol_tau": {"base": BASE_TAU, "final": 1.0, "schedule": "cosine over the run"},
              "seconds": round(seconds, 1), "loadavg_at_start": list(load_at_start),
              "raw_pixels": {"per_seed": raw, **{f"{p}_pm": pm([r[p] for r in raw]) for p in PROBES}},
              "table": table, "verdicts": verdict, "records": records}
    write_results(out, result)
    plot(records, table, raw, args.seeds, out / "directpred.png")
    print(f"{'method':>7} {'arm':>10}  linear            kNN               alignment init -> final    traceless"
          f"         RankMe rep")
    for t in table:
        print(f"{t['method']:>7} {t['arm']:>10}  {t['linear_pm']}  {t['knn_pm']}  {t['alignment_initial_pm']} -> "
              f"{t['alignment_final_pm']}  {t['traceless_alignment_end_pm']}  {t['rankme_representation_pm']}")
    print(f"raw pixels: linear {result['raw_pixels']['linear_pm']}  kNN {result['raw_pixels']['knn_pm']}")
    for m, v in verdict["alignment"]["per_method"].items():
        print(f"(1) {m}: final/chance {np.round(v['final_over_chance'], 2).tolist()} -> {v['verdict']}")
    for p in PROBES:
        for m, v in verdict["trains_as_well"][p]["per_method"].items():
            print(f"(2) {p} {m}: Δ {v['mean']:+.4f} σ {v['sigma']:.4f} -> {v['verdict']}")
    print(f"verdicts: (1) {verdict['alignment']['verdict']}; (2) linear "
          f"{verdict['trains_as_well']['linear']['verdict']}, kNN {verdict['trains_as_well']['knn']['verdict']}")
    print(f"wrote {out}/results.json and {out}/directpred.png in {seconds:.1f} s "
          f"(load average at start {load_at_start[0]:.2f})")
    return result


if __name__ == "__main__":
    main()
