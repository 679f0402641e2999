"""CISSL vs SimCLR and DISSL vs a DINO-like distillation baseline at equal budget (issue 10, claim C9).

Claim (Dubois, Hashimoto, Ermon & Liang 2022, "Improving Self-Supervised Learning by Characterizing Idealized
Representations", NeurIPS, arXiv:2209.06235, Table 1; ``objectives.md`` B2–B6, Part D E8): at equal budget the
contrastive ISSL objective with asymmetric heads (CISSL: linear student, MLP teacher, Sec. 4.1) probes at least as
well as SimCLR, and the distillation ISSL objective (DISSL, Sec. 4.2) at least as well as a distillation baseline
(DINO). TinyImageNet, ResNet-18, 300 epochs, linear probe (the authors' README reproduction, 1 seed): SimCLR 45.2 vs
CISSL 45.8, DINO 43.3 vs DISSL 45.1.

Protocol (fixed before running):

- Data: scikit-learn's digits (:func:`kspectral.data.digits`, stratified 80/20 split with the run's seed, 1437 train
  / 360 test images), positive pairs = two views of each image by the library's digits augmentations
  (:func:`kspectral.data.digits_augmenter`, the default of ``kspectral train`` on digits) through
  :func:`kspectral.data.augmented_pairs` (its resumable stream, ``start_step=0``).
- Equal budget for all four methods: the same encoder (:func:`kspectral.encoders.small.mlp_encoder`, 64 → 256 → 128,
  Dense-BN-ReLU, representation d = 128, the same initial weights within a seed), 300 steps of batch 256 (≈ 53
  epochs), AdamW with learning rate 2e-3 on a cosine decay to 0 and weight decay 1e-6 (the authors' TinyImageNet
  optimiser, ``objectives.md`` B4, without warm-up). Heads are scaled down from the authors' by the same factor:
    * SimCLR (:class:`kspectral.methods.SimCLR`): the ISSL code's SimCLR baseline (B2): one MLP head on both views,
      ``"512-128"`` (Linear-BN-ReLU, Linear), NT-Xent, τ = 0.07.
    * CISSL (:class:`kspectral.methods.CISSL`): linear student ``Linear(128,128)-BN``, MLP teacher ``"512-128"``
      then BN, τ = 0.07 (B2).
    * DISSL (:class:`kspectral.methods.DISSL`): C = 256 classes, teacher ``"512-256"`` → BN → ``Linear(256, C)``,
      low-rank linear student ``Linear(128, 256)-BN-Linear(256, C)``, λ = 2.3, β = 0.8, τ_a = 0.5, τ = 1 (B3).
    * Distillation baseline ("DINO-like"): kspectral has no DINO (``kspectral.methods.registry.names()``), so the
      baseline is the library's DISSL objective configured as plain symmetric self-distillation:
      :class:`SharedHeadDISSL` below, the DISSL model whose student *is* its teacher head (one MLP head on both
      sides, as DINO's student and teacher share one architecture) with the invariance/determinism term off
      (β = 0). What is kept: the sharpened teacher (τ_a = 0.5 vs τ = 1, DINO's sharpening) and the marginal-entropy
      term λ·H_M = 2.3, which stands in for DINO's centring: without an EMA teacher, stop-gradient or centring,
      β = λ = 0 is minimised by a collapsed one-hot teacher (``L = CE_dist ≥ H(t) ≥ 0``, reached at collapse).
      It differs from DINO in: no EMA teacher and no stop-gradient (the "teacher" is the current network and
      receives gradients, as in DISSL), batch marginal entropy instead of a running centre, temperatures 0.5 / 1
      instead of 0.04–0.07 / 0.1, C = 256 instead of 65 536 (1000 in the ISSL repository's DINO), no multi-crop, no
      weight-normalised last layer. What separates it from DISSL is exactly the two ISSL ingredients: the
      asymmetric (linear-student) heads and the invariance term β·CE_inv. No new loss code: the loss is
      :func:`kspectral.objectives.dissl`.
- Probes on the frozen encoder representation (d = 128) of the un-augmented train and test images:
  :func:`kspectral.probes.linear_probe` (scikit-learn L-BFGS logistic regression, C = 1, standardised features) and
  :func:`kspectral.probes.mlp_probe` made small for 2 CPU cores: 2 hidden layers of 256 (not 2048), BN, ReLU, 50
  epochs (not 100), batch 512, SGD lr 0.3 cosine, weight decay 1e-5 (the middle of the authors' grid; no selection
  on the test split, unlike the authors' max over {1e-4, 1e-5, 1e-6} on test). Seeds 0 1 2 (split, augmentations,
  initialisation, probe seed).
- Collapse diagnostics: RankMe (Garrido et al. 2023, arXiv:2210.02885) of the test representations, and for the
  two distillation models the number of distinct teacher classes (argmax) used on the test images.
- Noise and verdict rule, per comparison (CISSL − SimCLR, DISSL − baseline) and probe: Δ = the mean over seeds of
  the paired (same seed, same split) accuracy differences; noise = max(std(Δ_seed)/√n_seeds, the binomial standard
  error of a difference of two accuracies on the 360 test images √(2p(1−p)/360)). "reproduced" if Δ > 2·noise,
  "not reproduced" if Δ < −2·noise (the baseline is better), "inconclusive" otherwise. A comparison's verdict is the
  two probes' common verdict, "inconclusive" if they disagree.

- ``--dataset mnist1d`` (follow-up; everything above unchanged except the data): the MNIST-1D-style generator of
  ``experiments/_mnist1d.py`` (after Greydanus 2020, arXiv:2011.14439), 4000 train / 4000 test identities drawn
  with the run's seed, 40-D inputs (encoder 40 → 256 → 128); positive pairs = two fresh independent view transforms
  (shift, correlated and iid noise) of the same train identity at every step; the probes see one fixed view per
  identity; the binomial noise uses the 4000 test samples. The raw 40-D inputs are probed too (``raw_linear``,
  ``raw_mlp`` per seed), as the floor the SSL representations are read against.

Usage::

    python experiments/cissl_dissl.py [--dataset digits|mnist1d] [--out experiments/results/cissl_dissl]
        [--seeds 0 1 2] [--steps 300] [--quick]

(default ``--out``: ``experiments/results/cissl_dissl`` for digits, ``experiments/results/cissl_dissl_mnist1d`` for
mnist1d).

Writes ``results.json`` (every run, the mean ± std table, the paired differences and verdicts) and
``cissl_dissl.png`` (bar chart, 4 methods × 2 probes, and the paired differences against their noise).
"""

from __future__ import annotations

from _common import SEEDS, mean_std, pm, pyplot, write_results  # noqa: I001  (sets the thread env before TF)

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

METHODS = ("SimCLR", "CISSL", "DINO-like", "DISSL")
COMPARISONS = (("CISSL", "SimCLR"), ("DISSL", "DINO-like"))
PROBES = ("linear", "mlp")
#: the paper's TinyImageNet linear-probe numbers (objectives.md Part D E8; ISSL README, 1 seed)
PAPER_LINEAR = {"SimCLR": 45.2, "CISSL": 45.8, "DINO-like": 43.3, "DISSL": 45.1}

ENCODER_WIDTHS = "256-128"
BATCH = 256
STEPS = 300
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-6
TEMPERATURE = 0.07
CONTRASTIVE_HEAD = "512-128"
N_CLASSES = 256
DISTILLATION_TEACHER = "512-256"
STUDENT_BOTTLENECK = 256
MLP_PROBE = {"hidden": 256, "layers": 2, "epochs": 50}
QUICK = {"steps": 6, "mlp_epochs": 2, "seeds": 1}
DATASETS = ("digits", "mnist1d")
MNIST1D_SIZES = {"train": 4000, "test": 4000}
INPUT_SHAPES = {"digits": (8, 8, 1), "mnist1d": (40,)}


def shared_head_dissl_class():
    """:class:`SharedHeadDISSL`, defined on first use (it subclasses a Keras model, so it needs TensorFlow)."""
    global SharedHeadDISSL
    if "SharedHeadDISSL" in globals():
        return SharedHeadDISSL
    from kspectral.methods import DISSL

    class SharedHeadDISSL(DISSL):
        """DISSL with one head on both sides: the student is the teacher head (``student is teacher``).

        The objective is :func:`kspectral.objectives.dissl` unchanged; with ``invariance_weight=0`` it is
        ``CE(softmax(g(z)/τ_a) of one view → log_softmax(g(z')/τ) of the other) − λ·H_M``: symmetric self-
        distillation from a sharpened copy of the same head, the batch marginal entropy standing in for DINO's
        centring. Keras tracks the shared head once (its variables are not duplicated).
        """

        def __init__(self, encoder, **kwargs):
            super().__init__(encoder, **kwargs)
            self.student = self.teacher

    return SharedHeadDISSL


def build_model(method, seed, input_shape=INPUT_SHAPES["digits"]):
    """The method on a fresh encoder whose initial weights depend on ``seed`` only (the same for every method)."""
    import keras

    from kspectral.encoders.small import mlp_encoder
    from kspectral.methods import CISSL, DISSL, SimCLR

    keras.utils.set_random_seed(seed)
    encoder = mlp_encoder(input_shape, widths=ENCODER_WIDTHS)
    common = {"diagnostics": False}
    distillation = {"n_classes": N_CLASSES, "teacher": DISTILLATION_TEACHER, "student_bottleneck": STUDENT_BOTTLENECK,
                    "marginal_weight": 2.3, "teacher_temperature": 0.5, "student_temperature": 1.0}
    if method == "SimCLR":
        return SimCLR(encoder, projector=CONTRASTIVE_HEAD, temperature=TEMPERATURE, **common)
    if method == "CISSL":
        return CISSL(encoder, student_dim=int(CONTRASTIVE_HEAD.split("-")[-1]), teacher=CONTRASTIVE_HEAD,
                     temperature=TEMPERATURE, **common)
    if method == "DISSL":
        return DISSL(encoder, invariance_weight=0.8, **distillation, **common)
    if method == "DINO-like":
        return shared_head_dissl_class()(encoder, invariance_weight=0.0, **distillation, **common)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def train_and_probe(method, seed, ds, steps, mlp_epochs):
    """Train ``method`` for ``steps`` steps on augmented digits pairs (or, for an ``_mnist1d.Split``, on pairs of
    fresh views of its train identities); probe its representations."""
    import keras

    from kspectral.data import augmented_pairs, digits_augmenter
    from kspectral.probes import linear_probe, mlp_probe
    from kspectral.spectral import rankme

    started = time.perf_counter()
    model = build_model(method, seed, ds.x_train.shape[1:])
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY))
    if hasattr(ds, "pairs_dataset"):  # mnist1d: the generator's two views of each identity
        pairs = ds.pairs_dataset(steps, BATCH, stream_seed=seed)
    else:
        pairs = augmented_pairs(ds.x_train, digits_augmenter(seed=seed), BATCH, seed=seed, start_step=0)
    history = model.fit(pairs, epochs=1, steps_per_epoch=steps, verbose=0)
    train_seconds = time.perf_counter() - started
    features_train, features_test = model.encode(ds.x_train), model.encode(ds.x_test)
    record = {
        "method": method, "seed": seed, "final_loss": float(history.history["loss"][-1]),
        "linear": linear_probe(features_train, ds.y_train, features_test, ds.y_test),
        "mlp": mlp_probe(features_train, ds.y_train, features_test, ds.y_test, hidden=MLP_PROBE["hidden"],
                         layers=MLP_PROBE["layers"], epochs=mlp_epochs, seed=seed),
        "rankme": float(rankme(features_test)),
        "n_test": int(len(ds.y_test)),
        "n_trainable_variables": len(model.trainable_variables),
        "n_unique_trainable_variables": len({id(v) for v in model.trainable_variables}),
    }
    if method in ("DISSL", "DINO-like"):
        teacher_logits = np.asarray(model.embed(ds.x_test), dtype=np.float64)
        record["teacher_classes_used"] = int(np.unique(teacher_logits.argmax(axis=1)).size)
        record["lower_bound"] = -2.3 * math.log(N_CLASSES)  # L ≥ −λ log C (objectives.md C.29)
        if method == "DINO-like":
            student_logits = np.asarray(model.student(model.encode(ds.x_test), training=False))
            record["student_is_teacher"] = model.student is model.teacher
            record["student_equals_teacher"] = bool(np.allclose(student_logits, teacher_logits, rtol=1e-5, atol=1e-5))
    else:
        record["lower_bound"] = math.log(2) if method == "CISSL" else 0.0  # CISSL ≥ log 2, NT-Xent > 0 (C.25)
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["train_seconds"] = round(train_seconds, 1)
    return record


def binomial_se(p, n):
    """Standard error √(p(1−p)/n) of an accuracy ``p`` measured on ``n`` test images."""
    return math.sqrt(p * (1.0 - p) / n)


def summarise(records, seeds):
    table = {}
    for method in METHODS:
        rs = [r for r in records if r["method"] == method]
        row = {"n_seeds": len(rs)}
        for key in (*PROBES, "rankme", "final_loss"):
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std([r[key] for r in rs])
        for probe in PROBES:
            row[f"{probe}_binomial_se"] = binomial_se(row[f"{probe}_mean"], rs[0]["n_test"])
        if "teacher_classes_used" in rs[0]:
            row["teacher_classes_used_mean"], row["teacher_classes_used_std"] = mean_std(
                [r["teacher_classes_used"] for r in rs])
        table[method] = row
    comparisons = {}
    for method, baseline in COMPARISONS:
        entry = {}
        for probe in PROBES:
            by_seed = {r["seed"]: r[probe] for r in records if r["method"] == method}
            base_by_seed = {r["seed"]: r[probe] for r in records if r["method"] == baseline}
            deltas = [by_seed[s] - base_by_seed[s] for s in seeds]
            delta, delta_std = mean_std(deltas)
            n_test = records[0]["n_test"]
            p = 0.5 * (table[method][f"{probe}_mean"] + table[baseline][f"{probe}_mean"])
            se_seeds = delta_std / math.sqrt(len(deltas))
            se_binomial = math.sqrt(2.0) * binomial_se(p, n_test)
            noise = max(se_seeds, se_binomial)
            verdict = ("reproduced" if delta > 2 * noise else "not reproduced" if delta < -2 * noise
                       else "inconclusive")
            entry[probe] = {"deltas": deltas, "delta_mean": delta, "delta_std": delta_std, "se_seeds": se_seeds,
                            "se_binomial": se_binomial, "noise": noise, "verdict": verdict}
        verdicts = {entry[p]["verdict"] for p in PROBES}
        entry["verdict"] = verdicts.pop() if len(verdicts) == 1 else "inconclusive"
        comparisons[f"{method} - {baseline}"] = entry
    return table, comparisons


def plot(table, comparisons, path, n_seeds, dataset="digits", n_test=360):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.38
    x = np.arange(len(METHODS))
    for i, probe in enumerate(PROBES):
        means = [table[m][f"{probe}_mean"] for m in METHODS]
        stds = [table[m][f"{probe}_std"] for m in METHODS]
        ax.bar(x + (i - 0.5) * width, means, width, yerr=stds, capsize=4,
               label=f"{probe} probe" + (" (2×256 MLP)" if probe == "mlp" else ""))
    low = min(table[m][f"{p}_mean"] - table[m][f"{p}_std"] for m in METHODS for p in PROBES)
    high = max(table[m][f"{p}_mean"] + table[m][f"{p}_std"] for m in METHODS for p in PROBES)
    ax.set_ylim(max(0.0, low - 0.02), 1.0 if dataset == "digits" else min(1.0, high + 0.05))
    ax.set_xticks(x)
    ax.set_xticklabels(METHODS)
    ax.set_ylabel(f"top-1 on the {dataset} test split ({n_test} " + ("images)" if dataset == "digits" else "samples)"))
    ax.set_title(f"{dataset}, equal budget: probes of the encoder (mean ± std, {n_seeds} seeds)")
    ax.legend(fontsize=8, loc="lower right")
    labels, k = [], 0
    for name, entry in comparisons.items():
        for i, probe in enumerate(PROBES):
            e = entry[probe]
            bx.errorbar([k], [e["delta_mean"]], yerr=[2 * e["noise"]], fmt="o", capsize=5,
                        color=f"C{i}", label=f"{probe} probe" if k < 2 else None)
            labels.append(f"{name}\n{probe}")
            k += 1
    bx.axhline(0.0, color="k", lw=0.8)
    bx.set_xticks(range(k))
    bx.set_xticklabels(labels, fontsize=7)
    bx.set_ylabel("paired accuracy difference Δ")
    bx.set_title("Δ ± 2·noise (max of seed SE, binomial SE)", fontsize=9)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mnist1d_setup(raw_probes):
    """The generator's constants, the split sizes and the raw-input probe accuracies (per seed and mean ± std)."""
    from _mnist1d import CONSTANTS

    summary = {f"{k}_mean_std": list(mean_std([r[k] for r in raw_probes])) for k in ("raw_linear", "raw_mlp")}
    return {"mnist1d": {"generator": "experiments/_mnist1d.py (after Greydanus 2020, arXiv:2011.14439)",
                        "constants": CONSTANTS, "sizes": MNIST1D_SIZES, "raw_probes": raw_probes, **summary}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--out", default=None, help="default experiments/results/cissl_dissl[_mnist1d]")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['steps']} steps, {QUICK['mlp_epochs']} MLP-probe epochs, the first "
                             f"{QUICK['seeds']} seeds (for the tests)")
    args = parser.parse_args(argv)
    steps, mlp_epochs = args.steps, MLP_PROBE["epochs"]
    if args.quick:
        steps, mlp_epochs, args.seeds = QUICK["steps"], QUICK["mlp_epochs"], args.seeds[:QUICK["seeds"]]
    out = Path(args.out or ("experiments/results/cissl_dissl" + ("" if args.dataset == "digits" else "_mnist1d")))
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    from kspectral.data import digits

    records, raw_probes = [], []
    for seed in args.seeds:
        if args.dataset == "digits":
            ds = digits(seed=seed)
        else:
            from _mnist1d import Split

            from kspectral.probes import linear_probe, mlp_probe

            ds = Split(MNIST1D_SIZES["train"], MNIST1D_SIZES["test"], seed)
            raw_probes.append({"seed": seed, "raw_linear": linear_probe(ds.x_train, ds.y_train, ds.x_test, ds.y_test),
                               "raw_mlp": mlp_probe(ds.x_train, ds.y_train, ds.x_test, ds.y_test,
                                                    hidden=MLP_PROBE["hidden"], layers=MLP_PROBE["layers"],
                                                    epochs=mlp_epochs, seed=seed)})
            print(f"seed {seed} raw inputs: linear {raw_probes[-1]['raw_linear']:.4f}  "
                  f"mlp {raw_probes[-1]['raw_mlp']:.4f}", flush=True)
        for method in METHODS:
            r = train_and_probe(method, seed, ds, steps, mlp_epochs)
            records.append(r)
            print(f"seed {seed} {method:>9}: linear {r['linear']:.4f}  mlp {r['mlp']:.4f}  RankMe {r['rankme']:.1f}"
                  f"  loss {r['final_loss']:.3f}  ({r['seconds']} s)", flush=True)
    table, comparisons = summarise(records, args.seeds)
    seconds = time.perf_counter() - started
    result = {
        "experiment": "cissl_dissl", "claim": "C9", "source": "Dubois et al. 2022, arXiv:2209.06235, Table 1",
        "dataset": args.dataset, "seeds": args.seeds, "quick": args.quick,
        "budget": {"steps": steps, "batch_size": BATCH, "optimizer": "AdamW", "learning_rate": LEARNING_RATE,
                   "schedule": "cosine to 0, no warm-up", "weight_decay": WEIGHT_DECAY,
                   "encoder": f"mlp_encoder widths {ENCODER_WIDTHS}"},
        "heads": {"SimCLR": f"projector {CONTRASTIVE_HEAD}, tau {TEMPERATURE}",
                  "CISSL": f"linear student {CONTRASTIVE_HEAD.split('-')[-1]} + BN, teacher {CONTRASTIVE_HEAD} + BN, "
                           f"tau {TEMPERATURE}",
                  "DISSL": f"C {N_CLASSES}, teacher {DISTILLATION_TEACHER}, student bottleneck {STUDENT_BOTTLENECK}, "
                           "lambda 2.3, beta 0.8, tau_a 0.5, tau 1",
                  "DINO-like": f"DISSL objective with one shared head (teacher {DISTILLATION_TEACHER}, C {N_CLASSES}) "
                               "on both sides, lambda 2.3, beta 0, tau_a 0.5, tau 1"},
        "probes": {"linear": "kspectral.probes.linear_probe (sklearn L-BFGS, C=1)",
                   "mlp": f"kspectral.probes.mlp_probe hidden {MLP_PROBE['hidden']}, layers {MLP_PROBE['layers']}, "
                          f"epochs {mlp_epochs}, batch 512, lr 0.3, wd 1e-5"},
        "paper_tinyimagenet_linear": PAPER_LINEAR,
        "seconds": round(seconds, 1), "loadavg_at_start": load_at_start,
        **(mnist1d_setup(raw_probes) if args.dataset == "mnist1d" else {}),
        "table": table, "comparisons": comparisons, "records": records,
    }
    write_results(out, result)
    plot(table, comparisons, out / "cissl_dissl.png", len(args.seeds), args.dataset, records[0]["n_test"])
    print(f"{'method':>10}  linear             mlp                RankMe")
    for m in METHODS:
        rs = [r for r in records if r["method"] == m]
        print(f"{m:>10}  {pm([r['linear'] for r in rs])}  {pm([r['mlp'] for r in rs])}  "
              f"{pm([r['rankme'] for r in rs], 1)}")
    for name, entry in comparisons.items():
        print(f"{name}: " + "; ".join(f"{p} Δ {entry[p]['delta_mean']:+.4f} (noise {entry[p]['noise']:.4f}, "
                                      f"{entry[p]['verdict']})" for p in PROBES) + f" → {entry['verdict']}")
    print(f"wrote {out}/results.json and {out}/cissl_dissl.png in {seconds:.1f} s (load at start {load_at_start})")
    return result


if __name__ == "__main__":
    main()
