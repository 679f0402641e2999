"""Embedding dimension (issue 10, item 5, claim C8): does a small embedding with a wide projector match a large one?

Claim (Garrido, Balestriero, Najman & LeCun 2023, "On the duality between contrastive and non-contrastive
self-supervised learning", arXiv:2206.02574, §5 and Fig. 1 / Table S5; ``docs/spec/objectives.md`` A3): the
embedding dimension d (the projector's output) is not what decides performance once the projector is wide. On
ImageNet (ResNet-50, 100 epochs, online linear probe on the representation) VICReg reaches 65.0 % with an
8192-8192-256 projector against 68.1 % at 8192-8192-8192, and 61.4 % with a narrow 256-256-256 projector; SimCLR
with a 8192-8192-d projector is flat in d (66.0–66.3 %, tuned 68.5–68.7 %), and drops with d-d-d (63.4 % at d = 256).

Scaled-down protocol (fixed before running):

- data: scikit-learn's 8×8 digits through :func:`kspectral.data.load` (``seed`` sets the 1437 / 360 train / test
  split, as ``kspectral train --seed``); views from the library's digits augmenter
  (:func:`kspectral.data.datasets.augmenter_for`, preset ``digits``, seeded with the run's seed) through
  :func:`kspectral.data.pairs.augmented_pairs` (``start_step=0``: the resumable stream ``kspectral train`` fits on).
  The ``STEPS`` batches of views are drawn once per seed and every cell of that seed trains on the same views.
- encoder: :func:`kspectral.encoders.small.mlp_encoder` ``"256-128"`` (a 128-D representation), initialised from
  ``keras.utils.set_random_seed(seed)``, so every cell of a seed starts from the same encoder weights.
- projectors (:func:`kspectral.methods.projector.make_projector` spec strings, Linear-BN-ReLU × 2 then Linear):
  wide ``W-W-d`` and narrow ``d-d-d`` with W = 256 and d ∈ {8, 16, 32}: d / W = 1/32, 1/16, 1/8, the paper's
  256, 512 and 1024 against its W = 8192. d = W = 256 is the common end point (``256-256-256`` is both families at
  once, as 8192-8192-8192 is in the paper, and is trained once). W = 256 rather than 512 keeps the run within
  ~4–5 min on one CPU core (the two 512-wide hidden layers dominate a step).
- methods: :class:`kspectral.methods.VICReg` (defaults: λ = μ = 25, ν = 1) and :class:`kspectral.methods.SimCLR`
  (defaults: τ = 0.1), through :func:`kspectral.methods.create`; batch diagnostics off.
- equal budget for every cell: 200 steps of 256 pairs (≈ 36 epochs), AdamW (lr 2e-3, weight decay 1e-4, the
  ``kspectral train`` defaults) with :class:`kspectral.optimizers.WarmupCosine` (no warm-up) over the 200 steps.
- metric: :func:`kspectral.probes.linear_probe` (primary) and :func:`kspectral.probes.knn_probe` (``dino``) top-1 on the
  test split, on the encoder's 128-D representation (``model.encode``), never on the embedding. Raw pixels are
  probed too, as a reference. Seeds 0 1 2; mean ± std (ddof = 1). A secondary readout, outside the verdict: the
  linear probe on the embedding itself (the projector's d-D output), to show how much the head's output changes
  with d when the representation does not.

Noise and verdict rules (fixed before running). Cells of one seed share split, views and encoder initialisation,
so a comparison uses the per-seed paired difference Δ_s = acc(cell) − acc(reference) and its noise
σ = max(std(Δ_s) / √S, √(2 p (1 − p) / (n_test S))): the seed standard error of the mean difference, floored by the
binomial noise of a difference of two accuracies p measured on n_test = 360 test images, averaged over S seeds.
"Within noise" means Δ ≥ −2σ; "clearly worse" means Δ < −2σ; "clearly better" Δ > 2σ. With d_small = 16 (d / W =
1/16, the paper's 512 / 8192: 66.7 % wide vs 63.5 % narrow vs 68.1 % at the end point), on the linear probe:

- (a) VICReg ``W-W-d_small`` is within noise of the end point ``W-W-W``;
- (b) VICReg ``d_small-d_small-d_small`` is clearly worse than ``W-W-d_small``;
- (c) SimCLR is flat: every ``W-W-d`` is within ±2σ of the end point.

Verdict: reproduced if (a), (b) and (c) hold; not reproduced if a result contradicts the claim beyond noise (the wide
small embedding clearly worse than the end point, the narrow projector clearly better than the wide one, or a SimCLR
wide cell more than 2σ from its end point); inconclusive otherwise (the differences lie within noise). The kNN
probe's verdict is computed by the same rules and reported beside it. The ``--quick`` run (for the tests) shrinks
the grid and its verdict means nothing.

``--dataset mnist1d`` (added after the digits run came out inconclusive because digits saturates: every cell lay
between 0.970 and 0.983 linear top-1 on 360 test images; protocol fixed before the mnist1d run). Everything above
is unchanged (encoder widths, W, the d grid, d_small, methods, 200 steps of 256 pairs, optimiser, probes, noise and
verdict rules) except the data:

- data: the MNIST-1D-style generator of ``experiments/_mnist1d.py`` (after Greydanus 2020, arXiv:2011.14439, §2):
  40-D signals, 10 balanced classes. ``seed`` fixes the identities: ``MNIST1D_TRAIN`` = 4000 train identities (the
  size of Greydanus's training set) and ``MNIST1D_TEST`` = 4000 test identities, one view each, for the probes (a
  large test split, so the binomial floor of a paired difference is ≈ 0.006 at p ≈ 0.7 instead of ≈ 0.007 at
  p ≈ 0.976 on digits' 360 images). Positive pairs are two fresh independent views (shift, correlated and iid noise)
  of the same train identity, from ``_mnist1d.view_pair_batches(4000, seed, 200, 256, stream_seed=seed)``: drawn once
  per seed and shared by every cell of that seed, as the digits views are. No labels are used in training.
- encoder: the same ``mlp_encoder`` ``"256-128"``, on the 40-D input.
- the raw reference is the probe on the raw 40-D signal (raw linear ≈ 0.41, kNN ≈ 0.66 on seed 0: far from ceiling).

Usage::

    python experiments/embedding_dimension.py [--dataset digits|mnist1d] [--out DIR] [--seeds 0 1 2] [--quick]

(default ``--out``: ``experiments/results/embedding_dimension`` for digits,
``experiments/results/embedding_dimension_mnist1d`` for mnist1d)

Writes ``results.json`` (every cell, the mean ± std table, paired differences, verdicts) and
``embedding_dimension.png`` (probe top-1 vs d, log-x, wide and narrow lines per method, seed-std error bars).
"""

from __future__ import annotations

from _common import SEEDS, mean_std, pm, pyplot, write_results  # noqa: I001  (first: pins the threads)

import argparse
import os
import time
from pathlib import Path

import numpy as np

METHODS = ("vicreg", "simclr")
ENCODER_WIDTHS = "256-128"
WIDE = 256
DIMS = (8, 16, 32)
SMALL_DIM = 16
STEPS = 200
BATCH = 256
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
PROBES = ("linear", "knn")
#: the --quick grid (tests): tiny projectors, few steps, one method pair of cells per d
QUICK = {"wide": 32, "dims": (4,), "small_dim": 4, "steps": 12, "batch": 64, "encoder_widths": "32-16"}
DATASETS = ("digits", "mnist1d")
#: mnist1d identities per split (full run, and --quick)
MNIST1D_TRAIN, MNIST1D_TEST = 4000, 4000
MNIST1D_QUICK_TRAIN, MNIST1D_QUICK_TEST = 1000, 1000
#: what the raw-input reference is called in the plot
RAW_NAME = {"digits": "raw pixels", "mnist1d": "raw signal"}


def projector_spec(family, d, wide):
    """The projector spec string of a cell: ``"W-W-d"`` (wide) or ``"d-d-d"`` (narrow)."""
    if family == "wide":
        return f"{wide}-{wide}-{d}"
    if family == "narrow":
        return f"{d}-{d}-{d}"
    raise ValueError(f"family must be 'wide' or 'narrow', got {family!r}")


def cells(dims, wide):
    """``(family, d)`` of every cell: wide and narrow for each d < W, then the common end point ``("both", W)``."""
    return [(family, d) for d in dims for family in ("wide", "narrow")] + [("both", wide)]


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


def load_mnist1d(seed, n_train, n_test):
    """The mnist1d split of ``seed`` as a :class:`kspectral.data.datasets.ImageDataset` of 40-D feature vectors."""
    from _mnist1d import Split

    from kspectral.data.datasets import ImageDataset

    split = Split(n_train, n_test, seed)
    return ImageDataset(name="mnist1d", x_train=split.x_train, y_train=split.y_train, x_test=split.x_test,
                        y_test=split.y_test, num_classes=10, source="experiments/_mnist1d.py")


def draw_mnist1d_views(dataset, seed, steps, batch):
    """Two arrays ``(steps, B, 40)``: fresh independent views of the same train identities (``stream_seed = seed``)."""
    from _mnist1d import view_pair_batches

    return view_pair_batches(len(dataset.x_train), seed, steps, batch, stream_seed=seed)


def train_cell(method, spec, dataset, views, seed, encoder_widths):
    """Train ``method`` with projector ``spec`` on the pre-drawn ``views``; the trained model."""
    import keras
    import tensorflow as tf

    from kspectral import methods, optimizers
    from kspectral.encoders.small import mlp_encoder

    keras.utils.set_random_seed(seed)  # same encoder initialisation for every cell of a seed
    encoder = mlp_encoder(dataset.image_shape, encoder_widths)
    model = methods.create(method, encoder, projector=spec, diagnostics=False)
    steps = views[0].shape[0]
    schedule = optimizers.WarmupCosine(LEARNING_RATE, steps, warmup_steps=0)
    # no XLA, as kspectral train's jit = "auto" on CPUs (stated rather than left to Keras' own "auto")
    model.compile(optimizer=optimizers.build_optimizer("adamw", schedule, weight_decay=WEIGHT_DECAY),
                  jit_compile=False)
    model.fit(tf.data.Dataset.from_tensor_slices(views), epochs=1, verbose=0)
    return model


def probe(train_features, test_features, dataset):
    from kspectral.probes import knn_probe, linear_probe

    args = (train_features, dataset.y_train, test_features, dataset.y_test)
    return {"linear": linear_probe(*args), "knn": knn_probe(*args, preset="dino")}


def embed(model, representation):
    """The embedding (the projector's output, inference mode) of ``representation``, as a numpy array."""
    return np.asarray(model.projector(representation, training=False))


def run(seeds, grid, dataset_name="digits"):
    from kspectral.data import load
    from kspectral.probes import linear_probe

    records, raw = [], []
    for seed in seeds:
        if dataset_name == "digits":
            dataset = load("digits", seed=seed)
            views = draw_views(dataset, seed, grid["steps"], grid["batch"])
        elif dataset_name == "mnist1d":
            dataset = load_mnist1d(seed, grid["n_train"], grid["n_test"])
            views = draw_mnist1d_views(dataset, seed, grid["steps"], grid["batch"])
        else:
            raise ValueError(f"dataset must be one of {DATASETS}, got {dataset_name!r}")
        raw.append({"seed": seed, **probe(dataset.flat("train"), dataset.flat("test"), dataset),
                    "n_test": int(len(dataset.y_test))})
        for method in METHODS:
            for family, d in cells(grid["dims"], grid["wide"]):
                spec = projector_spec("wide" if family == "both" else family, d, grid["wide"])
                started = time.perf_counter()
                model = train_cell(method, spec, dataset, views, seed, grid["encoder_widths"])
                train_seconds = time.perf_counter() - started
                train_rep, test_rep = model.encode(dataset.x_train), model.encode(dataset.x_test)
                accuracy = probe(train_rep, test_rep, dataset)
                accuracy["embedding_linear"] = linear_probe(embed(model, train_rep), dataset.y_train,
                                                            embed(model, test_rep), dataset.y_test)
                rec = {"method": method, "family": family, "d": d, "projector": spec, "seed": seed,
                       "embedding_dim": int(model.projector.output_dim), "representation_dim": int(train_rep.shape[1]),
                       "n_test": int(len(dataset.y_test)), "train_seconds": round(train_seconds, 2), **accuracy}
                records.append(rec)
                print(f"  seed {seed} {method:>6} {spec:>12}: linear {accuracy['linear']:.4f} "
                      f"kNN {accuracy['knn']:.4f} embedding linear {accuracy['embedding_linear']:.4f} "
                      f"({train_seconds:.1f} s)", flush=True)
    return records, raw


def lookup(records, method, family, d, seeds):
    """Per-seed records of one cell, in the order of ``seeds`` (the end point answers to wide and narrow)."""
    out = []
    for seed in seeds:
        hits = [r for r in records if r["method"] == method and r["d"] == d and r["seed"] == seed
                and r["family"] in (family, "both")]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} records for {method} {family} d={d} seed={seed}")
        out.append(hits[0])
    return out


def summarise(records, seeds, grid):
    """Mean ± std of every (method, family, d) line, the end point repeated on both lines."""
    table = []
    for method in METHODS:
        for family in ("wide", "narrow"):
            for d in (*grid["dims"], grid["wide"]):
                rs = lookup(records, method, family, d, seeds)
                row = {"method": method, "family": family, "d": d, "projector": rs[0]["projector"]}
                for p in (*PROBES, "embedding_linear"):
                    row[f"{p}_mean"], row[f"{p}_std"] = mean_std([r[p] for r in rs])
                    row[f"{p}_pm"] = pm([r[p] for r in rs])
                table.append(row)
    return table


def paired_difference(records, seeds, probe_name, cell, reference):
    """Δ_s = acc(cell) − acc(reference) per seed, its mean, std and the noise σ of the verdict rules."""
    a = np.array([r[probe_name] for r in lookup(records, *cell, seeds)])
    b = np.array([r[probe_name] for r in lookup(records, *reference, seeds)])
    n_test = lookup(records, *reference, seeds)[0]["n_test"]
    delta = a - b
    mean, std = mean_std(delta)
    p = float(np.mean(np.concatenate([a, b])))
    s = len(seeds)
    binomial = float(np.sqrt(2.0 * p * (1.0 - p) / (n_test * s)))
    sigma = max(std / np.sqrt(s), binomial)
    return {"cell": list(cell), "reference": list(reference), "per_seed": delta.tolist(), "mean": mean, "std": std,
            "seed_se": std / np.sqrt(s), "binomial_sigma": binomial, "sigma": sigma,
            "z": mean / sigma if sigma > 0 else None}


def verdict(records, seeds, grid, probe_name):
    """The verdict rules of the module docstring for one probe: criteria, the differences behind them, the verdict."""
    W, small = grid["wide"], grid["small_dim"]
    wide_vs_end = paired_difference(records, seeds, probe_name, ("vicreg", "wide", small), ("vicreg", "wide", W))
    narrow_vs_wide = paired_difference(records, seeds, probe_name, ("vicreg", "narrow", small),
                                       ("vicreg", "wide", small))
    simclr_flat = [paired_difference(records, seeds, probe_name, ("simclr", "wide", d), ("simclr", "wide", W))
                   for d in grid["dims"]]
    a = wide_vs_end["mean"] >= -2 * wide_vs_end["sigma"]
    b = narrow_vs_wide["mean"] < -2 * narrow_vs_wide["sigma"]
    c = all(abs(x["mean"]) <= 2 * x["sigma"] for x in simclr_flat)
    contradicted = (not a) or narrow_vs_wide["mean"] > 2 * narrow_vs_wide["sigma"] or not c
    outcome = "reproduced" if (a and b and c) else ("not reproduced" if contradicted else "inconclusive")
    return {"probe": probe_name, "small_dim": small, "wide": W,
            "a_vicreg_wide_small_within_noise_of_end_point": bool(a),
            "b_vicreg_narrow_small_clearly_worse_than_wide": bool(b),
            "c_simclr_wide_flat": bool(c),
            "vicreg_wide_small_minus_end_point": wide_vs_end, "vicreg_narrow_minus_wide_at_small": narrow_vs_wide,
            "simclr_wide_minus_end_point": simclr_flat, "verdict": outcome}


def plot(table, raw, grid, path, seeds, dataset_name="digits"):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {("vicreg", "wide"): ("C0", "o-"), ("vicreg", "narrow"): ("C0", "s--"),
              ("simclr", "wide"): ("C3", "o-"), ("simclr", "narrow"): ("C3", "s--")}
    for ax, p in zip(axes, PROBES):
        for (method, family), (color, fmt) in styles.items():
            rows = sorted((t for t in table if t["method"] == method and t["family"] == family), key=lambda t: t["d"])
            label = f"{'VICReg' if method == 'vicreg' else 'SimCLR'}, " + (
                f"{grid['wide']}-{grid['wide']}-d" if family == "wide" else "d-d-d")
            ax.errorbar([t["d"] for t in rows], [t[f"{p}_mean"] for t in rows], yerr=[t[f"{p}_std"] for t in rows],
                        fmt=fmt, color=color, capsize=3, label=label, alpha=0.9)
        raw_mean = float(np.mean([r[p] for r in raw]))
        ax.axhline(raw_mean, color="k", lw=1, ls=":", label=RAW_NAME[dataset_name])
        ax.set_xscale("log", base=2)
        ticks = (*grid["dims"], grid["wide"])
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("embedding dimension d (projector output)")
        name = {"linear": "linear", "knn": "kNN"}[p]
        ax.set_ylabel(f"{name} probe top-1 on the representation (test)")
        ax.set_title(f"{dataset_name}: {name} probe vs d (mean ± std, {len(seeds)} seed{'s' * (len(seeds) > 1)})")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--out", default=None,
                        help="default: experiments/results/embedding_dimension (digits), "
                             "experiments/results/embedding_dimension_mnist1d (mnist1d)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--quick", action="store_true", help="tiny grid for the tests (its verdict means nothing)")
    args = parser.parse_args(argv)
    grid = ({**QUICK} if args.quick else
            {"wide": WIDE, "dims": DIMS, "small_dim": SMALL_DIM, "steps": STEPS, "batch": BATCH,
             "encoder_widths": ENCODER_WIDTHS})
    if args.dataset == "mnist1d":
        grid["n_train"], grid["n_test"] = ((MNIST1D_QUICK_TRAIN, MNIST1D_QUICK_TEST) if args.quick
                                           else (MNIST1D_TRAIN, MNIST1D_TEST))
    if args.out is None:
        args.out = "experiments/results/embedding_dimension" + ("_mnist1d" if args.dataset == "mnist1d" else "")
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    records, raw = run(args.seeds, grid, args.dataset)
    table = summarise(records, args.seeds, grid)
    verdicts = {p: verdict(records, args.seeds, grid, p) for p in PROBES}
    seconds = time.perf_counter() - started
    out = Path(args.out)
    result = {"experiment": "embedding_dimension", "claim": "C8", "source": "Garrido et al. 2023, arXiv:2206.02574",
              "dataset": args.dataset, "quick": args.quick, "seeds": args.seeds, "methods": list(METHODS),
              "grid": {**grid, "dims": list(grid["dims"])},
              "optimizer": {"name": "adamw", "learning_rate": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
                            "schedule": "cosine, no warm-up"},
              "seconds": round(seconds, 1), "loadavg_at_start": list(load_at_start),
              "raw_pixels": {"per_seed": raw, **{f"{p}_pm": pm([r[p] for r in raw]) for p in PROBES}},
              "table": table, "verdicts": verdicts, "records": records}
    if args.dataset == "mnist1d":
        from _mnist1d import CONSTANTS

        result["mnist1d"] = {"generator": "experiments/_mnist1d.py", "constants": CONSTANTS,
                             "n_train": grid["n_train"], "n_test": grid["n_test"],
                             "pairs": "view_pair_batches(n_train, seed, steps, batch, stream_seed=seed)"}
    write_results(out, result)
    plot(table, raw, grid, out / "embedding_dimension.png", args.seeds, args.dataset)
    print(f"{'method':>6} {'projector':>12} {'d':>4}  linear              kNN                 embedding linear")
    for t in table:
        print(f"{t['method']:>6} {t['projector']:>12} {t['d']:>4}  {t['linear_pm']}   {t['knn_pm']}   "
              f"{t['embedding_linear_pm']}")
    print(f"{RAW_NAME[args.dataset]}: linear {result['raw_pixels']['linear_pm']}  kNN {result['raw_pixels']['knn_pm']}")
    for p, v in verdicts.items():
        print(f"{p}: (a) {v['a_vicreg_wide_small_within_noise_of_end_point']} (b) "
              f"{v['b_vicreg_narrow_small_clearly_worse_than_wide']} (c) {v['c_simclr_wide_flat']} -> {v['verdict']}")
    print(f"wrote {out}/results.json and {out}/embedding_dimension.png in {seconds:.1f} s "
          f"(load average at start {load_at_start[0]:.2f})")
    return result


if __name__ == "__main__":
    main()
